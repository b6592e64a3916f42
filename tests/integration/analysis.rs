//! The analysis worker with the real model and the real database: stored
//! posts → sentiments with the model id; a second run costs no model call.

use std::collections::HashMap;

use brandpulse::analysis::{Worker, empty_reader};
use brandpulse::nlp::{Analyzer, Engine, EngineOptions};
use sqlx::PgPool;

use crate::helpers::{TestDb, brandpulse, example_config, model_dir};

/// A long post: the complaint runs well past the model's 128 tokens.
fn long_complaint() -> String {
    let sentence = "The battery of this phone is terrible and drains in a few hours, which is awful. ";
    format!("{}Support never answered my emails either.", sentence.repeat(20))
}

/// One source and these posts (title, body, lang); returns the post ids in order.
async fn seed(pool: &PgPool, posts: &[(Option<&str>, &str, &str)]) -> Vec<i64> {
    let source: i64 = sqlx::query_scalar(
        "INSERT INTO sources (name, kind, url, schedule) VALUES ('feed', 'feed', 'http://127.0.0.1/feed', '0 * * * * *')
         RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("insert source");
    let mut ids = Vec::new();
    for (i, (title, body, lang)) in posts.iter().enumerate() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO posts (source_id, external_id, title, body, lang, content_hash)
             VALUES ($1, $2, $3, $4, $5, sha256(convert_to($2 || $4, 'UTF8'))) RETURNING id",
        )
        .bind(source)
        .bind(format!("post-{i}"))
        .bind(title)
        .bind(body)
        .bind(lang)
        .fetch_one(pool)
        .await
        .expect("insert post");
        ids.push(id);
    }
    ids
}

fn start_engine() -> Engine {
    Engine::start(&model_dir(), EngineOptions::default()).unwrap_or_else(|e| {
        panic!("cannot load the model from {} ({e}); run `bash models/setup.sh`", model_dir().display())
    })
}

#[tokio::test]
async fn stored_posts_get_one_sentiment_per_model_and_a_second_run_costs_nothing() {
    let db = TestDb::migrated().await;
    let long = long_complaint();
    let ids = seed(
        &db.pool,
        &[
            (None, "I absolutely love my new Kestrel phone, the camera is stunning!", "eng"),
            (None, "Worst purchase ever. The Kestrel broke after two days and support ignored me.", "eng"),
            (Some("Kestrel X2 review"), "The screen is bright. Shipping took a week.", "eng"),
            (None, "Ich liebe mein neues Kestrel Telefon, die Kamera ist großartig!", "deu"),
            (None, "新しいKestrelのスマホが大好きです。カメラが最高！", "jpn"),
            (None, "love it!!", "unknown"),
            (None, "!!! 🙂", "eng"),
            (None, &long, "eng"),
        ],
    )
    .await;
    let store = db.store();
    let engine = tokio::task::spawn_blocking(start_engine).await.expect("join");
    let model_id = engine.model_id().to_owned();
    assert!(model_id.starts_with("brandpulse-sentiment-minilm-v1-int8@"), "the default variant: {model_id}");

    // Small transactions, so the backlog takes several rounds.
    let reader = empty_reader();
    let worker = Worker::new(&store, &engine, &reader, 3);
    assert_eq!(worker.pending().await.expect("count"), 8);
    let mut rounds = 0;
    let report = worker.run_until_idle(|_| rounds += 1).await.expect("analysis runs");
    assert_eq!(rounds, 3);
    assert_eq!((report.posts, report.scored, report.skipped_language, report.skipped_empty), (8, 5, 2, 1));
    let calls = engine.model_calls();
    assert!(calls >= 1);

    let rows: HashMap<i64, _> =
        store.sentiments(&model_id).await.expect("read").into_iter().map(|r| (r.post_id, r)).collect();
    assert_eq!(rows.len(), 8);
    let label = |i: usize| rows[&ids[i]].label.clone();
    assert_eq!(label(0).as_deref(), Some("positive"));
    assert_eq!(label(1).as_deref(), Some("negative"));
    assert_eq!(rows[&ids[3]].status, "skipped_language");
    assert_eq!(rows[&ids[4]].status, "skipped_language");
    assert_eq!(rows[&ids[3]].label, None);
    assert_eq!(rows[&ids[5]].status, "scored", "a short Latin-script post the detector could not place");
    assert_eq!(rows[&ids[6]].status, "skipped_empty");
    // The long post is read whole, in several chunks, and stays negative.
    assert!(rows[&ids[7]].chunks.is_some_and(|c| c >= 3), "{:?}", rows[&ids[7]]);
    assert_eq!(label(7).as_deref(), Some("negative"));
    for row in rows.values().filter(|r| r.status == "scored") {
        let p = row.probabilities.as_ref().expect("probabilities");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{p:?}");
        assert_eq!(row.model_id, model_id);
    }
    let marked: i64 = sqlx::query_scalar("SELECT count(*) FROM posts WHERE analysed_model_id = $1")
        .bind(&model_id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(marked, 8);

    // Nothing pending: no model call, nothing written.
    let again = worker.run_until_idle(|_| {}).await.expect("second run");
    assert_eq!(again.posts, 0);
    assert_eq!(engine.model_calls(), calls, "a second run makes zero model calls");
    assert_eq!(store.sentiments(&model_id).await.expect("read").len(), 8);

    // A new post is the only one read next time.
    seed_more(&db.pool, "The Kestrel update fixed everything, great job!").await;
    let third = worker.run_until_idle(|_| {}).await.expect("third run");
    assert_eq!((third.posts, third.scored), (1, 1));
}

async fn seed_more(pool: &PgPool, body: &str) {
    sqlx::query(
        "INSERT INTO posts (source_id, external_id, body, lang, content_hash)
         SELECT id, 'late', $1, 'eng', sha256(convert_to($1, 'UTF8')) FROM sources LIMIT 1",
    )
    .bind(body)
    .execute(pool)
    .await
    .expect("insert post");
}

#[tokio::test]
async fn two_workers_share_a_backlog_without_reading_a_post_twice() {
    let db = TestDb::migrated().await;
    let bodies: Vec<String> = (0..40).map(|i| format!("Kestrel phone number {i} is pretty good")).collect();
    let posts: Vec<(Option<&str>, &str, &str)> = bodies.iter().map(|b| (None, b.as_str(), "eng")).collect();
    seed(&db.pool, &posts).await;
    let store = db.store();
    let engine = tokio::task::spawn_blocking(start_engine).await.expect("join");
    let reader = empty_reader();
    let (a, b) = (Worker::new(&store, &engine, &reader, 4), Worker::new(&store, &engine, &reader, 4));
    let (ra, rb) = tokio::join!(a.run_until_idle(|_| {}), b.run_until_idle(|_| {}));
    let (ra, rb) = (ra.expect("worker a"), rb.expect("worker b"));
    assert_eq!(ra.posts + rb.posts, 40, "every post once: {ra:?} {rb:?}");
    let rows = store.sentiments(engine.model_id()).await.expect("read");
    assert_eq!(rows.len(), 40);
}

#[tokio::test]
async fn analyze_pending_command_reads_the_backlog() {
    let db = TestDb::migrated().await;
    seed(&db.pool, &[(None, "Kestrel support was friendly and fast, thanks!", "eng")]).await;
    let args: Vec<String> =
        vec!["--config".into(), example_config().to_string_lossy().into_owned(), "analyze-pending".into()];
    let env: Vec<(String, String)> = vec![
        ("BRANDPULSE_DATABASE_URL".into(), db.url.clone()),
        ("BRANDPULSE_MODEL_DIR".into(), model_dir().to_string_lossy().into_owned()),
    ];
    let run_cli = move || {
        let (args, env) = (args.clone(), env.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            brandpulse(&args, &env)
        })
    };
    let run = run_cli().await.expect("join");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 posts analysed") && run.stdout.contains("1 scored"), "{}", run.stdout);
    let again = run_cli().await.expect("join");
    assert!(again.stdout.contains("0 posts analysed"), "{}", again.stdout);
}
