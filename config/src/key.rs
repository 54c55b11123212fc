//! Key names: the canonical form and "did you mean …?" suggestions.

/// The canonical form of a configuration key: `_` becomes `-`, and spaces
/// around the key and its dots go, so `array.chunk_size` and
/// `array.chunk-size` are the same key (Dask's `canonical_name`).
///
/// ```
/// assert_eq!(barrow_config::canonical_key("array.chunk_size"), "array.chunk-size");
/// assert_eq!(barrow_config::canonical_key(" num_workers "), "num-workers");
/// ```
pub fn canonical_key(key: &str) -> String {
    key.split('.')
        .map(|segment| segment.trim().replace('_', "-"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the dotted `key` lies inside `outer`: `a.b.c` is inside `a.b`
/// and `a`, not inside `a.b.c` or `a.bc`.
pub(crate) fn is_inside(key: &str, outer: &str) -> bool {
    key.len() > outer.len() + 1 && key.starts_with(outer) && key.as_bytes()[outer.len()] == b'.'
}

/// Whether `key` (canonical) has no empty segment.
pub(crate) fn is_well_formed(key: &str) -> bool {
    !key.is_empty() && key.split('.').all(|segment| !segment.is_empty())
}

/// A likely intended key for the unknown `key`: the only candidate that
/// ends with `.key` (a key written without its namespace), else the
/// candidate closest by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(
    key: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let wanted = key.to_lowercase();
    let suffix = format!(".{wanted}");
    let mut ending = candidates
        .clone()
        .filter(|c| c.to_lowercase().ends_with(&suffix));
    if let (Some(only), None) = (ending.next(), ending.next()) {
        return Some(only);
    }
    candidates
        .map(|candidate| (edit_distance(&wanted, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(wanted.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

/// The candidate `key` is most likely a typo of, for code that asks for a
/// key nobody sets: at most two edits away (`num-worker`, `schedular`), and
/// only for keys of five characters or more, so that a library's own short
/// keys are not mistaken for typos.
pub(crate) fn likely_typo<'a>(
    key: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    if key.chars().count() < 5 {
        return None;
    }
    let wanted = key.to_lowercase();
    candidates
        .map(|candidate| (edit_distance(&wanted, &candidate.to_lowercase()), candidate))
        .filter(|(distance, _)| (1..=2).contains(distance))
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 4] = [
        "num-workers",
        "scheduler",
        "array.chunk-size",
        "array.chunk-size-tolerance",
    ];

    #[test]
    fn canonical_keys_use_dashes() {
        assert_eq!(canonical_key("a_b.c_d-e"), "a-b.c-d-e");
        assert_eq!(canonical_key("scheduler"), "scheduler");
        assert!(!is_well_formed(&canonical_key("a..b")));
        assert!(!is_well_formed(""));
        assert!(is_well_formed("a.b"));
        assert!(is_inside("a.b.c", "a.b") && is_inside("a.b", "a"));
        assert!(!is_inside("a.b", "a.b") && !is_inside("a.bc", "a.b") && !is_inside("a", "a.b"));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = KEYS.iter().copied();
        assert_eq!(suggest("num-worker", keys.clone()), Some("num-workers"));
        assert_eq!(suggest("schedular", keys.clone()), Some("scheduler"));
        assert_eq!(
            suggest("array.chunksize", keys.clone()),
            Some("array.chunk-size")
        );
        assert_eq!(
            suggest("chunk-size", keys.clone()),
            Some("array.chunk-size")
        );
        assert_eq!(suggest("dashboard.port", keys.clone()), None);
        assert_eq!(suggest("x", keys.clone()), None);
        // Typos, strictly: two edits at most, no namespace guessing.
        assert_eq!(likely_typo("num-worker", keys.clone()), Some("num-workers"));
        assert_eq!(likely_typo("shceduler", keys.clone()), Some("scheduler"));
        assert_eq!(likely_typo("chunk-size", keys.clone()), None);
        assert_eq!(likely_typo("mylib.chunk-size", keys.clone()), None);
        assert_eq!(likely_typo("sched", keys), None);
    }
}
