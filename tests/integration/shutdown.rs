//! SIGTERM with the real binary: during a crawl and during a model batch.
//! After restarts, every post is stored exactly once and analysed exactly once.

use std::time::Duration;

use brandpulse::crawl::Crawler;
use brandpulse::fetch::Fetcher;
use sqlx::PgPool;

use crate::daemon_harness::{Binary, ConfigFile, daemon_config, source};
use crate::fixture_server::FixtureServer;
use crate::helpers::TestDb;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Posts a clean one-shot crawl of `url` stores (the expected count).
async fn posts_from_one_clean_crawl(url: &str) -> i64 {
    let db = TestDb::migrated().await;
    let dir = ConfigFile::new();
    let text = daemon_config(&source("reference", "feed", url, ""), &dir.digests, "", "");
    dir.write(&text);
    let config = brandpulse::config::Config::load(&dir.path, &crate::daemon_harness::env_for(&db.url))
        .expect("reference config");
    let store = db.store();
    store.sync_config(&config).await.expect("sync");
    let crawler =
        Crawler::new(&config, store, Fetcher::new(&config.fetch).expect("fetcher")).await.expect("crawler");
    let reports = crawler.crawl_all(None).await.expect("crawl");
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
    count(&db.pool, "SELECT count(*) FROM posts").await
}

/// Reads the daemon's log until `done` holds on the database (checked at
/// every log line, so the test follows the daemon's progress without sleeping).
async fn run_until(daemon: &mut Binary, pool: &PgPool, what: &str, done: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if count(pool, done).await == 1 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            daemon.log_text()
        );
        // Analysis and fetches log a line each; a quiet second is re-checked too.
        let _ = daemon.next_line(Duration::from_secs(1)).await;
    }
}

/// Posts the daemon says it committed analysis for, over its whole log.
fn analysed_posts(daemon: &Binary) -> i64 {
    daemon.events("analysis batch committed").iter().map(|e| e["posts"].as_i64().unwrap_or(0)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_crawl_abandons_it_cleanly_and_the_restart_stores_every_post_once() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let expected =
        posts_from_one_clean_crawl(&server.fixture_url("rss-atom", "atom-github-commits.xml")).await;
    assert!(expected > 0);
    let file = ConfigFile::new();
    let gated = format!("{}/gate/rss-atom/atom-github-commits.xml", server.base);
    file.write(&daemon_config(
        &source("gated", "feed", &gated, ""),
        &file.digests,
        "shutdown_timeout = \"2s\"",
        "",
    ));
    let env = [("BRANDPULSE_DATABASE_URL", db.url.as_str())];

    // Run 1: the fetch is held at the gate when SIGTERM comes.
    let mut daemon = Binary::start(&file.path, &env);
    let mut arrivals = server.gate_arrivals();
    tokio::time::timeout(Duration::from_secs(120), arrivals.wait_for(|n| *n >= 1))
        .await
        .unwrap_or_else(|_| panic!("the daemon never fetched; log:\n{}", daemon.log_text()))
        .expect("gate watch");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "exit 0; log:\n{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(log.contains("fetch abandoned at shutdown"), "{log}");
    assert!(log.contains("brandpulse stopped"), "{log}");
    let pool = &db.pool;
    assert_eq!(count(pool, "SELECT count(*) FROM posts").await, 0);
    assert_eq!(
        count(pool, "SELECT count(*) FROM fetch_runs WHERE status = 'running'").await,
        0,
        "the run was closed"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM fetch_runs WHERE error LIKE 'abandoned%'").await, 1);
    assert_eq!(
        count(pool, "SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL").await,
        0,
        "lease given back"
    );

    // Run 2: the source is still due (nothing was recorded), so it is fetched at once.
    server.open_gate();
    let mut daemon = Binary::start(&file.path, &env);
    run_until(
        &mut daemon,
        pool,
        "every post stored and analysed",
        &format!(
            "SELECT (count(*) = {expected} AND count(*) FILTER (WHERE analysed_model_id IS NULL) = 0)::int::int8 FROM posts"
        ),
    )
    .await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "{}", daemon.log_text());
    assert_eq!(count(pool, "SELECT count(*) FROM posts").await, expected, "every post stored once");
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, expected, "every post analysed once");
    assert_eq!(analysed_posts(&daemon), expected, "no post read twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_model_batch_returns_or_finishes_it_and_every_post_is_analysed_once() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let file = ConfigFile::new();
    let base = &server.base;
    let sources = [
        source("github", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
        source("youtube", "feed", &server.fixture_url("rss-atom", "atom-youtube-channel-google.xml"), ""),
        source("hn", "hackernews", base, "query = \"google\"\n"),
        source("fresh", "feed", &format!("{base}/fresh/40.xml"), ""),
    ]
    .concat()
    // Fetched once per run (at start, as the schedule is due), not every second.
    .replace("* * * * * *", "0 0 0 1 1 *");
    let env = [("BRANDPULSE_DATABASE_URL", db.url.as_str())];
    let pool = &db.pool;
    let mut committed = 0;

    // Run 1: SIGTERM as soon as the daemon is ready, with a deadline too short
    // for any batch: the batch in hand is abandoned (rolled back).
    file.write(&daemon_config(&sources, &file.digests, "shutdown_timeout = \"1ms\"", ""));
    let mut daemon = Binary::start(&file.path, &env);
    daemon.wait_for_line(&["analysis batch committed"], Duration::from_secs(120)).await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "{}", daemon.log_text());
    assert!(
        daemon.log_text().contains("analysis batch abandoned at shutdown"),
        "the batch in hand was abandoned:\n{}",
        daemon.log_text()
    );
    committed += analysed_posts(&daemon);
    let analysed = count(pool, "SELECT count(*) FROM posts WHERE analysed_model_id IS NOT NULL").await;
    assert_eq!(analysed, committed, "only committed batches left results");
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, committed);
    assert!(count(pool, "SELECT count(*) FROM posts WHERE analysed_model_id IS NULL").await > 0, "work left");

    // Run 2: SIGTERM mid-batch with the default deadline: the batch in hand is finished.
    file.write(&daemon_config(&sources, &file.digests, "", ""));
    let mut daemon = Binary::start(&file.path, &env);
    daemon.wait_for_line(&["analysis batch committed"], Duration::from_secs(120)).await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "{}", daemon.log_text());
    assert!(!daemon.log_text().contains("abandoned"), "{}", daemon.log_text());
    committed += analysed_posts(&daemon);
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, committed);

    // Run 3: to the end.
    let mut daemon = Binary::start(&file.path, &env);
    run_until(
        &mut daemon,
        pool,
        "the backlog analysed",
        "SELECT (count(*) FILTER (WHERE analysed_model_id IS NULL) = 0)::int::int8 FROM posts",
    )
    .await;
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "{}", daemon.log_text());
    committed += analysed_posts(&daemon);
    let posts = count(pool, "SELECT count(*) FROM posts").await;
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, posts, "every post analysed");
    assert_eq!(committed, posts, "no post analysed twice over three runs and two SIGTERMs");
}
