//! `brandpulse run` end to end: the scheduler, analysis, the digest job,
//! reload and shutdown of one daemon; two daemons sharing one database.

use std::time::Duration;

use brandpulse::daemon::{Lifecycle, Stats};
use sqlx::PgPool;

use crate::daemon_harness::{ConfigFile, InProcess, daemon_config, env_for, source};
use crate::fixture_server::FixtureServer;
use crate::helpers::{TestDb, brandpulse};

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs of one source that overlap in time: two instances (or two ticks)
/// fetching it at once. Must be zero.
const OVERLAPPING_RUNS: &str = "SELECT count(*) FROM fetch_runs a JOIN fetch_runs b
     ON a.source_id = b.source_id AND a.id < b.id
    AND b.started_at < COALESCE(a.finished_at, 'infinity') AND a.started_at < COALESCE(b.finished_at, 'infinity')";

fn fixture_sources(server: &FixtureServer) -> String {
    let base = &server.base;
    [
        source("github", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
        source("youtube", "feed", &server.fixture_url("rss-atom", "atom-youtube-channel-google.xml"), ""),
        source("hn", "hackernews", base, "query = \"google\"\n"),
        source("mastodon", "mastodon", base, "[sources.params]\ntag = \"google\"\nmax_pages = 1\n"),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_fetches_on_schedule_analyses_digests_reloads_and_stops_cleanly() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let file = ConfigFile::new();
    let sources = fixture_sources(&server);
    file.write(&daemon_config(&sources, &file.digests, "instance = \"solo\"", ""));
    let env = env_for(&db.url);

    let mut daemon = InProcess::start(&file, &env).await;
    // Every source fetched at least twice (the schedule fires every second),
    // every stored post analysed, both own brands' digests for yesterday made.
    daemon
        .wait_for("two rounds of fetches, analysis, digests", Duration::from_secs(120), |s| {
            let stored = Stats::get(&s.posts_stored);
            Stats::get(&s.fetches) >= 8
                && stored > 0
                && Stats::get(&s.posts_analysed) >= stored
                && Stats::get(&s.digests_made) == 2
        })
        .await;
    assert!(daemon.events().contains(&Lifecycle::Ready));

    let pool = &db.pool;
    let posts = count(pool, "SELECT count(*) FROM posts").await;
    assert_eq!(posts as u64, Stats::get(&daemon.stats.posts_stored), "each post stored once");
    assert_eq!(
        count(pool, "SELECT count(*) FROM posts WHERE analysed_model_id IS NULL").await,
        0,
        "every post analysed"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, posts, "one result per post");
    assert!(
        count(
            pool,
            "SELECT count(DISTINCT source_id) FROM fetch_runs WHERE status IN ('ok', 'not_modified')"
        )
        .await
            == 4
    );
    // Re-fetches were conditional (304) and stored nothing twice.
    assert!(count(pool, "SELECT count(*) FROM fetch_runs WHERE status = 'not_modified'").await > 0);
    assert_eq!(count(pool, OVERLAPPING_RUNS).await, 0, "no source fetched twice at once");
    // The digest job made yesterday's digests once each and delivered them.
    assert_eq!(
        count(pool, "SELECT count(*) FROM digests WHERE day = (now() AT TIME ZONE 'UTC')::date - 1").await,
        2
    );
    assert_eq!(count(pool, "SELECT count(*) FROM digest_deliveries WHERE status = 'delivered'").await, 2);
    let files = std::fs::read_dir(&file.digests).expect("digest directory").count();
    assert_eq!(files, 6, "markdown, html and json for each own brand");

    // `brandpulse status` reads the same database.
    let status = brandpulse(
        &["--config", file.path.to_str().expect("utf-8 path"), "status"],
        &[("BRANDPULSE_DATABASE_URL", db.url.as_str())],
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    for expected in ["solo", "running", "github", "youtube", "posts awaiting analysis", "Google: "] {
        assert!(status.stdout.contains(expected), "status lacks {expected:?}:\n{}", status.stdout);
    }

    // Reload: one source removed, one schedule changed; applied without a restart.
    let reloaded = [
        crate::daemon_harness::source(
            "github",
            "feed",
            &server.fixture_url("rss-atom", "atom-github-commits.xml"),
            "",
        )
        .replace("* * * * * *", "0 0 * * * *"),
        crate::daemon_harness::source("hn", "hackernews", &server.base, "query = \"google\"\n"),
        crate::daemon_harness::source(
            "mastodon",
            "mastodon",
            &server.base,
            "[sources.params]\ntag = \"google\"\nmax_pages = 1\n",
        ),
    ]
    .concat();
    file.write(&daemon_config(&reloaded, &file.digests, "instance = \"solo\"", ""));
    daemon.reload().await;
    daemon.wait_for("the reload", Duration::from_secs(30), |s| Stats::get(&s.reloads) == 1).await;
    assert_eq!(count(pool, "SELECT count(*) FROM sources WHERE name = 'youtube' AND enabled").await, 0);
    assert_eq!(
        count(pool, "SELECT count(*) FROM sources WHERE name = 'github' AND schedule = '0 0 * * * *'").await,
        1
    );
    // An invalid file is refused and the running config kept.
    file.write("[database\nbroken");
    daemon.reload().await;
    let before = Stats::get(&daemon.stats.fetches);
    daemon
        .wait_for("fetches after a refused reload", Duration::from_secs(30), |s| {
            Stats::get(&s.fetches) > before + 2
        })
        .await;
    assert_eq!(Stats::get(&daemon.stats.reloads), 1, "the broken file was not applied");
    assert!(daemon.is_running(), "a broken config file does not stop the daemon");

    let (result, events) = daemon.stop(Duration::from_secs(30)).await;
    assert!(result.is_ok(), "{result:?}");
    let ready = events.iter().position(|e| *e == Lifecycle::Ready).expect("READY");
    let stopping = events.iter().position(|e| *e == Lifecycle::Stopping).expect("STOPPING");
    assert!(ready < stopping);
    assert_eq!(
        count(pool, "SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL").await,
        0,
        "leases given back"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM fetch_runs WHERE status = 'running'").await, 0);
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM daemon_instances WHERE instance = 'solo' AND stopped_at IS NOT NULL"
        )
        .await,
        1
    );

    // A restart fetches nothing early: github is now hourly and was fetched.
    let github_runs = count(
        pool,
        "SELECT count(*) FROM fetch_runs r JOIN sources s ON s.id = r.source_id WHERE s.name = 'github'",
    )
    .await;
    file.write(&daemon_config(&reloaded, &file.digests, "instance = \"solo\"", ""));
    let daemon = InProcess::start(&file, &env).await;
    daemon
        .wait_for("a few fetches after the restart", Duration::from_secs(30), |s| Stats::get(&s.fetches) >= 4)
        .await;
    let (result, _) = daemon.stop(Duration::from_secs(30)).await;
    assert!(result.is_ok());
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM fetch_runs r JOIN sources s ON s.id = r.source_id WHERE s.name = 'github'"
        )
        .await,
        github_runs,
        "the hourly source was not fetched early after the restart"
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM digests").await,
        2,
        "no digest made twice after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_share_one_database_without_doing_anything_twice() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let sources = [
        fixture_sources(&server),
        source("fresh-1", "feed", &format!("{}/fresh/12.xml", server.base), ""),
        source("fresh-2", "feed", &format!("{}/fresh/12.xml?b", server.base), ""),
    ]
    .concat();
    let env = env_for(&db.url);
    // Migrate first, so both start on the same schema at once (migrations are
    // also safe concurrently: sqlx takes an advisory lock).
    db.store().migrate().await.expect("migrate");
    let (file_a, file_b) = (ConfigFile::new(), ConfigFile::new());
    // Both deliver into the same directory, as two machines would share a mount.
    let digests = file_a.digests.clone();
    file_a.write(&daemon_config(&sources, &digests, "instance = \"a\"\nmax_concurrent_fetches = 2", ""));
    file_b.write(&daemon_config(&sources, &digests, "instance = \"b\"\nmax_concurrent_fetches = 2", ""));
    let a = InProcess::spawn(&file_a, &env);
    let b = InProcess::spawn(&file_b, &env);
    let (a, b) = tokio::join!(a.ready(), b.ready());

    let total = |a: &Stats, b: &Stats, f: fn(&Stats) -> u64| f(a) + f(b);
    let analysed = |s: &Stats| Stats::get(&s.posts_analysed);
    let stored = |s: &Stats| Stats::get(&s.posts_stored);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    // Wait until at least 120 fresh posts are stored and all analysed, with both
    // instances having fetched and analysed something.
    loop {
        let done = total(&a.stats, &b.stats, stored) >= 120
            && total(&a.stats, &b.stats, analysed) >= total(&a.stats, &b.stats, stored)
            && Stats::get(&a.stats.analysis_batches) > 0
            && Stats::get(&b.stats.analysis_batches) > 0
            && Stats::get(&a.stats.fetches) > 0
            && Stats::get(&b.stats.fetches) > 0
            && total(&a.stats, &b.stats, |s| Stats::get(&s.digests_made)) == 2;
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out; a: {:?}\nb: {:?}", a.stats, b.stats);
        // Either daemon's progress wakes the test.
        tokio::select! {
            _ = a.stats.wait_until(Duration::from_secs(1), |_| false) => {}
            _ = b.stats.changed.notified() => {}
        }
    }
    let (stats_a, stats_b) = (std::sync::Arc::clone(&a.stats), std::sync::Arc::clone(&b.stats));
    let (ra, _) = a.stop(Duration::from_secs(30)).await;
    let (rb, _) = b.stop(Duration::from_secs(30)).await;
    assert!(ra.is_ok() && rb.is_ok(), "{ra:?} {rb:?}");

    let pool = &db.pool;
    let posts = count(pool, "SELECT count(*) FROM posts").await;
    assert_eq!(posts as u64, total(&stats_a, &stats_b, stored), "no post stored by both");
    assert_eq!(count(pool, OVERLAPPING_RUNS).await, 0, "no source fetched by both at once");
    assert_eq!(count(pool, "SELECT count(*) FROM sentiments").await, posts, "each post analysed once");
    assert_eq!(
        total(&stats_a, &stats_b, analysed) as i64,
        posts,
        "no post analysed by both (each claim read a post once)"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM digests").await, 2, "one digest per brand-day");
    assert_eq!(count(pool, "SELECT count(*) FROM digest_deliveries").await, 2, "each delivered once");
    assert_eq!(count(pool, "SELECT count(*) FROM daemon_instances WHERE stopped_at IS NOT NULL").await, 2);
}

#[tokio::test]
async fn missed_digest_days_are_made_up_once_after_downtime() {
    use brandpulse::daemon::digests::{latest_due_day, make_due_digests};

    let db = TestDb::migrated().await;
    let file = ConfigFile::new();
    file.write(&daemon_config("", &file.digests, "digest_catch_up_days = 7", ""));
    let config = brandpulse::config::Config::load(&file.path, &env_for(&db.url)).expect("config");
    let store = db.store();
    store.sync_config(&config).await.expect("sync");
    let now = chrono::Utc::now();
    let due = latest_due_day(now, config.digest.time, config.digest.time_zone);
    // Google's last digest is from three days before the due day: the daemon was down.
    sqlx::query(
        "INSERT INTO digests (brand_id, day, model_id, stats, markdown, html)
         SELECT id, $1, 'm', '{}', '', '' FROM brands WHERE name = 'Google'",
    )
    .bind(due - chrono::Duration::days(3))
    .execute(&db.pool)
    .await
    .expect("seed an old digest");
    let fetcher = brandpulse::fetch::Fetcher::new(&config.fetch).expect("fetcher");
    let stats = Stats::default();

    let made = make_due_digests(&store, &config, "m", &fetcher, &stats, now).await.expect("digest job");
    // Google: the three missed days; GitHub never had one: only the latest day.
    assert_eq!(made, 4);
    let days: Vec<(String, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT b.name, d.day FROM digests d JOIN brands b ON b.id = d.brand_id ORDER BY b.name, d.day",
    )
    .fetch_all(&db.pool)
    .await
    .expect("digests");
    let day = |n: i64| due - chrono::Duration::days(n);
    assert_eq!(
        days,
        vec![
            ("GitHub".to_owned(), due),
            ("Google".to_owned(), day(3)),
            ("Google".to_owned(), day(2)),
            ("Google".to_owned(), day(1)),
            ("Google".to_owned(), due),
        ]
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM digest_deliveries WHERE status = 'delivered'").await, 4);
    // The next round (or another instance) makes nothing again.
    assert_eq!(make_due_digests(&store, &config, "m", &fetcher, &stats, now).await.expect("digest job"), 0);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM digest_deliveries").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_the_reloaded_config() {
    let db = TestDb::new().await;
    let file = ConfigFile::new();
    let token = "a-test-token-of-enough-length";
    let api = "[api]\nenabled = true\nbind = \"127.0.0.1:0\"\n";
    file.write(&daemon_config("", &file.digests, "", api));
    let env = brandpulse::config::Env::from_pairs([
        ("BRANDPULSE_DATABASE_URL", db.url.as_str()),
        ("BRANDPULSE_API_TOKEN", token),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let daemon = InProcess::spawn_with_api(&file, &env, Some(listener)).ready().await;
    let client = reqwest::Client::new();
    let trends_status = || async {
        client
            .get(format!("{base}/api/trends?brand=Orbix&since=7d"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(trends_status().await, 400, "Orbix is not watched yet");

    let orbix = "[[brands]]\nname = \"Orbix\"\naliases = [\"Orbix\"]\n";
    file.write(&daemon_config(orbix, &file.digests, "", api));
    daemon.reload().await;
    daemon.wait_for("the reload", Duration::from_secs(30), |s| Stats::get(&s.reloads) == 1).await;
    assert_eq!(trends_status().await, 200, "the API reads the reloaded brands");
    let (result, _) = daemon.stop(Duration::from_secs(30)).await;
    assert!(result.is_ok(), "{result:?}");
}
