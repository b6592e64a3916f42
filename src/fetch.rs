//! The only HTTP client that talks to the outside world, and its manners:
//! connect and total timeouts, a body cap enforced while streaming, at most
//! five redirects, gzip/brotli/deflate, a User-Agent with the operator's
//! contact URL, conditional GET, robots.txt for documents, a per-host rate
//! limit and concurrency limit, and one place ([`FetchError::is_retryable`])
//! that decides what is worth trying again.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::FetchConfig;

/// robots.txt answers are kept this long (RFC 9309 suggests at most 24 hours).
const ROBOTS_TTL: Duration = Duration::from_secs(6 * 3600);
/// robots.txt files larger than this are cut (RFC 9309 asks for at least 500 KiB).
const ROBOTS_MAX_BYTES: u64 = 512 * 1024;
/// Attempts per request for retryable failures (the first try included).
const ATTEMPTS: u32 = 3;
/// A Retry-After longer than this is not waited out in the run: the caller
/// records it as the source's next due time instead.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(10);

/// What to request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The URL.
    pub url: Url,
    /// `ETag` from the last fetch, sent as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` from the last fetch, sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// Whether robots.txt applies (documents: feeds and pages; not APIs).
    pub obey_robots: bool,
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// HTTP status (2xx).
    pub status: u16,
    /// The URL after redirects.
    pub url: Url,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Link` (pagination).
    pub link: Option<String>,
    /// `ETag` to send next time.
    pub etag: Option<String>,
    /// `Last-Modified` to send next time.
    pub last_modified: Option<String>,
    /// The decompressed body.
    pub body: Vec<u8>,
}

/// The result of a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx with a body.
    Fetched(Fetched),
    /// 304: nothing changed since the validators were issued.
    NotModified {
        /// `ETag` to send next time (the server may issue a new one).
        etag: Option<String>,
        /// `Last-Modified` to send next time.
        last_modified: Option<String>,
    },
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The status code.
        status: u16,
        /// The URL.
        url: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// No answer within the configured time.
    #[error("timed out fetching {url}")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// The connection could not be made.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// More than five redirects (or a loop).
    #[error("too many redirects fetching {url} (at most 5 are followed)")]
    Redirects {
        /// The URL.
        url: String,
    },
    /// The body is larger than `fetch.max_body_bytes`.
    #[error("the response from {url} is larger than {limit} bytes (fetch.max_body_bytes)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// robots.txt asks crawlers to stay away from this URL.
    #[error("robots.txt of {host} disallows {url} for brandpulse")]
    Disallowed {
        /// The host.
        host: String,
        /// The URL.
        url: String,
    },
    /// Any other transport failure (TLS, broken body, bad encoding...).
    #[error("fetching {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client could not be built (bad User-Agent, TLS setup).
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
}

impl FetchError {
    /// The one place that decides what is worth retrying: timeouts, failed
    /// connections, broken transfers, 408, 425, 429 and 5xx except 501.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => {
                matches!(*status, 408 | 425 | 429 | 500 | 502 | 503 | 504 | 507 | 509 | 520..=599)
            }
            FetchError::Timeout { .. } | FetchError::Connect { .. } | FetchError::Transport { .. } => true,
            FetchError::Redirects { .. }
            | FetchError::TooLarge { .. }
            | FetchError::Disallowed { .. }
            | FetchError::Setup(_) => false,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

struct RobotsEntry {
    robot: Option<texting_robots::Robot>,
    /// Unreachable or 5xx robots.txt: assume complete disallow (RFC 9309 2.3.1.4).
    disallow_all: bool,
    fetched: Instant,
}

/// The HTTP client. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    user_agent: String,
    max_body_bytes: u64,
    rate: DefaultKeyedRateLimiter<String>,
    per_host: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    robots: tokio::sync::Mutex<HashMap<String, RobotsEntry>>,
    retry_base: Duration,
}

impl Fetcher {
    /// A client with the configured manners.
    pub fn new(config: &FetchConfig) -> Result<Fetcher, FetchError> {
        Self::with_retry_base(config, Duration::from_millis(500))
    }

    /// Like [`Fetcher::new`] with another base delay between retries (tests use a short one).
    pub fn with_retry_base(config: &FetchConfig, retry_base: Duration) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(&config.user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(FetchError::Setup)?;
        let per_minute = NonZeroU32::new(config.per_host_requests_per_minute).unwrap_or(NonZeroU32::MIN);
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                user_agent: config.user_agent.clone(),
                max_body_bytes: config.max_body_bytes,
                // No bursts: requests to one host are spaced evenly at the configured rate.
                rate: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(NonZeroU32::MIN)),
                per_host: config.per_host_concurrency.max(1) as usize,
                slots: Mutex::new(HashMap::new()),
                robots: tokio::sync::Mutex::new(HashMap::new()),
                retry_base,
            }),
        })
    }

    /// Fetches `request`, retrying retryable failures with exponential
    /// backoff and jitter. A `Retry-After` longer than a few seconds is not
    /// waited out: the error carries it so the caller can schedule the source later.
    pub async fn get(&self, request: &Request) -> Result<Outcome, FetchError> {
        if request.obey_robots {
            self.check_robots(&request.url).await?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.get_once(request).await;
            let error = match result {
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            if attempt >= ATTEMPTS || !error.is_retryable() {
                return Err(error);
            }
            let wait = match error.retry_after() {
                Some(wait) if wait > MAX_INLINE_WAIT => return Err(error),
                Some(wait) => wait,
                None => backoff(self.inner.retry_base, attempt),
            };
            tracing::debug!(url = %request.url, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// POSTs `body` as JSON (digest webhooks), retrying retryable failures
    /// (connection errors, 429, 5xx) with the same backoff as [`Fetcher::get`].
    /// Returns the number of attempts; on failure, the last error and the attempts.
    pub async fn post_json(&self, url: &Url, body: &serde_json::Value) -> Result<u32, (FetchError, u32)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.post_once(url, body).await {
                Ok(()) => return Ok(attempt),
                Err(e) => e,
            };
            if attempt >= ATTEMPTS || !error.is_retryable() {
                return Err((error, attempt));
            }
            let wait = match error.retry_after() {
                Some(wait) if wait <= MAX_INLINE_WAIT => wait,
                _ => backoff(self.inner.retry_base, attempt),
            };
            tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying POST");
            tokio::time::sleep(wait).await;
        }
    }

    async fn post_once(&self, url: &Url, body: &serde_json::Value) -> Result<(), FetchError> {
        let response = self
            .inner
            .client
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| classify(url, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                url: url.to_string(),
                retry_after: retry_after(response.headers()),
            });
        }
        Ok(())
    }

    async fn get_once(&self, request: &Request) -> Result<Outcome, FetchError> {
        let url = &request.url;
        let host = host_key(url);
        // Politeness first: wait for a slot and for the host's rate limit.
        let slot = self.slot(&host);
        let _permit = slot.acquire_owned().await.ok();
        self.inner.rate.until_key_ready(&host).await;

        let mut builder = self.inner.client.get(url.clone());
        if let Some(etag) = &request.etag {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &request.last_modified {
            builder = builder.header(header::IF_MODIFIED_SINCE, modified);
        }
        let mut response = builder.send().await.map_err(|e| classify(url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Outcome::NotModified {
                etag: header_text(&headers, header::ETAG).or_else(|| request.etag.clone()),
                last_modified: header_text(&headers, header::LAST_MODIFIED)
                    .or_else(|| request.last_modified.clone()),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                url: url.to_string(),
                retry_after: retry_after(&headers),
            });
        }
        let limit = self.inner.max_body_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { url: url.to_string(), limit });
        }
        // Enforce the cap while streaming: Content-Length may be absent or lie,
        // and decompression can inflate a small transfer.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { url: url.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Outcome::Fetched(Fetched {
            status: status.as_u16(),
            url: response.url().clone(),
            content_type: header_text(&headers, header::CONTENT_TYPE),
            link: header_text(&headers, header::LINK),
            etag: header_text(&headers, header::ETAG),
            last_modified: header_text(&headers, header::LAST_MODIFIED),
            body,
        }))
    }

    fn slot(&self, host: &str) -> Arc<Semaphore> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(host.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.inner.per_host))).clone()
    }

    /// Fails with [`FetchError::Disallowed`] when the host's robots.txt keeps us out.
    async fn check_robots(&self, url: &Url) -> Result<(), FetchError> {
        let host = host_key(url);
        let fresh = {
            let cache = self.inner.robots.lock().await;
            cache.get(&host).is_some_and(|e| e.fetched.elapsed() < ROBOTS_TTL)
        };
        if !fresh {
            // Fetched without holding the lock, so a slow host does not hold up
            // the others; two sources of one host may both fetch it, harmlessly.
            let entry = self.fetch_robots(url).await;
            self.inner.robots.lock().await.insert(host.clone(), entry);
        }
        let cache = self.inner.robots.lock().await;
        let allowed = match cache.get(&host) {
            Some(RobotsEntry { disallow_all: true, .. }) => false,
            Some(RobotsEntry { robot: Some(robot), .. }) => robot.allowed(url.as_str()),
            _ => true,
        };
        if allowed { Ok(()) } else { Err(FetchError::Disallowed { host, url: url.to_string() }) }
    }

    async fn fetch_robots(&self, url: &Url) -> RobotsEntry {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let request = Request { url: robots_url, etag: None, last_modified: None, obey_robots: false };
        let entry = |robot, disallow_all| RobotsEntry { robot, disallow_all, fetched: Instant::now() };
        match self.get_once(&request).await {
            Ok(Outcome::Fetched(f)) => {
                let text = &f.body[..f.body.len().min(ROBOTS_MAX_BYTES as usize)];
                // A robots.txt we cannot parse allows everything, as if absent.
                entry(texting_robots::Robot::new(&self.inner.user_agent, text).ok(), false)
            }
            Ok(Outcome::NotModified { .. }) => entry(None, false),
            // 4xx: no rules (RFC 9309 2.3.1.3).
            Err(FetchError::Status { status: 400..=499, .. }) => entry(None, false),
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "robots.txt unreachable; not fetching from this host for now");
                entry(None, true)
            }
        }
    }
}

/// Exponential backoff with full jitter: a random wait up to base * 2^attempt.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(10));
    ceiling.mul_f64(rand::random::<f64>().max(0.1))
}

fn host_key(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::new(),
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn classify(url: &Url, error: reqwest::Error) -> FetchError {
    let url = url.to_string();
    if error.is_timeout() {
        FetchError::Timeout { url }
    } else if error.is_redirect() {
        FetchError::Redirects { url }
    } else if error.is_connect() {
        FetchError::Connect { url, source: error }
    } else {
        FetchError::Transport { url, source: error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_decided_in_one_place() {
        let status = |status| FetchError::Status { status, url: String::new(), retry_after: None };
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 501] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(!FetchError::TooLarge { url: String::new(), limit: 1 }.is_retryable());
        assert!(!FetchError::Redirects { url: String::new() }.is_retryable());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        let date = httpdate::fmt_http_date(later);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&date).expect("header"));
        let wait = retry_after(&headers).expect("date parsed");
        assert!(wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600), "{wait:?}");
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_and_stays_under_its_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let wait = backoff(base, attempt);
            assert!(wait <= base * (1 << attempt), "attempt {attempt}: {wait:?}");
        }
    }
}
