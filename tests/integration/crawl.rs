//! The real fetch → parse → normalise → match → store path, into the real
//! PostgreSQL, against recorded payloads served from 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use brandpulse::config::{Config, Env};
use brandpulse::crawl::{Crawler, SourceReport};
use brandpulse::fetch::Fetcher;
use brandpulse::store::RunStatus;

use crate::fixture_server::{FixtureServer, fixtures_dir};
use crate::helpers::{TestDb, brandpulse, write_temp};

/// Brands that the recorded feeds really mention, so posts get stored.
pub const BRANDS: &str = r#"
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

/// A config with these `[[sources]]` tables and fetch settings for tests.
pub fn config_text(sources: &str, fetch_extra: &str) -> String {
    format!(
        "[database]\nurl = \"postgres://unused@127.0.0.1/unused\"\n{BRANDS}\n{sources}\n[fetch]\n\
         contact_url = \"https://brandpulse.example/contact\"\nper_host_requests_per_minute = 6000\n\
         per_host_concurrency = 4\n{fetch_extra}\n"
    )
}

/// One `[[sources]]` table.
pub fn source(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nschedule = \"0 */15 * * * *\"\n{extra}\n"
    )
}

/// Parses a test config (panics with the problems when it is invalid).
pub fn load(text: &str) -> Config {
    Config::from_bytes(Path::new("/etc/brandpulse/test.toml"), text.as_bytes(), &Env::default())
        .unwrap_or_else(|e| panic!("test config invalid: {e}"))
}

async fn crawl(db: &TestDb, config: &Config, only: Option<&str>) -> Vec<SourceReport> {
    let store = db.store();
    store.sync_config(config).await.expect("sync");
    let fetcher = Fetcher::with_retry_base(&config.fetch, Duration::from_millis(10)).expect("fetcher");
    let crawler = Crawler::new(config, store, fetcher).await.expect("crawler");
    crawler.crawl_all(only).await.expect("crawl runs")
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect("count")
}

/// (file, expected, items) from rss-atom/SOURCES.tsv.
fn rss_atom_expectations() -> Vec<(String, String, usize)> {
    let tsv = std::fs::read_to_string(fixtures_dir().join("rss-atom/SOURCES.tsv")).expect("SOURCES.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let (file, expected, items) = (col("file"), col("expected"), col("items"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[file].to_owned(), f[expected].to_owned(), f[items].parse().unwrap_or(0))
        })
        .collect()
}

#[tokio::test]
async fn every_rss_atom_fixture_yields_its_outcome_and_a_recrawl_stores_nothing() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let expectations = rss_atom_expectations();
    assert_eq!(expectations.len(), 89);
    let sources: String = expectations
        .iter()
        .enumerate()
        .map(|(i, (file, ..))| source(&format!("f{i:02}"), "feed", &server.fixture_url("rss-atom", file), ""))
        .collect();
    let config = load(&config_text(&sources, ""));
    let reports = crawl(&db, &config, None).await;
    assert_eq!(reports.len(), 89);

    let mut mismatches = Vec::new();
    for (i, (file, expected, items)) in expectations.iter().enumerate() {
        let report = reports.iter().find(|r| r.name == format!("f{i:02}")).expect("report");
        let ok = match expected.as_str() {
            "ok" => report.status == RunStatus::Ok && report.items_seen as usize == *items,
            _ => {
                report.status == RunStatus::Failed
                    && report.error.as_deref().is_some_and(|e| e.contains("cannot read the response"))
            }
        };
        if !ok {
            mismatches.push(format!(
                "{file}: expected {expected} {items}, got {} {} ({:?})",
                report.status.as_str(),
                report.items_seen,
                report.error
            ));
        }
    }
    assert!(mismatches.is_empty(), "{} of 89 fixtures differ:\n{}", mismatches.len(), mismatches.join("\n"));

    // The failed runs are recorded with their parse error, the rest went on.
    let failed =
        count(&db, "SELECT count(*) FROM fetch_runs WHERE status = 'failed' AND error LIKE 'cannot read%'")
            .await;
    assert_eq!(failed as usize, expectations.iter().filter(|e| e.1 == "reject").count());
    let posts = count(&db, "SELECT count(*) FROM posts").await;
    let mentions = count(&db, "SELECT count(*) FROM mentions").await;
    assert!(posts > 10 && mentions >= posts, "posts {posts}, mentions {mentions}");
    let new_posts: u64 = reports.iter().map(|r| r.new_posts).sum();
    assert_eq!(new_posts as i64, posts);

    // Again: every good feed answers 304 to its validators; nothing is stored twice.
    let again = crawl(&db, &config, None).await;
    for report in &again {
        assert_eq!(report.new_posts, 0, "{}: stored again", report.name);
    }
    let not_modified = again.iter().filter(|r| r.status == RunStatus::NotModified).count();
    let ok_count = expectations.iter().filter(|e| e.1 == "ok").count();
    assert_eq!(not_modified, ok_count, "every fetched feed is revalidated with a 304");
    assert_eq!(count(&db, "SELECT count(*) FROM posts").await, posts);
    assert_eq!(count(&db, "SELECT count(*) FROM mentions").await, mentions);
}

#[tokio::test]
async fn conditional_get_sends_validators_and_a_304_stores_nothing() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let url = server.fixture_url("rss-atom", "atom-github-commits.xml");
    let config = load(&config_text(&source("commits", "feed", &url, ""), ""));

    let first = crawl(&db, &config, None).await;
    assert_eq!(first[0].status, RunStatus::Ok);
    assert_eq!(first[0].items_seen, 20);
    let stored = count(&db, "SELECT count(*) FROM posts").await;
    assert!(stored > 0, "GitHub commits mention GitHub");
    let etag: Option<String> = sqlx::query_scalar("SELECT etag FROM sources WHERE name = 'commits'")
        .fetch_one(&db.pool)
        .await
        .expect("etag");
    assert!(etag.is_some(), "the ETag is stored");

    let second = crawl(&db, &config, None).await;
    assert_eq!(second[0].status, RunStatus::NotModified);
    assert_eq!(second[0].http_status, Some(304));
    assert_eq!(second[0].new_posts, 0);
    let requests: Vec<_> =
        server.seen().into_iter().filter(|s| s.uri.ends_with("atom-github-commits.xml")).collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].if_none_match, None);
    assert_eq!(requests[1].if_none_match, etag, "If-None-Match carries the stored ETag");
    assert_eq!(requests[1].if_modified_since.as_deref(), Some("Mon, 02 Nov 2026 08:00:00 GMT"));
    let ua = requests[0].user_agent.clone().unwrap_or_default();
    assert!(ua.starts_with("brandpulse/") && ua.contains("https://brandpulse.example/contact"), "{ua}");
    assert_eq!(count(&db, "SELECT count(*) FROM posts").await, stored);
    let runs: Vec<String> = sqlx::query_scalar("SELECT status FROM fetch_runs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("runs");
    assert_eq!(runs, vec!["ok", "not_modified"]);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried_within_the_run() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let url = format!("{}/fail/1/500/rss-atom/atom-github-commits.xml", server.base);
    let config = load(&config_text(&source("flaky", "feed", &url, ""), ""));
    let reports = crawl(&db, &config, None).await;
    assert_eq!(reports[0].status, RunStatus::Ok, "{:?}", reports[0].error);
    assert_eq!(reports[0].items_seen, 20);
    let hits = server.seen().iter().filter(|s| s.uri.starts_with("/fail/")).count();
    assert_eq!(hits, 2, "one 500, one retry");
}

#[tokio::test]
async fn failures_back_off_growing_and_success_resets() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    // 404 is not retried, so each crawl is one failure; the fourth request succeeds.
    let url = format!("{}/fail/3/404/rss-atom/atom-github-commits.xml", server.base);
    let config = load(&config_text(&source("broken", "feed", &url, ""), ""));
    let mut waits = Vec::new();
    for expected in 1..=3 {
        let reports = crawl(&db, &config, None).await;
        assert_eq!(reports[0].status, RunStatus::Failed);
        assert_eq!(reports[0].http_status, Some(404));
        let (failures, wait, error): (i32, f64, Option<String>) = sqlx::query_as(
            "SELECT consecutive_failures, extract(epoch FROM next_due - now())::float8, last_error
             FROM sources WHERE name = 'broken'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("state");
        assert_eq!(failures, expected);
        assert!(error.is_some_and(|e| e.contains("HTTP 404")));
        waits.push(wait);
    }
    assert!(waits[0] > 200.0, "first backoff is minutes: {waits:?}");
    assert!(waits[1] > waits[0] * 1.5 && waits[2] > waits[1] * 1.5, "backoff grows: {waits:?}");

    let reports = crawl(&db, &config, None).await;
    assert_eq!(reports[0].status, RunStatus::Ok);
    let (failures, error): (i32, Option<String>) =
        sqlx::query_as("SELECT consecutive_failures, last_error FROM sources WHERE name = 'broken'")
            .fetch_one(&db.pool)
            .await
            .expect("state");
    assert_eq!((failures, error), (0, None), "a success resets the backoff");
}

#[tokio::test]
async fn retry_after_pushes_the_next_fetch_later() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let url = format!("{}/retry-after/7200", server.base);
    let config = load(&config_text(&source("throttled", "feed", &url, ""), ""));
    let reports = crawl(&db, &config, None).await;
    assert_eq!(reports[0].status, RunStatus::Failed);
    assert_eq!(reports[0].http_status, Some(429));
    let wait: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM next_due - now())::float8 FROM sources WHERE name = 'throttled'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("next_due");
    assert!(wait > 7100.0, "Retry-After 7200 s honoured, next due in {wait} s");
    let hits = server.seen().iter().filter(|s| s.uri.starts_with("/retry-after")).count();
    assert_eq!(hits, 1, "a long Retry-After is not waited out in the run");
}

#[tokio::test]
async fn bad_servers_fail_their_source_and_the_others_go_on() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let sources = [
        source("big", "feed", &format!("{}/big", server.base), ""),
        source("slow", "feed", &format!("{}/slow", server.base), ""),
        source("loop", "feed", &format!("{}/redirect-loop", server.base), ""),
        source("private", "feed", &format!("{}/private/feed.xml", server.base), ""),
        source("missing", "feed", &format!("{}/fixtures/rss-atom/no-such-file.xml", server.base), ""),
        source("good", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
    ]
    .concat();
    let config = load(&config_text(&sources, "timeout = \"500ms\"\nmax_body_bytes = 10_485_760\n"));
    let reports = crawl(&db, &config, None).await;
    let by_name = |name: &str| reports.iter().find(|r| r.name == name).expect("report");
    let error = |name: &str| by_name(name).error.clone().unwrap_or_default();
    assert!(error("big").contains("larger than 10485760 bytes"), "{}", error("big"));
    assert!(error("slow").contains("timed out"), "{}", error("slow"));
    assert!(error("loop").contains("too many redirects"), "{}", error("loop"));
    assert!(error("private").contains("robots.txt"), "{}", error("private"));
    assert!(error("missing").contains("HTTP 404"), "{}", error("missing"));
    for name in ["big", "slow", "loop", "private", "missing"] {
        assert_eq!(by_name(name).status, RunStatus::Failed, "{name}");
    }
    assert_eq!(by_name("good").status, RunStatus::Ok);
    assert!(server.seen().iter().all(|s| !s.uri.starts_with("/private/")), "robots.txt was not obeyed");
    let redirects = server.seen().iter().filter(|s| s.uri == "/redirect-loop").count();
    assert!(redirects <= 6 * 3, "at most 5 redirects per attempt: {redirects}");
    let failed =
        count(&db, "SELECT count(*) FROM fetch_runs WHERE status = 'failed' AND error IS NOT NULL").await;
    assert_eq!(failed, 5);
}

#[tokio::test]
async fn a_feed_that_breaks_later_changes_nothing_stored() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let url = format!("{}/then-garbage/rss-atom/atom-github-commits.xml", server.base);
    let config = load(&config_text(&source("breaks", "feed", &url, ""), ""));
    let first = crawl(&db, &config, None).await;
    assert_eq!(first[0].status, RunStatus::Ok);
    let snapshot = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT string_agg(to_jsonb(p)::text || to_jsonb(m)::text, '|' ORDER BY p.id, m.id)
                 FROM posts p JOIN mentions m ON m.post_id = p.id",
            )
            .fetch_one(&pool)
            .await
            .expect("snapshot")
        }
    };
    let before = snapshot(&db).await;
    let second = crawl(&db, &config, None).await;
    assert_eq!(second[0].status, RunStatus::Failed);
    assert!(
        second[0].error.as_deref().is_some_and(|e| e.starts_with("cannot read the response")),
        "{:?}",
        second[0].error
    );
    assert_eq!(snapshot(&db).await, before, "a broken fetch changed stored posts or mentions");
    let (failures, etag): (i32, Option<String>) =
        sqlx::query_as("SELECT consecutive_failures, etag FROM sources WHERE name = 'breaks'")
            .fetch_one(&db.pool)
            .await
            .expect("state");
    assert_eq!(failures, 1);
    assert!(etag.is_some(), "the last good fetch's validators are kept");
}

#[tokio::test]
async fn a_syndicated_copy_is_stored_once() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let original = server.fixture_url("rss-atom", "atom-github-commits.xml");
    let mirror = format!("{}/mirror/rss-atom/atom-github-commits.xml", server.base);
    let sources = [source("original", "feed", &original, ""), source("mirror", "feed", &mirror, "")].concat();
    let config = load(&config_text(&sources, ""));
    crawl(&db, &config, Some("original")).await;
    let posts = count(&db, "SELECT count(*) FROM posts").await;
    let reports = crawl(&db, &config, Some("mirror")).await;
    assert_eq!(reports[0].status, RunStatus::Ok);
    assert_eq!(reports[0].items_seen, 20);
    assert_eq!(reports[0].new_posts, 0, "same texts from another source are not stored again");
    assert_eq!(count(&db, "SELECT count(*) FROM posts").await, posts);
}

#[tokio::test]
async fn social_and_html_sources_run_through_the_pipeline() {
    let server = FixtureServer::start().await;
    let db = TestDb::migrated().await;
    let base = &server.base;
    let sources = [
        source("hn", "hackernews", base, "query = \"google\"\n"),
        source("mastodon", "mastodon", base, "[sources.params]\ntag = \"google\"\nmax_pages = 1\n"),
        source("reddit", "reddit", base, "[sources.params]\nsubreddit = \"AskReddit\"\nmax_pages = 1\n"),
        source("lemmy", "lemmy", base, "[sources.params]\ncommunity = \"technology\"\nmax_pages = 1\n"),
        source("bluesky", "bluesky", base, "query = \"google\"\n"),
        source(
            "forum",
            "html",
            &format!("{base}/html/forum-xenforo-thread-en.html"),
            "[sources.params.selectors]\nitem = \"article.message--post\"\ntext = \".message-body .bbWrapper\"\n\
             author = \"h4.message-name .username\"\ntime = \"time.u-dt\"\n\
             link = '.message-attribution a[href*=\"/post-\"]'\n",
        ),
    ]
    .concat();
    let config = load(&config_text(&sources, ""));
    let reports = crawl(&db, &config, None).await;
    for report in &reports {
        assert_eq!(report.status, RunStatus::Ok, "{}: {:?}", report.name, report.error);
    }
    // Item counts of the recorded payloads (see each fixture folder's SOURCES.tsv).
    let items: Vec<(&str, u64)> = reports.iter().map(|r| (r.name.as_str(), r.items_seen)).collect();
    assert_eq!(
        items,
        vec![("bluesky", 25), ("forum", 9), ("hn", 20), ("lemmy", 3), ("mastodon", 10), ("reddit", 100)]
    );
    let seen = server.seen();
    assert!(seen.iter().any(|s| s.uri.starts_with("/r/AskReddit/new.json") && s.uri.contains("raw_json=1")));
    assert!(seen.iter().any(|s| s.uri.starts_with("/api/v1/timelines/tag/google")));
    assert!(seen.iter().any(|s| s.uri.starts_with("/xrpc/app.bsky.feed.searchPosts")));
}

#[tokio::test]
async fn crawl_once_command_prints_each_source_and_exits_by_outcome() {
    let server = FixtureServer::start().await;
    let db = TestDb::new().await;
    let sources = [
        source("commits", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
        source("broken", "feed", &server.fixture_url("rss-atom", "malformed-empty.xml"), ""),
    ]
    .concat();
    let (_dir, path) = write_temp("brandpulse.toml", config_text(&sources, "").as_bytes());
    let path = path.to_string_lossy().into_owned();
    let env = [("BRANDPULSE_DATABASE_URL", db.url.as_str())];
    // The runtime of the test and the child process are separate; run the
    // blocking child off the test's runtime so the fixture server keeps serving.
    let run = |args: Vec<String>| {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            brandpulse(&args, &env)
        })
    };
    let one = run(vec![
        "--config".into(),
        path.clone(),
        "crawl".into(),
        "--once".into(),
        "--source".into(),
        "commits".into(),
    ])
    .await
    .expect("join");
    assert_eq!(one.code, 0, "{}\n{}", one.stdout, one.stderr);
    assert!(
        one.stdout.contains("commits") && one.stdout.contains("ok") && one.stdout.contains("20"),
        "{}",
        one.stdout
    );
    assert!(one.stdout.contains("1 sources fetched"), "{}", one.stdout);

    let all =
        run(vec!["--config".into(), path.clone(), "crawl".into(), "--once".into()]).await.expect("join");
    assert_eq!(all.code, 1, "a failed source makes the exit code 1: {}", all.stderr);
    assert!(all.stdout.contains("not_modified") && all.stdout.contains("failed"), "{}", all.stdout);
    assert!(all.stderr.contains("1 of 2 sources failed"), "{}", all.stderr);

    let unknown =
        run(vec!["--config".into(), path, "crawl".into(), "--once".into(), "--source".into(), "nope".into()])
            .await
            .expect("join");
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no enabled source is named \"nope\""), "{}", unknown.stderr);
}
