//! Retention: old post text is blanked; every count trends and digests read stays.

use std::time::Duration;

use brandpulse::daemon::Stats;
use brandpulse::daemon::retention::purge;
use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::daemon_harness::{ConfigFile, InProcess, daemon_config, env_for, source};
use crate::fixture_server::FixtureServer;
use crate::helpers::TestDb;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Everything aggregates are made of, as one comparable row of numbers.
async fn aggregates(pool: &PgPool) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT count(*) FROM posts",
        "SELECT count(*) FROM mentions",
        "SELECT count(*) FROM sentiments",
        "SELECT count(*) FILTER (WHERE label = 'negative') FROM sentiments",
        "SELECT count(*) FROM product_mentions",
        "SELECT count(*) FROM product_mention_aspects",
        "SELECT COALESCE(sum(mentions), 0)::int8 FROM brand_volume_slots",
        "SELECT COALESCE(sum(positive + neutral + negative), 0)::int8 FROM brand_sentiment_slots",
    ] {
        out.push(count(pool, sql).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_blanks_old_text_and_keeps_every_aggregate() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let file = ConfigFile::new();
    let sources = [
        // Recorded years ago: older than any retention period.
        source("github", "feed", &server.fixture_url("rss-atom", "atom-github-commits.xml"), ""),
        source("youtube", "feed", &server.fixture_url("rss-atom", "atom-youtube-channel-google.xml"), ""),
        // Published now.
        source("fresh", "feed", &format!("{}/fresh/10.xml", server.base), ""),
    ]
    .concat()
    .replace("* * * * * *", "0 0 0 1 1 *");
    file.write(&daemon_config(&sources, &file.digests, "", ""));
    let daemon = InProcess::start(&file, &env_for(&db.url)).await;
    daemon
        .wait_for("three fetches and their analysis", Duration::from_secs(120), |s| {
            Stats::get(&s.fetches) >= 3 && Stats::get(&s.posts_analysed) >= Stats::get(&s.posts_stored)
        })
        .await;
    let (result, _) = daemon.stop(Duration::from_secs(30)).await;
    assert!(result.is_ok(), "{result:?}");

    let pool = &db.pool;
    let old = "COALESCE(published_at, fetched_at) < now() - interval '30 days'";
    let expired = count(pool, &format!("SELECT count(*) FROM posts WHERE {old}")).await;
    let recent = count(pool, &format!("SELECT count(*) FROM posts WHERE NOT ({old})")).await;
    assert!(expired > 0 && recent >= 10, "old and new posts to tell apart: {expired} / {recent}");
    // A product mention with its evidence sentence on every post, as the
    // analysis stores them when the catalog links a name.
    sqlx::query(
        "INSERT INTO products (sku, name, brand_id) SELECT 'GH-1', 'GitHub Actions', id FROM brands WHERE name = 'GitHub'",
    )
    .execute(pool)
    .await
    .expect("seed a product");
    sqlx::query(
        "INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end, surface,
                                       link_confidence, link_rule, evidence)
         SELECT p.id, (SELECT id FROM products), s.model_id, COALESCE(p.published_at, p.fetched_at), 0, 6, 'GitHub',
                0.9, 'exact', left(p.body, 80) || ' (evidence)'
         FROM posts p JOIN sentiments s ON s.post_id = p.id",
    )
    .execute(pool)
    .await
    .expect("seed product mentions");
    let before = aggregates(pool).await;

    let purged = purge(&db.store(), 30, Utc::now(), &CancellationToken::new()).await.expect("purge");
    assert_eq!(purged as i64, expired);
    assert_eq!(
        count(pool, &format!("SELECT count(*) FROM posts WHERE {old} AND body = '' AND title IS NULL AND text_purged_at IS NOT NULL")).await,
        expired
    );
    assert_eq!(
        count(pool, &format!("SELECT count(*) FROM product_mentions WHERE evidence <> '' AND post_id IN (SELECT id FROM posts WHERE {old})")).await,
        0,
        "evidence sentences are post text too"
    );
    assert_eq!(
        count(pool, &format!("SELECT count(*) FROM product_mentions WHERE evidence <> '' AND post_id IN (SELECT id FROM posts WHERE NOT ({old}))")).await,
        recent,
        "recent posts keep their evidence"
    );
    assert_eq!(
        count(
            pool,
            &format!(
                "SELECT count(*) FROM posts WHERE NOT ({old}) AND body <> '' AND text_purged_at IS NULL"
            )
        )
        .await,
        recent,
        "recent posts keep their text"
    );
    assert_eq!(
        aggregates(pool).await,
        before,
        "counts, sentiments, product mentions, aspects and rollups stay"
    );
    // Purged posts are not read again by a new model (there is nothing to read).
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM posts WHERE text_purged_at IS NOT NULL AND analysed_model_id IS NULL"
        )
        .await,
        0
    );
    // A second pass finds nothing.
    assert_eq!(purge(&db.store(), 30, Utc::now(), &CancellationToken::new()).await.expect("purge"), 0);
}
