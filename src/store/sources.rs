//! Sources: synced from the config, never deleted; their fetch state.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::brands::{SyncCounts, count};
use super::{Store, StoreError};
use crate::config::SourceConfig;

/// Upserts the configured sources and disables the ones no longer configured.
pub(super) async fn sync_sources(
    tx: &mut sqlx::PgConnection,
    sources: &[SourceConfig],
) -> Result<SyncCounts, StoreError> {
    let mut counts = SyncCounts::default();
    for source in sources {
        let row = sqlx::query(
            "INSERT INTO sources (name, kind, url, query, params, schedule, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT ((lower(name))) DO UPDATE SET
                 name = EXCLUDED.name, kind = EXCLUDED.kind, url = EXCLUDED.url, query = EXCLUDED.query,
                 params = EXCLUDED.params, schedule = EXCLUDED.schedule, enabled = EXCLUDED.enabled,
                 -- Validators belong to what was fetched: a new target starts afresh.
                 etag = CASE WHEN (sources.kind, sources.url, sources.query, sources.params)
                                  IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params)
                             THEN NULL ELSE sources.etag END,
                 last_modified = CASE WHEN (sources.kind, sources.url, sources.query, sources.params)
                                  IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params)
                             THEN NULL ELSE sources.last_modified END,
                 updated_at = now()
             WHERE (sources.name, sources.kind, sources.url, sources.query, sources.params, sources.schedule, sources.enabled)
                   IS DISTINCT FROM
                   (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.url, EXCLUDED.query, EXCLUDED.params, EXCLUDED.schedule, EXCLUDED.enabled)
             RETURNING (xmax = 0) AS inserted",
        )
        .bind(&source.name)
        .bind(source.kind.as_str())
        .bind(source.url.as_str())
        .bind(&source.query)
        .bind(source.params.to_json())
        .bind(source.schedule.source())
        .bind(source.enabled)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query("syncing sources from the config"))?;
        count(&mut counts, row)?;
    }
    let names: Vec<String> = sources.iter().map(|s| s.name.to_lowercase()).collect();
    counts.disabled = sqlx::query(
        "UPDATE sources SET enabled = false, updated_at = now() WHERE enabled AND lower(name) <> ALL($1)",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::query("disabling sources removed from the config"))?
    .rows_affected();

    Ok(counts)
}

/// A source's fetch state, as the crawler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    /// Database id.
    pub id: i64,
    /// Name (as in the config).
    pub name: String,
    /// Validators from the last successful fetch.
    pub etag: Option<String>,
    /// Validators from the last successful fetch.
    pub last_modified: Option<String>,
    /// Failures in a row.
    pub consecutive_failures: i32,
    /// When it is due next.
    pub next_due: DateTime<Utc>,
}

fn source_state(r: &sqlx::postgres::PgRow) -> Result<SourceState, sqlx::Error> {
    Ok(SourceState {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        consecutive_failures: r.try_get("consecutive_failures")?,
        next_due: r.try_get("next_due")?,
    })
}

impl Store {
    /// The enabled sources' fetch state, by name.
    pub async fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        let action = "reading source state";
        let rows = sqlx::query(
            "SELECT id, name, etag, last_modified, consecutive_failures, next_due
             FROM sources WHERE enabled ORDER BY lower(name)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter().map(source_state).collect::<Result<_, sqlx::Error>>().map_err(StoreError::query(action))
    }

    /// After a successful fetch (or a 304): keep the new validators, clear
    /// the failure count, schedule the next fetch.
    pub async fn record_fetch_success(
        &self,
        source_id: i64,
        etag: Option<&str>,
        last_modified: Option<&str>,
        next_due: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn =
            self.pool.acquire().await.map_err(StoreError::query("recording a successful fetch"))?;
        mark_success(&mut conn, source_id, etag, last_modified, next_due).await
    }

    /// [`Store::record_fetch_success`] and [`Store::finish_fetch_run`] in one
    /// transaction: a database failing between the two can no longer leave
    /// a source marked fetched with its run marked abandoned.
    pub async fn finish_successful_fetch(
        &self,
        source_id: i64,
        run_id: i64,
        run: &super::RunResult,
        validators: (Option<&str>, Option<&str>),
        next_due: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let action = "recording a successful fetch";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        mark_success(&mut tx, source_id, validators.0, validators.1, next_due).await?;
        super::fetch_runs::finish_run(&mut tx, run_id, run).await?;
        tx.commit().await.map_err(StoreError::query(action))
    }

    /// After a failed fetch: count it, keep the error, back off. `next_due`
    /// gets the failure count after this failure and returns when to try again.
    pub async fn record_fetch_failure(
        &self,
        source_id: i64,
        error: &str,
        next_due: impl FnOnce(i32) -> DateTime<Utc>,
    ) -> Result<i32, StoreError> {
        let action = "recording a failed fetch";
        let mut tx = self.pool.begin().await.map_err(StoreError::query(action))?;
        let failures: i32 = sqlx::query_scalar(
            "UPDATE sources SET consecutive_failures = consecutive_failures + 1, last_error = $2,
                 last_fetched_at = now()
             WHERE id = $1 RETURNING consecutive_failures",
        )
        .bind(source_id)
        .bind(error)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        sqlx::query("UPDATE sources SET next_due = $2, lease_owner = NULL, lease_until = NULL WHERE id = $1")
            .bind(source_id)
            .bind(next_due(failures))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(failures)
    }
}

impl Store {
    /// Leases up to `limit` enabled sources that are due at `now` and not
    /// leased by anyone (or whose lease expired) to `owner` until `now +
    /// lease`, most overdue first. Several daemons on one database call this
    /// concurrently; `SKIP LOCKED` hands each source to one of them, and a
    /// crashed daemon's lease simply runs out. Recording the fetch's outcome
    /// ends the lease.
    pub async fn lease_due_sources(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<SourceState>, StoreError> {
        let action = "leasing due sources";
        let rows = sqlx::query(
            "UPDATE sources s SET lease_owner = $1, lease_until = $2 + $3
             FROM (SELECT id FROM sources
                   WHERE enabled AND next_due <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                   ORDER BY next_due, id
                   LIMIT $4
                   FOR UPDATE SKIP LOCKED) due
             WHERE s.id = due.id
             RETURNING s.id, s.name, s.etag, s.last_modified, s.consecutive_failures, s.next_due",
        )
        .bind(owner)
        .bind(now)
        .bind(lease)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let mut leased = rows
            .iter()
            .map(source_state)
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::query(action))?;
        leased.sort_by(|a, b| a.next_due.cmp(&b.next_due).then(a.id.cmp(&b.id)));
        if !leased.is_empty() {
            // A run still marked running on a source nobody held belongs to an
            // instance that died or gave up mid-fetch: close it, so the audit
            // trail and `brandpulse status` do not show it running forever.
            let ids: Vec<i64> = leased.iter().map(|s| s.id).collect();
            abandon_runs(
                &self.pool,
                &ids,
                "abandoned: the instance fetching it stopped before the run ended",
            )
            .await?;
        }
        Ok(leased)
    }

    /// Gives back one lease `owner` holds without recording a fetch (the
    /// fetch could not be stored, e.g. the database went away): the source
    /// stays due, so the next tick of any instance retries it.
    pub async fn release_lease(&self, source_id: i64, owner: &str) -> Result<(), StoreError> {
        abandon_runs(&self.pool, &[source_id], "abandoned: the database failed during the run; retried")
            .await?;
        sqlx::query(
            "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(source_id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("releasing a source lease"))?;
        Ok(())
    }

    /// Brings sources' `next_due` forward to the given times where it is
    /// later (a schedule made more frequent takes effect now, not after the
    /// old interval), never for a source that is backing off after failures.
    /// Returns how many moved.
    pub async fn pull_forward(&self, due: &[(i64, DateTime<Utc>)]) -> Result<u64, StoreError> {
        if due.is_empty() {
            return Ok(0);
        }
        let (ids, times): (Vec<i64>, Vec<DateTime<Utc>>) = due.iter().copied().unzip();
        sqlx::query(
            "UPDATE sources s SET next_due = d.due
             FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, due)
             WHERE s.id = d.id AND s.next_due > d.due AND s.consecutive_failures = 0",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(StoreError::query("rescheduling sources"))
    }

    /// Gives back every lease `owner` holds (a daemon shutting down), so
    /// another instance can fetch those sources at once. Returns how many.
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let held: Vec<i64> = sqlx::query_scalar("SELECT id FROM sources WHERE lease_owner = $1")
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("releasing source leases"))?;
        abandon_runs(&self.pool, &held, "abandoned: the daemon shut down before the run ended").await?;
        sqlx::query("UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query("releasing source leases"))
    }
}

async fn mark_success(
    conn: &mut sqlx::PgConnection,
    source_id: i64,
    etag: Option<&str>,
    last_modified: Option<&str>,
    next_due: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sources SET etag = $2, last_modified = $3, next_due = $4, consecutive_failures = 0,
             last_error = NULL, last_fetched_at = now(), last_success_at = now(),
             lease_owner = NULL, lease_until = NULL
         WHERE id = $1",
    )
    .bind(source_id)
    .bind(etag)
    .bind(last_modified)
    .bind(next_due)
    .execute(conn)
    .await
    .map_err(StoreError::query("recording a successful fetch"))?;
    Ok(())
}

/// Closes the runs still marked running on these sources as failed with `why`.
async fn abandon_runs(pool: &sqlx::PgPool, source_ids: &[i64], why: &str) -> Result<(), StoreError> {
    if source_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE fetch_runs SET status = 'failed', finished_at = greatest(now(), started_at), error = $2
         WHERE source_id = ANY($1) AND status = 'running'",
    )
    .bind(source_ids)
    .bind(why)
    .execute(pool)
    .await
    .map_err(StoreError::query("closing abandoned fetch runs"))?;
    Ok(())
}

/// A source's health, for operators (`/api/sources`, the dashboard).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SourceHealthRow {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Whether the config still lists it.
    pub enabled: bool,
    /// Status of the latest fetch: `ok`, `not_modified`, `failed`, `running`, or `never`.
    pub last_status: String,
    /// When the latest fetch started.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Items the latest fetch saw.
    pub last_items_seen: i64,
    /// New posts the latest fetch stored.
    pub last_new_posts: i64,
    /// When a fetch last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub consecutive_failures: i32,
    /// The latest error.
    pub last_error: Option<String>,
    /// Fetches in the last 24 hours.
    pub runs_24h: i64,
    /// Failed fetches in the last 24 hours.
    pub failures_24h: i64,
    /// When it is due next.
    pub next_due: DateTime<Utc>,
    /// The daemon instance fetching it now, if any.
    pub lease_owner: Option<String>,
    /// Until when that instance holds it.
    pub lease_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Every source's health, enabled ones first, by name.
    pub async fn source_health(&self) -> Result<Vec<SourceHealthRow>, StoreError> {
        let action = "reading source health";
        let rows = sqlx::query(
            "SELECT s.name, s.kind, s.enabled, s.last_success_at, s.consecutive_failures, s.last_error, s.next_due,
                    s.lease_owner, s.lease_until,
                    COALESCE(last.status, 'never') AS last_status, last.started_at AS last_run_at,
                    COALESCE(last.items_seen, 0)::bigint AS last_items_seen,
                    COALESCE(last.new_posts, 0)::bigint AS last_new_posts,
                    day.runs, day.failures
             FROM sources s
             LEFT JOIN LATERAL (SELECT status, started_at, items_seen, new_posts FROM fetch_runs r
                                WHERE r.source_id = s.id ORDER BY started_at DESC LIMIT 1) last ON true
             CROSS JOIN LATERAL (SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failures
                                 FROM fetch_runs r
                                 WHERE r.source_id = s.id AND r.started_at >= now() - interval '24 hours') day
             ORDER BY s.enabled DESC, lower(s.name)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        rows.iter()
            .map(|r| {
                Ok(SourceHealthRow {
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    enabled: r.try_get("enabled")?,
                    last_status: r.try_get("last_status")?,
                    last_run_at: r.try_get("last_run_at")?,
                    last_items_seen: r.try_get("last_items_seen")?,
                    last_new_posts: r.try_get("last_new_posts")?,
                    last_success_at: r.try_get("last_success_at")?,
                    consecutive_failures: r.try_get("consecutive_failures")?,
                    last_error: r.try_get("last_error")?,
                    runs_24h: r.try_get("runs")?,
                    failures_24h: r.try_get("failures")?,
                    next_due: r.try_get("next_due")?,
                    lease_owner: r.try_get("lease_owner")?,
                    lease_until: r.try_get("lease_until")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::query(action))
    }
}
