//! The dashboard: server-rendered HTML with inline SVG charts, served at `/`
//! by the API's server. No script, no framework, nothing fetched from
//! elsewhere, so it works offline and a strict Content-Security-Policy holds.
//!
//! - this file: the routes, the login (a session cookie made from the API
//!   token, see [`crate::api::auth`]), query parameters and error pages;
//! - [`data`]: what each page shows, loaded through the store calls the
//!   trends command, the digest and the JSON API make;
//! - [`charts`]: the SVG charts;
//! - [`pages`]: the HTML;
//! - [`csv`]: every chart's data as a CSV download.
//!
//! Routes: `GET /` (a brand's overview), `GET /products/{sku}`, `GET
//! /csv/{chart}`, `GET`/`POST /login`, `POST /logout`. Every page but the
//! login form needs the session cookie; without it the browser is sent to
//! `/login`. Query parameters are read like the API's: a malformed,
//! unknown or repeated one is a 400 page naming it.

pub mod charts;
pub mod csv;
pub mod data;
pub mod pages;

use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;

use crate::api::params::Params;
use crate::api::routes::mention_filter;
use crate::api::{ApiError, AppState, auth};
use crate::store::{MentionCursor, MentionFilter, StoreError};
use crate::trends::{self, TrendsError};
use data::{BrandChoice, Range};

/// The Content-Security-Policy of every dashboard response: nothing but
/// inline styles and same-origin or `data:` images; no script at all.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

/// The mention filters the overview takes (those of `/api/mentions` but
/// the brand and the period, which the page's own selectors set).
const FILTERS: [&str; 6] = ["sentiment", "source", "q", "product", "aspect", "language"];

/// The dashboard's routes, to be merged into [`crate::api::router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/products/{sku}", get(product))
        .route("/csv/{chart}", get(csv_download))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .layer(middleware::from_fn(security_headers))
}

/// Why a dashboard request failed: the API's reasons ([`ApiError`]), shown
/// as an HTML page instead of JSON.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DashboardError(#[from] pub ApiError);

impl DashboardError {
    /// A bad query parameter.
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        DashboardError(ApiError::bad(parameter, message))
    }

    /// The page's subject does not exist.
    pub fn not_found(what: impl Into<String>) -> Self {
        DashboardError(ApiError::NotFound(what.into()))
    }

    /// Something on our side failed.
    pub fn internal(what: impl Into<String>) -> Self {
        DashboardError(ApiError::Internal(what.into()))
    }
}

impl From<StoreError> for DashboardError {
    fn from(e: StoreError) -> Self {
        DashboardError(e.into())
    }
}

impl From<TrendsError> for DashboardError {
    fn from(e: TrendsError) -> Self {
        DashboardError(e.into())
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self.0 {
            ApiError::BadRequest { parameter, message } => (
                StatusCode::BAD_REQUEST,
                "Bad request",
                format!("The parameter `{parameter}` is wrong: {message}."),
            ),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", what),
            e
            @ (ApiError::Unauthorized | ApiError::Store(_) | ApiError::Internal(_) | ApiError::Serve(_)) => {
                // The cause goes to the log once, in the request's span; the
                // page says only that it was our fault.
                tracing::error!(error = %crate::text::error_chain(&e), "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be made; the server log has the cause.".to_owned(),
                )
            }
        };
        (status, Html(pages::error(title, &message))).into_response()
    }
}

/// A request carrying the dashboard session cookie; any other is sent to `/login`.
pub struct Session;

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if auth::session_ok(&parts.headers, &state.token) {
            Ok(Session)
        } else {
            Err(see_other("/login", None))
        }
    }
}

/// `303 See Other` to `location`, optionally setting a cookie.
fn see_other(location: &'static str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The pages show private data: no shared or on-disk cache keeps them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the overview (and its CSV downloads) was asked for, checked.
#[derive(Debug, Clone)]
pub struct View {
    /// The selected brand.
    pub brand: BrandChoice,
    /// Every brand the selector offers (config order).
    pub brands: Vec<BrandChoice>,
    /// The days shown.
    pub range: Range,
    /// The latest mentions' filter (brand and period included).
    pub filter: MentionFilter,
    /// The mention filters as given, for the forms and links.
    pub filters: Vec<(&'static str, String)>,
    /// Where the page of mentions starts (None: the newest).
    pub cursor: Option<MentionCursor>,
    /// The time zone days are cut in.
    pub time_zone: chrono_tz::Tz,
}

impl View {
    /// `brand`, `from` and `to`: what every link on the page carries.
    pub fn base_params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("brand", self.brand.name.clone()),
            ("from", self.range.from.to_string()),
            ("to", self.range.to.to_string()),
        ]
    }

    /// The SKU the mentions are filtered by, if any.
    pub fn product(&self) -> Option<&str> {
        self.filters.iter().find(|(k, _)| *k == "product").map(|(_, v)| v.as_str())
    }
}

/// The brands in config order, with their database ids.
async fn brand_choices(state: &AppState) -> Result<Vec<BrandChoice>, DashboardError> {
    let stored = state.store.brands().await?;
    Ok(state
        .config()
        .brands
        .iter()
        .filter_map(|b| {
            stored.iter().find(|s| s.name.eq_ignore_ascii_case(&b.name)).map(|s| BrandChoice {
                id: s.id,
                name: b.name.clone(),
                competitor: b.competitor,
            })
        })
        .collect())
}

/// Reads the overview's query: `brand`, `from`, `to` and the mention filters.
async fn view(state: &AppState, raw: Option<&str>) -> Result<View, DashboardError> {
    let mut p = Params::parse(raw)?;
    let brand = p.text("brand");
    let from = p.parsed("from", trends::parse_day)?;
    let to = p.parsed("to", trends::parse_day)?;
    let tz = state.config().digest.time_zone;
    let range = Range::resolve(from, to, Utc::now().with_timezone(&tz).date_naive(), tz)?;
    let brands = brand_choices(state).await?;
    let brand = match brand {
        Some(name) => {
            brands.iter().find(|b| b.name.eq_ignore_ascii_case(&name)).cloned().ok_or_else(|| {
                let known: Vec<&str> = brands.iter().map(|b| b.name.as_str()).collect();
                DashboardError::bad("brand", format!("no brand `{name}` (known: {})", known.join(", ")))
            })?
        }
        // The first own brand of the config, else whatever is watched.
        None => {
            brands.iter().find(|b| !b.competitor).or_else(|| brands.first()).cloned().ok_or_else(|| {
                DashboardError::not_found("no brand is configured (and synced to the database)".to_owned())
            })?
        }
    };
    // Kept as given so the forms and links can carry them; already checked for repeats.
    let mut echo = Params::parse(raw)?;
    let filters = FILTERS.iter().filter_map(|&k| echo.text(k).map(|v| (k, v))).collect();
    // The rest is the latest mentions' filter, read exactly as /api/mentions reads it.
    let mut filter = mention_filter(state, &mut p).await?;
    let cursor =
        p.parsed("cursor", |v| MentionCursor::decode(v).ok_or_else(|| format!("`{v}` is not a cursor")))?;
    p.finish()?;
    filter.brand_id = Some(brand.id);
    filter.from = Some(range.start);
    filter.to = Some(range.end);
    Ok(View { brand, brands, range, filter, filters, cursor, time_zone: tz })
}

async fn overview(
    _: Session,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, DashboardError> {
    let view = view(&state, raw.as_deref()).await?;
    let overview =
        data::overview(&state, &view.brand, &view.range, &view.filter, view.cursor, Utc::now()).await?;
    Ok(Html(pages::overview(&view, &overview)))
}

/// Reads a product page's query: `from` and `to`.
fn product_range(state: &AppState, raw: Option<&str>) -> Result<Range, DashboardError> {
    let mut p = Params::parse(raw)?;
    let from = p.parsed("from", trends::parse_day)?;
    let to = p.parsed("to", trends::parse_day)?;
    p.finish()?;
    let tz = state.config().digest.time_zone;
    Range::resolve(from, to, Utc::now().with_timezone(&tz).date_naive(), tz)
}

async fn product(
    _: Session,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, DashboardError> {
    let range = product_range(&state, raw.as_deref())?;
    let view = data::product(&state, &sku, &range, Utc::now())
        .await?
        .ok_or_else(|| DashboardError::not_found(format!("There is no product with the SKU `{sku}`.")))?;
    Ok(Html(pages::product(&view, &range, state.config().digest.time_zone)))
}

async fn csv_download(
    _: Session,
    State(state): State<AppState>,
    Path(chart): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    if !csv::CHARTS.contains(&chart.as_str()) {
        return Err(DashboardError::not_found(format!(
            "There is no chart `{chart}`; the charts are {}.",
            csv::CHARTS.join(", ")
        )));
    }
    // Every chart takes the overview's parameters, so a page's links carry them unchanged.
    let view = view(&state, raw.as_deref()).await?;
    let now = Utc::now();
    let product_sku = || {
        view.product()
            .map(str::to_owned)
            .ok_or_else(|| DashboardError::bad("product", "required for this chart (a SKU)"))
    };
    let (subject, body) = match chart.as_str() {
        "volume" => (
            view.brand.name.clone(),
            csv::days(&data::volume_days(&state, &view.brand, &view.range, now).await?)?,
        ),
        "share-of-voice" => {
            ("all".to_owned(), csv::share(&data::share_of_voice(&state, &view.range).await?)?)
        }
        "products" => (
            view.brand.name.clone(),
            csv::products(&data::products(&state, &view.brand, &view.range).await?.most_mentioned)?,
        ),
        "problem-products" => (
            view.brand.name.clone(),
            csv::products(&data::products(&state, &view.brand, &view.range).await?.problems)?,
        ),
        "gaps" => (view.brand.name.clone(), csv::gaps(&data::gaps(&state, &view.brand, &view.range).await?)?),
        "mentions" => {
            let (rows, _) = data::mentions(&state, &view.filter, view.cursor, data::MENTIONS_CSV).await?;
            (view.brand.name.clone(), csv::mentions(&rows)?)
        }
        "sources" => ("all".to_owned(), csv::sources(&data::sources(&state).await?)?),
        "product-trend" => {
            let sku = product_sku()?;
            (sku.clone(), csv::days(&data::product_days(&state, &sku, &view.range, now).await?)?)
        }
        _ => {
            let sku = product_sku()?;
            let summary = state
                .store
                .product_summary(&sku, &state.model_id, view.range.start, view.range.end, 0)
                .await?
                .ok_or_else(|| DashboardError::bad("product", format!("no product with SKU `{sku}`")))?;
            (sku, csv::aspects(&summary.aspects)?)
        }
    };
    let filename =
        format!("brandpulse-{chart}-{}-{}-to-{}.csv", file_part(&subject), view.range.from, view.range.to);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|e| DashboardError::internal(format!("CSV file name {filename:?}: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// A name made safe for a file name and a header: ASCII letters, digits and `-`.
fn file_part(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() { "x".to_owned() } else { s }
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if auth::session_ok(&headers, &state.token) {
        return see_other("/", None);
    }
    Html(pages::login(None)).into_response()
}

async fn login(State(state): State<AppState>, body: String) -> Response {
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if token.trim().is_empty() {
        return (StatusCode::UNAUTHORIZED, Html(pages::login(Some("Enter the token.")))).into_response();
    }
    if !auth::token_ok(&token, &state.token) {
        // Logged without the typed text: it may be a real token for something else.
        tracing::warn!("dashboard login with a wrong token");
        return (StatusCode::UNAUTHORIZED, Html(pages::login(Some("That token is not right."))))
            .into_response();
    }
    see_other("/", Some(auth::login_cookie(&state.token)))
}

async fn logout() -> Response {
    see_other("/login", Some(auth::logout_cookie()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_file_names_are_plain() {
        assert_eq!(file_part("Kestrel"), "kestrel");
        assert_eq!(file_part("Ünï \"co\"\r\n"), "n---co");
        assert_eq!(file_part("\""), "x");
    }

    #[test]
    fn dashboard_bad_parameters_name_themselves() {
        let e: DashboardError = ApiError::bad("sentiment", "`x` is not one of positive").into();
        assert_eq!(e.to_string(), "sentiment: `x` is not one of positive");
        let e: DashboardError = TrendsError::BadArgument { argument: "to", message: "m".into() }.into();
        assert!(matches!(e, DashboardError(ApiError::BadRequest { ref parameter, .. }) if parameter == "to"));
    }
}
