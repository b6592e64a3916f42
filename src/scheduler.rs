//! The crawl schedule: which sources are due, claimed so that several
//! daemons on one database never fetch the same source at once.
//!
//! The schedule lives in the database (`sources.next_due`), written by the
//! refresh function after every fetch from the source's cron expression (or
//! a backoff after failures), so a restart fetches nothing early and a
//! source that was due many times during downtime is fetched once. A tick
//! leases due sources (`FOR UPDATE SKIP LOCKED` with an expiry, see
//! [`Store::lease_due_sources`]) up to the free fetch slots and starts one
//! task per source; recording the fetch ends the lease.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::SourceConfig;
use crate::crawl::{CrawlError, Crawler};
use crate::daemon::Stats;
use crate::store::{SourceState, Store, StoreError};

/// How long to wait between attempts to give a lease back while the database is away.
const RELEASE_RETRY: Duration = Duration::from_millis(500);

/// Starts fetches of due sources, at most `max_fetches` at a time.
pub struct Scheduler {
    store: Store,
    owner: String,
    lease: chrono::Duration,
    slots: Arc<Semaphore>,
    crawler: watch::Receiver<Arc<Crawler>>,
    stats: Arc<Stats>,
    /// Woken when a fetch stored new posts (the analysis workers wait on it).
    new_posts: Arc<Notify>,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Sources leased and started.
    pub started: usize,
}

impl Scheduler {
    /// A scheduler leasing sources as `owner` for `lease` at a time.
    pub fn new(
        store: Store,
        owner: String,
        lease: Duration,
        max_fetches: usize,
        crawler: watch::Receiver<Arc<Crawler>>,
        stats: Arc<Stats>,
        new_posts: Arc<Notify>,
    ) -> Scheduler {
        Scheduler {
            store,
            owner,
            lease: chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(15)),
            slots: Arc::new(Semaphore::new(max_fetches.max(1))),
            crawler,
            stats,
            new_posts,
        }
    }

    /// Leases the sources due at `now` that fit in the free fetch slots and
    /// starts a fetch of each on `tracker`. A fetch still running when
    /// `abandon` fires is dropped mid-way (its transaction rolls back) and
    /// its lease is given back at shutdown. Fails only when the database does.
    pub async fn tick(
        &self,
        now: DateTime<Utc>,
        tracker: &TaskTracker,
        abandon: &CancellationToken,
    ) -> Result<TickReport, StoreError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(TickReport::default());
        }
        let leased = self.store.lease_due_sources(&self.owner, now, self.lease, free as i64).await?;
        let crawler = self.crawler.borrow().clone();
        let mut report = TickReport::default();
        for state in leased {
            let Some(config) = crawler.source(&state.name).cloned() else {
                // Synced by another instance's newer config; this one does not know it yet.
                self.store.release_lease(state.id, &self.owner).await?;
                continue;
            };
            let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
                self.store.release_lease(state.id, &self.owner).await?;
                continue;
            };
            report.started += 1;
            let job = Fetch {
                store: self.store.clone(),
                owner: self.owner.clone(),
                crawler: Arc::clone(&crawler),
                stats: Arc::clone(&self.stats),
                new_posts: Arc::clone(&self.new_posts),
            };
            let abandon = abandon.clone();
            tracker.spawn(async move {
                job.run(state, config, abandon).await;
                drop(permit);
            });
        }
        Ok(report)
    }
}

/// One leased source's fetch.
struct Fetch {
    store: Store,
    owner: String,
    crawler: Arc<Crawler>,
    stats: Arc<Stats>,
    new_posts: Arc<Notify>,
}

impl Fetch {
    async fn run(self, state: SourceState, config: SourceConfig, abandon: CancellationToken) {
        let (source_id, name) = (state.id, state.name.clone());
        let outcome = tokio::select! {
            outcome = self.crawler.refresh(state, &config) => outcome,
            () = abandon.cancelled() => {
                tracing::warn!(source = %name, "fetch abandoned at shutdown; it runs again after the restart");
                return;
            }
        };
        match outcome {
            Ok(report) => {
                self.stats.record_fetch(&report);
                if report.new_posts > 0 {
                    self.new_posts.notify_waiters();
                }
            }
            Err(e) => {
                self.stats.add(&self.stats.fetch_errors, 1);
                let store_failed = matches!(e, CrawlError::Store(_));
                tracing::error!(
                    source = %name,
                    error = %crate::text::error_chain(&e),
                    "fetch could not be recorded; the source stays due and is fetched again"
                );
                if store_failed {
                    self.give_back(source_id, &name, &abandon).await;
                }
            }
        }
    }

    /// Gives the lease back once the database answers again, so the source
    /// is retried at the next tick instead of after the lease expires. Posts
    /// the failed run stored are not stored twice (posts are unique by
    /// source id and content), and posts it did not store are fetched again.
    async fn give_back(&self, source_id: i64, name: &str, abandon: &CancellationToken) {
        loop {
            match self.store.release_lease(source_id, &self.owner).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(source = %name, error = %e, "cannot give the lease back yet"),
            }
            tokio::select! {
                () = tokio::time::sleep(RELEASE_RETRY) => {}
                // Shutdown releases every lease of this instance anyway.
                () = abandon.cancelled() => return,
            }
        }
    }
}
