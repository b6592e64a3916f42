//! Faults around a running daemon: a feed server that misbehaves in every
//! way it can, PostgreSQL down when the daemon starts, PostgreSQL restarted
//! while a fetch is in flight. The daemon keeps going, loses nothing and
//! stores nothing twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use brandpulse::crawl::Crawler;
use brandpulse::daemon::{Lifecycle, Stats};
use brandpulse::fetch::Fetcher;
use sqlx::{PgPool, Row};

use crate::daemon_harness::{Binary, ConfigFile, InProcess, daemon_config, env_for, source};
use crate::fixture_server::FixtureServer;
use crate::helpers::TestDb;
use crate::pg_cluster::PgCluster;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `daemon_config` with more keys in its `[fetch]` table (TOML refuses a
/// second `[fetch]` table, so `extra` cannot carry them).
fn with_fetch_keys(config: String, keys: &str) -> String {
    assert!(config.contains("[fetch]\n"), "daemon_config has no [fetch] table:\n{config}");
    config.replacen("[fetch]\n", &format!("[fetch]\n{keys}\n"), 1)
}

/// One source's fetch history, as the database has it.
#[derive(Debug, Clone)]
struct SourceRow {
    name: String,
    posts: i64,
    ok_runs: i64,
    not_modified_runs: i64,
    /// Failed runs that say why.
    failed_runs: i64,
    running_runs: i64,
    /// Sum of `new_posts` over every run.
    new_posts: i64,
    /// `new_posts` of the first ok run.
    first_ok_new_posts: Option<i64>,
    /// The error of the latest failed run.
    last_failure: Option<String>,
    /// A failed run came before the latest ok run.
    failed_then_ok: bool,
    consecutive_failures: i32,
    /// `next_due` is in the future.
    backing_off: bool,
    leased: bool,
}

async fn source_rows(pool: &PgPool) -> Vec<SourceRow> {
    let sql = "SELECT s.name,
            (SELECT count(*) FROM posts p WHERE p.source_id = s.id) AS posts,
            count(r.id) FILTER (WHERE r.status = 'ok') AS ok_runs,
            count(r.id) FILTER (WHERE r.status = 'not_modified') AS not_modified_runs,
            count(r.id) FILTER (WHERE r.status = 'failed' AND btrim(r.error) <> '') AS failed_runs,
            count(r.id) FILTER (WHERE r.status = 'running') AS running_runs,
            COALESCE(sum(r.new_posts), 0)::int8 AS new_posts,
            ((array_agg(r.new_posts ORDER BY r.id) FILTER (WHERE r.status = 'ok'))[1])::int8 AS first_ok_new_posts,
            (array_agg(r.error ORDER BY r.id DESC) FILTER (WHERE r.status = 'failed'))[1] AS last_failure,
            COALESCE(min(r.id) FILTER (WHERE r.status = 'failed') < max(r.id) FILTER (WHERE r.status = 'ok'), false)
                AS failed_then_ok,
            s.consecutive_failures, s.next_due > now() AS backing_off, s.lease_owner IS NOT NULL AS leased
        FROM sources s LEFT JOIN fetch_runs r ON r.source_id = s.id
        GROUP BY s.id ORDER BY s.name";
    let rows = sqlx::query(sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("reading source rows: {e}"));
    rows.iter()
        .map(|r| SourceRow {
            name: column(r, "name"),
            posts: column(r, "posts"),
            ok_runs: column(r, "ok_runs"),
            not_modified_runs: column(r, "not_modified_runs"),
            failed_runs: column(r, "failed_runs"),
            running_runs: column(r, "running_runs"),
            new_posts: column(r, "new_posts"),
            first_ok_new_posts: column(r, "first_ok_new_posts"),
            last_failure: column(r, "last_failure"),
            failed_then_ok: column(r, "failed_then_ok"),
            consecutive_failures: column(r, "consecutive_failures"),
            backing_off: column(r, "backing_off"),
            leased: column(r, "leased"),
        })
        .collect()
}

fn column<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r sqlx::postgres::PgRow,
    name: &str,
) -> T {
    row.try_get(name).unwrap_or_else(|e| panic!("source row column {name}: {e}"))
}

fn row<'a>(rows: &'a [SourceRow], name: &str) -> &'a SourceRow {
    rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no source {name} in {rows:#?}"))
}

/// Waits until `done` holds on the sources' rows, re-reading them whenever
/// the daemon finishes a fetch (any outcome); panics after `timeout`.
async fn wait_for_rows(
    daemon: &InProcess,
    pool: &PgPool,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[SourceRow]) -> bool,
) -> Vec<SourceRow> {
    let deadline = tokio::time::Instant::now() + timeout;
    let finished = |s: &Stats| Stats::get(&s.fetches) + Stats::get(&s.fetch_errors);
    loop {
        let seen = finished(&daemon.stats);
        let rows = source_rows(pool).await;
        if done(&rows) {
            return rows;
        }
        let now = tokio::time::Instant::now();
        assert!(
            now < deadline,
            "timed out waiting for {what}; stats: {:?}\nsources: {rows:#?}",
            daemon.stats
        );
        // The next finished fetch (or the deadline) wakes us.
        daemon.stats.wait_until(deadline - now, |s| finished(s) > seen).await;
    }
}

/// Posts a clean one-shot crawl of `url` stores (the expected count).
async fn posts_from_one_clean_crawl(url: &str) -> i64 {
    let db = TestDb::migrated().await;
    let dir = ConfigFile::new();
    dir.write(&daemon_config(&source("reference", "feed", url, ""), &dir.digests, "", ""));
    let config =
        brandpulse::config::Config::load(&dir.path, &env_for(&db.url)).expect("the reference config loads");
    let store = db.store();
    store.sync_config(&config).await.expect("sync the reference source");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let crawler = Crawler::new(&config, store, fetcher).await.expect("crawler");
    let reports = crawler.crawl_all(None).await.expect("the reference crawl");
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
    count(&db.pool, "SELECT count(*) FROM posts").await
}

/// Runs a blocking `PgCluster` call off the runtime, so the fixture server
/// and the daemon keep being served meanwhile.
async fn cluster_call(cluster: &Arc<PgCluster>, call: fn(&PgCluster)) {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || call(&cluster)).await.expect("the PgCluster call panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_feed_server_does_not_stop_the_daemon_or_other_sources() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let base = &server.base;
    // Every fixture used once: posts are unique by content across sources, so
    // two sources serving the same fixture would share (and race for) its posts.
    let sources = [
        source("good", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
        // 500 first; the fetcher's own retry gets the 200.
        source("flaky", "feed", &format!("{base}/fail/1/500/rss-atom/atom-youtube-channel-google.xml"), ""),
        source("drip", "feed", &format!("{base}/drip/rss-atom/atom-github-commits.xml"), ""),
        source("slow", "feed", &format!("{base}/slow"), ""),
        source("reset", "feed", &server.reset_url(), ""),
        source("big", "feed", &format!("{base}/big"), ""),
        source("garbage", "feed", &server.garbage_url(), ""),
        // Feeds obey robots.txt, which a resetting or garbage server cannot
        // serve: those two are refused before the request. API kinds ask
        // no robots.txt, so these two meet the reset and the garbage themselves.
        source("reset-api", "hackernews", &server.reset_url(), "query = \"google\"\n"),
        source("garbage-api", "hackernews", &server.garbage_url(), "query = \"google\"\n"),
        source("then-garbage", "feed", &format!("{base}/then-garbage/rss-atom/atom-github-releases.xml"), ""),
    ]
    .concat();
    let hostile = ["drip", "slow", "reset", "big", "garbage", "then-garbage", "reset-api", "garbage-api"];
    let file = ConfigFile::new();
    let config =
        daemon_config(&sources, &file.digests, "instance = \"hostile\"\nshutdown_timeout = \"2s\"", "");
    file.write(&with_fetch_keys(config, "max_body_bytes = 1048576"));
    let started = std::time::Instant::now();
    let daemon = InProcess::start(&file, &env_for(&db.url)).await;
    let ready_after = started.elapsed();

    let pool = &db.pool;
    // Hung (`slow`) and dripping fetches take three attempts of 3 s each.
    let rows = wait_for_rows(
        &daemon,
        pool,
        "the good sources stored, every hostile one failed",
        Duration::from_secs(120),
        |rows| {
            let good = |name: &str| {
                rows.iter().any(|r| r.name == name && r.posts > 0 && r.ok_runs > 0 && r.not_modified_runs > 0)
            };
            good("good")
                && good("flaky")
                && hostile.iter().all(|name| rows.iter().any(|r| r.name == *name && r.failed_runs > 0))
        },
    )
    .await;
    let waited = started.elapsed();
    assert!(daemon.is_running(), "the daemon ended: stats {:?}", daemon.stats);

    for name in ["good", "flaky"] {
        let r = row(&rows, name);
        assert_eq!(r.failed_runs, 0, "{r:#?}");
        assert_eq!(r.consecutive_failures, 0, "{r:#?}");
        // Stored by the first fetch; every later one was a 304 that stored nothing.
        assert_eq!(r.ok_runs, 1, "{r:#?}");
        assert_eq!(r.first_ok_new_posts, Some(r.posts), "{r:#?}");
        assert_eq!(r.new_posts, r.posts, "no post stored twice: {r:#?}");
    }
    let fail_path = "/fail/1/500/rss-atom/atom-youtube-channel-google.xml";
    assert!(
        server.seen().iter().filter(|s| s.uri == fail_path).count() >= 2,
        "the flaky feed was asked again after its 500"
    );
    for name in hostile {
        let r = row(&rows, name);
        assert!(r.failed_runs >= 1 && r.consecutive_failures >= 1, "{r:#?}");
        assert!(r.backing_off, "a failed source backs off: {r:#?}");
        assert!(r.last_failure.as_deref().is_some_and(|e| !e.trim().is_empty()), "{r:#?}");
    }
    let error = |name: &str| row(&rows, name).last_failure.clone().unwrap_or_default();
    assert!(error("big").contains("max_body_bytes"), "{}", error("big"));
    assert!(error("slow").contains("timed out"), "{}", error("slow"));
    for name in ["reset", "garbage"] {
        assert!(error(name).contains("robots.txt"), "{name}: {}", error(name));
    }
    for name in ["reset-api", "garbage-api"] {
        assert!(!error(name).contains("robots.txt"), "{name}: {}", error(name));
    }
    // A feed that broke after a good fetch: its posts stay, the failure is recorded.
    assert!(row(&rows, "then-garbage").ok_runs >= 1, "{:#?}", row(&rows, "then-garbage"));
    let posts = count(pool, "SELECT count(*) FROM posts").await;
    assert_eq!(posts as u64, Stats::get(&daemon.stats.posts_stored), "each post stored once");

    let stopping = std::time::Instant::now();
    let (result, events) = daemon.stop(Duration::from_secs(20)).await;
    let stop_took = stopping.elapsed();
    assert!(result.is_ok(), "{result:?}");
    assert!(events.contains(&Lifecycle::Stopping), "{events:?}");
    let rows = source_rows(pool).await;
    assert!(rows.iter().all(|r| r.running_runs == 0 && !r.leased), "runs closed, leases back: {rows:#?}");
    assert_eq!(count(pool, "SELECT count(*) FROM posts").await, posts);
    eprintln!(
        "hostile feeds: ready after {ready_after:?}, all outcomes after {waited:?}, stop took {stop_took:?}"
    );
    for name in hostile {
        eprintln!("  {name}: {}", error(name));
    }
}

/// A socket standing in for systemd's `NOTIFY_SOCKET`.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: tokio::net::UnixDatagram,
    /// Every message so far.
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().expect("temp dir for the notify socket");
        let path = dir.path().join("notify");
        let socket = tokio::net::UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket { _dir: dir, path, socket, seen: Vec::new() }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("utf-8 socket path")
    }

    /// The next message with a line for which `line` holds; `None` when
    /// `timeout` passes first.
    async fn wait_for(&mut self, timeout: Duration, line: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                Ok(received) => received.expect("read the notify socket"),
                Err(_) => return None,
            };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(message.clone());
            if message.lines().any(&line) {
                return Some(message);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_at_start_then_up_the_daemon_waits_and_becomes_ready() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(PgCluster::create).await.expect("creating the cluster panicked"),
    );
    let server = FixtureServer::start().await;
    let file = ConfigFile::new();
    let sources = source("good", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), "");
    file.write(&daemon_config(&sources, &file.digests, "", ""));
    let mut notify = NotifySocket::bind();
    let url = cluster.url("brandpulse");
    let env = [("BRANDPULSE_DATABASE_URL", url.as_str()), ("NOTIFY_SOCKET", notify.path())];

    let started = std::time::Instant::now();
    let mut daemon = Binary::start(&file.path, &env);
    let line = daemon.wait_for_line(&["waiting for PostgreSQL"], Duration::from_secs(60)).await;
    assert!(line.contains(&cluster.port.to_string()), "the line names the database: {line}");
    let status = notify
        .wait_for(Duration::from_secs(60), |l| l.starts_with("STATUS=waiting for PostgreSQL"))
        .await
        .unwrap_or_else(|| {
            panic!("no STATUS about PostgreSQL; messages {:?}; log:\n{}", notify.seen, daemon.log_text())
        });
    assert!(status.contains("Connection refused"), "the status says why: {status}");
    assert!(
        !notify.seen.iter().any(|m| m.contains("READY=1")),
        "READY before the database: {:?}",
        notify.seen
    );

    // The server comes up without the database: still not reachable, the daemon keeps waiting.
    cluster_call(&cluster, PgCluster::start).await;
    daemon.wait_for_line(&["waiting for PostgreSQL", "does not exist"], Duration::from_secs(60)).await;
    cluster_call(&cluster, |c| c.create_database("brandpulse")).await;
    let up_at = started.elapsed();
    notify
        .wait_for(Duration::from_secs(120), |l| l == "READY=1")
        .await
        .unwrap_or_else(|| panic!("no READY=1; messages {:?}; log:\n{}", notify.seen, daemon.log_text()));
    let ready_at = started.elapsed();
    assert!(!daemon.events("waiting for PostgreSQL").is_empty(), "{}", daemon.log_text());

    daemon.signal("TERM");
    notify
        .wait_for(Duration::from_secs(30), |l| l == "STOPPING=1")
        .await
        .unwrap_or_else(|| panic!("no STOPPING=1; messages {:?}; log:\n{}", notify.seen, daemon.log_text()));
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "exit 0; log:\n{}", daemon.log_text());
    assert!(daemon.log_text().contains("brandpulse stopped"), "{}", daemon.log_text());
    eprintln!(
        "postgres down at start: database up after {up_at:?}, READY after {ready_at:?}, stopped after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_mid_crawl_loses_and_doubles_nothing() {
    let server = FixtureServer::start().await;
    let expected =
        posts_from_one_clean_crawl(&server.fixture_url("rss-atom", "atom-github-commits.xml")).await;
    assert!(expected > 0);
    let cluster = Arc::new(
        tokio::task::spawn_blocking(|| {
            let cluster = PgCluster::create();
            cluster.start();
            cluster.create_database("brandpulse");
            cluster
        })
        .await
        .expect("setting up the cluster panicked"),
    );
    let url = cluster.url("brandpulse");
    let file = ConfigFile::new();
    let sources = [
        source("gated", "feed", &format!("{}/gate/rss-atom/atom-github-commits.xml", server.base), ""),
        source("steady", "feed", &server.fixture_url("rss-atom", "atom-youtube-channel-google.xml"), ""),
    ]
    .concat();
    // One fetch at a time: while the gated fetch is held, it is the only one in
    // flight, so the failure the test waits for during the outage is its own.
    file.write(&daemon_config(
        &sources,
        &file.digests,
        "instance = \"restarted\"\nmax_concurrent_fetches = 1\nshutdown_timeout = \"2s\"",
        "",
    ));
    let started = std::time::Instant::now();
    let mut daemon = InProcess::start(&file, &env_for(&url)).await;

    // The gated fetch is in flight (its run recorded as running) when the database goes away.
    let mut arrivals = server.gate_arrivals();
    tokio::time::timeout(Duration::from_secs(60), arrivals.wait_for(|n| *n >= 1))
        .await
        .unwrap_or_else(|_| panic!("the gated source was never fetched; stats {:?}", daemon.stats))
        .expect("gate watch");
    cluster_call(&cluster, PgCluster::stop).await;
    let down_at = started.elapsed();
    // The response arrives; storing it fails.
    server.open_gate();
    daemon
        .wait_for("the gated fetch failing to store", Duration::from_secs(60), |s| {
            Stats::get(&s.fetch_errors) >= 1
        })
        .await;
    assert!(daemon.is_running(), "the daemon ended while the database was down");
    assert_eq!(Stats::get(&daemon.stats.posts_stored), 0, "nothing counted as stored");
    cluster_call(&cluster, PgCluster::start).await;
    let up_at = started.elapsed();

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect to the restarted cluster");
    let rows = wait_for_rows(
        &daemon,
        &pool,
        "the gated source stored after the restart",
        Duration::from_secs(120),
        |rows| {
            rows.iter().any(|r| r.name == "gated" && r.ok_runs > 0)
                && rows.iter().any(|r| r.name == "steady" && r.ok_runs > 0 && r.not_modified_runs > 0)
        },
    )
    .await;
    let stored_at = started.elapsed();
    assert!(daemon.is_running());
    let gated = row(&rows, "gated");
    assert_eq!(gated.posts, expected, "every post of the gated feed stored once: {gated:#?}");
    assert_eq!(gated.new_posts, expected, "no run claims posts another stored: {gated:#?}");
    assert_eq!(gated.first_ok_new_posts, Some(expected), "{gated:#?}");
    assert!(gated.failed_then_ok, "the interrupted run is recorded as failed, before the ok one: {gated:#?}");
    let failure = gated.last_failure.clone().unwrap_or_default();
    assert!(failure.contains("database"), "{failure}");
    assert_eq!(gated.consecutive_failures, 0, "a database failure is not the source's fault: {gated:#?}");
    assert!(row(&rows, "steady").posts > 0, "{rows:#?}");
    let posts = count(&pool, "SELECT count(*) FROM posts").await;
    assert_eq!(posts as u64, Stats::get(&daemon.stats.posts_stored), "each post stored once");
    assert!(
        daemon.events().iter().filter(|e| **e == Lifecycle::Ready).count() == 1,
        "READY once: {:?}",
        daemon.events()
    );

    let (result, _) = daemon.stop(Duration::from_secs(20)).await;
    assert!(result.is_ok(), "{result:?}");
    let rows = source_rows(&pool).await;
    assert!(rows.iter().all(|r| r.running_runs == 0 && !r.leased), "runs closed, leases back: {rows:#?}");
    assert_eq!(count(&pool, "SELECT count(*) FROM posts").await, posts);
    pool.close().await;
    eprintln!(
        "postgres restarted mid-crawl: down at {down_at:?}, up at {up_at:?}, stored at {stored_at:?}, done at {:?}",
        started.elapsed()
    );
}
