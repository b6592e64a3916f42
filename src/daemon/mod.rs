//! `brandpulse run`: the long-running process that wires the stages together.
//!
//! Start: wait for PostgreSQL (retrying, with a log line and a systemd
//! STATUS), apply migrations, sync brands and sources from the config, load
//! the model, start the API on the listener the caller bound, then tell the
//! service manager READY. Run: the [`Scheduler`] (fetches), the analysis
//! workers, the digest job ([`digests`]), retention ([`retention`]), the
//! heartbeat/watchdog, and config reloads ([`reload`]) on request. Stop (the
//! `shutdown` future resolves): take no new work, let work in hand finish
//! for up to `[daemon] shutdown_timeout`, then abandon the rest (its
//! transactions roll back; the work is picked up again later), give the
//! source leases back, tell the service manager STOPPING, return.
//!
//! The daemon is a value ([`run`] takes the config, the listener, the
//! notifier and the shutdown and reload signals), so tests start the same
//! thing the binary does, several at once against one database.

pub mod digests;
pub mod reload;
pub mod retention;
pub mod systemd;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::analysis::{AnalysisError, Worker};
use crate::api::{AppState, RuntimeStatus};
use crate::config::{Config, Env};
use crate::crawl::{CrawlError, Crawler, SourceReport};
use crate::fetch::Fetcher;
use crate::nlp::engine::{Engine, EngineOptions};
use crate::nlp::{Analyzer, NlpError};
use crate::products::ProductReader;
use crate::scheduler::Scheduler;
use crate::store::{RunStatus, Store, StoreError};
pub use systemd::{Lifecycle, Notifier, Systemd};

/// First wait between attempts to reach PostgreSQL at start; doubles.
const CONNECT_RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between attempts to reach PostgreSQL at start.
const CONNECT_RETRY_MAX: Duration = Duration::from_secs(10);
/// How often the heartbeat row is refreshed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);
/// How long a worker rests after a failed batch.
const ANALYSIS_RETRY: Duration = Duration::from_secs(2);
/// After the shutdown deadline, how long abandoned tasks get to unwind.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The database failed in a way retrying does not fix (schema, migration).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model could not be loaded.
    #[error("cannot load the sentiment model from {}", dir.display())]
    Model {
        /// `[model] dir`.
        dir: PathBuf,
        /// Why.
        #[source]
        source: NlpError,
    },
    /// The crawler could not be prepared (HTTP client, brands).
    #[error(transparent)]
    Crawl(#[from] CrawlError),
    /// The product reader could not be loaded.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The API server failed.
    #[error("the API server failed")]
    Api(#[source] crate::api::ApiError),
}

/// Counters of what the daemon did, for logs, tests and the soak benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    /// Fetches finished (any outcome).
    pub fetches: AtomicU64,
    /// Fetches that failed (recorded, backed off).
    pub fetch_failures: AtomicU64,
    /// Fetches whose outcome could not be recorded (database errors).
    pub fetch_errors: AtomicU64,
    /// New posts stored.
    pub posts_stored: AtomicU64,
    /// Analysis batches committed.
    pub analysis_batches: AtomicU64,
    /// Posts analysed (any outcome).
    pub posts_analysed: AtomicU64,
    /// Model calls so far (batches the model ran).
    pub model_calls: AtomicU64,
    /// Digests this instance made (stored first).
    pub digests_made: AtomicU64,
    /// Posts whose text retention blanked.
    pub texts_purged: AtomicU64,
    /// Config reloads applied.
    pub reloads: AtomicU64,
    /// Scheduler ticks that reached the database.
    pub ticks: AtomicU64,
    /// Woken whenever a counter moves, so a watcher waits for a condition
    /// instead of polling.
    pub changed: Notify,
}

impl Stats {
    pub(crate) fn record_fetch(&self, report: &SourceReport) {
        self.posts_stored.fetch_add(report.new_posts, Ordering::Relaxed);
        if report.status == RunStatus::Failed {
            self.fetch_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.add(&self.fetches, 1);
    }

    /// Reads one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds `n` to `counter` and wakes the watchers.
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Waits until `done(self)` holds; `false` if `timeout` passes first.
    pub async fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Stats) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before the check, so a change between the check and the wait is seen.
            let changed = self.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(self);
            }
        }
    }
}

/// What [`run`] needs besides the config.
pub struct Options {
    /// The config file, re-read on reload.
    pub config_path: PathBuf,
    /// The environment the config is resolved against (re-used on reload).
    pub env: Env,
    /// The API listener, already bound (`None`: API disabled).
    pub api_listener: Option<tokio::net::TcpListener>,
    /// Where lifecycle events go ([`Systemd`] in the binary).
    pub notifier: Arc<dyn Notifier>,
    /// Counters the caller can read while the daemon runs.
    pub stats: Arc<Stats>,
    /// Each message asks for a config reload (SIGHUP in the binary).
    pub reload: mpsc::Receiver<()>,
}

/// This instance's name: `[daemon] instance`, else hostname-pid.
pub fn instance_name(config: &Config) -> String {
    config.daemon.instance.clone().unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The parts a reload replaces, shared with the tasks that use them.
struct Live {
    config: watch::Sender<Arc<Config>>,
    crawler: watch::Sender<Arc<Crawler>>,
    reader: watch::Sender<Arc<ProductReader>>,
}

/// Runs the daemon until `shutdown` resolves; returns once it has stopped
/// cleanly. Errors only at start (after READY, failures are logged and retried).
pub async fn run(
    config: Config,
    mut options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DaemonError> {
    let instance = instance_name(&config);
    let started_at = Utc::now();
    let notifier = Arc::clone(&options.notifier);
    let stats = Arc::clone(&options.stats);
    tracing::info!(instance = %instance, version = env!("CARGO_PKG_VERSION"), config = %options.config_path.display(), "brandpulse starting");

    // A model directory that cannot work is a configuration mistake: say so
    // now, not after waiting for the database (the model loads after it).
    if let Err(source) = crate::nlp::ModelManifest::read(&config.model.dir) {
        return Err(DaemonError::Model { dir: config.model.dir.clone(), source });
    }
    // Shutdown may come at any point of the start, even while waiting for the database.
    let stop = CancellationToken::new();
    let abandon = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let store = tokio::select! {
        store = connect_with_retry(&config, notifier.as_ref()) => store,
        () = &mut shutdown => {
            tracing::info!("shutdown requested before the database was reached; stopping");
            notifier.notify(&Lifecycle::Stopping);
            return Ok(());
        }
    };
    let report = store.migrate().await?;
    for (version, description) in &report.applied {
        tracing::info!(version, description = %description, "applied migration");
    }
    store.sync_config(&config).await?.log();
    reload::pull_schedules_forward(&store, &config).await?;

    notifier.notify(&Lifecycle::Status("loading the sentiment model".to_owned()));
    let engine = Arc::new(load_engine(&config).await?);
    let model_id = engine.model_id().to_owned();
    let fetcher = Fetcher::new(&config.fetch).map_err(CrawlError::from)?;
    let crawler = Arc::new(Crawler::new(&config, store.clone(), fetcher.clone()).await?);
    let reader = Arc::new(crate::analysis::load_reader(&store, &config).await?);
    let config = Arc::new(config);
    let (config_tx, config_rx) = watch::channel(Arc::clone(&config));
    let (crawler_tx, crawler_rx) = watch::channel(crawler);
    let (reader_tx, reader_rx) = watch::channel(reader);
    let live = Live { config: config_tx, crawler: crawler_tx, reader: reader_tx };

    let runtime_status = Arc::new(RuntimeStatus::default());
    runtime_status.set_model_loaded(true);
    let tracker = TaskTracker::new();
    if let Some(listener) = options.api_listener.take() {
        let address = listener.local_addr().ok();
        let token = config.api.token.clone().unwrap_or_else(|| secrecy::SecretString::from(String::new()));
        let state = AppState {
            store: store.clone(),
            config: config_rx.clone(),
            token,
            model_id: model_id.clone(),
            status: Arc::clone(&runtime_status),
        };
        let stop_api = stop.clone();
        tracker.spawn(async move {
            if let Err(e) =
                crate::api::serve(listener, state, async move { stop_api.cancelled().await }).await
            {
                tracing::error!(error = %crate::text::error_chain(&e), "the API server stopped");
            }
        });
        tracing::info!(address = ?address, "API and dashboard listening");
    }
    store.heartbeat(&instance, &hostname(), std::process::id(), started_at).await?;

    let new_posts = Arc::new(Notify::new());
    let scheduler = Scheduler::new(
        store.clone(),
        instance.clone(),
        config.daemon.lease,
        config.daemon.max_concurrent_fetches as usize,
        crawler_rx,
        Arc::clone(&stats),
        Arc::clone(&new_posts),
    );
    tracker.spawn(scheduler_loop(
        scheduler,
        config.daemon.tick,
        tracker.clone(),
        stop.clone(),
        abandon.clone(),
        Arc::clone(&runtime_status),
        Arc::clone(&stats),
    ));
    for worker in 0..config.daemon.analysis_workers {
        tracker.spawn(analysis_loop(AnalysisTask {
            worker,
            store: store.clone(),
            engine: Arc::clone(&engine),
            reader: reader_rx.clone(),
            batch_posts: config.model.batch_size as usize,
            poll: config.daemon.tick,
            new_posts: Arc::clone(&new_posts),
            stats: Arc::clone(&stats),
            stop: stop.clone(),
            abandon: abandon.clone(),
        }));
    }
    tracker.spawn(digests::digest_loop(
        store.clone(),
        config_rx.clone(),
        model_id.clone(),
        fetcher.clone(),
        Arc::clone(&stats),
        stop.clone(),
        abandon.clone(),
    ));
    tracker.spawn(retention::retention_loop(
        store.clone(),
        config_rx.clone(),
        Arc::clone(&stats),
        stop.clone(),
        abandon.clone(),
    ));
    tracker.spawn(heartbeat_loop(HeartbeatTask {
        store: store.clone(),
        instance: instance.clone(),
        started_at,
        notifier: Arc::clone(&notifier),
        status: Arc::clone(&runtime_status),
        stale_after: (config.daemon.tick * 3).max(Duration::from_secs(30)),
        stop: stop.clone(),
    }));

    notifier.notify(&Lifecycle::Ready);
    notifier.notify(&Lifecycle::Status(format!(
        "running: {} sources, model {model_id}",
        config.sources.iter().filter(|s| s.enabled).count()
    )));
    tracing::info!(
        instance = %instance,
        model = %model_id,
        sources = config.sources.iter().filter(|s| s.enabled).count(),
        brands = config.brands.len(),
        "brandpulse ready"
    );

    let reloader = reload::Reloader {
        store: store.clone(),
        config_path: options.config_path.clone(),
        env: options.env.clone(),
        fetcher,
    };
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            request = options.reload.recv() => match request {
                Some(()) => {
                    if reloader.reload(&live).await {
                        stats.add(&stats.reloads, 1);
                    }
                }
                // Nobody can ask for reloads any more; wait for shutdown alone.
                None => {
                    shutdown.as_mut().await;
                    break;
                }
            },
        }
    }

    // Stop: no new work; work in hand gets the deadline; then abandoned.
    notifier.notify(&Lifecycle::Stopping);
    let deadline = config_rx.borrow().daemon.shutdown_timeout;
    tracing::info!(timeout_s = deadline.as_secs_f64(), "shutting down: finishing work in hand");
    stop.cancel();
    tracker.close();
    if tokio::time::timeout(deadline, tracker.wait()).await.is_err() {
        tracing::warn!(
            tasks = tracker.len(),
            "shutdown deadline passed: abandoning unfinished work (rolled back; picked up again later)"
        );
        abandon.cancel();
        if tokio::time::timeout(ABANDON_GRACE, tracker.wait()).await.is_err() {
            tracing::error!(tasks = tracker.len(), "tasks did not unwind in time; exiting anyway");
        }
    }
    match store.release_leases(&instance).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(leases = n, "gave back source leases"),
        Err(e) => {
            tracing::warn!(error = %crate::text::error_chain(&e), "cannot give back source leases; they expire on their own")
        }
    }
    if let Err(e) = store.instance_stopped(&instance).await {
        tracing::warn!(error = %crate::text::error_chain(&e), "cannot record the shutdown");
    }
    drop(engine);
    store.close().await;
    tracing::info!(
        fetches = Stats::get(&stats.fetches),
        posts = Stats::get(&stats.posts_stored),
        analysed = Stats::get(&stats.posts_analysed),
        "brandpulse stopped"
    );
    Ok(())
}

/// Connects, retrying with backoff while PostgreSQL is unreachable. Each
/// failed attempt is logged with its cause and shown as the systemd status.
async fn connect_with_retry(config: &Config, notifier: &dyn Notifier) -> Store {
    let mut wait = CONNECT_RETRY_FIRST;
    loop {
        match Store::connect(&config.database).await {
            Ok(store) => return store,
            Err(e) => {
                let cause = crate::text::error_chain(&e);
                tracing::warn!(
                    database = %config.database.display_url(),
                    retry_in_ms = wait.as_millis() as u64,
                    error = %cause,
                    "waiting for PostgreSQL"
                );
                notifier.notify(&Lifecycle::Status(format!("waiting for PostgreSQL: {cause}")));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(CONNECT_RETRY_MAX);
            }
        }
    }
}

async fn load_engine(config: &Config) -> Result<Engine, DaemonError> {
    let dir = config.model.dir.clone();
    Engine::start_in_background(dir.clone(), EngineOptions::from(&config.model))
        .await
        .map_err(|source| DaemonError::Model { dir, source })
}

async fn scheduler_loop(
    scheduler: Scheduler,
    tick: Duration,
    tracker: TaskTracker,
    stop: CancellationToken,
    abandon: CancellationToken,
    status: Arc<RuntimeStatus>,
    stats: Arc<Stats>,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        match scheduler.tick(Utc::now(), &tracker, &abandon).await {
            Ok(report) => {
                status.scheduler_ticked();
                stats.add(&stats.ticks, 1);
                if failing {
                    tracing::info!("the database answers again; scheduling resumed");
                    failing = false;
                }
                if report.started > 0 {
                    tracing::debug!(started = report.started, "scheduler tick");
                }
            }
            Err(e) => {
                // Logged once per outage, not once per tick.
                if !failing {
                    tracing::error!(error = %crate::text::error_chain(&e), "scheduler cannot reach the database; retrying every tick");
                }
                failing = true;
            }
        }
    }
}

struct AnalysisTask {
    worker: u32,
    store: Store,
    engine: Arc<Engine>,
    reader: watch::Receiver<Arc<ProductReader>>,
    batch_posts: usize,
    poll: Duration,
    new_posts: Arc<Notify>,
    stats: Arc<Stats>,
    stop: CancellationToken,
    abandon: CancellationToken,
}

/// Claims and reads batches of posts the model has not read until shutdown.
/// A batch in hand is finished at shutdown (or dropped at the deadline: its
/// transaction rolls back and the posts stay pending).
async fn analysis_loop(task: AnalysisTask) {
    loop {
        if task.stop.is_cancelled() {
            return;
        }
        // Registered before looking, so news arriving during the batch is not lost.
        let notified = task.new_posts.notified();
        let reader = task.reader.borrow().clone();
        let worker = Worker::new(&task.store, task.engine.as_ref(), reader.as_ref(), task.batch_posts);
        let outcome = tokio::select! {
            outcome = worker.run_batch() => outcome,
            () = task.abandon.cancelled() => {
                tracing::warn!(worker = task.worker, "analysis batch abandoned at shutdown; its posts stay pending");
                return;
            }
        };
        let rest = match outcome {
            Ok(Some(report)) => {
                task.stats.posts_analysed.fetch_add(report.posts, Ordering::Relaxed);
                task.stats.model_calls.store(task.engine.model_calls(), Ordering::Relaxed);
                task.stats.add(&task.stats.analysis_batches, 1);
                tracing::info!(
                    worker = task.worker,
                    posts = report.posts,
                    scored = report.scored,
                    skipped = report.skipped_language + report.skipped_empty,
                    products = report.product_mentions,
                    unlinked = report.unlinked,
                    "analysis batch committed"
                );
                continue;
            }
            // Posts stored by another instance wake nobody here: look again each tick.
            Ok(None) => task.poll,
            Err(e) => {
                tracing::error!(worker = task.worker, error = %crate::text::error_chain(&e), "analysis batch failed; its posts stay pending");
                ANALYSIS_RETRY
            }
        };
        tokio::select! {
            () = task.stop.cancelled() => return,
            () = notified => {}
            () = tokio::time::sleep(rest) => {}
        }
    }
}

struct HeartbeatTask {
    store: Store,
    instance: String,
    started_at: chrono::DateTime<Utc>,
    notifier: Arc<dyn Notifier>,
    status: Arc<RuntimeStatus>,
    stale_after: Duration,
    stop: CancellationToken,
}

/// Refreshes the heartbeat row and pings the systemd watchdog, the latter
/// only while the database answers and the scheduler ticks: a daemon
/// whose scheduler is stuck gets restarted by systemd.
async fn heartbeat_loop(task: HeartbeatTask) {
    let watchdog = task.notifier.watchdog_interval();
    let every = watchdog.map_or(HEARTBEAT_EVERY, |w| w.min(HEARTBEAT_EVERY));
    let mut last_beat: Option<tokio::time::Instant> = None;
    let host = hostname();
    let pid = std::process::id();
    loop {
        let db_ok = match task.store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %crate::text::error_chain(&e), "the database does not answer");
                false
            }
        };
        if db_ok && last_beat.is_none_or(|t| t.elapsed() >= HEARTBEAT_EVERY) {
            match task.store.heartbeat(&task.instance, &host, pid, task.started_at).await {
                Ok(()) => last_beat = Some(tokio::time::Instant::now()),
                Err(e) => {
                    tracing::warn!(error = %crate::text::error_chain(&e), "cannot record the heartbeat")
                }
            }
        }
        let age = task.status.scheduler_age_secs();
        let scheduler_ok = age.is_some_and(|age| age <= task.stale_after.as_secs() as i64);
        // Before the scheduler's first tick there is nothing to vouch for and nothing to report.
        let starting = age == Some(i64::MAX);
        if watchdog.is_some() {
            if db_ok && scheduler_ok {
                task.notifier.notify(&Lifecycle::Watchdog);
            } else if !starting {
                tracing::warn!(
                    database = db_ok,
                    scheduler = scheduler_ok,
                    "watchdog not pinged: the daemon is not healthy"
                );
            }
        }
        tokio::select! {
            () = task.stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
