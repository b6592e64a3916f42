//! The HTTP API on 127.0.0.1 over seeded data: tokens, bad parameters,
//! pagination under inserts, trends equal to the CLI's, and every route's real
//! response checked against the OpenAPI description the server publishes.

use std::sync::Arc;

use brandpulse::api::{AppState, RuntimeStatus};
use brandpulse::config::{Config, Env};
use brandpulse::nlp::{ModelManifest, Variant};
use brandpulse::store::Store;
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestDb, brandpulse, example_catalog, example_config, model_dir};

const TOKEN: &str = "test-token-0123456789abcdef";

struct Server {
    base: String,
    db: TestDb,
    model: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Server {
        let db = TestDb::new().await;
        let env = Env::from_pairs([("BRANDPULSE_DATABASE_URL", db.url.as_str())]);
        let config = Config::load(&example_config(), &env).expect("example config");
        let store = Store::from_pool(db.pool.clone());
        store.migrate().await.expect("migrate");
        store.sync_config(&config).await.expect("sync");
        let catalog = example_catalog();
        let import = brandpulse(
            &[
                "--config",
                example_config().to_str().expect("utf-8"),
                "catalog",
                "import",
                catalog.to_str().expect("utf-8"),
            ],
            &[("BRANDPULSE_DATABASE_URL", db.url.as_str())],
        );
        assert_eq!(import.code, 0, "{}", import.stderr);
        let model = ModelManifest::read(&model_dir())
            .expect("manifest")
            .model_id_for(Variant::Int8)
            .expect("int8 id");
        let status = Arc::new(RuntimeStatus::default());
        status.set_model_loaded(true);
        let state = AppState {
            store,
            config: AppState::fixed_config(Arc::new(config)),
            token: SecretString::from(TOKEN),
            model_id: model.clone(),
            status,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(brandpulse::api::serve(listener, state, async {
            stopped.await.ok();
        }));
        Server { base, db, model, client: reqwest::Client::new(), _stop: stop }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// A post mentioning `brand` at `at`, labelled `label`, naming `sku` with `aspect` when given.
async fn seed(pool: &PgPool, n: usize, brand: &str, at: &str, label: &str, model: &str, sku: Option<&str>) {
    sqlx::query(
        "WITH s AS (INSERT INTO sources (name, kind, url, schedule)
                    VALUES ('seed-reddit', 'reddit', 'http://127.0.0.1/', '0 * * * * *')
                    ON CONFLICT ((lower(name))) DO UPDATE SET kind = EXCLUDED.kind RETURNING id),
              p AS (INSERT INTO posts (source_id, external_id, body, lang, published_at, content_hash, url, author,
                                       engagement)
                    SELECT id, $1, 'seeded post ' || $1 || ' about the battery', 'eng', $3::timestamptz,
                           sha256(convert_to($1, 'UTF8')), 'https://example.com/' || $1, 'author-' || $1,
                           '{\"likes\": 3}'
                    FROM s RETURNING id),
              m AS (INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms, matches)
                    SELECT p.id, b.id, $3::timestamptz, ARRAY[$2], '[]' FROM p, brands b WHERE b.name = $2),
              st AS (INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
                     SELECT p.id, $5, 'scored', $4, 0.9, ARRAY[0.05, 0.05, 0.9]::real[], 1 FROM p),
              pm AS (INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end,
                                                   surface, link_confidence, link_rule, sentiment, sentiment_score,
                                                   evidence)
                     SELECT p.id, pr.id, $5, $3::timestamptz, 0, 4, 'X200', 0.9, 'alias', $4, 0.9, 'The X200 battery.'
                     FROM p, products pr WHERE pr.sku = $6 RETURNING id)
         INSERT INTO product_mention_aspects (product_mention_id, aspect, sentiment)
         SELECT id, 'battery', $4 FROM pm",
    )
    .bind(format!("post-{n}"))
    .bind(brand)
    .bind(at)
    .bind(label)
    .bind(model)
    .bind(sku)
    .execute(pool)
    .await
    .expect("seed");
}

async fn seeded() -> Server {
    let s = Server::start().await;
    let now = chrono::Utc::now();
    let labels = ["positive", "neutral", "negative"];
    for i in 0..25 {
        let at = (now - chrono::Duration::hours(i as i64 * 5 + 1)).to_rfc3339();
        let brand = if i % 5 == 4 { "Lumio" } else { "Kestrel" };
        let sku = (brand == "Kestrel" && i % 2 == 0).then_some("KM-X200");
        seed(&s.db.pool, i, brand, &at, labels[i % 3], &s.model, sku).await;
    }
    Store::from_pool(s.db.pool.clone()).rebuild_rollups().await.expect("rollups");
    s
}

const PROTECTED: [&str; 7] = [
    "/api/openapi.json",
    "/api/trends",
    "/api/mentions",
    "/api/products/KM-X200",
    "/api/products/gaps",
    "/api/digests/2026-06-15?brand=Kestrel",
    "/api/sources",
];

#[tokio::test]
async fn without_the_right_token_only_health_answers() {
    let s = Server::start().await;
    for path in PROTECTED {
        let url = format!("{}{path}", s.base);
        for token in [None, Some("wrong-token-0123456789abcdef"), Some("test-token-0123456789abcde")] {
            let mut req = s.client.get(&url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.expect("request");
            assert_eq!(r.status().as_u16(), 401, "{path} with {token:?}");
            let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
            assert_eq!(body, serde_json::json!({"error": "unauthorized"}), "nothing else leaks on {path}");
        }
        // The token in a cookie or a query string is not a bearer token.
        let r = s
            .client
            .get(format!("{url}{}token={TOKEN}", if path.contains('?') { '&' } else { '?' }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let r = s.client.get(format!("{}/api/health", s.base)).send().await.expect("health");
    assert_eq!(r.status().as_u16(), 200);
    let health: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["database"], true);
    assert_eq!(health["scheduler"], "not running in this process");
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let s = seeded().await;
    let cases = [
        ("/api/trends?product=NOPE-1", "product"),
        ("/api/trends?from=2026-05-02&to=2026-05-01", "from"),
        ("/api/trends?bucket=month", "bucket"),
        ("/api/trends?since=lately", "since"),
        ("/api/trends?brand=Acme", "brand"),
        ("/api/trends?category=Toasters", "category"),
        ("/api/trends?aspect=smell", "aspect"),
        ("/api/trends?source=fax", "source"),
        ("/api/trends?from=2026-05-02", "to"),
        ("/api/trends?since=30d&from=2026-05-01&to=2026-05-02", "from"),
        ("/api/trends?colour=red", "colour"),
        ("/api/trends?brand=Kestrel&brand=Lumio", "brand"),
        ("/api/mentions?limit=0", "limit"),
        ("/api/mentions?limit=500", "limit"),
        ("/api/mentions?cursor=garbage", "cursor"),
        ("/api/mentions?sentiment=angry", "sentiment"),
        ("/api/mentions?language=english", "language"),
        ("/api/mentions?from=yesterday", "from"),
        ("/api/mentions?from=2026-05-02&to=2026-05-01", "from"),
        ("/api/mentions?product=NOPE-1", "product"),
        ("/api/mentions?aspect=smell", "aspect"),
        ("/api/products/KM-X200?since=forever", "since"),
        ("/api/products/KM-X200?recent=-1", "recent"),
        ("/api/products/gaps?limit=x", "limit"),
        ("/api/products/gaps?brand=Acme", "brand"),
        ("/api/digests/15-06-2026?brand=Kestrel", "date"),
        ("/api/digests/2026-06-15?brand=Kestrel&format=pdf", "format"),
        ("/api/digests/2026-06-15", "brand"),
        ("/api/sources?verbose=1", "verbose"),
    ];
    for (path, parameter) in cases {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.starts_with(parameter)), "{path}: {body}");
    }
    let (status, body) = s.get("/api/products/NOPE-1").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = s.get("/api/digests/2026-06-15?brand=Kestrel").await;
    assert_eq!(status, 404, "no digest stored for that day");
}

#[tokio::test]
async fn mention_pages_stay_stable_while_posts_arrive() {
    let s = seeded().await;
    let (status, first) = s.get("/api/mentions?limit=10").await;
    assert_eq!(status, 200, "{first}");
    let mut seen: Vec<i64> = ids(&first);
    assert_eq!(seen.len(), 10);
    // New posts arrive: newer than everything, and one published long ago.
    let now = chrono::Utc::now();
    for i in 0..5 {
        let at = (now + chrono::Duration::minutes(i)).to_rfc3339();
        seed(&s.db.pool, 100 + i as usize, "Kestrel", &at, "positive", &s.model, None).await;
    }
    seed(
        &s.db.pool,
        200,
        "Kestrel",
        &(now - chrono::Duration::days(300)).to_rfc3339(),
        "negative",
        &s.model,
        None,
    )
    .await;
    let mut cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    loop {
        let (status, page) = s.get(&format!("/api/mentions?limit=10&cursor={cursor}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no mention twice: {seen:?}");
    // The 25 seeded ones all appear, the newer arrivals do not (they are before page one),
    // the old arrival appears once among the later pages.
    assert_eq!(seen.len(), 26, "{seen:?}");

    // Filters.
    let (_, lumio) = s.get("/api/mentions?brand=lumio&limit=200").await;
    assert_eq!(ids(&lumio).len(), 5);
    assert!(lumio["mentions"].as_array().expect("array").iter().all(|m| m["brand"] == "Lumio"));
    let (_, product) = s.get("/api/mentions?product=KM-X200&sentiment=negative&limit=200").await;
    let rows = product["mentions"].as_array().expect("array");
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|m| m["sentiment"] == "negative" && m["products"][0]["sku"] == "KM-X200"),
        "{product}"
    );
    let (_, aspect) = s.get("/api/mentions?aspect=battery&limit=200").await;
    assert_eq!(
        ids(&aspect).len(),
        10,
        "the five Kestrel posts in every other seed name KM-X200 with battery"
    );
    let (_, text) = s.get("/api/mentions?q=post-3&limit=200").await;
    assert_eq!(ids(&text).len(), 1, "{text}");
    let (_, none) = s.get("/api/mentions?source=bluesky").await;
    assert_eq!(ids(&none).len(), 0);
}

fn ids(page: &Value) -> Vec<i64> {
    page["mentions"].as_array().expect("mentions").iter().map(|m| m["id"].as_i64().expect("id")).collect()
}

#[tokio::test]
async fn trends_over_http_equal_the_command_line() {
    let s = seeded().await;
    let day = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).format("%Y-%m-%d").to_string();
    let (from, to) = (day(-7), day(0));
    for (query, args) in [
        (
            format!("brand=Kestrel&from={from}&to={to}"),
            vec!["--brand", "Kestrel", "--from", &from, "--to", &to],
        ),
        (
            format!("product=KM-X200&from={from}&to={to}&bucket=hour"),
            vec!["--product", "KM-X200", "--from", &from, "--to", &to, "--bucket", "hour"],
        ),
        (
            format!("aspect=battery&from={from}&to={to}&bucket=week"),
            vec!["--aspect", "battery", "--from", &from, "--to", &to, "--bucket", "week"],
        ),
        (
            format!("from={from}&to={to}&source=reddit"),
            vec!["--from", &from, "--to", &to, "--source", "reddit"],
        ),
    ] {
        let (status, api) = s.get(&format!("/api/trends?{query}")).await;
        assert_eq!(status, 200, "{api}");
        let config = example_config();
        let mut full = vec!["--config", config.to_str().expect("utf-8"), "trends", "--format", "json"];
        full.extend(args.iter().copied());
        let dir = model_dir();
        let run = tokio::task::spawn_blocking({
            let full: Vec<String> = full.iter().map(|s| s.to_string()).collect();
            let url = s.db.url.clone();
            move || {
                let args: Vec<&str> = full.iter().map(String::as_str).collect();
                brandpulse(
                    &args,
                    &[
                        ("BRANDPULSE_DATABASE_URL", url.as_str()),
                        ("BRANDPULSE_MODEL_DIR", dir.to_str().expect("utf-8")),
                    ],
                )
            }
        })
        .await
        .expect("join");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let cli: Value = serde_json::from_str(run.stdout.trim()).expect("CLI JSON");
        assert_eq!(api, cli, "{query}");
        let total: i64 = api["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p["mentions"].as_i64().unwrap_or(0))
            .sum();
        assert!(total > 0, "{query}: the period holds seeded mentions");
    }
}

/// Every route's real 200 response validates against the schema the
/// published OpenAPI description gives for it.
#[tokio::test]
async fn responses_match_the_published_openapi_description() {
    let s = seeded().await;
    // A stored digest for the digest route.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let config = example_config();
    let dir = model_dir();
    let run = brandpulse(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "digest",
            "--date",
            &today,
            "--brand",
            "Kestrel",
            "--format",
            "json",
        ],
        &[
            ("BRANDPULSE_DATABASE_URL", s.db.url.as_str()),
            ("BRANDPULSE_MODEL_DIR", dir.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    let (status, doc) = s.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let routes = [
        ("/api/trends", "/api/trends?brand=Kestrel&since=7d".to_owned()),
        ("/api/mentions", "/api/mentions?limit=5".to_owned()),
        ("/api/products/{sku}", "/api/products/KM-X200?since=30d".to_owned()),
        ("/api/products/gaps", "/api/products/gaps".to_owned()),
        ("/api/digests/{date}", format!("/api/digests/{today}?brand=Kestrel")),
        ("/api/sources", "/api/sources".to_owned()),
        ("/api/health", "/api/health".to_owned()),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), routes.len(), "every route is described: {:?}", paths.keys().collect::<Vec<_>>());
    for (template, path) in routes {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let schema =
            &doc["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{template} has a 200 schema");
        // Resolve `#/components/...` references against the document itself.
        let mut root = serde_json::json!({ "components": doc["components"].clone() });
        if let (Some(root), Some(schema)) = (root.as_object_mut(), schema.as_object()) {
            for (k, v) in schema {
                root.insert(k.clone(), v.clone());
            }
        }
        let validator =
            jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{template}: schema: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{path} does not match its schema: {errors:#?}\n{body}");
    }
    // A wrong response must fail the same check (the schemas are not empty).
    let schema =
        &doc["paths"]["/api/mentions"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let mut root = serde_json::json!({ "components": doc["components"].clone() });
    root.as_object_mut().expect("object").extend(schema.as_object().expect("object").clone());
    let validator = jsonschema::validator_for(&root).expect("schema");
    assert!(!validator.is_valid(&serde_json::json!({"mentions": [{"id": "seven"}]})));

    // The digest in its other formats.
    let r = s
        .client
        .get(format!("{}/api/digests/{today}?brand=Kestrel", s.base))
        .bearer_auth(TOKEN)
        .header("accept", "text/html")
        .send()
        .await
        .expect("html");
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.text().await.expect("body").contains("Kestrel"));
    let (status, md) = s.get(&format!("/api/digests/{today}?brand=Kestrel&format=md")).await;
    assert_eq!(status, 200);
    assert!(md.as_str().is_some_and(|t| t.starts_with('#')), "{md}");
}
