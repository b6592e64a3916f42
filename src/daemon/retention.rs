//! Retention: post text older than `[privacy] retention_days` is blanked,
//! hourly, in small batches; everything trends and digests count stays
//! (see [`Store::purge_post_text`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Stats;
use crate::config::Config;
use crate::store::{Store, StoreError};

/// How often retention runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Posts blanked per transaction: short transactions, short row locks.
const BATCH: i64 = 1000;

/// Runs until `stop`: a pass at start, then hourly.
pub async fn retention_loop(
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    stats: Arc<Stats>,
    stop: CancellationToken,
    abandon: CancellationToken,
) {
    loop {
        let days = config.borrow().privacy.retention_days;
        if let Some(days) = days {
            tokio::select! {
                result = purge(&store, days, Utc::now(), &stop) => match result {
                    Ok(0) => {}
                    Ok(n) => {
                        stats.add(&stats.texts_purged, n);
                        tracing::info!(posts = n, retention_days = days, "retention blanked expired post text");
                    }
                    Err(e) => tracing::error!(error = %crate::text::error_chain(&e), "retention failed; retried in an hour"),
                },
                () = abandon.cancelled() => return,
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// Blanks the text of every post older than `days` at `now`, batch by
/// batch, stopping early at shutdown. Returns how many were blanked.
pub async fn purge(
    store: &Store,
    days: u32,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<u64, StoreError> {
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut total = 0;
    while !stop.is_cancelled() {
        let n = store.purge_post_text(cutoff, BATCH).await?;
        total += n;
        if n < BATCH as u64 {
            break;
        }
    }
    Ok(total)
}
