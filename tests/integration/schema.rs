//! Migrations: they apply from zero, are idempotent, carry real constraints,
//! and a database from a newer brandpulse is refused.

use brandpulse::store::{Store, StoreError};

use crate::helpers::{TestDb, brandpulse, example_config};

const TABLES: &[&str] = &[
    "brands",
    "products",
    "sources",
    "fetch_runs",
    "posts",
    "mentions",
    "product_mentions",
    "product_mention_aspects",
    "sentiments",
    "unlinked_entities",
    "unlinked_entity_sightings",
    "digests",
    "digest_deliveries",
];

#[tokio::test]
async fn migrations_apply_from_zero_and_only_once() {
    let db = TestDb::new().await;
    let store = db.store();
    assert_eq!(store.schema_version().await.expect("version"), 0);
    let first = store.migrate().await.expect("migrate from zero");
    assert!(!first.applied.is_empty());
    assert_eq!(first.version, Store::known_version());
    for table in TABLES {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{table}"))
            .fetch_one(&db.pool)
            .await
            .expect("query");
        assert!(exists, "table {table} missing");
    }
    let second = store.migrate().await.expect("migrate again");
    assert!(second.applied.is_empty(), "second run applied {:?}", second.applied);
    store.check_schema().await.expect("schema is current");
}

#[tokio::test]
async fn indexes_for_later_queries_exist() {
    let db = TestDb::migrated().await;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(&db.pool)
            .await
            .expect("indexes");
    for wanted in [
        "ON public.mentions USING btree (brand_id, mentioned_at)",
        "ON public.product_mentions USING btree (product_id, mentioned_at)",
        "ON public.posts USING btree (analysed_model_id, id)",
        "ON public.posts USING btree (source_id, external_id)",
        "ON public.posts USING btree (content_hash)",
    ] {
        assert!(indexes.iter().any(|i| i.contains(wanted)), "no index {wanted}: {indexes:#?}");
    }
}

#[tokio::test]
async fn constraints_reject_bad_rows() {
    let db = TestDb::migrated().await;
    let exec = |sql: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query(sql).execute(&pool).await }
    };
    exec("INSERT INTO brands (name, aliases) VALUES ('Acme', '{Acme}')").await.expect("valid brand");
    exec("INSERT INTO sources (name, kind, url, schedule) VALUES ('s', 'feed', 'https://a.example/f', '0 0 * * * *')")
        .await
        .expect("valid source");
    exec("INSERT INTO posts (source_id, external_id, body, content_hash) VALUES (1, 'p1', 'text', decode(repeat('ab', 32), 'hex'))")
        .await
        .expect("valid post");
    let rejected = [
        ("brand without aliases", "INSERT INTO brands (name, aliases) VALUES ('B', '{}')"),
        ("brand name differing only in case", "INSERT INTO brands (name, aliases) VALUES ('ACME', '{x}')"),
        (
            "unknown source kind",
            "INSERT INTO sources (name, kind, url, schedule) VALUES ('t', 'twitter', 'https://x', '0 0 * * * *')",
        ),
        (
            "same post twice from a source",
            "INSERT INTO posts (source_id, external_id, body, content_hash) VALUES (1, 'p1', 'other', decode(repeat('cd', 32), 'hex'))",
        ),
        (
            "same content twice",
            "INSERT INTO posts (source_id, external_id, body, content_hash) VALUES (1, 'p2', 'text', decode(repeat('ab', 32), 'hex'))",
        ),
        (
            "short content hash",
            "INSERT INTO posts (source_id, external_id, body, content_hash) VALUES (1, 'p3', 'x', '\\x00')",
        ),
        (
            "post of a missing source",
            "INSERT INTO posts (source_id, external_id, body, content_hash) VALUES (99, 'p4', 'x', decode(repeat('ef', 32), 'hex'))",
        ),
        (
            "sentiment label outside the enum",
            "INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities) VALUES (1, 'm', 'scored', 'happy', 0.5, '{0.2,0.3,0.5}')",
        ),
        (
            "scored sentiment without a label",
            "INSERT INTO sentiments (post_id, model_id, status) VALUES (1, 'm', 'scored')",
        ),
        (
            "probability out of range",
            "INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities) VALUES (1, 'm', 'scored', 'positive', 1.5, '{0,0,1}')",
        ),
        (
            "failed run without an error",
            "INSERT INTO fetch_runs (source_id, status, finished_at) VALUES (1, 'failed', now())",
        ),
        ("negative failure count", "UPDATE sources SET consecutive_failures = -1"),
    ];
    for (what, sql) in rejected {
        assert!(exec(sql).await.is_err(), "accepted: {what}");
    }
    // timestamptz everywhere
    let naive: Vec<String> = sqlx::query_scalar(
        "SELECT table_name || '.' || column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("columns");
    assert!(naive.is_empty(), "columns without time zone: {naive:?}");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TestDb::migrated().await;
    let future = Store::known_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from the future', true, '\\x00', 0)",
    )
    .bind(future)
    .execute(&db.pool)
    .await
    .expect("fake a newer migration");
    match db.store().migrate().await {
        Err(StoreError::SchemaTooNew { database, known }) => {
            assert_eq!(database, future);
            assert_eq!(known, Store::known_version());
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    // the binary says so plainly, with exit code 1
    let config = example_config();
    let run = brandpulse(
        &["--config", &config.to_string_lossy(), "migrate"],
        &[("BRANDPULSE_DATABASE_URL", &db.url)],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("newer than this brandpulse knows"), "{}", run.stderr);
}

#[tokio::test]
async fn migrate_command_applies_and_reports() {
    let db = TestDb::new().await;
    let config = example_config();
    let config = config.to_string_lossy();
    let env = [("BRANDPULSE_DATABASE_URL", db.url.as_str())];
    let run = brandpulse(&["--config", &config, "migrate"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("applied migration"), "{}", run.stdout);
    assert!(run.stdout.contains("brands: 3 inserted"), "{}", run.stdout);
    let run = brandpulse(&["--config", &config, "migrate"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("up to date"), "{}", run.stdout);
    assert!(run.stdout.contains("brands: 0 inserted, 0 updated, 3 unchanged"), "{}", run.stdout);
}

#[test]
fn unreachable_database_exits_1_with_the_masked_url() {
    let config = example_config();
    // Nothing listens on port 1; the password must not be printed.
    let run = brandpulse(
        &["--config", &config.to_string_lossy(), "migrate"],
        &[("BRANDPULSE_DATABASE_URL", "postgres://brandpulse:hunter2@127.0.0.1:1/brandpulse")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot connect to PostgreSQL at postgres://brandpulse:***@127.0.0.1:1/brandpulse"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Connection refused"), "the cause is shown: {}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "password leaked: {}", run.stderr);
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
}
