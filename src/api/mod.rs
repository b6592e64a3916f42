//! The HTTP API and the dashboard's server: axum, in the daemon's process,
//! off unless `[api] enabled`.
//!
//! - [`auth`]: bearer token (API) and session cookie (dashboard), constant-time.
//! - [`error`]: what a client is told (4xx say what was wrong; 5xx say only
//!   that something went wrong, the cause goes to the log once).
//! - [`routes`]: the JSON routes, each documented for OpenAPI.
//! - [`openapi`]: the OpenAPI 3 description, generated from the code.
//!
//! The dashboard's pages are [`crate::dashboard`]; both are served by [`router`].

pub mod auth;
pub mod error;
pub mod openapi;
pub mod params;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::store::Store;

pub use error::ApiError;

/// Largest request body (the login form is the only one).
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest request target (path and query).
const MAX_URI_BYTES: usize = 4096;
/// Requests handled at once; more wait.
const MAX_CONCURRENT: usize = 64;
/// A request taking longer is answered 408 and dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The checked config (brands, time zone, aspects); the daemon sends a
    /// new one on reload. Read it with [`AppState::config`].
    pub config: tokio::sync::watch::Receiver<Arc<Config>>,
    /// The bearer token.
    pub token: SecretString,
    /// The model id whose results are read.
    pub model_id: String,
    /// What `/api/health` reports about the rest of the process.
    pub status: Arc<RuntimeStatus>,
}

impl AppState {
    /// The config as it is now (after any reload).
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// A config that never changes (the demo, tests).
    pub fn fixed_config(config: Arc<Config>) -> tokio::sync::watch::Receiver<Arc<Config>> {
        // The receiver keeps the value after the sender is gone.
        tokio::sync::watch::channel(config).1
    }
}

/// The parts of the process `/api/health` vouches for besides the database.
#[derive(Debug, Default)]
pub struct RuntimeStatus {
    model_loaded: AtomicBool,
    /// Unix seconds of the scheduler's last tick; 0 before the first.
    scheduler_tick: AtomicI64,
    /// Whether this process runs a scheduler at all (the daemon does, `demo`
    /// after its crawl does not).
    scheduler_expected: AtomicBool,
}

/// A scheduler that has not ticked for this long is reported stuck.
pub const SCHEDULER_STALE_AFTER: Duration = Duration::from_secs(120);

impl RuntimeStatus {
    /// Records that the model is loaded (or unloaded).
    pub fn set_model_loaded(&self, loaded: bool) {
        self.model_loaded.store(loaded, Ordering::Relaxed);
    }

    /// Whether the model is loaded.
    pub fn model_loaded(&self) -> bool {
        self.model_loaded.load(Ordering::Relaxed)
    }

    /// Records a scheduler tick now (and that a scheduler runs here).
    pub fn scheduler_ticked(&self) {
        self.scheduler_expected.store(true, Ordering::Relaxed);
        self.scheduler_tick.store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// `None` if no scheduler runs in this process, else the seconds since its last tick
    /// (`i64::MAX` before the first).
    pub fn scheduler_age_secs(&self) -> Option<i64> {
        if !self.scheduler_expected.load(Ordering::Relaxed) {
            return None;
        }
        let last = self.scheduler_tick.load(Ordering::Relaxed);
        Some(if last == 0 { i64::MAX } else { chrono::Utc::now().timestamp() - last })
    }
}

/// The whole HTTP surface: `/api/*` (bearer token, except `/api/health`) and
/// the dashboard (session cookie), with size, time and concurrency limits.
pub fn router(state: AppState) -> Router {
    let api = routes::router().route_layer(middleware::from_fn_with_state(state.clone(), require_bearer));
    Router::new()
        .merge(routes::public_router())
        .merge(api)
        .merge(crate::dashboard::router())
        .layer(middleware::from_fn(limit_uri))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(ConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then lets
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await.map_err(ApiError::Serve)
}

async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if auth::bearer_ok(request.headers(), &state.token) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

async fn limit_uri(request: Request, next: Next) -> Response {
    if request.uri().to_string().len() > MAX_URI_BYTES {
        return ApiError::BadRequest {
            parameter: "query".to_owned(),
            message: format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        }
        .into_response();
    }
    next.run(request).await
}
