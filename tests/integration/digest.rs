//! The daily digest on seeded data with hand-computed figures: volume and
//! shares, the spike rule (spike, quiet brand, new brand), share of voice,
//! products and aspects, new names, examples, source health, time-zone day
//! boundaries, idempotent regeneration, and delivery (directory, a webhook
//! that fails twice then accepts, one that always fails).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brandpulse::nlp::{ModelManifest, Variant};
use sqlx::PgPool;

use crate::helpers::{Run, TestDb, brandpulse, example_catalog, example_config, model_dir, write_temp};

fn model() -> String {
    ModelManifest::read(&model_dir()).expect("manifest").model_id_for(Variant::Int8).expect("int8 id")
}

/// (SKU, targeted sentiment, [(aspect, sentiment)]).
type ProductSeed<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

struct Post<'a> {
    brand: &'a str,
    at: String,
    label: &'a str,
    likes: i64,
    body: String,
    product: Option<ProductSeed<'a>>,
    unlinked: Option<&'a str>,
}

fn post<'a>(brand: &'a str, at: String, label: &'a str) -> Post<'a> {
    Post { brand, at, label, likes: 0, body: format!("{brand} post"), product: None, unlinked: None }
}

async fn seed(pool: &PgPool, n: usize, p: &Post<'_>) {
    let model = model();
    let id: i64 = sqlx::query_scalar(
        "WITH p AS (INSERT INTO posts (source_id, external_id, body, lang, published_at, content_hash, engagement,
                                       author, url)
                    SELECT s.id, $1, $2, 'eng', $3::timestamptz, sha256(convert_to($1, 'UTF8')),
                           jsonb_build_object('likes', $4::bigint), 'author' || $1, 'https://example.com/' || $1
                    FROM sources s WHERE s.name = 'seeded' RETURNING id),
              m AS (INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms, matches)
                    SELECT p.id, b.id, $3::timestamptz, ARRAY[$5], '[]' FROM p, brands b WHERE b.name = $5)
         INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
         SELECT p.id, $6, 'scored', $7, 0.9, ARRAY[0.05, 0.05, 0.9]::real[], 1 FROM p
         RETURNING post_id",
    )
    .bind(format!("post-{n}"))
    .bind(&p.body)
    .bind(&p.at)
    .bind(p.likes)
    .bind(p.brand)
    .bind(&model)
    .bind(p.label)
    .fetch_one(pool)
    .await
    .expect("seed post");
    if let Some((sku, label, aspects)) = p.product {
        let pm: i64 = sqlx::query_scalar(
            "INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end, surface,
                                           link_confidence, link_rule, sentiment, sentiment_score, evidence)
             SELECT $1, id, $2, $3::timestamptz, 0, 4, sku, 0.9, 'alias', $4, 0.9, 'seeded' FROM products WHERE sku = $5
             RETURNING id",
        )
        .bind(id)
        .bind(&model)
        .bind(&p.at)
        .bind(label)
        .bind(sku)
        .fetch_one(pool)
        .await
        .expect("seed product mention");
        for (aspect, sentiment) in aspects {
            sqlx::query("INSERT INTO product_mention_aspects VALUES ($1, $2, $3)")
                .bind(pm)
                .bind(aspect)
                .bind(sentiment)
                .execute(pool)
                .await
                .expect("seed aspect");
        }
    }
    if let Some(name) = p.unlinked {
        sqlx::query(
            "WITH e AS (INSERT INTO unlinked_entities (brand_id, normalized, surface, mention_count, first_seen, last_seen)
                        SELECT id, lower($2), $2, 1, $3::timestamptz, $3::timestamptz FROM brands WHERE name = 'Kestrel'
                        ON CONFLICT ((COALESCE(brand_id, 0)), normalized)
                        DO UPDATE SET mention_count = unlinked_entities.mention_count + 1
                        RETURNING id)
             INSERT INTO unlinked_entity_sightings SELECT e.id, $1, $3::timestamptz FROM e",
        )
        .bind(id)
        .bind(name)
        .bind(&p.at)
        .execute(pool)
        .await
        .expect("seed unlinked");
    }
}

/// The seeded story (day 2026-06-15 in Europe/Berlin = 2026-06-14T22:00Z .. 2026-06-15T22:00Z).
async fn seed_story(db: &TestDb) {
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO sources (name, kind, url, schedule) VALUES ('seeded', 'reddit', 'http://127.0.0.1/', '0 * * * * *')",
    )
    .execute(pool)
    .await
    .expect("sources");
    sqlx::query(
        "INSERT INTO fetch_runs (source_id, started_at, finished_at, status, error, items_seen)
         SELECT id, '2026-06-15T06:00:00Z'::timestamptz, '2026-06-15T06:00:01Z'::timestamptz, 'failed', 'HTTP 500 from http://127.0.0.1/a', 0
         FROM sources WHERE name = 'kestrel-newsroom'
         UNION ALL
         SELECT id, '2026-06-15T06:00:00Z', '2026-06-15T06:00:01Z', 'ok', NULL, 0 FROM sources WHERE name = 'news-search-lumio'
         UNION ALL
         SELECT id, '2026-06-15T06:00:00Z', '2026-06-15T06:00:01Z', 'ok', NULL, 12 FROM sources WHERE name = 'reddit-kestrel'",
    )
    .execute(pool)
    .await
    .expect("fetch runs");

    let mut n = 0;
    let mut add = |p: Post<'static>| {
        n += 1;
        (n, p)
    };
    let mut posts = Vec::new();
    // Kestrel baseline: 10 mentions a day on 2026-06-01..14 (5 positive, 3 neutral, 2 negative).
    for day in 1..=14 {
        for i in 0..10 {
            let label = [
                "positive", "positive", "positive", "positive", "positive", "neutral", "neutral", "neutral",
                "negative", "negative",
            ][i];
            // 21:30Z on the 14th is 23:30 in Berlin: still the 14th.
            let at = if day == 14 && i == 0 {
                "2026-06-14T21:30:00Z".to_owned()
            } else {
                format!("2026-06-{day:02}T10:{i:02}:00Z")
            };
            let mut p = post("Kestrel", at, label);
            // One X200 mention a day, 4 Nova 3 mentions a day: the products' previous week.
            if day >= 8 && i == 0 {
                p.product = Some(("KM-X200", "positive", &[]));
            } else if day >= 8 && (1..=4).contains(&i) {
                p.product = Some(("KM-NOVA3", "positive", &[]));
            }
            posts.push(add(p));
        }
    }
    // Today: 40 Kestrel mentions, 10 positive, 10 neutral, 20 negative; the first at 00:30 Berlin time.
    for i in 0..40 {
        let label = if i < 10 {
            "positive"
        } else if i < 20 {
            "neutral"
        } else {
            "negative"
        };
        let at =
            if i == 0 { "2026-06-14T22:30:00Z".to_owned() } else { format!("2026-06-15T08:{:02}:00Z", i) };
        let mut p = post("Kestrel", at, label);
        match i {
            0 => {
                p.likes = 50;
                p.body = "Loving my new Kestrel phone".to_owned();
            }
            20 => {
                p.likes = 99;
                p.body = "Kestrel support ignored me for a week".to_owned();
            }
            // X200: 2 positive (camera praised), 4 negative (battery complained about, 3 times).
            10 | 11 => p.product = Some(("KM-X200", "positive", &[("camera", "positive")])),
            21..=23 => p.product = Some(("KM-X200", "negative", &[("battery", "negative")])),
            24 => p.product = Some(("KM-X200", "negative", &[])),
            // X100: 3 negative, nothing the week before.
            25..=27 => p.product = Some(("KM-X100", "negative", &[])),
            // Nova 3: 4 positive (16 the week before... 4 a day).
            1..=4 => p.product = Some(("KM-NOVA3", "positive", &[])),
            5 | 6 => p.unlinked = Some("X300"),
            _ => {}
        }
        posts.push(add(p));
    }
    // Lumio is quiet: 1 mention every other day, 10 today. Orbix is new: 30 mentions today, none before.
    for day in (2..=14).step_by(2) {
        posts.push(add(post("Lumio", format!("2026-06-{day:02}T12:00:00Z"), "positive")));
    }
    for i in 0..10 {
        posts.push(add(post("Lumio", format!("2026-06-15T12:{i:02}:00Z"), "positive")));
    }
    for i in 0..30 {
        posts.push(add(post("Orbix", format!("2026-06-15T13:{i:02}:00Z"), "negative")));
    }
    for (n, p) in &posts {
        seed(pool, *n, p).await;
    }
    // Rows written around the store: bring its brand rollups in step.
    brandpulse::store::Store::from_pool(pool.clone()).rebuild_rollups().await.expect("rollups");
}

fn cli_with(config: &str, db: &TestDb, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
    let mut full = vec!["--config", config];
    full.extend_from_slice(args);
    let dir = model_dir();
    let mut env = vec![
        ("BRANDPULSE_DATABASE_URL", db.url.as_str()),
        ("BRANDPULSE_MODEL_DIR", dir.to_str().expect("utf-8")),
    ];
    env.extend_from_slice(extra_env);
    brandpulse(&full, &env)
}

async fn setup() -> TestDb {
    let db = TestDb::new().await;
    let config = example_config();
    let catalog = example_catalog();
    let import = cli_with(
        config.to_str().expect("utf-8"),
        &db,
        &["catalog", "import", catalog.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(import.code, 0, "{}", import.stderr);
    seed_story(&db).await;
    db
}

fn json_digest(db: &TestDb, brand: &str) -> serde_json::Value {
    let config = example_config();
    let run = cli_with(
        config.to_str().expect("utf-8"),
        db,
        &["digest", "--date", "2026-06-15", "--brand", brand, "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(run.stdout.trim()).expect("digest JSON")
}

fn close(v: &serde_json::Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-6)
}

#[tokio::test]
async fn every_figure_of_a_seeded_day() {
    let db = setup().await;
    let d = json_digest(&db, "Kestrel");
    assert_eq!(d["schema_version"], 1);
    assert_eq!(d["day"], "2026-06-15");
    assert_eq!(d["time_zone"], "Europe/Berlin");

    // Volume: 40 today (the 00:30 post counts, the 23:30 one the day before does not).
    let v = &d["volume"];
    assert_eq!(
        (v["mentions"].as_u64(), v["positive"].as_u64(), v["neutral"].as_u64(), v["negative"].as_u64()),
        (Some(40), Some(10), Some(10), Some(20))
    );
    assert!(
        close(&v["positive_share"], 0.25)
            && close(&v["neutral_share"], 0.25)
            && close(&v["negative_share"], 0.5),
        "{v}"
    );
    assert!(close(&v["net_sentiment"], -0.25), "{v}");
    assert!(close(&v["trailing_7d_mean"], 10.0), "{v}");
    assert!(close(&v["change_vs_7d"], 3.0), "{v}");

    // Alerts: volume z = (40 - 10) / max(0, sqrt(10), 1) = 9.4868; negative share
    // z = (0.5 - 0.2) / max(0, sqrt(0.2 * 0.8 / 40), 0.02) = 4.7434.
    let alerts = d["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "volume_spike");
    assert!(close(&alerts[0]["z"], 30.0 / 10f64.sqrt()), "{}", alerts[0]);
    assert_eq!(alerts[1]["kind"], "negative_spike");
    assert!(close(&alerts[1]["z"], 0.3 / (0.16f64 / 40.0).sqrt()), "{}", alerts[1]);
    assert!(alerts[0]["reason"].as_str().is_some_and(|r| r.contains("40")), "{}", alerts[0]);

    // Share of voice: 40 + 10 + 30 = 80.
    let sov: Vec<(String, f64)> = d["share_of_voice"]
        .as_array()
        .expect("sov")
        .iter()
        .map(|s| (s["brand"].as_str().expect("brand").to_owned(), s["share"].as_f64().expect("share")))
        .collect();
    assert_eq!(sov, [("Kestrel".to_owned(), 0.5), ("Lumio".to_owned(), 0.125), ("Orbix".to_owned(), 0.375)]);

    // Products.
    let skus = |section: &str| -> Vec<String> {
        d["products"][section]
            .as_array()
            .expect("section")
            .iter()
            .map(|p| p["sku"].as_str().expect("sku").to_owned())
            .collect()
    };
    assert_eq!(skus("most_mentioned"), ["KM-X200", "KM-NOVA3", "KM-X100"]);
    // Growth over the mean day before: X100 3 / (1/7) = 21, X200 6 / 1 = 6, Nova 3 4 / 4 = 1.
    assert_eq!(skus("rising"), ["KM-X100", "KM-X200", "KM-NOVA3"]);
    // Negative share: X100 3/3, X200 4/6; Nova 3 has none.
    assert_eq!(skus("problems"), ["KM-X100", "KM-X200"]);
    let x200 = &d["products"]["most_mentioned"][0];
    assert_eq!(
        (x200["mentions"].as_u64(), x200["positive"].as_u64(), x200["negative"].as_u64()),
        (Some(6), Some(2), Some(4))
    );
    assert!(close(&x200["previous_mean"], 1.0) && close(&x200["net_sentiment"], -2.0 / 6.0), "{x200}");
    assert_eq!(x200["complaints"][0]["aspect"], "battery");
    assert_eq!(x200["complaints"][0]["count"], 3);
    assert_eq!(x200["praised"][0]["aspect"], "camera");
    assert_eq!(x200["praised"][0]["count"], 2);

    // New names, examples, source health, sparkline.
    assert_eq!(d["new_names"][0]["surface"], "X300");
    assert_eq!(d["new_names"][0]["mentions"], 2);
    let examples = d["examples"].as_array().expect("examples");
    assert_eq!(examples.len(), 2);
    assert_eq!(examples[0]["sentiment"], "positive");
    assert_eq!(examples[0]["engagement"], 50);
    assert_eq!(examples[1]["excerpt"], "Kestrel support ignored me for a week");
    assert_eq!(examples[1]["highlights"][0], serde_json::json!([0, 7]));
    assert!(examples[1]["url"].as_str().is_some_and(|u| u.starts_with("https://example.com/")));
    let health: Vec<(String, String)> = d["source_health"]
        .as_array()
        .expect("health")
        .iter()
        .map(|s| (s["source"].as_str().expect("s").to_owned(), s["status"].as_str().expect("st").to_owned()))
        .collect();
    assert_eq!(
        health,
        [
            ("kestrel-newsroom".to_owned(), "failed".to_owned()),
            ("news-search-lumio".to_owned(), "empty".to_owned())
        ]
    );
    let spark = d["sparkline"].as_array().expect("sparkline");
    assert_eq!(spark.len(), 14);
    assert_eq!(spark[13]["mentions"], 40);
    assert_eq!(spark[12]["mentions"], 10, "the 14th keeps its 23:30 post");
}

#[tokio::test]
async fn a_quiet_brand_and_a_new_brand_do_not_alarm() {
    let db = setup().await;
    // Lumio: 10 today against a baseline of 0-1 a day: z is large but 10 < 20 mentions.
    let lumio = json_digest(&db, "Lumio");
    assert_eq!(lumio["volume"]["mentions"], 10);
    assert_eq!(lumio["alerts"].as_array().map(Vec::len), Some(0), "{}", lumio["alerts"]);
    // Orbix: 30 today but no history at all.
    let orbix = json_digest(&db, "Orbix");
    assert_eq!(orbix["volume"]["mentions"], 30);
    assert_eq!(orbix["alerts"].as_array().map(Vec::len), Some(0), "{}", orbix["alerts"]);
}

#[tokio::test]
async fn regenerating_a_day_replaces_it_and_renders_every_format() {
    let db = setup().await;
    let config = example_config();
    let config = config.to_str().expect("utf-8");
    for format in ["md", "html", "json"] {
        let run = cli_with(config, &db, &["digest", "--date", "2026-06-15", "--format", format], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        match format {
            "md" => {
                assert!(run.stdout.contains("Kestrel") && run.stdout.contains("2026-06-15"), "{}", run.stdout)
            }
            "html" => {
                assert!(run.stdout.contains("<svg") && !run.stdout.contains("<script"), "{}", run.stdout)
            }
            _ => assert!(run.stdout.contains("\"schema_version\": 1"), "{}", run.stdout),
        }
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT b.name, count(*) FROM digests d JOIN brands b ON b.id = d.brand_id GROUP BY b.name ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("digests");
    // Own brands only (Orbix is a competitor), one row each however often it is made.
    assert_eq!(rows, [("Kestrel".to_owned(), 1), ("Lumio".to_owned(), 1)]);
}

#[tokio::test]
async fn deliveries_retry_and_record_every_outcome() {
    use axum::http::StatusCode;
    let db = setup().await;
    // A receiver that fails twice then accepts, and one that always fails.
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky_calls = Arc::clone(&calls);
    let app = axum::Router::new()
        .route(
            "/flaky",
            axum::routing::post(move || {
                let calls = Arc::clone(&flaky_calls);
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        .route("/down", axum::routing::post(|| async { StatusCode::INTERNAL_SERVER_ERROR }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    let out_dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(example_config()).expect("example config").replace(
        "path = \"/var/lib/brandpulse/digests\"",
        &format!(
            "path = \"{}\"\n\n[[digest.deliver]]\nkind = \"webhook\"\nurl_env = \"BP_HOOK_OK\"\n\n\
             [[digest.deliver]]\nkind = \"webhook\"\nurl_env = \"BP_HOOK_DOWN\"",
            out_dir.path().display()
        ),
    );
    let (_d, path) = write_temp("brandpulse.toml", text.as_bytes());
    let path = path.to_string_lossy().into_owned();
    let (ok, down) =
        (format!("http://{addr}/flaky?token=secret1"), format!("http://{addr}/down?token=secret2"));
    let url = db.url.clone();
    let dir = model_dir().to_string_lossy().into_owned();
    let run = tokio::task::spawn_blocking(move || {
        brandpulse(
            &["--config", &path, "digest", "--date", "2026-06-15", "--brand", "Kestrel", "--deliver"],
            &[
                ("BRANDPULSE_DATABASE_URL", &url),
                ("BRANDPULSE_MODEL_DIR", &dir),
                ("BP_HOOK_OK", &ok),
                ("BP_HOOK_DOWN", &down),
            ],
        )
    })
    .await
    .expect("join");
    assert_eq!(run.code, 1, "a failed delivery makes the run fail: {}", run.stderr);
    assert!(!run.stderr.contains("secret2"), "the webhook URL is a secret: {}", run.stderr);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    for ext in ["md", "html", "json"] {
        assert!(out_dir.path().join(format!("kestrel-2026-06-15.{ext}")).is_file(), "{ext} written");
    }
    let rows: Vec<(String, String, i32, Option<String>)> =
        sqlx::query_as("SELECT target, status, attempts, error FROM digest_deliveries ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("deliveries");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].0.starts_with("directory:") && rows[0].1 == "delivered", "{rows:?}");
    assert_eq!((rows[1].1.as_str(), rows[1].2), ("delivered", 3), "{rows:?}");
    assert_eq!((rows[2].1.as_str(), rows[2].2), ("failed", 3), "{rows:?}");
    assert!(rows[2].3.as_deref().is_some_and(|e| e.contains("500") && !e.contains("secret2")), "{rows:?}");
}

/// Renders the seeded day's HTML digest in headless Chromium (Debian's `chromium`,
/// which `.ci/run` installs) and keeps the screenshot under `target/test-artifacts/`.
#[tokio::test]
async fn the_html_digest_renders_in_headless_chromium() {
    let db = setup().await;
    let config = example_config();
    let run = cli_with(
        config.to_str().expect("utf-8"),
        &db,
        &["digest", "--date", "2026-06-15", "--brand", "Kestrel", "--format", "html"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let artifacts = crate::helpers::repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let html = artifacts.join("digest-kestrel-2026-06-15.html");
    let png = artifacts.join("digest-kestrel-2026-06-15.png");
    std::fs::write(&html, &run.stdout).expect("write html");
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().expect("profile dir");
    let output = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=760,2400"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium (apt-get install chromium; .ci/run installs it)");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(bytes.len() > 20_000, "a rendered page, not a blank one ({} bytes)", bytes.len());
    println!("digest screenshot: {}", png.display());
}

/// A minimal SMTP server: the first connection is refused with 421 (busy),
/// later ones accept one message, whose DATA is kept.
async fn fake_smtp() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>, Arc<AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (kept, count) = (Arc::clone(&received), Arc::clone(&connections));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                if n == 0 {
                    let _ = write.write_all(b"421 busy, try later\r\n").await;
                    return;
                }
                let _ = write.write_all(b"220 localhost ESMTP test\r\n").await;
                let mut lines = BufReader::new(read).lines();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            kept.lock().expect("lock").push(data.take().unwrap_or_default());
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let reply: &[u8] = match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                        Some("EHLO") | Some("HELO") => b"250-localhost\r\n250 8BITMIME\r\n",
                        Some("DATA") => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        Some("QUIT") => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (addr, received, connections)
}

#[tokio::test]
async fn email_delivery_retries_a_busy_server_and_sends_both_parts() {
    let db = setup().await;
    let (addr, received, connections) = fake_smtp().await;
    let text = std::fs::read_to_string(example_config()).expect("example config").replace(
        "[[digest.deliver]]\nkind = \"directory\"\npath = \"/var/lib/brandpulse/digests\"",
        &format!(
            "[[digest.deliver]]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"brandpulse@kestrel.example\"\nto = [\"marketing@kestrel.example\"]",
            addr.port()
        ),
    );
    assert!(text.contains("kind = \"smtp\""), "the example config's delivery table moved");
    let (_d, path) = write_temp("brandpulse.toml", text.as_bytes());
    let path = path.to_string_lossy().into_owned();
    let url = db.url.clone();
    let dir = model_dir().to_string_lossy().into_owned();
    let run = tokio::task::spawn_blocking(move || {
        brandpulse(
            &["--config", &path, "digest", "--date", "2026-06-15", "--brand", "Kestrel", "--deliver"],
            &[("BRANDPULSE_DATABASE_URL", &url), ("BRANDPULSE_MODEL_DIR", &dir)],
        )
    })
    .await
    .expect("join");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(connections.load(Ordering::SeqCst), 2, "one refused, one accepted");
    let mails = received.lock().expect("lock").clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("Subject: Kestrel: daily digest for 2026-06-15"), "{mail}");
    assert!(mail.contains("text/plain") && mail.contains("text/html"), "{mail}");
    let rows: Vec<(String, String, i32)> =
        sqlx::query_as("SELECT target, status, attempts FROM digest_deliveries")
            .fetch_all(&db.pool)
            .await
            .expect("rows");
    assert_eq!(rows, [(format!("smtp:127.0.0.1:{}", addr.port()), "delivered".to_owned(), 2)]);
}
