//! One refresh function that reads like the flow: source state → request
//! with validators → 304? → parse (following pages) → normalise → match →
//! store (posts + mentions, one transaction) → schedule the next fetch.
//! Every fetch is recorded in `fetch_runs`; a failing source backs off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tracing::Instrument;

use crate::config::{Config, SourceConfig, SourceKind};
use crate::fetch::{FetchError, Fetcher, Outcome, Request};
use crate::matching::BrandMatcher;
use crate::normalize::{self, AuthorKey};
use crate::sources::{self, Response};
use crate::store::{NewMention, NewPost, RunResult, RunStatus, SourceState, Store, StoreError};

/// Sources fetched at the same time by one crawl (per-host limits still apply).
const CONCURRENT_SOURCES: usize = 4;
/// First backoff after a failure; doubles with each failure in a row.
const BACKOFF_BASE: Duration = Duration::from_secs(5 * 60);
/// Longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

/// Why a crawl could not run at all (a single source failing is not an error:
/// it is recorded and reported).
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// `--source` named no enabled source.
    #[error("no enabled source is named \"{0}\"")]
    UnknownSource(String),
}

/// How one source's fetch went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The source.
    pub name: String,
    /// ok, not_modified or failed.
    pub status: RunStatus,
    /// HTTP status of the last response.
    pub http_status: Option<u16>,
    /// Items in the response(s).
    pub items_seen: u64,
    /// New posts stored.
    pub new_posts: u64,
    /// New brand mentions stored.
    pub new_mentions: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Wall time of the fetch.
    pub elapsed: Duration,
}

/// Fetches, reads and stores sources. Built once per crawl or daemon.
pub struct Crawler {
    store: Store,
    fetcher: Fetcher,
    matcher: Arc<BrandMatcher>,
    /// Database id of each configured brand, in config order (the matcher's indexes).
    brand_ids: Arc<[i64]>,
    sources: Vec<SourceConfig>,
    author_key: Option<AuthorKey>,
}

impl Crawler {
    /// Prepares a crawler for `config` (brands and sources must be synced already).
    pub async fn new(config: &Config, store: Store, fetcher: Fetcher) -> Result<Crawler, CrawlError> {
        let brands = store.brands().await?;
        let brand_ids = config
            .brands
            .iter()
            .map(|b| {
                brands
                    .iter()
                    .find(|row| row.name.to_lowercase() == b.name.to_lowercase())
                    .map(|row| row.id)
                    .ok_or_else(|| StoreError::NotFound {
                        what: format!("brand \"{}\" (sync the config first)", b.name),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let author_key = if config.privacy.hash_author_handles {
            config.privacy.hash_key.clone().map(AuthorKey)
        } else {
            None
        };
        Ok(Crawler {
            store,
            fetcher,
            matcher: Arc::new(BrandMatcher::new(&config.brands)),
            brand_ids: brand_ids.into(),
            sources: config.sources.clone(),
            author_key,
        })
    }

    /// The configured source with this name (any case).
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|c| c.name.to_lowercase() == name.to_lowercase())
    }

    /// Fetches every enabled source (or only the one named), a few at a time,
    /// and reports each, in source-name order.
    pub async fn crawl_all(&self, only: Option<&str>) -> Result<Vec<SourceReport>, CrawlError> {
        let states = self.store.source_states().await?;
        let selected: Vec<(SourceState, &SourceConfig)> = states
            .into_iter()
            .filter(|s| only.is_none_or(|name| s.name.to_lowercase() == name.to_lowercase()))
            .filter_map(|state| {
                let config =
                    self.sources.iter().find(|c| c.name.to_lowercase() == state.name.to_lowercase())?;
                Some((state, config))
            })
            .collect();
        if let (Some(name), true) = (only, selected.is_empty()) {
            return Err(CrawlError::UnknownSource(name.to_owned()));
        }
        let mut reports: Vec<SourceReport> = futures_util::stream::iter(selected)
            .map(|(state, config)| self.refresh(state, config))
            .buffer_unordered(CONCURRENT_SOURCES)
            .collect::<Vec<Result<SourceReport, CrawlError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        reports.sort_by_key(|r| r.name.to_lowercase());
        Ok(reports)
    }

    /// Fetches one source and stores what is new. Source failures are
    /// recorded and reported; only database failures are errors.
    pub async fn refresh(
        &self,
        state: SourceState,
        config: &SourceConfig,
    ) -> Result<SourceReport, CrawlError> {
        let span = tracing::info_span!(
            "fetch",
            source.id = state.id,
            source.name = %state.name,
            source.url = %config.url,
            run.id = tracing::field::Empty
        );
        self.refresh_in_span(state, config).instrument(span).await
    }

    async fn refresh_in_span(
        &self,
        state: SourceState,
        config: &SourceConfig,
    ) -> Result<SourceReport, CrawlError> {
        let started = Instant::now();
        let run_id = self.store.start_fetch_run(state.id).await?;
        tracing::Span::current().record("run.id", run_id);

        let result = self.fetch_and_store(&state, config).await;
        let now = Utc::now();
        let (run, validators) = match result {
            Ok((run, validators)) => (run, Some(validators)),
            Err(Failure::Store(e)) => {
                // Abandon the run cleanly; the posts transaction rolled back.
                let failed = RunResult {
                    status: RunStatus::Failed,
                    http_status: None,
                    bytes: 0,
                    items_seen: 0,
                    new_posts: 0,
                    new_mentions: 0,
                    error: Some(format!("database error: {e}")),
                };
                let _ = self.store.finish_fetch_run(run_id, &failed).await;
                return Err(e.into());
            }
            Err(Failure::Source { run, retry_after }) => {
                let error = run.error.clone().unwrap_or_default();
                self.store
                    .record_fetch_failure(state.id, &error, |failures| {
                        let backoff = backoff_after(failures);
                        let wait = retry_after.map_or(backoff, |hint| hint.max(backoff));
                        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(24))
                    })
                    .await?;
                (run, None)
            }
        };
        match validators {
            Some((etag, last_modified)) => {
                let next_due = next_scheduled(&config.schedule, now);
                let validators = (etag.as_deref(), last_modified.as_deref());
                self.store.finish_successful_fetch(state.id, run_id, &run, validators, next_due).await?;
            }
            None => self.store.finish_fetch_run(run_id, &run).await?,
        }
        let elapsed = started.elapsed();
        tracing::info!(
            status = run.status.as_str(),
            http.status = run.http_status,
            items.seen = run.items_seen,
            posts.new = run.new_posts,
            mentions.new = run.new_mentions,
            elapsed_ms = elapsed.as_millis() as u64,
            error = run.error.as_deref(),
            "fetch finished"
        );
        Ok(SourceReport {
            name: state.name,
            status: run.status,
            http_status: run.http_status,
            items_seen: run.items_seen,
            new_posts: run.new_posts,
            new_mentions: run.new_mentions,
            error: run.error,
            elapsed,
        })
    }

    async fn fetch_and_store(
        &self,
        state: &SourceState,
        config: &SourceConfig,
    ) -> Result<(RunResult, (Option<String>, Option<String>)), Failure> {
        let obey_robots = matches!(config.kind, SourceKind::Feed | SourceKind::Html);
        let mut request = Request {
            url: sources::first_page(config),
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
            obey_robots,
        };
        let max_pages = config.params.max_pages.unwrap_or(1).max(1);
        let mut run = RunResult {
            status: RunStatus::Ok,
            http_status: None,
            bytes: 0,
            items_seen: 0,
            new_posts: 0,
            new_mentions: 0,
            error: None,
        };
        let mut validators = (None, None);
        let fetched_at = Utc::now();
        for page_number in 0..max_pages {
            let fetched = match self.fetcher.get(&request).await {
                Ok(Outcome::NotModified { etag, last_modified }) => {
                    run.status = RunStatus::NotModified;
                    run.http_status = Some(304);
                    return Ok((run, (etag, last_modified)));
                }
                Ok(Outcome::Fetched(fetched)) => fetched,
                Err(e) => {
                    run.status = RunStatus::Failed;
                    run.http_status = e.status();
                    run.error = Some(crate::text::error_chain(&e));
                    return Err(Failure::Source { run, retry_after: e.retry_after() });
                }
            };
            run.http_status = Some(fetched.status);
            run.bytes += fetched.body.len() as u64;
            if page_number == 0 {
                // Validators describe the first page, the one requested with them.
                validators = (fetched.etag.clone(), fetched.last_modified.clone());
            }
            // Parsing, normalising and matching are CPU work: off the async
            // workers, so a big feed does not stall every other fetch.
            let (matcher, brand_ids, author_key, source) =
                (self.matcher.clone(), self.brand_ids.clone(), self.author_key.clone(), config.clone());
            let prepared = tokio::task::spawn_blocking(move || {
                let response = Response {
                    url: &fetched.url,
                    content_type: fetched.content_type.as_deref(),
                    link: fetched.link.as_deref(),
                    body: &fetched.body,
                };
                sources::parse(&source, &response).map(|page| {
                    let seen = page.items.len();
                    let posts: Vec<NewPost> = page
                        .items
                        .into_iter()
                        .filter_map(|item| {
                            prepare_item(&matcher, &brand_ids, author_key.as_ref(), item, fetched_at)
                        })
                        .collect();
                    (seen, page.next, posts)
                })
            })
            .await;
            let (seen, next, posts) = match prepared {
                Ok(Ok(prepared)) => prepared,
                Ok(Err(e)) => {
                    run.status = RunStatus::Failed;
                    run.error = Some(format!("cannot read the response: {e}"));
                    return Err(Failure::Source { run, retry_after: None });
                }
                Err(join) => {
                    // A parser panicked (a bug): fail this source, keep the crawl going.
                    run.status = RunStatus::Failed;
                    run.error = Some(format!("cannot read the response: the parser failed ({join})"));
                    return Err(Failure::Source { run, retry_after: None });
                }
            };
            run.items_seen += seen as u64;
            let stored = self.store.insert_posts(state.id, &posts).await.map_err(Failure::Store)?;
            run.new_posts += stored.new_posts;
            run.new_mentions += stored.new_mentions;
            match next {
                Some(next) if page_number + 1 < max_pages => {
                    request = Request { url: next, etag: None, last_modified: None, obey_robots };
                }
                _ => break,
            }
        }
        Ok((run, validators))
    }
}

/// The CPU stages for one item: normalise → match → (only if a watched brand
/// is mentioned) detect the language. `brand_ids[i]` is the database id of
/// the matcher's brand `i`. `None` when no watched brand is mentioned.
pub fn prepare_item(
    matcher: &BrandMatcher,
    brand_ids: &[i64],
    author_key: Option<&AuthorKey>,
    item: sources::RawItem,
    fetched_at: DateTime<Utc>,
) -> Option<NewPost> {
    let pending = normalize::normalize_deferred(item, author_key);
    let found = matcher.find(&pending.post.match_text());
    if found.is_empty() {
        return None;
    }
    let mut post = pending.finish();
    // A clock far in the future would put the post in a day that has not come yet.
    if post.published_at.is_some_and(|t| t > fetched_at + chrono::Duration::days(1)) {
        post.published_at = Some(fetched_at);
    }
    let mentions = found
        .into_iter()
        .filter_map(|m| {
            Some(NewMention { brand_id: *brand_ids.get(m.brand)?, terms: m.terms, matches: m.matches })
        })
        .collect();
    Some(NewPost { post, fetched_at, mentions })
}

enum Failure {
    /// The source failed (fetch or parse): recorded, the crawl goes on.
    Source { run: RunResult, retry_after: Option<Duration> },
    /// The database failed: the crawl stops.
    Store(StoreError),
}

/// How long a source rests after `failures` failures in a row: 5 minutes,
/// doubling, at most a day, with ±10% jitter so sources failing together
/// do not come back together.
pub fn backoff_after(failures: i32) -> Duration {
    let exponent = failures.clamp(1, 20) as u32 - 1;
    let wait = BACKOFF_BASE.saturating_mul(1u32 << exponent.min(16)).min(BACKOFF_MAX);
    wait.mul_f64(0.9 + rand::random::<f64>() * 0.2)
}

/// The next time the cron schedule fires after `now` (a day later if it never does).
pub fn next_scheduled(schedule: &cron::Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
    schedule.after(&now).next().unwrap_or(now + chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_day() {
        let minutes = |f| backoff_after(f).as_secs_f64() / 60.0;
        assert!((4.5..=5.5).contains(&minutes(1)));
        assert!((9.0..=11.0).contains(&minutes(2)));
        assert!((18.0..=22.0).contains(&minutes(3)));
        assert!(minutes(30) <= 24.0 * 60.0 * 1.1);
        assert!(minutes(30) >= 24.0 * 60.0 * 0.9);
    }
}
