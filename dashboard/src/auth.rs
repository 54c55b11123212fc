//! The token a dashboard off loopback asks for: in `?token=` (then kept in
//! a cookie, so the page's own requests carry it), in `Authorization:
//! Bearer`, or in that cookie.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::server::App;

/// The cookie that keeps the token once a page was opened with it.
const COOKIE: &str = "barrow-dashboard-token";

const UNAUTHORIZED: &str = "401: this dashboard needs its token: open the URL printed where it was started (it ends in ?token=...), or send Authorization: Bearer <token>\n";

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// How a request showed the token.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    Query,
    Header,
    Cookie,
    No,
}

/// Lets a request through when the server needs no token or the request
/// shows it; answers 401 otherwise.
pub(crate) async fn require_token(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &app.token else {
        return next.run(request).await;
    };
    match shown(&request, token) {
        Shown::No => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            UNAUTHORIZED,
        )
            .into_response(),
        Shown::Query => {
            let mut response = next.run(request).await;
            // Hex keeps any token a valid cookie value.
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                hex(token.as_bytes())
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Shown::Header | Shown::Cookie => next.run(request).await,
    }
}

fn shown(request: &Request, token: &str) -> Shown {
    if let Ok(Query(TokenQuery { token: Some(given) })) =
        Query::<TokenQuery>::try_from_uri(request.uri())
        && same(given.as_bytes(), token.as_bytes())
    {
        return Shown::Query;
    }
    let headers = request.headers();
    if let Some(given) = bearer(headers)
        && same(given.as_bytes(), token.as_bytes())
    {
        return Shown::Header;
    }
    let expected = hex(token.as_bytes());
    if cookies(headers)
        .any(|(name, value)| name == COOKIE && same(value.as_bytes(), expected.as_bytes()))
    {
        return Shown::Cookie;
    }
    Shown::No
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim(), value.trim()))
        })
}

/// Compares in time independent of where the first difference is, so the
/// answer's timing does not tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn the_token_is_taken_from_the_query_a_bearer_header_or_the_cookie() {
        let t = "s3cret; x";
        assert_eq!(
            shown(&request("/status?token=s3cret%3B%20x", &[]), t),
            Shown::Query
        );
        assert_eq!(
            shown(
                &request("/status", &[("authorization", "Bearer s3cret; x")]),
                t
            ),
            Shown::Header
        );
        let cookie = format!("a=b; {COOKIE}={}", hex(t.as_bytes()));
        assert_eq!(
            shown(&request("/", &[("cookie", &cookie)]), t),
            Shown::Cookie
        );
        assert_eq!(shown(&request("/?token=s3cret", &[]), t), Shown::No);
        assert_eq!(
            shown(&request("/", &[("authorization", "Basic s3cret; x")]), t),
            Shown::No
        );
        assert_eq!(
            shown(&request("/", &[("cookie", "barrow-dashboard-token=00")]), t),
            Shown::No
        );
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(hex(b"\x00\xff;"), "00ff3b");
    }
}
