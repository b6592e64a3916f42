//! `brandpulse trends` on seeded data: buckets cut in the configured time
//! zone (Europe/Berlin in the example config, a DST change on 2026-03-29),
//! empty buckets as zeros, only the active model's results, rising products,
//! and bad arguments refused with exit code 2.

use brandpulse::nlp::{ModelManifest, Variant};
use brandpulse::store::{Bucket, Store, Subject, TrendQuery};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::helpers::{Run, TestDb, brandpulse, example_catalog, example_config, model_dir};

fn cli(db: &TestDb, args: &[&str]) -> Run {
    let config = example_config();
    let mut full = vec!["--config", config.to_str().expect("utf-8")];
    full.extend_from_slice(args);
    let dir = model_dir();
    brandpulse(
        &full,
        &[
            ("BRANDPULSE_DATABASE_URL", db.url.as_str()),
            ("BRANDPULSE_MODEL_DIR", dir.to_str().expect("utf-8")),
        ],
    )
}

/// The model id the example config reads (int8 of the shipped model).
fn active_model() -> String {
    ModelManifest::read(&model_dir()).expect("manifest").model_id_for(Variant::Int8).expect("int8 id")
}

/// A post mentioning `brand` at `at` (UTC), scored `label` by `model`, naming product `sku` when given.
async fn seed(pool: &PgPool, n: usize, brand: &str, at: &str, label: &str, model: &str, sku: Option<&str>) {
    sqlx::query(
        "WITH s AS (INSERT INTO sources (name, kind, url, schedule)
                    VALUES ('seed-' || $1, 'reddit', 'http://127.0.0.1/', '0 * * * * *')
                    ON CONFLICT DO NOTHING RETURNING id),
              p AS (INSERT INTO posts (source_id, external_id, body, lang, published_at, content_hash)
                    SELECT id, $1, 'seeded post ' || $1, 'eng', $3::timestamptz, sha256(convert_to($1, 'UTF8'))
                    FROM s RETURNING id),
              m AS (INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms, matches)
                    SELECT p.id, b.id, $3::timestamptz, ARRAY[$2], '[]' FROM p, brands b WHERE b.name = $2),
              st AS (INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
                     SELECT p.id, $5, 'scored', $4, 0.9, ARRAY[0.05, 0.05, 0.9]::real[], 1 FROM p)
         INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end, surface,
                                       link_confidence, link_rule, sentiment, sentiment_score, evidence)
         SELECT p.id, pr.id, $5, $3::timestamptz, 0, 4, 'X200', 0.9, 'alias', $4, 0.9, 'seeded'
         FROM p, products pr WHERE pr.sku = $6",
    )
    .bind(format!("{at}-{n}-{label}-{model}"))
    .bind(brand)
    .bind(at)
    .bind(label)
    .bind(model)
    .bind(sku)
    .execute(pool)
    .await
    .expect("seed");
    // Rows written around the store: bring its brand rollups in step.
    Store::from_pool(pool.clone()).rebuild_rollups().await.expect("rollups");
}

async fn setup() -> TestDb {
    let db = TestDb::new().await;
    let catalog = example_catalog();
    let import = cli(&db, &["catalog", "import", catalog.to_str().expect("utf-8")]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    db
}

fn points(run: &Run) -> Vec<serde_json::Value> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("trends JSON");
    v["points"].as_array().expect("points").clone()
}

#[tokio::test]
async fn days_are_cut_in_the_configured_time_zone_across_dst() {
    let db = setup().await;
    let model = active_model();
    // 23:30 CET on the 28th; 00:30 CET on the 29th; 00:30 CEST on the 30th (UTC+2 after the change).
    seed(&db.pool, 0, "Kestrel", "2026-03-28T22:30:00Z", "positive", &model, None).await;
    seed(&db.pool, 1, "Kestrel", "2026-03-28T23:30:00Z", "negative", &model, None).await;
    seed(&db.pool, 2, "Kestrel", "2026-03-29T22:30:00Z", "neutral", &model, None).await;
    seed(&db.pool, 3, "Kestrel", "2026-03-29T21:30:00Z", "negative", &model, None).await;
    // Another model's result and another brand never count.
    seed(&db.pool, 4, "Kestrel", "2026-03-29T10:00:00Z", "positive", "other-model@000000000000", None).await;
    seed(&db.pool, 5, "Lumio", "2026-03-29T10:00:00Z", "positive", &model, None).await;

    let run = cli(
        &db,
        &["trends", "--brand", "kestrel", "--from", "2026-03-26", "--to", "2026-03-30", "--format", "json"],
    );
    let p = points(&run);
    let days: Vec<&str> = p.iter().map(|x| x["bucket"].as_str().expect("bucket")).collect();
    assert_eq!(
        days,
        [
            "2026-03-26T00:00:00",
            "2026-03-27T00:00:00",
            "2026-03-28T00:00:00",
            "2026-03-29T00:00:00",
            "2026-03-30T00:00:00"
        ]
    );
    let mentions: Vec<i64> = p.iter().map(|x| x["mentions"].as_i64().expect("mentions")).collect();
    // The 29th: 00:30 CET, 23:30 CEST (21:30Z), and the other model's post (a mention, unscored for this model).
    assert_eq!(mentions, [0, 0, 1, 3, 1]);
    assert_eq!(p[3]["negative"], 2);
    assert_eq!(p[3]["positive"], 0, "another model's label is not read");
    assert_eq!(p[2]["net_sentiment"], 1.0);
    assert_eq!(p[3]["net_sentiment"], -1.0);
    assert!(p[0]["net_sentiment"].is_null(), "an empty bucket has no net sentiment");

    let hours = points(&cli(
        &db,
        &[
            "trends",
            "--brand",
            "Kestrel",
            "--from",
            "2026-03-29",
            "--to",
            "2026-03-29",
            "--bucket",
            "hour",
            "--format",
            "json",
        ],
    ));
    assert_eq!(hours.len(), 23, "the DST day has 23 hours");
    let total: i64 = hours.iter().map(|x| x["mentions"].as_i64().expect("mentions")).sum();
    assert_eq!(total, 3);

    let csv = cli(
        &db,
        &["trends", "--brand", "Kestrel", "--from", "2026-03-28", "--to", "2026-03-29", "--format", "csv"],
    );
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert_eq!(csv.stdout.lines().next(), Some("bucket,mentions,positive,neutral,negative,net_sentiment"));
    assert!(csv.stdout.contains("2026-03-28T00:00,1,1,0,0,1.0000"), "{}", csv.stdout);
    let table = cli(&db, &["trends", "--brand", "Kestrel", "--from", "2026-03-28", "--to", "2026-03-29"]);
    assert!(
        table.stdout.contains("Europe/Berlin") && table.stdout.contains("2026-03-29"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn product_trends_and_rising_products() {
    let db = setup().await;
    let model = active_model();
    // 8 X200 mentions this week against 2 the week before; 5 S9 mentions both weeks.
    for i in 0..8 {
        seed(
            &db.pool,
            i,
            "Kestrel",
            &format!("2026-06-1{}T12:00:00Z", i % 7 + 1),
            "positive",
            &model,
            Some("KM-X200"),
        )
        .await;
    }
    for i in 0..2 {
        seed(&db.pool, 100 + i, "Kestrel", "2026-06-05T12:00:00Z", "negative", &model, Some("KM-X200")).await;
    }
    for i in 0..5 {
        seed(&db.pool, 200 + i, "Orbix", "2026-06-12T12:00:00Z", "negative", &model, Some("OB-S9")).await;
        seed(&db.pool, 300 + i, "Orbix", "2026-06-04T12:00:00Z", "negative", &model, Some("OB-S9")).await;
    }
    let run = cli(
        &db,
        &["trends", "--product", "KM-X200", "--from", "2026-06-11", "--to", "2026-06-17", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    let mentions: i64 =
        v["points"].as_array().expect("points").iter().map(|p| p["mentions"].as_i64().expect("n")).sum();
    assert_eq!(mentions, 8);
    let rising = v["rising_products"].as_array().expect("rising");
    assert_eq!(rising.len(), 1, "only the product asked about: {v}");
    assert_eq!(rising[0]["sku"], "KM-X200");

    let all = cli(&db, &["trends", "--from", "2026-06-11", "--to", "2026-06-17", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(all.stdout.trim()).expect("JSON");
    let rising: Vec<(&str, i64, i64)> = v["rising_products"]
        .as_array()
        .expect("rising")
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().expect("sku"),
                r["mentions"].as_i64().expect("n"),
                r["previous"].as_i64().expect("p"),
            )
        })
        .collect();
    assert_eq!(rising, [("KM-X200", 8, 2), ("OB-S9", 5, 5)]);
    let category = cli(
        &db,
        &[
            "trends",
            "--category",
            "smartphones",
            "--from",
            "2026-06-11",
            "--to",
            "2026-06-17",
            "--format",
            "json",
        ],
    );
    let total: i64 = points(&category).iter().map(|p| p["mentions"].as_i64().expect("n")).sum();
    assert_eq!(total, 13);
}

#[tokio::test]
async fn bad_arguments_exit_2_naming_the_argument() {
    let db = setup().await;
    let cases: [(&[&str], &str); 7] = [
        (&["trends", "--product", "NOPE-1"], "NOPE-1"),
        (&["trends", "--from", "2026-05-02", "--to", "2026-05-01"], "--from: 2026-05-02 is after"),
        (&["trends", "--bucket", "month"], "month"),
        (&["trends", "--since", "lately"], "lately"),
        (&["trends", "--brand", "Acme"], "no brand `Acme`"),
        (&["trends", "--category", "Toasters"], "Toasters"),
        (&["trends", "--aspect", "smell"], "smell"),
    ];
    for (args, expected) in cases {
        let run = cli(&db, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
}

/// Brand trends read the 15-minute rollups for whole slots and the mention
/// rows for the partial slots at the ends; a source filter forces the mention
/// rows for everything. Both must agree for any range, bucket and time zone,
/// including a zone half an hour off UTC and a range inside one slot.
#[tokio::test]
async fn brand_trends_from_rollups_equal_the_mention_rows() {
    let db = setup().await;
    let model = active_model();
    let times = [
        "2026-03-28T22:59:59Z",
        "2026-03-29T00:00:00Z",
        "2026-03-29T00:07:00Z",
        "2026-03-29T00:14:59.999Z",
        "2026-03-29T00:15:00Z",
        "2026-03-29T00:29:00Z",
        "2026-03-29T00:44:00Z",
        "2026-03-29T01:30:00Z",
        "2026-03-29T18:29:00Z",
        "2026-03-29T18:31:00Z",
        "2026-03-30T12:00:00Z",
        "2026-04-06T09:10:00Z",
    ];
    let labels = ["positive", "neutral", "negative"];
    for (i, at) in times.iter().enumerate() {
        seed(&db.pool, i, "Kestrel", at, labels[i % 3], &model, None).await;
        if i % 4 == 0 {
            seed(&db.pool, 100 + i, "Lumio", at, labels[(i + 1) % 3], &model, None).await;
        }
    }
    // Another model's labels sit in the rollup beside the active model's.
    seed(&db.pool, 200, "Kestrel", "2026-03-29T00:20:00Z", "positive", "other-model@000000000000", None)
        .await;
    let store = db.store();
    let kestrel =
        store.brands().await.expect("brands").into_iter().find(|b| b.name == "Kestrel").expect("brand").id;
    let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
    let ranges = [
        ("2026-03-28T00:00:00Z", "2026-04-08T00:00:00Z"),
        ("2026-03-29T00:05:00Z", "2026-03-29T00:20:00Z"),
        ("2026-03-29T00:05:00Z", "2026-03-29T00:10:00Z"),
        ("2026-03-29T00:14:59.999Z", "2026-03-29T18:30:00Z"),
        ("2026-03-29T00:15:00Z", "2026-03-29T00:30:00Z"),
        ("2026-03-28T22:59:59Z", "2026-03-30T12:00:00.001Z"),
    ];
    let mut compared = 0;
    for subject in [Subject::Brand(kestrel), Subject::All] {
        for (from, to) in ranges {
            for bucket in [Bucket::Hour, Bucket::Day, Bucket::Week] {
                for time_zone in ["Europe/Berlin", "Asia/Kolkata", "UTC"] {
                    let q = TrendQuery {
                        subject: subject.clone(),
                        from: at(from),
                        to: at(to),
                        bucket,
                        time_zone: time_zone.to_owned(),
                        source_kind: None,
                        model_id: model.clone(),
                    };
                    let rolled = store.trend(&q).await.expect("trend from rollups");
                    let rows = store
                        .trend(&TrendQuery { source_kind: Some("reddit".to_owned()), ..q.clone() })
                        .await
                        .expect("trend from rows");
                    assert_eq!(rolled, rows, "{subject:?} {from}..{to} {bucket:?} {time_zone}");
                    compared += rolled.iter().map(|p| p.mentions).sum::<i64>();
                }
            }
        }
    }
    assert!(compared > 100, "the ranges hold mentions ({compared})");
    // By hand: Kestrel in UTC hour 00 of the 29th is seeds 1..=6 (neutral,
    // negative, positive, neutral, negative, positive) plus the other model's
    // post at 00:20: seven mentions, six scored by this model.
    let q = TrendQuery {
        subject: Subject::Brand(kestrel),
        from: at("2026-03-29T00:00:00Z"),
        to: at("2026-03-29T01:00:00Z"),
        bucket: Bucket::Hour,
        time_zone: "UTC".to_owned(),
        source_kind: None,
        model_id: model.clone(),
    };
    let hour = store.trend(&q).await.expect("trend");
    assert_eq!(hour.len(), 1);
    assert_eq!(
        (hour[0].mentions, hour[0].positive, hour[0].neutral, hour[0].negative),
        (7, 2, 2, 2),
        "the other model's label is not read"
    );
}
