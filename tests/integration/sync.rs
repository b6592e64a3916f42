//! Brands and sources from the config are upserted by name at start; ones
//! removed from the config are disabled, never deleted, so history stays.

use std::path::Path;

use brandpulse::config::{Config, Env};
use brandpulse::store::SyncCounts;
use sqlx::Row;

use crate::helpers::TestDb;

fn config(text: &str) -> Config {
    Config::from_bytes(Path::new("/etc/brandpulse/test.toml"), text.as_bytes(), &Env::default())
        .unwrap_or_else(|e| panic!("test config invalid: {e}"))
}

const FIRST: &str = r#"
[database]
url = "postgres://unused@127.0.0.1/unused"
[[brands]]
name = "Kestrel"
aliases = ["Kestrel"]
[[brands]]
name = "Lumio"
aliases = ["Lumio"]
[[sources]]
name = "newsroom"
kind = "feed"
url = "https://news.kestrel.example/feed.xml"
schedule = "0 */30 * * * *"
[[sources]]
name = "hn"
kind = "hackernews"
query = "kestrel"
schedule = "0 0 * * * *"
[fetch]
contact_url = "https://kestrel.example/crawler"
"#;

/// Lumio gains an alias, Kestrel is removed, Orbix is added; the feed moves
/// to a new URL, hn is removed, a reddit source is added.
const SECOND: &str = r#"
[database]
url = "postgres://unused@127.0.0.1/unused"
[[brands]]
name = "Lumio"
aliases = ["Lumio", "Lumio Audio"]
[[brands]]
name = "Orbix"
aliases = ["Orbix"]
competitor = true
[[sources]]
name = "newsroom"
kind = "feed"
url = "https://news.kestrel.example/atom.xml"
schedule = "0 */30 * * * *"
[[sources]]
name = "reddit"
kind = "reddit"
query = "lumio"
schedule = "0 0 * * * *"
[fetch]
contact_url = "https://kestrel.example/crawler"
"#;

fn counts(inserted: u64, updated: u64, unchanged: u64, disabled: u64) -> SyncCounts {
    SyncCounts { inserted, updated, unchanged, disabled }
}

#[tokio::test]
async fn sync_upserts_and_disables_without_deleting() {
    let db = TestDb::migrated().await;
    let store = db.store();

    let report = store.sync_config(&config(FIRST)).await.expect("first sync");
    assert_eq!(report.brands, counts(2, 0, 0, 0));
    assert_eq!(report.sources, counts(2, 0, 0, 0));

    // History that must survive: a post from hn, a mention of Kestrel, and
    // conditional-GET validators on the feed.
    sqlx::query(
        "WITH p AS (
             INSERT INTO posts (source_id, external_id, body, content_hash)
             SELECT id, 'story-1', 'Kestrel X200 review', decode(repeat('ab', 32), 'hex') FROM sources WHERE name = 'hn'
             RETURNING id)
         INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms)
         SELECT p.id, b.id, now(), '{Kestrel}' FROM p, brands b WHERE b.name = 'Kestrel'",
    )
    .execute(&db.pool)
    .await
    .expect("seed history");
    sqlx::query("UPDATE sources SET etag = '\"v1\"', last_modified = 'Mon, 23 Nov 2026 08:00:00 GMT'")
        .execute(&db.pool)
        .await
        .expect("seed validators");

    // The same config again changes nothing: no row rewritten.
    let before: Vec<String> =
        sqlx::query_scalar("SELECT xmin::text FROM brands UNION ALL SELECT xmin::text FROM sources")
            .fetch_all(&db.pool)
            .await
            .expect("xmin");
    let report = store.sync_config(&config(FIRST)).await.expect("same sync");
    assert_eq!(report.brands, counts(0, 0, 2, 0));
    assert_eq!(report.sources, counts(0, 0, 2, 0));
    let after: Vec<String> =
        sqlx::query_scalar("SELECT xmin::text FROM brands UNION ALL SELECT xmin::text FROM sources")
            .fetch_all(&db.pool)
            .await
            .expect("xmin");
    assert_eq!(before, after, "an unchanged config rewrote rows");

    let report = store.sync_config(&config(SECOND)).await.expect("second sync");
    assert_eq!(report.brands, counts(1, 1, 0, 1), "Orbix new, Lumio changed, Kestrel disabled");
    assert_eq!(report.sources, counts(1, 1, 0, 1), "reddit new, newsroom changed, hn disabled");

    let brands: Vec<(String, bool, Vec<String>)> =
        sqlx::query("SELECT name, enabled, aliases FROM brands ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .expect("brands")
            .iter()
            .map(|r| (r.get("name"), r.get("enabled"), r.get("aliases")))
            .collect();
    assert_eq!(
        brands,
        vec![
            ("Kestrel".into(), false, vec!["Kestrel".into()]),
            ("Lumio".into(), true, vec!["Lumio".into(), "Lumio Audio".into()]),
            ("Orbix".into(), true, vec!["Orbix".into()]),
        ]
    );
    let sources: Vec<(String, bool, Option<String>, Option<String>)> =
        sqlx::query("SELECT name, enabled, url, etag FROM sources ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .expect("sources")
            .iter()
            .map(|r| (r.get("name"), r.get("enabled"), r.get("url"), r.get("etag")))
            .collect();
    assert_eq!(sources[0].0, "hn");
    assert!(!sources[0].1, "hn is disabled");
    assert_eq!(sources[0].3.as_deref(), Some("\"v1\""), "a disabled source keeps its state");
    assert_eq!(sources[1].0, "newsroom");
    assert_eq!(sources[1].2.as_deref(), Some("https://news.kestrel.example/atom.xml"));
    assert_eq!(sources[1].3, None, "a new URL drops the old URL's ETag");
    assert_eq!(sources[2].0, "reddit");
    assert_eq!(sources[2].2.as_deref(), Some("https://www.reddit.com/"), "the kind's default host");

    let history: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mentions m JOIN posts p ON p.id = m.post_id JOIN brands b ON b.id = m.brand_id
         WHERE b.name = 'Kestrel'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("history");
    assert_eq!(history, 1, "the removed brand's and source's history is kept");

    // Putting Kestrel back enables the same row again.
    let report = store.sync_config(&config(FIRST)).await.expect("third sync");
    assert_eq!(
        report.brands,
        counts(0, 2, 0, 1),
        "Kestrel enabled again, Lumio's aliases back, Orbix disabled"
    );
    let kestrel: (i64, bool) =
        sqlx::query_as("SELECT count(*), bool_and(enabled) FROM brands WHERE lower(name) = 'kestrel'")
            .fetch_one(&db.pool)
            .await
            .expect("kestrel");
    assert_eq!(kestrel, (1, true));
}

#[tokio::test]
async fn renaming_only_the_case_updates_the_same_row() {
    let db = TestDb::migrated().await;
    let store = db.store();
    store.sync_config(&config(FIRST)).await.expect("sync");
    let renamed = FIRST.replace("name = \"Kestrel\"", "name = \"KESTREL\"");
    let report = store.sync_config(&config(&renamed)).await.expect("sync renamed");
    assert_eq!(report.brands, counts(0, 1, 1, 0));
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM brands ORDER BY id").fetch_all(&db.pool).await.expect("names");
    assert_eq!(names, vec!["KESTREL", "Lumio"]);
}
