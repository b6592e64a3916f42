//! A local HTTP server (127.0.0.1, port 0) that serves the recorded real
//! payloads of `../shared/fixtures/` byte for byte, answers conditional GETs,
//! and misbehaves on request (errors, Retry-After, slowness, huge bodies,
//! redirect loops, a robots.txt) for the fetcher's tests.
//!
//! Fault routes: `/drip/{folder}/{file}` dribbles a fixture one byte every
//! 200 ms; `/gate/{folder}/{file}` holds requests until [`FixtureServer::open_gate`];
//! `/fresh/{n}.xml` is an RSS feed of `n` items that are new on every request.
//! Two raw TCP listeners beside the HTTP server misbehave below HTTP:
//! [`FixtureServer::reset_url`] resets the connection after reading the
//! request, [`FixtureServer::garbage_url`] answers bytes that are not HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query.
    pub uri: String,
    /// `If-None-Match` sent.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since` sent.
    pub if_modified_since: Option<String>,
    /// `User-Agent` sent.
    pub user_agent: Option<String>,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    /// Requests per path, for the fail-then-succeed routes.
    counts: HashMap<String, usize>,
}

/// The running server.
pub struct FixtureServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    shared: Arc<Mutex<Shared>>,
    gate: Arc<Gate>,
    /// The raw listener that resets every connection.
    reset_addr: SocketAddr,
    /// The raw listener that answers garbage.
    garbage_addr: SocketAddr,
    /// Stop the raw listeners (and their connections) when dropped.
    _raw: [AbortOnDrop; 2],
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The gate of the `/gate/` routes.
struct Gate {
    /// `true` once the test opened it; held requests wait for this.
    open: watch::Sender<bool>,
    /// Requests that arrived at a gate route so far (held or not).
    arrivals: watch::Sender<usize>,
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a raw (non-HTTP) listener does with each connection once it has read
/// the request head.
#[derive(Clone, Copy)]
enum Raw {
    /// Close with SO_LINGER 0: the peer gets a TCP reset, no response.
    Reset,
    /// Write bytes that are not HTTP, then close.
    Garbage,
}

/// What the garbage listener answers.
const GARBAGE: &[u8] = b"\x00\x01garbage\r\n\r\n\xff\xfe\x00 this is not HTTP at all \x1b[0m\r\n";

/// The pause between two bytes of a `/drip/` body.
const DRIP_INTERVAL: Duration = Duration::from_millis(200);

/// The most items a `/fresh/` feed may ask for.
const FRESH_MAX_ITEMS: usize = 10_000;

/// Distinguishes servers started in the same process (for `/fresh/` ids).
static SERVERS: AtomicUsize = AtomicUsize::new(0);

/// The fixtures folder beside the repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
}

/// Fixed Last-Modified for every fixture.
const LAST_MODIFIED: &str = "Mon, 02 Nov 2026 08:00:00 GMT";

impl FixtureServer {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> FixtureServer {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let gate = Arc::new(Gate { open: watch::Sender::new(false), arrivals: watch::Sender::new(0) });
        // Unique to this server, so `/fresh/` items never repeat those of
        // another server writing into the same database.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let nonce: Arc<str> =
            format!("{}x{}x{nanos:x}", std::process::id(), SERVERS.fetch_add(1, Ordering::SeqCst)).into();
        let gated_route = {
            let gate = gate.clone();
            move |Path((folder, file)): Path<(String, String)>, headers: HeaderMap| {
                gated(gate.clone(), folder, file, headers)
            }
        };
        let fresh_route = {
            let nonce = nonce.clone();
            move |State(shared): State<Arc<Mutex<Shared>>>, Path(file): Path<String>| {
                fresh(shared, nonce.clone(), file)
            }
        };
        let app = Router::new()
            .route("/fixtures/{folder}/{file}", get(fixture))
            .route("/mirror/{folder}/{file}", get(fixture))
            .route("/robots.txt", get(|| async { "User-agent: *\nDisallow: /private/\n" }))
            .route("/private/{file}", get(|| async { "never served to a polite crawler" }))
            .route("/fail/{times}/{status}/{folder}/{file}", get(fail_then_serve))
            .route("/then-garbage/{folder}/{file}", get(serve_then_garbage))
            .route("/retry-after/{seconds}", get(retry_after))
            .route("/slow", get(slow))
            .route("/big", get(big))
            .route("/redirect-loop", get(|| async { redirect("/redirect-loop") }))
            .route("/api/v1/search_by_date", get(|| async { social("hackernews-search_by_date-story.json") }))
            .route("/api/v1/timelines/tag/{tag}", get(mastodon_tag))
            .route("/api/v2/search", get(|| async { social("mastodon-v2_search-mastodon_social.json") }))
            .route("/r/{sub}/new.json", get(|| async { social("reddit-r_new-askreddit.json") }))
            .route("/search.json", get(|| async { social("reddit-search-praw_oauth_search.json") }))
            .route("/api/v3/post/list", get(|| async { social("lemmy-post_list-v3.json") }))
            .route(
                "/xrpc/app.bsky.feed.searchPosts",
                get(|| async { social("bluesky-searchPosts-redistricting.json") }),
            )
            .route("/html/{file}", get(html_page))
            .route("/drip/{folder}/{file}", get(drip))
            .route("/gate/{folder}/{file}", get(gated_route))
            .route("/fresh/{file}", get(fresh_route))
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let (reset_addr, reset_task) = raw_listener(shared.clone(), Raw::Reset).await;
        let (garbage_addr, garbage_task) = raw_listener(shared.clone(), Raw::Garbage).await;
        FixtureServer {
            base,
            shared,
            gate,
            reset_addr,
            garbage_addr,
            _raw: [reset_task, garbage_task],
            _shutdown: tx,
        }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().expect("lock").seen.clone()
    }

    /// The URL of a fixture file.
    pub fn fixture_url(&self, folder: &str, file: &str) -> String {
        format!("{}/fixtures/{folder}/{file}", self.base)
    }

    /// A URL whose server reads the request, then resets the TCP connection
    /// without any HTTP response (any path on that port does the same).
    pub fn reset_url(&self) -> String {
        format!("http://{}/reset", self.reset_addr)
    }

    /// A URL whose server answers bytes that are not HTTP at all, then closes
    /// (any path on that port does the same).
    pub fn garbage_url(&self) -> String {
        format!("http://{}/garbage", self.garbage_addr)
    }

    /// The number of requests that have arrived at `/gate/` routes so far,
    /// held or served. Race-free: `rx.wait_for(|n| *n >= 1).await` returns as
    /// soon as one request is waiting at the (closed) gate, or at once if one
    /// already is.
    pub fn gate_arrivals(&self) -> watch::Receiver<usize> {
        self.gate.arrivals.subscribe()
    }

    /// Opens the gate: held and later `/gate/` requests are served the
    /// fixture normally. It stays open.
    pub fn open_gate(&self) {
        self.gate.open.send_replace(true);
    }
}

async fn record(
    State(shared): State<Arc<Mutex<Shared>>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    // Built in a block: a borrow of the request must not live across the await.
    let seen = {
        let headers = request.headers();
        let text =
            |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Seen {
            uri: request.uri().to_string(),
            if_none_match: text(header::IF_NONE_MATCH),
            if_modified_since: text(header::IF_MODIFIED_SINCE),
            user_agent: text(header::USER_AGENT),
        }
    };
    shared.lock().expect("lock").seen.push(seen);
    next.run(request).await
}

fn content_type(file: &str) -> &'static str {
    if file.ends_with(".json") {
        "application/feed+json"
    } else if file.ends_with(".html") {
        "text/html"
    } else if file.contains("atom") {
        "application/atom+xml"
    } else {
        "application/rss+xml"
    }
}

async fn fixture(Path((folder, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Ok(bytes) = std::fs::read(fixtures_dir().join(&folder).join(&file)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{:x}\"", Sha256::digest(&bytes));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    if let Some(name) = file.strip_suffix(".gz") {
        // Served as the server would: a gzip-encoded feed.
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    } else {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
    }
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("etag header"));
    h.insert(header::LAST_MODIFIED, HeaderValue::from_static(LAST_MODIFIED));
    response
}

async fn fail_then_serve(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path((times, status, folder, file)): Path<(usize, u16, String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = format!("{times}/{status}/{folder}/{file}");
    let count = {
        let mut shared = shared.lock().expect("lock");
        let count = shared.counts.entry(key).or_insert(0);
        *count += 1;
        *count
    };
    if count <= times {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "temporarily broken").into_response();
    }
    fixture(Path((folder, file)), headers).await
}

/// The fixture the first time, then an HTML error page with status 200: a
/// site whose feed broke.
async fn serve_then_garbage(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path((folder, file)): Path<(String, String)>,
) -> Response {
    let count = {
        let mut shared = shared.lock().expect("lock");
        let count = shared.counts.entry(format!("then-garbage/{folder}/{file}")).or_insert(0);
        *count += 1;
        *count
    };
    if count == 1 {
        // No validators: the second request must get the broken body.
        return fixture(Path((folder, file)), HeaderMap::new()).await.into_response();
    }
    ([(header::CONTENT_TYPE, "text/html")], "<html><body><h1>Database error</h1></body></html>")
        .into_response()
}

async fn retry_after(Path(seconds): Path<u64>) -> Response {
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], "slow down").into_response()
}

/// Accepts the request and never answers: the client's timeout must end it.
async fn slow() -> Response {
    std::future::pending().await
}

/// 50 MB without a Content-Length, so the cap must be enforced while streaming.
async fn big() -> Response {
    let chunk = vec![b'x'; 1024 * 1024];
    let stream = futures_util::stream::iter((0..50).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/rss+xml"));
    response
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn social(file: &str) -> Response {
    match std::fs::read(fixtures_dir().join("social-json").join(file)) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn mastodon_tag(Path(tag): Path<String>) -> Response {
    let file = if tag == "empty" {
        "mastodon-timelines_tag-empty.json"
    } else {
        "mastodon-timelines_tag-statuses.json"
    };
    social(file)
}

async fn html_page(Path(file): Path<String>) -> Response {
    match std::fs::read(fixtures_dir().join("html").join(&file)) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The fixture's response (headers included), its body sent one byte every
/// [`DRIP_INTERVAL`]: a client's whole-request timeout must cut it.
async fn drip(Path((folder, file)): Path<(String, String)>) -> Response {
    let response = fixture(Path((folder, file)), HeaderMap::new()).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // Announced in full, so a client can tell the body it got is cut short.
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let stream = futures_util::stream::unfold((bytes, 0usize), |(bytes, at)| async move {
        if at >= bytes.len() {
            return None;
        }
        if at > 0 {
            // The misbehaviour under test (a server trickling its body), not a
            // test waiting for something: the client's timeout is what ends it.
            tokio::time::sleep(DRIP_INTERVAL).await;
        }
        let chunk = bytes.slice(at..at + 1);
        Some((Ok::<_, std::io::Error>(chunk), (bytes, at + 1)))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Counts the arrival, holds the request until the gate opens, then serves
/// the fixture (conditional GETs included).
async fn gated(gate: Arc<Gate>, folder: String, file: String, headers: HeaderMap) -> Response {
    // Subscribed before the arrival is announced: an `open_gate` right after
    // the test sees the arrival is never missed.
    let mut open = gate.open.subscribe();
    gate.arrivals.send_modify(|n| *n += 1);
    if open.wait_for(|open| *open).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    fixture(Path((folder, file)), headers).await
}

/// Sentences for `/fresh/` items: `{a}` and `{b}` are the two brands.
/// Positive, negative and neutral, in turn.
const FRESH_SENTENCES: &[(&str, &str)] = &[
    (
        "{a} ships a faster release",
        "I love the new {a} release, it is fast, reliable and a pleasure to use every day. \
         Great work by the team.",
    ),
    (
        "{a} outage frustrates users",
        "{a} has been down for hours again and support is useless. This is terrible, \
         I am really disappointed and angry.",
    ),
    (
        "{a} publishes its quarterly report",
        "{a} published its quarterly report on Tuesday. The document lists revenue by region \
         and the number of employees.",
    ),
    (
        "Why I moved my projects to {a}",
        "Honestly {a} is excellent: the search is brilliant, the tools are wonderful and \
         everything just works. Highly recommended.",
    ),
    (
        "{a} breaks my workflow",
        "The latest {a} update broke everything I rely on. Awful experience, slow pages \
         and constant errors. I hate it.",
    ),
    (
        "{a} and {b} announce a meeting",
        "Representatives of {a} and {b} will meet next week in Berlin to discuss \
         documentation formats, according to a short statement.",
    ),
    (
        "{a} beats {b} in my tests",
        "In my tests {a} was clearly better than {b}: smoother, cheaper and more helpful. \
         I am very happy with the switch.",
    ),
    (
        "{a} raises prices, again",
        "{a} raised its prices once more while the service keeps getting worse. \
         Customers deserve better than this disappointing mess.",
    ),
    (
        "{a} changes its terms of service",
        "{a} changed its terms of service this month. The new version takes effect \
         in thirty days and applies to all accounts.",
    ),
];

/// An RSS 2.0 feed of `n` items (`/fresh/{n}.xml`) that are new on every
/// request: unique guid, link and text per request and item, published now,
/// mentioning Google and GitHub.
async fn fresh(shared: Arc<Mutex<Shared>>, nonce: Arc<str>, file: String) -> Response {
    let Some(n) = file.strip_suffix(".xml").and_then(|n| n.parse::<usize>().ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if n > FRESH_MAX_ITEMS {
        return (StatusCode::BAD_REQUEST, "too many items").into_response();
    }
    let request = {
        let mut shared = shared.lock().expect("lock");
        let count = shared.counts.entry("fresh".to_owned()).or_insert(0);
        *count += 1;
        *count
    };
    let now = chrono::Utc::now();
    let mut items = String::new();
    for i in 0..n {
        let id = format!("{nonce}-{request}-{i}");
        let (a, b) = if (request + i) % 2 == 0 { ("Google", "GitHub") } else { ("GitHub", "Google") };
        let (title, body) = FRESH_SENTENCES[(request * 7 + i) % FRESH_SENTENCES.len()];
        let title = title.replace("{a}", a).replace("{b}", b);
        let body = body.replace("{a}", a).replace("{b}", b);
        // One second apart, newest first, so the order is stable.
        let published = (now - chrono::Duration::seconds(i as i64)).to_rfc2822();
        items.push_str(&format!(
            "<item><title>{title}</title>\
             <link>https://news.example.org/fresh/{id}</link>\
             <guid isPermaLink=\"false\">brandpulse-fresh-{id}</guid>\
             <pubDate>{published}</pubDate>\
             <description>{body} (Report {id}.)</description></item>\n"
        ));
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Fresh news</title><link>https://news.example.org/</link>\
         <description>New items on every request</description>\
         <lastBuildDate>{}</lastBuildDate>\n{items}</channel></rss>\n",
        now.to_rfc2822()
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], xml).into_response()
}

/// A raw TCP listener on 127.0.0.1:0 that reads each request head, records
/// it in `seen`, then behaves as `raw` says. Aborting the returned task stops
/// the listener and every connection it holds.
async fn raw_listener(shared: Arc<Mutex<Shared>>, raw: Raw) -> (SocketAddr, AbortOnDrop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        // Connections live in the set, so aborting this task ends them too.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let Ok((socket, _)) = listener.accept().await else { continue };
            connections.spawn(raw_connection(socket, shared.clone(), raw));
        }
    });
    (addr, AbortOnDrop(task.abort_handle()))
}

async fn raw_connection(mut socket: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>, raw: Raw) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the head (or EOF, or 64 KiB).
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    shared.lock().expect("lock").seen.push(parse_head(&head));
    match raw {
        Raw::Reset => {
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
        Raw::Garbage => {
            let _ = socket.write_all(GARBAGE).await;
            let _ = socket.shutdown().await;
        }
    }
}

/// The request target and headers of a raw request head, as a [`Seen`].
fn parse_head(head: &[u8]) -> Seen {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let uri = lines.next().and_then(|line| line.split(' ').nth(1)).unwrap_or_default().to_owned();
    let mut seen = Seen { uri, if_none_match: None, if_modified_since: None, user_agent: None };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = Some(value.trim().to_owned());
        match name.trim().to_ascii_lowercase().as_str() {
            "if-none-match" => seen.if_none_match = value,
            "if-modified-since" => seen.if_modified_since = value,
            "user-agent" => seen.user_agent = value,
            _ => {}
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A bound on every wait in these tests.
    const BOUND: Duration = Duration::from_secs(10);

    fn client() -> reqwest::Client {
        reqwest::Client::builder().timeout(BOUND).build().expect("reqwest client")
    }

    /// The io::Error somewhere in an error's source chain.
    fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return Some(io.kind());
            }
            next = e.source();
        }
        None
    }

    #[tokio::test]
    async fn the_reset_listener_resets_the_connection() {
        let server = FixtureServer::start().await;
        let error = client().get(server.reset_url()).send().await.expect_err("a reset, not a response");
        assert!(!error.is_timeout(), "{error:?}");
        assert_eq!(io_kind(&error), Some(std::io::ErrorKind::ConnectionReset), "{error:?}");
        assert!(server.seen().iter().any(|s| s.uri == "/reset"), "{:?}", server.seen());
    }

    #[tokio::test]
    async fn the_garbage_listener_answers_no_http() {
        let server = FixtureServer::start().await;
        let error = client().get(server.garbage_url()).send().await.expect_err("garbage is no response");
        assert!(!error.is_timeout(), "{error:?}");
        assert!(error.is_request() || error.is_connect() || error.is_body(), "{error:?}");
    }

    #[tokio::test]
    async fn a_drip_is_cut_by_the_clients_timeout() {
        let server = FixtureServer::start().await;
        let url = format!("{}/drip/rss-atom/atom-github-releases.xml", server.base);
        let started = Instant::now();
        let response =
            client().get(&url).timeout(Duration::from_secs(1)).send().await.expect("the head comes at once");
        assert_eq!(response.status(), 200);
        let error = response.bytes().await.expect_err("3 KB at 5 bytes a second never finish in 1 s");
        assert!(error.is_timeout(), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn the_gate_holds_requests_until_opened() {
        let server = FixtureServer::start().await;
        let url = format!("{}/gate/rss-atom/atom-github-releases.xml", server.base);
        let expected =
            std::fs::read(fixtures_dir().join("rss-atom/atom-github-releases.xml")).expect("fixture");
        let mut arrivals = server.gate_arrivals();
        let held = tokio::spawn({
            let (client, url) = (client(), url.clone());
            async move { client.get(&url).send().await?.bytes().await }
        });
        tokio::time::timeout(BOUND, arrivals.wait_for(|n| *n >= 1))
            .await
            .expect("a request arrives at the gate")
            .expect("the server runs");
        assert!(!held.is_finished(), "the gate let a request through before it opened");
        server.open_gate();
        let body = held.await.expect("task").expect("served once the gate opens");
        assert_eq!(body.as_ref(), expected.as_slice());
        // Open for later requests too.
        let later = client().get(&url).send().await.expect("GET").bytes().await.expect("body");
        assert_eq!(later.as_ref(), expected.as_slice());
        assert_eq!(*server.gate_arrivals().borrow(), 2);
    }

    #[tokio::test]
    async fn fresh_feeds_are_new_on_every_request() {
        let server = FixtureServer::start().await;
        let url = format!("{}/fresh/3.xml", server.base);
        let mut guids = Vec::new();
        for _ in 0..2 {
            let response = client().get(&url).send().await.expect("GET");
            assert_eq!(response.status(), 200);
            let body = response.bytes().await.expect("body");
            let feed = feed_rs::parser::parse(body.as_ref()).expect("a valid RSS feed");
            assert_eq!(feed.entries.len(), 3);
            for entry in &feed.entries {
                let text = format!(
                    "{} {}",
                    entry.title.as_ref().map(|t| t.content.as_str()).unwrap_or_default(),
                    entry.summary.as_ref().map(|t| t.content.as_str()).unwrap_or_default()
                );
                assert!(text.contains("Google") || text.contains("GitHub"), "{text}");
                assert!(entry.published.is_some(), "no pubDate");
            }
            guids.push(feed.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
        }
        let mut all: Vec<_> = guids.concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6, "{guids:?}");
        assert_eq!(server.seen().iter().filter(|s| s.uri == "/fresh/3.xml").count(), 2);
        let missing = client().get(format!("{}/fresh/many.xml", server.base)).send().await.expect("GET");
        assert_eq!(missing.status(), 404);
    }
}
