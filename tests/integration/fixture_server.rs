//! A local HTTP server (127.0.0.1, port 0) that serves the recorded real
//! payloads of `../shared/fixtures/` byte for byte, answers conditional GETs,
//! and misbehaves on request (errors, Retry-After, slowness, huge bodies,
//! redirect loops, a robots.txt) for the fetcher's tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

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
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

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
        FixtureServer { base, shared, _shutdown: tx }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().expect("lock").seen.clone()
    }

    /// The URL of a fixture file.
    pub fn fixture_url(&self, folder: &str, file: &str) -> String {
        format!("{}/fixtures/{folder}/{file}", self.base)
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
