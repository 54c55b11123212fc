//! Base64 with Go's `base64.StdEncoding` (RFC 4648, padded): what sprig's
//! `b64enc` writes and what a Secret's `data` holds.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Panics on anything else: what it decodes is a rendered Secret's, so a
/// stray character is the chart's bug.
pub fn decode(text: &str) -> Vec<u8> {
    let digits: Vec<u32> = text
        .trim_end_matches('=')
        .bytes()
        .map(|c| {
            let at = ALPHABET.iter().position(|&d| d == c);
            u32::try_from(at.unwrap_or_else(|| panic!("{text:?} is not base64"))).unwrap()
        })
        .collect();
    let mut out = Vec::new();
    for group in digits.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0, |n, (i, d)| n | d << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}
