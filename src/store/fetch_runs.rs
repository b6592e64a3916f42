//! The audit trail of fetches, one row per attempt.

use super::{Store, StoreError};

/// How a fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Fetched and parsed.
    Ok,
    /// 304: nothing new.
    NotModified,
    /// Failed (fetch or parse); `error` says why.
    Failed,
}

impl RunStatus {
    /// The value in the `fetch_runs.status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::NotModified => "not_modified",
            RunStatus::Failed => "failed",
        }
    }
}

/// The end of a fetch run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// How it ended.
    pub status: RunStatus,
    /// HTTP status of the (last) response, if one came.
    pub http_status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// Items in the response(s).
    pub items_seen: u64,
    /// New posts stored.
    pub new_posts: u64,
    /// New mentions stored.
    pub new_mentions: u64,
    /// Why it failed.
    pub error: Option<String>,
}

impl Store {
    /// Records the start of a fetch; returns the run id.
    pub async fn start_fetch_run(&self, source_id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO fetch_runs (source_id) VALUES ($1) RETURNING id")
            .bind(source_id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("recording a fetch run"))
    }

    /// Records how a fetch ended.
    pub async fn finish_fetch_run(&self, run_id: i64, result: &RunResult) -> Result<(), StoreError> {
        let mut conn =
            self.pool.acquire().await.map_err(StoreError::query("recording the end of a fetch run"))?;
        finish_run(&mut conn, run_id, result).await
    }
}

/// Records how a fetch ended, on `conn` (a transaction, when the caller has one).
pub(super) async fn finish_run(
    conn: &mut sqlx::PgConnection,
    run_id: i64,
    result: &RunResult,
) -> Result<(), StoreError> {
    let clamp = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query(
        "UPDATE fetch_runs SET finished_at = greatest(now(), started_at), status = $2, http_status = $3,
             bytes = $4, items_seen = $5, new_posts = $6, new_mentions = $7, error = $8
         WHERE id = $1",
    )
    .bind(run_id)
    .bind(result.status.as_str())
    .bind(result.http_status.map(i32::from))
    .bind(i64::try_from(result.bytes).unwrap_or(i64::MAX))
    .bind(clamp(result.items_seen))
    .bind(clamp(result.new_posts))
    .bind(clamp(result.new_mentions))
    .bind(&result.error)
    .execute(conn)
    .await
    .map_err(StoreError::query("recording the end of a fetch run"))?;
    Ok(())
}
