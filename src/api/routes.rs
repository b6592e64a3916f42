//! The JSON routes. Each reads its query parameters through [`Params`] (every
//! bad one is a 400 naming it) and answers with a type that is also its
//! OpenAPI schema.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use super::params::Params;
use super::{ApiError, AppState};
use crate::store::{GapRow, MentionCursor, MentionFilter, MentionRow, ProductSummary, SourceHealthRow};
use crate::trends::{self, TrendsReport, TrendsRequest};

/// Mentions per page unless `limit` says otherwise.
const DEFAULT_PAGE: i64 = 50;
/// Most mentions per page.
const MAX_PAGE: i64 = 200;
const SENTIMENTS: [&str; 3] = ["positive", "neutral", "negative"];

/// Routes that need the bearer token.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/trends", get(get_trends))
        .route("/api/mentions", get(get_mentions))
        .route("/api/products/gaps", get(get_gaps))
        .route("/api/products/{sku}", get(get_product))
        .route("/api/digests/{date}", get(get_digest))
        .route("/api/sources", get(get_sources))
}

/// Routes anyone may call.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/api/health", get(get_health))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

/// `/api/trends`'s query parameters (documentation; parsing is [`trends_request`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TrendsParams {
    /// One brand's mentions (name, any case).
    brand: Option<String>,
    /// One product's mentions (SKU).
    product: Option<String>,
    /// The products of one catalog category.
    category: Option<String>,
    /// Product mentions discussing one aspect.
    aspect: Option<String>,
    /// The period up to now (`30d`, `12h`, `8w`); default 30d.
    since: Option<String>,
    /// First day (YYYY-MM-DD, digest time zone), with `to`.
    from: Option<String>,
    /// Last day, included, with `from`.
    to: Option<String>,
    /// `hour`, `day` (default) or `week`.
    bucket: Option<String>,
    /// Only posts from sources of this kind.
    source: Option<String>,
}

/// Reads `/api/trends`'s parameters into the request the CLI makes from its flags.
pub fn trends_request(raw: Option<&str>) -> Result<TrendsRequest, ApiError> {
    let mut p = Params::parse(raw)?;
    let request = TrendsRequest {
        brand: p.text("brand"),
        product: p.text("product"),
        category: p.text("category"),
        aspect: p.text("aspect"),
        since: p.parsed("since", trends::parse_duration)?,
        from: p.parsed("from", trends::parse_day)?,
        to: p.parsed("to", trends::parse_day)?,
        bucket: p.parsed("bucket", trends::parse_bucket)?,
        source: p.text("source"),
    };
    p.finish()?;
    Ok(request)
}

/// Mentions and sentiment per bucket, and rising products: `brandpulse trends` over HTTP.
#[utoipa::path(get, path = "/api/trends", params(TrendsParams), security(("bearer" = [])),
    responses((status = 200, body = TrendsReport), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody)))]
async fn get_trends(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TrendsReport>, ApiError> {
    let request = trends_request(raw.as_deref())?;
    Ok(Json(request.report(&state.store, &state.config(), &state.model_id, Utc::now()).await?))
}

/// `/api/mentions`'s query parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MentionParams {
    /// Brand name.
    brand: Option<String>,
    /// Product SKU.
    product: Option<String>,
    /// `positive`, `neutral` or `negative` (the post's sentiment).
    sentiment: Option<String>,
    /// An aspect discussed in a product mention.
    aspect: Option<String>,
    /// Source kind.
    source: Option<String>,
    /// Language (ISO 639-3, e.g. `eng`, or `unknown`).
    language: Option<String>,
    /// From (YYYY-MM-DD or RFC 3339, inclusive).
    from: Option<String>,
    /// To (YYYY-MM-DD or RFC 3339, exclusive).
    to: Option<String>,
    /// Text search (all words; `"a phrase"`, `-word`, `or`).
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Mentions per page, 1 to 200 (default 50).
    limit: Option<i64>,
}

/// A page of mentions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MentionPage {
    /// Newest first.
    pub mentions: Vec<MentionRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The filters of `/api/mentions`, checked against the database. Public for the dashboard.
pub async fn mention_filter(state: &AppState, p: &mut Params) -> Result<MentionFilter, ApiError> {
    let brand_id = match p.text("brand") {
        Some(name) => Some(brand_id(state, "brand", &name).await?),
        None => None,
    };
    let product_id = match p.text("product") {
        Some(sku) => Some(
            state
                .store
                .product_id(&sku)
                .await?
                .ok_or_else(|| ApiError::bad("product", format!("no product with SKU `{sku}`")))?,
        ),
        None => None,
    };
    let aspect = p.text("aspect");
    if let Some(a) = &aspect
        && !state.config().aspects.aspects().any(|(name, _)| name == a)
    {
        return Err(ApiError::bad("aspect", format!("no aspect `{a}`")));
    }
    let filter = MentionFilter {
        brand_id,
        product_id,
        sentiment: p.choice("sentiment", &SENTIMENTS)?,
        aspect,
        source_kind: p.choice("source", &trends::SOURCE_KINDS)?,
        language: p.parsed("language", |v| {
            if v == "unknown" || (v.len() == 3 && v.bytes().all(|b| b.is_ascii_lowercase())) {
                Ok(v.to_owned())
            } else {
                Err(format!("`{v}` is not an ISO 639-3 code (e.g. eng) or unknown"))
            }
        })?,
        from: p.parsed("from", trends::parse_time)?,
        to: p.parsed("to", trends::parse_time)?,
        text: p.text("q"),
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::bad("from", "is not before to"));
    }
    Ok(filter)
}

/// Mentions newest first, filtered, in pages that stay stable while new posts arrive.
#[utoipa::path(get, path = "/api/mentions", params(MentionParams), security(("bearer" = [])),
    responses((status = 200, body = MentionPage), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody)))]
async fn get_mentions(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MentionPage>, ApiError> {
    let mut p = Params::parse(raw.as_deref())?;
    let filter = mention_filter(&state, &mut p).await?;
    let cursor =
        p.parsed("cursor", |v| MentionCursor::decode(v).ok_or_else(|| format!("`{v}` is not a cursor")))?;
    let limit = p.int("limit", 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    p.finish()?;
    // One row more than asked tells whether another page exists.
    let mut mentions = state.store.mentions_page(&filter, &state.model_id, cursor, limit + 1).await?;
    let more = mentions.len() as i64 > limit;
    mentions.truncate(limit as usize);
    let next_cursor = more
        .then(|| mentions.last().map(|m| MentionCursor { at: m.mentioned_at, id: m.id }.encode()))
        .flatten();
    Ok(Json(MentionPage { mentions, next_cursor }))
}

/// `/api/products/{sku}`'s query parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ProductParams {
    /// The period up to now (default 30d).
    since: Option<String>,
    /// Latest mentions listed, 0 to 100 (default 10).
    recent: Option<i64>,
}

/// A product's volume, targeted sentiment, aspects and latest mentions.
#[utoipa::path(get, path = "/api/products/{sku}", params(("sku" = String, Path, description = "SKU"), ProductParams),
    security(("bearer" = [])),
    responses((status = 200, body = ProductSummary), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
async fn get_product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ProductSummary>, ApiError> {
    let mut p = Params::parse(raw.as_deref())?;
    let since =
        p.parsed("since", trends::parse_duration)?.unwrap_or(Duration::days(trends::DEFAULT_SINCE_DAYS));
    let recent = p.int("recent", 0, 100)?.unwrap_or(10);
    p.finish()?;
    let now = Utc::now();
    state
        .store
        .product_summary(&sku, &state.model_id, now - since, now, recent)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no product with SKU `{sku}`")))
}

/// `/api/products/gaps`'s query parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GapParams {
    /// Only sightings since (YYYY-MM-DD or RFC 3339).
    since: Option<String>,
    /// Only names seen with this brand.
    brand: Option<String>,
    /// At most this many names, 1 to 1000 (default 50).
    limit: Option<i64>,
}

/// Product-like names the catalog lacks, by volume, with growth.
#[utoipa::path(get, path = "/api/products/gaps", params(GapParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<GapRow>), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody)))]
async fn get_gaps(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<GapRow>>, ApiError> {
    let mut p = Params::parse(raw.as_deref())?;
    let since = p.parsed("since", trends::parse_time)?;
    let brand = match p.text("brand") {
        Some(name) => Some(brand_id(&state, "brand", &name).await?),
        None => None,
    };
    let limit = p.int("limit", 1, 1000)?.unwrap_or(50);
    p.finish()?;
    Ok(Json(state.store.catalog_gaps(since, brand, limit).await?))
}

/// `/api/digests/{date}`'s query parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DigestParams {
    /// The brand (required when several own brands are watched).
    brand: Option<String>,
    /// `json` (default), `html` or `md`; without it the Accept header decides.
    format: Option<String>,
}

/// The stored digest of a brand-day: JSON (the versioned digest shape), HTML or Markdown.
#[utoipa::path(get, path = "/api/digests/{date}", params(("date" = String, Path, description = "YYYY-MM-DD"), DigestParams),
    security(("bearer" = [])),
    responses((status = 200, body = crate::digest::Digest, description = "JSON, or text/html or text/markdown"),
              (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody)))]
async fn get_digest(
    State(state): State<AppState>,
    Path(date): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let day: NaiveDate = trends::parse_day(&date).map_err(|m| ApiError::bad("date", m))?;
    let mut p = Params::parse(raw.as_deref())?;
    let brand = match p.text("brand") {
        Some(name) => name,
        None => {
            let config = state.config();
            let own: Vec<&str> = config.own_brands().map(|b| b.name.as_str()).collect();
            match own[..] {
                [only] => only.to_owned(),
                _ => return Err(ApiError::bad("brand", format!("required; one of {}", own.join(", ")))),
            }
        }
    };
    let format = p.choice("format", &["json", "html", "md"])?;
    p.finish()?;
    let brand_id = brand_id(&state, "brand", &brand).await?;
    let format = format.unwrap_or_else(|| {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if accept.contains("text/html") {
            "html".to_owned()
        } else if accept.contains("text/markdown") {
            "md".to_owned()
        } else {
            "json".to_owned()
        }
    });
    let stored = state.store.stored_digest(brand_id, day).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no digest of {brand} for {day}; `brandpulse digest --date {day}` makes it"
        ))
    })?;
    Ok(match format.as_str() {
        "html" => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], stored.html).into_response(),
        "md" => ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], stored.markdown).into_response(),
        _ => Json(stored.stats).into_response(),
    })
}

/// Every source's health: last run, status, failures, next due.
#[utoipa::path(get, path = "/api/sources", security(("bearer" = [])),
    responses((status = 200, body = Vec<SourceHealthRow>), (status = 401, body = super::error::ErrorBody)))]
async fn get_sources(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<SourceHealthRow>>, ApiError> {
    Params::parse(raw.as_deref())?.finish()?;
    Ok(Json(state.store.source_health().await?))
}

/// What `/api/health` says.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Whether PostgreSQL answered.
    pub database: bool,
    /// Whether the model is loaded.
    pub model_loaded: bool,
    /// `ok`, `not running in this process`, or how long since its last tick.
    pub scheduler: String,
    /// Why it is unavailable (empty when ok).
    pub reasons: Vec<String>,
}

/// Liveness for load balancers and monitors; needs no token and tells nothing but status.
#[utoipa::path(get, path = "/api/health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn get_health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut reasons = Vec::new();
    let database = match state.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            reasons.push("database unreachable".to_owned());
            false
        }
    };
    let model_loaded = state.status.model_loaded();
    if !model_loaded {
        reasons.push("model not loaded".to_owned());
    }
    let scheduler = match state.status.scheduler_age_secs() {
        None => "not running in this process".to_owned(),
        Some(age) if age <= super::SCHEDULER_STALE_AFTER.as_secs() as i64 => "ok".to_owned(),
        Some(i64::MAX) => {
            reasons.push("scheduler has not ticked yet".to_owned());
            "not ticked yet".to_owned()
        }
        Some(age) => {
            reasons.push(format!("scheduler last ticked {age} s ago"));
            format!("last tick {age} s ago")
        }
    };
    let status = if reasons.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let health = Health {
        status: if reasons.is_empty() { "ok" } else { "unavailable" }.to_owned(),
        database,
        model_loaded,
        scheduler,
        reasons,
    };
    (status, Json(health))
}

/// The id of the brand named `name` (any case), or a 400 on `parameter` listing the known ones.
pub async fn brand_id(state: &AppState, parameter: &str, name: &str) -> Result<i64, ApiError> {
    let brands = state.store.brands().await?;
    match brands.iter().find(|b| b.name.eq_ignore_ascii_case(name)) {
        Some(b) => Ok(b.id),
        None => {
            let known: Vec<&str> = brands.iter().map(|b| b.name.as_str()).collect();
            Err(ApiError::bad(parameter, format!("no brand `{name}` (known: {})", known.join(", "))))
        }
    }
}
