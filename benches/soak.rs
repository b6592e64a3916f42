//! Soak: the real daemon for a while, watching memory and progress.
//!
//! Runs `brandpulse::daemon::run` in-process (the same function the binary
//! calls) with the real model (`models/brandpulse-sentiment-minilm-v1`, or
//! `BRANDPULSE_TEST_MODEL_DIR`; int8, 2 threads, batch 32) against a fresh
//! PostgreSQL database, over local sources on 127.0.0.1 served by the
//! integration tests' fixture server: 22 recorded feeds of
//! `../shared/fixtures/rss-atom` (2 of them malformed, so failures and backoff
//! run too), the five social JSON sources (Hacker News, Mastodon, Reddit,
//! Lemmy, Bluesky) and three `/fresh/{n}.xml` feeds whose items are new on
//! every request, so posts keep arriving. Feeds and social sources are
//! fetched every 10 s, fresh feeds every 5 s; `[daemon] tick = "1s"`; the
//! digest job and retention (`[privacy] retention_days = 30`) run. Only
//! warnings and errors are logged (to stderr).
//!
//! Every `SOAK_REPORT_SECONDS` (60) it prints fetches, failures, posts
//! stored and analysed, model calls, the analysis backlog, RSS and peak RSS
//! (`/proc/self/status`; the whole bench process: daemon, fixture server and
//! this harness). After `SOAK_SECONDS` (600) it prints a summary (totals,
//! rates, RSS after the first minute, at the half-way mark and at the end,
//! the RSS slope over the second half), stops the daemon through its
//! shutdown future (must return `Ok` within 60 s) and checks the database:
//! no post stored twice, one sentiment per analysed post. It asserts nothing
//! about speed; it panics only if the daemon dies, stores nothing, does not
//! stop, or the database is inconsistent.
//!
//! Run: `cargo bench --bench soak` (needs the database that
//! `bash config/dev-postgres.sh` sets up, or BRANDPULSE_TEST_ADMIN_URL, and
//! the model directory `bash models/setup.sh` builds). `SOAK_KEEP=1` keeps
//! the database `bp_bench_soak_PID` afterwards.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

// The integration tests' fixture server. Much of it is unused here; its
// `#[cfg(test)] mod tests` is left out of `cargo bench`, and under `cargo
// clippy --all-targets` (cfg(test) without the test harness) only its
// imports remain, unused.
#[allow(dead_code, unused_imports)]
#[path = "../tests/integration/fixture_server.rs"]
mod fixture_server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brandpulse::config::{Config, Env};
use brandpulse::daemon::{self, Lifecycle, Notifier, Options, Stats};
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};

use fixture_server::FixtureServer;

const DEFAULT_ADMIN_URL: &str = "postgres://brandpulse:brandpulse@127.0.0.1:5432/brandpulse";

/// Recorded feeds fetched every 10 s; the last two are malformed (fail every time).
const FEEDS: &[&str] = &[
    "atom-github-commits.xml",
    "atom-github-releases.xml",
    "atom-google-alerts-brand.xml",
    "atom-youtube-channel-google.xml",
    "atom-reddit-frontpage.xml",
    "atom-reddit-subreddit-media.xml",
    "atom-samruby-xhtml-relative-icon.xml",
    "atom-wordpress-onefoottsunami.xml",
    "atom-blogger-blogspot.xml",
    "jsonfeed10-inessential.json",
    "jsonfeed11-escaped-slashes.json",
    "jsonfeed11-german-blog.json",
    "rdf-craigslist-listings.xml",
    "rss090-heise-newsticker-rdf.xml",
    "rss2-hackernews-frontpage.xml",
    "rss2-iso8859-1-golem.xml",
    "rss2-medium-user-feed.xml",
    "rss2-reddit-frontpage.xml",
    "rss2-windows-1251-gzip-compressed.xml.gz",
    "rss2-bbc-urdu-rtl.xml",
    "malformed-empty.xml",
    "malformed-unclosed-root.xml",
];

/// `/fresh/` feeds (path and query) fetched every 5 s: 50 new posts per 5 s.
const FRESH: &[&str] = &["/fresh/20.xml", "/fresh/20.xml?b", "/fresh/10.xml?c"];

/// The brands the fixtures mention (as in the integration tests).
const BRANDS: &str = r#"
[[brands]]
name = "Google"
aliases = ["Google", "YouTube", "@Google"]

[[brands]]
name = "GitHub"
aliases = ["GitHub"]

[[brands]]
name = "Microsoft"
aliases = ["Microsoft", "Windows"]
competitor = true
"#;

fn source(name: &str, kind: &str, url: &str, schedule: &str, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nschedule = \"{schedule}\"\n{extra}\n"
    )
}

/// Every 10 s, starting at second `offset` (spreads the fetches).
fn every_10s(offset: usize) -> String {
    format!("{}/10 * * * * *", offset % 10)
}

fn config_text(server: &FixtureServer, model: &Path, digests: &Path) -> String {
    let base = &server.base;
    let mut sources = String::new();
    for (i, file) in FEEDS.iter().enumerate() {
        sources.push_str(&source(
            &format!("feed-{i:02}"),
            "feed",
            &server.fixture_url("rss-atom", file),
            &every_10s(i),
            "",
        ));
    }
    let social = [
        ("hn", "hackernews", "query = \"google\"\n"),
        ("mastodon", "mastodon", "[sources.params]\ntag = \"google\"\nmax_pages = 1\n"),
        ("reddit", "reddit", "[sources.params]\nsubreddit = \"AskReddit\"\nmax_pages = 1\n"),
        ("lemmy", "lemmy", "[sources.params]\ncommunity = \"technology\"\nmax_pages = 1\n"),
        ("bluesky", "bluesky", "query = \"google\"\n"),
    ];
    for (i, (name, kind, extra)) in social.iter().enumerate() {
        sources.push_str(&source(name, kind, base, &every_10s(2 * i + 1), extra));
    }
    for (i, path) in FRESH.iter().enumerate() {
        let schedule = format!("{}/5 * * * * *", i % 5);
        sources.push_str(&source(&format!("fresh-{i}"), "feed", &format!("{base}{path}"), &schedule, ""));
    }
    format!(
        "[database]\nurl = \"postgres://unused@127.0.0.1/unused\"\n{BRANDS}\n{sources}\n\
         [model]\ndir = \"{model}\"\nbatch_size = 32\nthreads = 2\nvariant = \"int8\"\n\
         [digest]\ntime = \"00:00\"\ntime_zone = \"UTC\"\n\
         [[digest.deliver]]\nkind = \"directory\"\npath = \"{digests}\"\n\
         [privacy]\nretention_days = 30\n\
         [fetch]\ncontact_url = \"https://brandpulse.example/contact\"\nper_host_requests_per_minute = 6000\n\
         per_host_concurrency = 8\ntimeout = \"10s\"\nconnect_timeout = \"2s\"\n\
         [daemon]\ninstance = \"soak\"\ntick = \"1s\"\nshutdown_timeout = \"30s\"\n\
         [log]\nlevel = \"warn\"\nformat = \"text\"\n",
        model = model.display(),
        digests = digests.display(),
    )
}

fn model_dir() -> PathBuf {
    match std::env::var_os("BRANDPULSE_TEST_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("models/brandpulse-sentiment-minilm-v1"),
    }
}

fn env_seconds(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|e| panic!("{name}={text:?}: {e}")),
        Err(_) => default,
    }
}

/// (VmRSS, VmHWM) of this process in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Forwards lifecycle events to the bench.
struct Events(mpsc::UnboundedSender<Lifecycle>);

impl Notifier for Events {
    fn notify(&self, event: &Lifecycle) {
        let _ = self.0.send(event.clone());
    }
}

/// The counters at one moment.
#[derive(Clone, Copy)]
struct Sample {
    secs: f64,
    fetches: u64,
    failures: u64,
    stored: u64,
    analysed: u64,
    model_calls: u64,
    batches: u64,
    rss: u64,
    hwm: u64,
}

impl Sample {
    fn take(stats: &Stats, since: Instant) -> Sample {
        let (rss, hwm) = rss_kib();
        Sample {
            secs: since.elapsed().as_secs_f64(),
            fetches: Stats::get(&stats.fetches),
            failures: Stats::get(&stats.fetch_failures),
            stored: Stats::get(&stats.posts_stored),
            analysed: Stats::get(&stats.posts_analysed),
            model_calls: Stats::get(&stats.model_calls),
            batches: Stats::get(&stats.analysis_batches),
            rss,
            hwm,
        }
    }

    fn backlog(&self) -> i64 {
        self.stored as i64 - self.analysed as i64
    }

    fn line(&self) -> String {
        format!(
            "t={:>5.0}s fetches={:>6} failures={:>5} stored={:>6} analysed={:>6} model_calls={:>5} backlog={:>5} rss={:>7.1} MiB peak={:>7.1} MiB",
            self.secs,
            self.fetches,
            self.failures,
            self.stored,
            self.analysed,
            self.model_calls,
            self.backlog(),
            mib(self.rss),
            mib(self.hwm),
        )
    }
}

/// Least-squares slope of RSS (KiB) over time, in KiB per minute.
fn slope_kib_per_min(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.secs).sum::<f64>() / n;
    let mean_r = samples.iter().map(|s| s.rss as f64).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.secs - mean_t) * (s.rss as f64 - mean_r);
        den += (s.secs - mean_t).powi(2);
    }
    if den == 0.0 { 0.0 } else { num / den * 60.0 }
}

/// The sample closest to `secs`.
fn at(samples: &[Sample], secs: f64) -> Sample {
    *samples
        .iter()
        .min_by(|a, b| (a.secs - secs).abs().total_cmp(&(b.secs - secs).abs()))
        .expect("at least one sample")
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(soak());
}

async fn soak() {
    // Warnings and errors only, so logging does not dominate.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
    let duration = Duration::from_secs(env_seconds("SOAK_SECONDS", 600).max(1));
    let report_every = Duration::from_secs(env_seconds("SOAK_REPORT_SECONDS", 60).max(1));
    let sample_every = Duration::from_secs(5).min(report_every);
    let keep = std::env::var_os("SOAK_KEEP").is_some_and(|v| v == "1");

    let admin = std::env::var("BRANDPULSE_TEST_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
    let name = format!("bp_bench_soak_{}", std::process::id());
    let mut admin_conn =
        PgConnection::connect(&admin).await.expect("connect as admin (run config/dev-postgres.sh)");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin_conn)
        .await
        .expect("drop leftover bench database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin_conn)
        .await
        .expect("create bench database");
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("admin URL has a database").0);

    let model = model_dir();
    assert!(model.is_dir(), "no model directory at {} (run bash models/setup.sh)", model.display());
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("brandpulse.toml");
    let digests = dir.path().join("digests");
    std::fs::write(&config_path, config_text(&server, &model, &digests)).expect("write config");
    let env = Env::from_pairs([("BRANDPULSE_DATABASE_URL", url.as_str())]);
    let config = Config::load(&config_path, &env).unwrap_or_else(|e| panic!("soak config invalid: {e}"));
    let sources = config.sources.len();

    let (events_tx, mut events) = mpsc::unbounded_channel();
    // Kept open for the whole run: no reloads are asked for.
    let (_reload_tx, reload_rx) = mpsc::channel(1);
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let stats = Arc::new(Stats::default());
    let options = Options {
        config_path: config_path.clone(),
        env,
        api_listener: None,
        notifier: Arc::new(Events(events_tx)),
        stats: Arc::clone(&stats),
        reload: reload_rx,
    };
    let (rss_start, _) = rss_kib();
    let started = Instant::now();
    let mut task = tokio::spawn(daemon::run(config, options, async move {
        let _ = shutdown_rx.await;
    }));

    // READY: migrations applied, model loaded.
    let ready = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(event) = events.recv().await {
            if event == Lifecycle::Ready {
                return true;
            }
        }
        false
    })
    .await;
    if ready != Ok(true) {
        let outcome =
            if task.is_finished() { format!("{:?}", (&mut task).await) } else { "still starting".into() };
        panic!("the daemon never got ready within 300 s: {outcome}");
    }
    let (rss_ready, _) = rss_kib();
    println!(
        "soak: {sources} sources on {}, model {} (int8, 2 threads, batch 32), database {name}, {} s, {} cores",
        server.base,
        model.display(),
        duration.as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "ready after {:.1} s; RSS before start {:.1} MiB, at READY {:.1} MiB",
        started.elapsed().as_secs_f64(),
        mib(rss_start),
        mib(rss_ready)
    );

    let since = Instant::now();
    let mut samples = vec![Sample::take(&stats, since)];
    let mut next_report = report_every;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + sample_every, sample_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while since.elapsed() < duration {
        tokio::select! {
            _ = ticker.tick() => {}
            outcome = &mut task => panic!("the daemon stopped on its own after {:.0} s: {outcome:?}", since.elapsed().as_secs_f64()),
        }
        let sample = Sample::take(&stats, since);
        samples.push(sample);
        if sample.secs + 0.5 >= next_report.as_secs_f64() || since.elapsed() >= duration {
            println!("{}", sample.line());
            next_report += report_every;
        }
    }

    let last = *samples.last().expect("samples");
    let total_s = last.secs;
    let minutes = total_s / 60.0;
    let warm = at(&samples, 60f64.min(total_s / 2.0));
    let half = at(&samples, total_s / 2.0);
    let second_half: Vec<Sample> = samples.iter().copied().filter(|s| s.secs >= half.secs).collect();
    let slope = slope_kib_per_min(&second_half);
    let growth_half = last.rss as i64 - half.rss as i64;
    let growth_pct = 100.0 * growth_half as f64 / half.rss.max(1) as f64;
    let max_backlog = samples.iter().map(Sample::backlog).max().unwrap_or(0);
    println!("--- summary after {total_s:.0} s ---");
    println!(
        "totals: fetches {}, fetch failures {}, posts stored {}, posts analysed {}, model calls {}, analysis batches {}, digests {}, texts purged {}",
        last.fetches,
        last.failures,
        last.stored,
        last.analysed,
        last.model_calls,
        last.batches,
        Stats::get(&stats.digests_made),
        Stats::get(&stats.texts_purged)
    );
    println!(
        "per minute: fetches {:.1}, failures {:.1}, posts stored {:.1}, posts analysed {:.1}, model calls {:.1}",
        last.fetches as f64 / minutes,
        last.failures as f64 / minutes,
        last.stored as f64 / minutes,
        last.analysed as f64 / minutes,
        last.model_calls as f64 / minutes
    );
    println!("analysis backlog: at the end {}, largest sampled {max_backlog}", last.backlog());
    println!(
        "RSS: after warm-up (t={:.0}s) {:.1} MiB, at 50% (t={:.0}s) {:.1} MiB, at the end {:.1} MiB, peak {:.1} MiB",
        warm.secs,
        mib(warm.rss),
        half.secs,
        mib(half.rss),
        mib(last.rss),
        mib(last.hwm)
    );
    println!(
        "RSS growth: end - warm-up {:+.1} MiB; end - 50% {:+.1} MiB ({growth_pct:+.2}%); second-half slope {:+.2} MiB/min ({} samples)",
        (last.rss as f64 - warm.rss as f64) / 1024.0,
        growth_half as f64 / 1024.0,
        slope / 1024.0,
        second_half.len()
    );
    // Tolerance: 5% of the half-way RSS or 8 MiB, whichever is larger (allocator noise).
    let tolerance = (half.rss as f64 * 0.05).max(8.0 * 1024.0);
    let bounded = (growth_half as f64) <= tolerance;
    println!(
        "memory: {} (end vs 50% mark {:+.1} MiB, tolerance {:.1} MiB)",
        if bounded { "bounded, no sustained growth" } else { "GREW over the second half: look for a leak" },
        growth_half as f64 / 1024.0,
        tolerance / 1024.0
    );
    let requests = server.seen().len();
    println!(
        "fixture server: {requests} requests answered (it records each one: a few hundred bytes apiece)"
    );

    // Stop through the shutdown future.
    let stopping = Instant::now();
    let _ = shutdown_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(60), &mut task)
        .await
        .unwrap_or_else(|_| panic!("the daemon did not stop within 60 s"))
        .expect("the daemon task did not panic");
    let stop_s = stopping.elapsed().as_secs_f64();
    assert!(result.is_ok(), "the daemon stopped with an error: {result:?}");
    println!("shutdown: returned Ok in {stop_s:.2} s");
    let stored = Stats::get(&stats.posts_stored);
    let analysed = Stats::get(&stats.posts_analysed);
    assert!(stored > 0, "the daemon stored nothing in {total_s:.0} s");

    let mut conn = PgConnection::connect(&url).await.expect("connect to the bench database");
    let posts = count(&mut conn, "SELECT count(*) FROM posts").await;
    let distinct = count(&mut conn, "SELECT count(DISTINCT content_hash) FROM posts").await;
    let analysed_db =
        count(&mut conn, "SELECT count(*) FROM posts WHERE analysed_model_id IS NOT NULL").await;
    let sentiments = count(&mut conn, "SELECT count(*) FROM sentiments").await;
    let runs = count(&mut conn, "SELECT count(*) FROM fetch_runs").await;
    let running = count(&mut conn, "SELECT count(*) FROM fetch_runs WHERE status = 'running'").await;
    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM fetch_runs GROUP BY status ORDER BY status")
            .fetch_all(&mut conn)
            .await
            .expect("fetch runs by status");
    let by_status: Vec<String> = by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "database: posts {posts} (distinct content_hash {distinct}; counter said {stored}), analysed {analysed_db} (counter said {analysed}), sentiments {sentiments}, unanalysed {}",
        posts - analysed_db
    );
    println!("database: fetch runs {runs} ({}), still 'running' {running}", by_status.join(", "));
    println!(
        "checks: no post duplicated: {}; sentiments == analysed posts: {}; posts == stored counter: {}",
        posts == distinct,
        sentiments == analysed_db,
        posts as u64 == stored
    );
    conn.close().await.ok();
    assert_eq!(posts, distinct, "a post was stored twice");
    assert_eq!(sentiments, analysed_db, "sentiments and analysed posts differ");
    assert_eq!(posts as u64, stored, "posts in the database and the stored counter differ");

    drop(server);
    if keep {
        println!("kept database {name} (SOAK_KEEP=1)");
    } else {
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin_conn)
            .await
            .expect("drop bench database");
    }
}
