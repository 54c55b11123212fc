//! The server without a browser: its routes, the token rule off loopback,
//! the event stream and `/metrics`, over plain HTTP/1.1 on a socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use barrow_dashboard::{
    Activity, DashboardServer, Error, Event, Feed, FeedOptions, Rect, ServeOptions, Update,
    WorkerRow,
};

const TIMEOUT: Duration = Duration::from_secs(5);

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(address: SocketAddr) -> TcpStream {
    // A server bound to 0.0.0.0 is reached through loopback.
    let target = SocketAddr::from(([127, 0, 0, 1], address.port()));
    let stream = TcpStream::connect_timeout(&target, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

fn get(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = connect(address);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

fn rect(key: &str) -> Rect {
    Rect {
        start_ms: 1.0,
        duration_ms: 2.0,
        worker: "w0".into(),
        thread: 0,
        activity: Activity::Compute,
        key: key.into(),
        prefix: "inc".into(),
        function: "inc".into(),
        failed: false,
    }
}

fn feed() -> Arc<Feed> {
    let feed = Feed::new(FeedOptions::default());
    feed.update(Update {
        rects: vec![rect("inc-1"), rect("inc-2")],
        workers: Some(vec![WorkerRow {
            name: "w0".into(),
            threads: 2,
            status: "running".into(),
            ..WorkerRow::default()
        }]),
        events: vec![Event {
            at_ms: 1.0,
            kind: "task-failed".into(),
            key: Some("inc-2".into()),
            worker: Some("w0".into()),
            text: "boom".into(),
        }],
        ..Update::default()
    });
    feed
}

fn local() -> (Arc<Feed>, DashboardServer) {
    let feed = feed();
    let server = DashboardServer::start(feed.clone(), ServeOptions::at("127.0.0.1:0")).unwrap();
    (feed, server)
}

#[test]
fn every_route_answers() {
    let (_feed, server) = local();
    let a = server.address();
    assert!(a.ip().is_loopback() && a.port() != 0);
    assert_eq!(server.url(), format!("http://{a}/status"));
    assert!(!server.needs_token());

    let root = get(a, "/", &[]);
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), Some("/status"));

    let page = get(a, "/status", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("id=\"task-stream\""));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );

    let js = get(a, "/assets/app.js", &[]);
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("EventSource"));
    assert_eq!(get(a, "/assets/style.css", &[]).status, 200);
    assert_eq!(get(a, "/assets/nothing.js", &[]).status, 404);
    assert_eq!(get(a, "/nowhere", &[]).status, 404);

    let health = get(a, "/health", &[]);
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));

    let json = get(a, "/api/v1/snapshot", &[]);
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let snap: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(snap["stream"]["rects"].as_array().unwrap().len(), 2);
    assert_eq!(snap["events"][0]["text"], "boom");
    assert_eq!(snap["workers"][0]["name"], "w0");
    assert_eq!(snap["workers"][0]["colour"], "normal");
    assert_eq!(
        snap["palette"]["prefixes"]["inc"],
        barrow_dashboard::prefix_colour("inc")
    );

    // From the cursor on, nothing old comes again.
    let later = get(a, "/api/v1/snapshot?stream=2&events=1", &[]);
    let later: serde_json::Value = serde_json::from_str(&later.body).unwrap();
    assert!(later["stream"]["rects"].as_array().unwrap().is_empty());
    assert!(later["events"].as_array().unwrap().is_empty());
    let newest = get(a, "/api/v1/snapshot?rects=1", &[]);
    let newest: serde_json::Value = serde_json::from_str(&newest.body).unwrap();
    assert_eq!(newest["stream"]["rects"][0]["key"], "inc-2");
    assert_eq!(newest["stream"]["dropped"], 1);
}

#[test]
fn metrics_are_prometheus_text() {
    let (_feed, server) = local();
    let metrics = get(server.address(), "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(metrics.body.contains("# TYPE barrow_workers gauge"));
    assert!(
        metrics
            .body
            .contains("barrow_workers{status=\"running\"} 1")
    );
}

#[test]
fn off_loopback_the_token_is_required() {
    let refused = DashboardServer::start(feed(), ServeOptions::at("0.0.0.0:0")).unwrap_err();
    assert!(matches!(refused, Error::TokenRequired { .. }), "{refused}");
    assert!(refused.to_string().contains("needs a token"), "{refused}");

    let server = DashboardServer::start(
        feed(),
        ServeOptions::at("0.0.0.0:0").with_token("s3cret token"),
    )
    .unwrap();
    let a = server.address();
    assert!(server.needs_token());
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}/status?token=s3cret%20token", a.port())
    );
    for path in [
        "/status",
        "/",
        "/api/v1/snapshot",
        "/api/v1/stream",
        "/metrics",
        "/assets/app.js",
    ] {
        let denied = get(a, path, &[]);
        assert_eq!(denied.status, 401, "{path}");
        assert_eq!(denied.body.lines().count(), 1, "{path}: {}", denied.body);
        assert_eq!(
            get(a, &format!("{path}?token=wrong"), &[]).status,
            401,
            "{path}"
        );
    }
    // The health check is for probes, which have no token.
    assert_eq!(get(a, "/health", &[]).status, 200);

    let page = get(a, "/status?token=s3cret%20token", &[]);
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(get(a, "/api/v1/snapshot", &[("Cookie", pair)]).status, 200);
    let bearer = [("Authorization", "Bearer s3cret token")];
    assert_eq!(get(a, "/metrics", &bearer).status, 200);
    assert_eq!(
        get(a, "/metrics", &[("Authorization", "Bearer nope")]).status,
        401
    );
}

#[test]
fn a_taken_port_is_an_error_that_says_what_to_do() {
    let (_feed, server) = local();
    let taken = server.address().to_string();
    let error = DashboardServer::start(feed(), ServeOptions::at(taken.clone())).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Bind { .. }), "{text}");
    assert!(text.contains(&taken) && text.contains("port 0"), "{text}");
    let bad = DashboardServer::start(feed(), ServeOptions::at("no port here")).unwrap_err();
    assert!(matches!(bad, Error::Address { .. }), "{bad}");
}

/// Reads the event stream until `wanted` shows up, or fails after the
/// timeout.
fn read_until(stream: &mut TcpStream, seen: &mut String, wanted: &str) {
    let mut buf = [0u8; 16 * 1024];
    barrow_test_support::wait_until(
        TIMEOUT.as_secs(),
        || {
            if seen.contains(wanted) {
                return Some(());
            }
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the stream ended before {wanted:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            None
        },
        || format!("no {wanted:?} in the event stream"),
    );
}

#[test]
fn the_event_stream_sends_what_is_new_after_an_update() {
    let (feed, server) = local();
    let mut stream = connect(server.address());
    stream
        .write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "\"inc-2\"");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    // The first event's id is the cursor after it.
    assert!(seen.contains("id: 2,1\n"), "{seen}");
    let before = seen.len();
    feed.update(Update {
        rects: vec![rect("inc-3")],
        ..Update::default()
    });
    read_until(&mut stream, &mut seen, "\"inc-3\"");
    let delta = &seen[before..];
    // Only the new rectangle crossed the wire, not the old ones again.
    assert!(
        !delta.contains("\"inc-1\"") && !delta.contains("\"inc-2\""),
        "{delta}"
    );
    assert!(delta.contains("id: 3,1\n"), "{delta}");

    // A page reconnecting with its last event id resumes there.
    let mut again = connect(server.address());
    again
        .write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 2,1\r\n\r\n")
        .unwrap();
    let mut resumed = String::new();
    read_until(&mut again, &mut resumed, "\"inc-3\"");
    assert!(!resumed.contains("\"inc-1\""), "{resumed}");

    // Dropping the server with streams open stops it at once.
    // (A bound against a hang, not a measure: the drop must return at all.)
    let address = server.address();
    let (dropped, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        let _ = dropped.send(());
    });
    assert!(
        done.recv_timeout(Duration::from_secs(30)).is_ok(),
        "dropping the server hangs while event streams are open"
    );
    assert!(TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_err());
}
