//! The dashboard over HTTP on seeded data with hand-computed numbers: the
//! login (redirects, wrong and right token, the cookie), every chart and
//! table of the overview and a product page, the CSV downloads, 400 pages
//! naming the parameter, HTML escaping of untrusted posts, security headers.
//!
//! The seeded story (days counted back from today in Europe/Berlin, the
//! example config's digest time zone; the range is d13..d0, 14 days):
//!
//! - Kestrel, d20..d3: 2 mentions a day (1 positive, 1 neutral); d4 has one
//!   more, not scored. d2 is a spike: 27 mentions (5 positive, 5 neutral,
//!   17 negative). In the range: 50 mentions, 16 / 16 / 17 scored, 1 not.
//!   The spike's baseline is d16..d3: 13 days of 2 and one of 3, mean
//!   29/14 = 2.07, sd = max(s = 0.27, √2.07 = 1.44, 1) = 1.44, z = 17.3.
//! - Lumio: 5 positive on d10 and on d6 (10); Orbix: 10 neutral on d8 and
//!   10 negative on d7 (20). Share of voice 50 / 10 / 20 of 80: 62.5 %,
//!   12.5 %, 25 %.
//! - Products: KM-X200 6 on d2 (1 positive with camera+, 1 neutral,
//!   3 negative with battery−, 1 negative with screen−) and 2 before the
//!   range (d16, d15); KM-NOVA3 4 (3 positive, 2 with camera+; 1 negative
//!   with price−); KM-TAB11 2 negative. Problem products: X200 4/6 = 66.7 %,
//!   NOVA3 1/4 = 25 % (TAB11 has fewer than 3 scored).
//! - Unlinked names: "X300 Ultra" on d5, d3, d2; "Nova 4" on d9.
//! - Sources: the config's eight plus two seeded ones; kestrel-newsroom
//!   failed (3 in a row), reddit-kestrel fetched 12 items, 3 new.
//! - d11 carries a post with `<script>` and `<img onerror>` in it.

use std::sync::Arc;

use brandpulse::api::{AppState, RuntimeStatus};
use brandpulse::config::{Config, Env};
use brandpulse::store::Store;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use secrecy::SecretString;
use sqlx::PgPool;

use crate::helpers::{TestDb, brandpulse, example_catalog, example_config};

/// The API token the seeded server runs with.
pub const TOKEN: &str = "dashboard-token-0123456789abcdef";
const MODEL: &str = "dashboard-test-model";
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

/// The example config's digest time zone.
fn tz() -> chrono_tz::Tz {
    chrono_tz::Europe::Berlin
}

/// `k` days before today in the digest time zone.
pub fn day(k: i64) -> NaiveDate {
    Utc::now().with_timezone(&tz()).date_naive() - Duration::days(k)
}

/// `hour`:`minute` local time on [`day`]`(k)`, as RFC 3339.
fn at(k: i64, hour: u32, minute: u32) -> String {
    let local = day(k).and_hms_opt(hour, minute, 0).expect("a time");
    tz().from_local_datetime(&local).earliest().expect("exists").with_timezone(&Utc).to_rfc3339()
}

/// `?brand=Kestrel&from=d13&to=d0` plus `extra`.
pub fn range_query(extra: &str) -> String {
    format!("?brand=Kestrel&from={}&to={}{extra}", day(13), day(0))
}

/// A seeded server on 127.0.0.1.
pub struct Dash {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database, dropped with the server.
    _db: TestDb,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// (SKU, targeted sentiment, [(aspect, sentiment)]).
type ProductSeed = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// One post to seed.
struct Post {
    brand: &'static str,
    at: String,
    source: &'static str,
    label: Option<&'static str>,
    title: Option<&'static str>,
    body: String,
    product: Option<ProductSeed>,
    unlinked: Option<&'static str>,
}

fn post(brand: &'static str, at: String, source: &'static str, label: Option<&'static str>) -> Post {
    Post {
        brand,
        at,
        source,
        label,
        title: None,
        body: format!("{brand} post"),
        product: None,
        unlinked: None,
    }
}

async fn insert(pool: &PgPool, n: usize, p: &Post) {
    let body = format!("{} (seed {n})", p.body);
    let id: i64 = sqlx::query_scalar(
        "WITH p AS (INSERT INTO posts (source_id, external_id, title, body, lang, published_at, content_hash, url,
                                       author, engagement)
                    SELECT s.id, $1, $2, $3, 'eng', $4::timestamptz, sha256(convert_to($1, 'UTF8')),
                           'https://example.com/' || $1, 'author-' || $1, '{\"likes\": 2}'
                    FROM sources s WHERE s.name = $5 RETURNING id),
              m AS (INSERT INTO mentions (post_id, brand_id, mentioned_at, matched_terms, matches)
                    SELECT p.id, b.id, $4::timestamptz, ARRAY[$6], '[]' FROM p, brands b WHERE b.name = $6)
         SELECT id FROM p",
    )
    .bind(format!("post-{n}"))
    .bind(p.title)
    .bind(&body)
    .bind(&p.at)
    .bind(p.source)
    .bind(p.brand)
    .fetch_one(pool)
    .await
    .expect("seed post");
    if let Some(label) = p.label {
        sqlx::query(
            "INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks)
             VALUES ($1, $2, 'scored', $3, 0.9, ARRAY[0.05, 0.05, 0.9]::real[], 1)",
        )
        .bind(id)
        .bind(MODEL)
        .bind(label)
        .execute(pool)
        .await
        .expect("seed sentiment");
    }
    if let Some((sku, label, aspects)) = p.product {
        let pm: i64 = sqlx::query_scalar(
            "INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end, surface,
                                           link_confidence, link_rule, sentiment, sentiment_score, evidence)
             SELECT $1, id, $2, $3::timestamptz, 0, 4, name, 0.9, 'alias', $4, 0.9, 'Evidence about ' || name
             FROM products WHERE sku = $5
             RETURNING id",
        )
        .bind(id)
        .bind(MODEL)
        .bind(&p.at)
        .bind(label)
        .bind(sku)
        .fetch_one(pool)
        .await
        .expect("seed product mention");
        for (aspect, sentiment) in aspects {
            sqlx::query("INSERT INTO product_mention_aspects (product_mention_id, aspect, sentiment) VALUES ($1, $2, $3)")
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
                        DO UPDATE SET mention_count = unlinked_entities.mention_count + 1,
                                      first_seen = LEAST(unlinked_entities.first_seen, EXCLUDED.first_seen),
                                      last_seen = GREATEST(unlinked_entities.last_seen, EXCLUDED.last_seen)
                        RETURNING id)
             INSERT INTO unlinked_entity_sightings SELECT e.id, $1, $3::timestamptz FROM e",
        )
        .bind(id)
        .bind(name)
        .bind(&p.at)
        .execute(pool)
        .await
        .expect("seed unlinked name");
    }
}

/// The story in the module docs.
fn story() -> Vec<Post> {
    let mut posts = Vec::new();
    // Kestrel: 2 a day on d20..d3 (positive at 10:00, neutral at 15:00).
    for k in 3..=20 {
        let mut pos = post("Kestrel", at(k, 10, 0), "seeded-feed", Some("positive"));
        let mut neu = post("Kestrel", at(k, 15, 0), "seeded-feed", Some("neutral"));
        match k {
            16 => pos.product = Some(("KM-X200", "positive", &[])),
            15 => neu.product = Some(("KM-X200", "neutral", &[])),
            11 => {
                neu.title = Some("<img src=x onerror=alert(1)>");
                neu.body = r#"<script>alert("pwned")</script> Kestrel & "friends""#.to_owned();
            }
            10 => pos.product = Some(("KM-NOVA3", "positive", &[("camera", "positive")])),
            9 => {
                pos.product = Some(("KM-NOVA3", "positive", &[("camera", "positive")]));
                pos.unlinked = Some("Nova 4");
            }
            8 => pos.product = Some(("KM-NOVA3", "positive", &[])),
            7 => neu.product = Some(("KM-NOVA3", "negative", &[("price", "negative")])),
            6 => neu.product = Some(("KM-TAB11", "negative", &[])),
            5 => {
                neu.product = Some(("KM-TAB11", "negative", &[]));
                neu.unlinked = Some("X300 Ultra");
            }
            3 => pos.unlinked = Some("X300 Ultra"),
            _ => {}
        }
        posts.push(pos);
        posts.push(neu);
    }
    posts.push(post("Kestrel", at(4, 18, 0), "seeded-feed", None));
    // The spike on d2, from Reddit.
    for i in 0..27u32 {
        let label = match i {
            0..5 => "positive",
            5..10 => "neutral",
            _ => "negative",
        };
        let mut p = post("Kestrel", at(2, 8 + i / 3, (i % 3) * 20), "seeded-reddit", Some(label));
        p.product = match i {
            0 => Some(("KM-X200", "positive", &[("camera", "positive")])),
            5 => Some(("KM-X200", "neutral", &[])),
            10..13 => Some(("KM-X200", "negative", &[("battery", "negative")])),
            13 => Some(("KM-X200", "negative", &[("screen", "negative")])),
            _ => None,
        };
        if i == 14 {
            p.unlinked = Some("X300 Ultra");
        }
        posts.push(p);
    }
    for k in [10, 6] {
        for i in 0..5 {
            posts.push(post("Lumio", at(k, 9 + i, 0), "seeded-feed", Some("positive")));
        }
    }
    for (k, label) in [(8, "neutral"), (7, "negative")] {
        for i in 0..10 {
            posts.push(post("Orbix", at(k, 8 + i, 30), "seeded-reddit", Some(label)));
        }
    }
    posts
}

impl Dash {
    /// Starts the server on a fresh database with the seeded story.
    pub async fn start() -> Dash {
        let db = TestDb::new().await;
        let env = Env::from_pairs([("BRANDPULSE_DATABASE_URL", db.url.as_str())]);
        let config = Config::load(&example_config(), &env).expect("example config");
        assert_eq!(config.digest.time_zone, tz(), "the story is told in the example config's time zone");
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
        seed(&db.pool).await;
        let status = Arc::new(RuntimeStatus::default());
        status.set_model_loaded(true);
        let state = AppState {
            store,
            config: AppState::fixed_config(Arc::new(config)),
            token: SecretString::from(TOKEN),
            model_id: MODEL.to_owned(),
            status,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(brandpulse::api::serve(listener, state, async {
            stopped.await.ok();
        }));
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Dash { base, _db: db, client, _stop: stop }
    }

    /// The session cookie a login sets.
    fn cookie() -> String {
        format!("brandpulse_session={}", brandpulse::api::auth::session_value(&SecretString::from(TOKEN)))
    }

    /// GET with the session cookie: status, headers, body.
    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", Self::cookie())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.expect("body"))
    }

    /// GET a page that must answer 200; parsed.
    async fn page(&self, path: &str) -> scraper::Html {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        scraper::Html::parse_document(&body)
    }

    /// GET a CSV download: its rows (header first) and its file name.
    async fn csv(&self, path: &str) -> (Vec<Vec<String>>, String) {
        let (status, headers, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8", "{path}");
        let disposition = headers["content-disposition"].to_str().expect("ascii").to_owned();
        assert!(disposition.starts_with("attachment; filename=\""), "{path}: {disposition}");
        let rows = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body.as_bytes())
            .records()
            .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
            .collect();
        (rows, disposition)
    }
}

async fn seed(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO sources (name, kind, url, schedule) VALUES
             ('seeded-feed', 'feed', 'http://127.0.0.1/feed', '0 * * * * *'),
             ('seeded-reddit', 'reddit', 'http://127.0.0.1/r', '0 * * * * *')",
    )
    .execute(pool)
    .await
    .expect("sources");
    sqlx::query(
        "INSERT INTO fetch_runs (source_id, started_at, finished_at, status, error, items_seen, new_posts)
         SELECT id, now() - interval '1 hour', now() - interval '59 minutes', 'failed',
                'HTTP 503 from https://kestrel.example/news', 0, 0
         FROM sources WHERE name = 'kestrel-newsroom'
         UNION ALL
         SELECT id, now() - interval '2 hours', now() - interval '119 minutes', 'ok', NULL, 12, 3
         FROM sources WHERE name = 'reddit-kestrel'",
    )
    .execute(pool)
    .await
    .expect("fetch runs");
    sqlx::query(
        "UPDATE sources SET consecutive_failures = 3, last_error = 'HTTP 503 from https://kestrel.example/news'
         WHERE name = 'kestrel-newsroom'",
    )
    .execute(pool)
    .await
    .expect("source state");
    for (n, p) in story().iter().enumerate() {
        insert(pool, n, p).await;
    }
    // Raw SQL bypassed the store, which keeps the brand rollups in step.
    Store::from_pool(pool.clone()).rebuild_rollups().await.expect("rollups");
}

/// The text of the first element matching `css`, whitespace folded.
pub fn text(doc: &scraper::Html, css: &str) -> String {
    let selector = scraper::Selector::parse(css).expect("selector");
    let element = doc.select(&selector).next().unwrap_or_else(|| panic!("no element {css}"));
    fold(&element.text().collect::<String>())
}

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An attribute of the first element matching `css`.
pub fn attr(doc: &scraper::Html, css: &str, name: &str) -> String {
    let selector = scraper::Selector::parse(css).expect("selector");
    let element = doc.select(&selector).next().unwrap_or_else(|| panic!("no element {css}"));
    element.value().attr(name).unwrap_or_else(|| panic!("{css} has no {name}")).to_owned()
}

/// The cells' texts of every row matching `css`.
pub fn rows(doc: &scraper::Html, css: &str) -> Vec<Vec<String>> {
    let row = scraper::Selector::parse(css).expect("selector");
    let cell = scraper::Selector::parse("td, th").expect("selector");
    doc.select(&row).map(|r| r.select(&cell).map(|c| fold(&c.text().collect::<String>())).collect()).collect()
}

/// The hand-computed overview, checked on a parsed page (also used on the browser's DOM).
pub fn check_overview(doc: &scraper::Html) {
    assert_eq!(text(doc, "#kpi-mentions .v"), "50");
    assert_eq!(text(doc, "#kpi-positive .v"), "32.7%", "16 of 49 scored");
    assert_eq!(text(doc, "#kpi-positive .l"), "Positive (16)");
    assert_eq!(text(doc, "#kpi-neutral .v"), "32.7%");
    assert_eq!(text(doc, "#kpi-negative .v"), "34.7%", "17 of 49");
    assert_eq!(text(doc, "#kpi-net .v"), "-0.02", "(16 - 17) / 49");
    assert_eq!(text(doc, "#kpi-share .v"), "62.5%", "50 of 80");
    assert_eq!(text(doc, "#kpi-alerts .v"), "1");

    // Volume: one row per day, the spike marked with the digest's reason.
    let days = rows(doc, "#volume-table tbody tr");
    assert_eq!(days.len(), 14);
    let d = |k: i64| format!("tr[data-day=\"{}\"]", day(k));
    assert_eq!(
        rows(doc, &format!("#volume-table {}", d(2)))[0],
        [
            format!("{} ▼", day(2)),
            "27".into(),
            "5".into(),
            "5".into(),
            "17".into(),
            "0".into(),
            "-0.44".into()
        ]
    );
    assert_eq!(
        text(doc, &format!("#volume-table {}.alert-day td .mark", d(2))),
        "▼",
        "the spike day is marked"
    );
    assert_eq!(
        rows(doc, &format!("#volume-table {}", d(4)))[0][..7],
        [day(4).to_string(), "3".into(), "1".into(), "1".into(), "0".into(), "1".into(), "+0.50".into()]
    );
    assert_eq!(rows(doc, &format!("#volume-table {}", d(1)))[0][1..7], ["0", "0", "0", "0", "0", "n/a"]);
    assert_eq!(rows(doc, "#volume-table tfoot tr")[0], ["Total", "50", "16", "16", "17", "1", "-0.02"]);
    let reason = "27 mentions against a 14-day mean of 2.1 (sd 1.4, floor): z = 17.3";
    assert_eq!(text(doc, "#alerts li"), format!("{} · Volume spike: {reason}", day(2)));
    assert!(
        text(doc, &format!("#volume svg g.alert-marker[data-day=\"{}\"] title", day(2))).contains(reason),
        "the marker's tooltip gives the reason"
    );
    let labels: Vec<String> = {
        let s = scraper::Selector::parse("#volume svg text.dl").expect("selector");
        doc.select(&s).map(|e| e.text().collect()).collect()
    };
    assert!(labels.contains(&"27".to_owned()) && labels.contains(&"3".to_owned()), "{labels:?}");

    // Share of voice.
    for (brand, label) in [("Kestrel", "62.5% (50)"), ("Lumio", "12.5% (10)"), ("Orbix", "25.0% (20)")] {
        assert_eq!(text(doc, &format!("#share g.share[data-brand=\"{brand}\"] text.dl")), label);
    }

    // Products.
    assert_eq!(
        rows(doc, "#problems-table tbody tr"),
        [
            vec!["Kestrel X200 KM-X200", "6", "4", "66.7%", "battery (3), screen (1)"],
            vec!["Kestrel Nova 3 KM-NOVA3", "4", "1", "25.0%", "price (1)"],
        ]
    );
    assert_eq!(
        rows(doc, "#products-table tbody tr"),
        [
            vec![
                "Kestrel X200 KM-X200",
                "6",
                "2",
                "1",
                "1",
                "4",
                "-0.50",
                "camera (1)",
                "battery (3), screen (1)"
            ],
            vec!["Kestrel Nova 3 KM-NOVA3", "4", "0", "3", "0", "1", "+0.50", "camera (2)", "price (1)"],
            vec!["Kestrel Tab 11 KM-TAB11", "2", "0", "0", "0", "2", "-1.00", "—", "—"],
        ]
    );

    // Unlinked names: in the range, the last 7 days, the 7 before, all time.
    let gaps = rows(doc, "#gaps-table tbody tr");
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(gaps[0][0].starts_with("X300 Ultra"), "{gaps:?}");
    assert_eq!(gaps[0][1..5], ["3", "3", "0", "3"]);
    assert!(gaps[1][0].starts_with("Nova 4"), "{gaps:?}");
    assert_eq!(gaps[1][1..5], ["1", "0", "1", "1"]);

    // Latest mentions: the newest 25 of the range's 50, the rest a page further.
    assert_eq!(rows(doc, "#mentions-table tbody tr").len(), 25);
    assert_eq!(text(doc, "#mentions-count"), "The 25 newest matching mentions; the CSV has up to 10000.");

    // Source health: the config's eight and the two seeded ones.
    assert_eq!(rows(doc, "#sources-table tbody tr").len(), 10);
    let failed = text(doc, "#sources-table tr[data-source=\"kestrel-newsroom\"]");
    assert!(
        failed.contains("failed") && failed.contains("HTTP 503 from https://kestrel.example/news"),
        "{failed}"
    );
    assert_eq!(
        rows(doc, "#sources-table tr[data-source=\"kestrel-newsroom\"]")[0][2],
        "3",
        "failures in a row"
    );
    let ok = text(doc, "#sources-table tr[data-source=\"reddit-kestrel\"]");
    assert!(ok.contains("ok") && ok.contains("12 items, 3 new"), "{ok}");
}

#[tokio::test]
async fn dashboard_pages_need_a_session_and_the_login_checks_the_token() {
    let s = Dash::start().await;
    // No cookie, a wrong one, or the token in the URL: sent to the login form.
    for path in ["/", "/products/KM-X200", "/csv/volume", &format!("/?token={TOKEN}")] {
        let r = s.client.get(format!("{}{path}", s.base)).send().await.expect("request");
        assert_eq!(r.status().as_u16(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/login", "{path}");
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .header("cookie", "brandpulse_session=00ff")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 303, "{path} with a forged cookie");
    }
    let r = s.client.get(format!("{}/login", s.base)).send().await.expect("login form");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-security-policy"], CSP);
    let form = r.text().await.expect("body");
    assert!(form.contains(r#"<form method="post" action="/login">"#) && form.contains(r#"name="token""#));

    // A wrong token: the form again with an error, and no cookie.
    let r = s
        .client
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-the-token")
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.expect("body").contains("That token is not right."));

    // The right one: a session cookie that is not the token, and the overview.
    let r = s
        .client
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with("brandpulse_session=") && cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict") && !cookie.contains(TOKEN), "{cookie}");
    let session = cookie.split(';').next().expect("name=value").to_owned();
    assert_eq!(session, Dash::cookie());
    let r = s.client.get(format!("{}/", s.base)).header("cookie", &session).send().await.expect("overview");
    assert_eq!(r.status().as_u16(), 200);
    let r = s.client.get(format!("{}/login", s.base)).header("cookie", &session).send().await.expect("login");
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().ok()), (303, Some("/")));

    // Logging out clears the cookie.
    let r =
        s.client.post(format!("{}/logout", s.base)).header("cookie", &session).send().await.expect("logout");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert!(r.headers()["set-cookie"].to_str().expect("ascii").contains("Max-Age=0"));
}

#[tokio::test]
async fn dashboard_overview_and_product_page_show_the_seeded_numbers() {
    let s = Dash::start().await;
    let doc = s.page(&format!("/{}", range_query(""))).await;
    check_overview(&doc);
    // Without parameters: the first own brand (Kestrel) over the last 14 days, the same numbers.
    let default = s.page("/").await;
    assert_eq!(text(&default, "#headline h1"), "Kestrel");
    assert_eq!(text(&default, "#kpi-mentions .v"), "50");

    // The mention filters change the rows.
    for (filter, count) in
        [("&sentiment=negative", 17), ("&source=feed", 23), ("&product=KM-X200", 6), ("&q=friends", 1)]
    {
        let doc = s.page(&format!("/{}", range_query(filter))).await;
        assert_eq!(rows(&doc, "#mentions-table tbody tr").len(), count, "{filter}");
        // The charts do not depend on the mention filters.
        assert_eq!(text(&doc, "#kpi-mentions .v"), "50", "{filter}");
    }
    // The older page: the other 25, none twice, the filters kept.
    let first = s.page(&format!("/{}", range_query(""))).await;
    let older = attr(&first, "a#older", "href");
    assert!(older.contains("brand=Kestrel") && older.contains("cursor="), "{older}");
    let second = s.page(&older).await;
    assert_eq!(text(&second, "#mentions-count"), "25 older matching mentions.");
    let ids = |doc: &scraper::Html| -> Vec<String> {
        let sel = scraper::Selector::parse("#mentions-table tbody tr").expect("selector");
        doc.select(&sel).filter_map(|r| r.value().attr("data-id").map(str::to_owned)).collect()
    };
    let mut all = ids(&first);
    all.extend(ids(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 50, "two pages, every mention once");
    assert!(attr(&second, "a#newest", "href").starts_with("/?brand=Kestrel"));
    let none = scraper::Selector::parse("a#older").expect("selector");
    assert!(second.select(&none).next().is_none(), "no third page");

    let negative = s.page(&format!("/{}", range_query("&sentiment=negative"))).await;
    let sel = scraper::Selector::parse("#mentions-table tbody tr").expect("selector");
    assert!(negative.select(&sel).all(|r| r.value().attr("data-sentiment") == Some("negative")));
    let kept = scraper::Selector::parse("select[name=sentiment] option[selected]").expect("selector");
    assert_eq!(negative.select(&kept).next().and_then(|o| o.value().attr("value")), Some("negative"));

    // A competitor has no products of its own, and its own share.
    let orbix = s.page(&format!("/?brand=orbix&from={}&to={}", day(13), day(0))).await;
    assert_eq!(text(&orbix, "#kpi-mentions .v"), "20");
    assert_eq!(text(&orbix, "#kpi-share .v"), "25.0%");
    assert_eq!(text(&orbix, "#kpi-net .v"), "-0.50", "(0 - 10) / 20");

    // The product page.
    let doc = s.page(&format!("/products/KM-X200?from={}&to={}", day(13), day(0))).await;
    check_product(&doc);
    let (status, _, body) = s.get("/products/NOPE-1").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("NOPE-1"));
}

/// The hand-computed product page of KM-X200.
pub fn check_product(doc: &scraper::Html) {
    assert_eq!(text(doc, "#headline h1"), "Kestrel X200");
    assert_eq!(text(doc, "#kpi-mentions .v"), "6");
    assert_eq!(text(doc, "#kpi-positive .v"), "16.7%");
    assert_eq!(text(doc, "#kpi-negative .v"), "66.7%");
    assert_eq!(text(doc, "#kpi-net .v"), "-0.50");
    assert_eq!(
        rows(doc, &format!("#product-trend-table tr[data-day=\"{}\"]", day(2)))[0],
        [day(2).to_string(), "6".into(), "1".into(), "1".into(), "4".into(), "0".into(), "-0.50".into()]
    );
    assert_eq!(rows(doc, "#product-trend-table tfoot tr")[0], ["Total", "6", "1", "1", "4", "0", "-0.50"]);
    assert_eq!(
        rows(doc, "#aspects-table tbody tr"),
        [vec!["battery", "0", "0", "3"], vec!["camera", "1", "0", "0"], vec!["screen", "0", "0", "1"]]
    );
    assert_eq!(text(doc, "#aspects svg g.aspect[data-aspect=\"battery\"] text.dl"), "+0 0 −3");
    assert_eq!(rows(doc, "#examples-table tbody tr").len(), 6);
    assert!(text(doc, "#examples-table").contains("Evidence about Kestrel X200"));
}

#[tokio::test]
async fn dashboard_csv_downloads_carry_the_seeded_numbers() {
    let s = Dash::start().await;
    let q = range_query("");
    let (volume, name) = s.csv(&format!("/csv/volume{q}")).await;
    assert_eq!(
        name,
        format!("attachment; filename=\"brandpulse-volume-kestrel-{}-to-{}.csv\"", day(13), day(0))
    );
    assert_eq!(
        volume[0],
        [
            "day",
            "mentions",
            "positive",
            "neutral",
            "negative",
            "not_scored",
            "net_sentiment",
            "complete",
            "alerts"
        ]
    );
    assert_eq!(volume.len(), 15);
    let spike = volume.iter().find(|r| r[0] == day(2).to_string()).expect("the spike day");
    assert_eq!(spike[1..8], ["27", "5", "5", "17", "0", "-0.4444", "true"]);
    assert_eq!(spike[8], "Volume spike: 27 mentions against a 14-day mean of 2.1 (sd 1.4, floor): z = 17.3");
    let today = volume.last().expect("today");
    assert_eq!((today[0].as_str(), today[7].as_str()), (day(0).to_string().as_str(), "false"));

    let (share, _) = s.csv(&format!("/csv/share-of-voice{q}")).await;
    assert_eq!(
        share,
        [
            vec!["brand", "competitor", "mentions", "share"],
            vec!["Kestrel", "false", "50", "0.6250"],
            vec!["Lumio", "false", "10", "0.1250"],
            vec!["Orbix", "true", "20", "0.2500"],
        ]
    );

    let (products, _) = s.csv(&format!("/csv/products{q}")).await;
    assert_eq!(products.len(), 4);
    assert_eq!(
        products[1],
        [
            "KM-X200",
            "Kestrel X200",
            "6",
            "2",
            "1",
            "1",
            "4",
            "0.6667",
            "-0.5000",
            "camera (1)",
            "battery (3), screen (1)"
        ]
    );
    let (problems, _) = s.csv(&format!("/csv/problem-products{q}")).await;
    let skus: Vec<&str> = problems[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(skus, ["KM-X200", "KM-NOVA3"]);
    assert_eq!(problems[2][7], "0.2500");

    let (gaps, _) = s.csv(&format!("/csv/gaps{q}")).await;
    assert_eq!(gaps[1][..6], ["X300 Ultra", "Kestrel", "3", "3", "0", "3"]);
    assert_eq!(gaps[2][..6], ["Nova 4", "Kestrel", "1", "0", "1", "1"]);

    let (mentions, _) = s.csv(&format!("/csv/mentions{q}")).await;
    assert_eq!(mentions.len(), 51);
    let (negative, _) = s.csv(&format!("/csv/mentions{}", range_query("&sentiment=negative"))).await;
    assert_eq!(negative.len(), 18);
    assert!(negative[1..].iter().all(|r| r[4] == "negative" && r[1] == "Kestrel"));
    let (x200, _) =
        s.csv(&format!("/csv/mentions{}", range_query("&product=KM-X200&sentiment=negative"))).await;
    assert_eq!(x200.len(), 5, "4 negative posts name the X200");
    assert!(x200[1][6].contains("KM-X200 (negative)"), "{:?}", x200[1]);

    let (sources, _) = s.csv(&format!("/csv/sources{q}")).await;
    assert_eq!(sources.len(), 11);
    let failed = sources.iter().find(|r| r[0] == "kestrel-newsroom").expect("kestrel-newsroom");
    assert_eq!((failed[3].as_str(), failed[8].as_str()), ("failed", "3"));

    let (trend, name) = s.csv(&format!("/csv/product-trend{}", range_query("&product=KM-X200"))).await;
    assert!(name.contains("brandpulse-product-trend-km-x200-"), "{name}");
    assert_eq!(trend.len(), 15);
    let d2 = trend.iter().find(|r| r[0] == day(2).to_string()).expect("d2");
    assert_eq!(d2[1..7], ["6", "1", "1", "4", "0", "-0.5000"]);
    // Every CSV link the pages carry downloads; the product page's examples are its mentions.
    for page in [
        format!("/{}", range_query("&sentiment=negative")),
        format!("/products/KM-X200?from={}&to={}", day(13), day(0)),
    ] {
        let doc = s.page(&page).await;
        let sel = scraper::Selector::parse("a.csv[download]").expect("selector");
        let links: Vec<String> =
            doc.select(&sel).filter_map(|a| a.value().attr("href").map(str::to_owned)).collect();
        assert!(links.len() >= 3, "{page}: {links:?}");
        for link in links {
            let (rows, _) = s.csv(&link).await;
            assert!(rows.len() > 1, "{link} has data");
            if link.starts_with("/csv/mentions") && page.starts_with("/products/") {
                assert_eq!(rows.len(), 7, "the X200's 6 mentions: {link}");
            } else if link.starts_with("/csv/mentions") {
                assert_eq!(rows.len(), 18, "the filter rides along: {link}");
            }
        }
    }
    let (aspects, _) = s.csv(&format!("/csv/product-aspects{}", range_query("&product=KM-X200"))).await;
    assert_eq!(
        aspects,
        [
            vec!["aspect", "positive", "neutral", "negative"],
            vec!["battery", "0", "0", "3"],
            vec!["camera", "1", "0", "0"],
            vec!["screen", "0", "0", "1"],
        ]
    );
}

#[tokio::test]
async fn dashboard_bad_parameters_are_a_400_page_naming_them() {
    let s = Dash::start().await;
    let cases = [
        ("/?from=yesterday".to_owned(), "from"),
        (format!("/?from={}&to={}", day(0), day(13)), "from"),
        ("/?from=2020-01-01&to=2026-01-01".to_owned(), "from"),
        ("/?to=2026-13-01".to_owned(), "to"),
        ("/?brand=Acme".to_owned(), "brand"),
        ("/?brand=Kestrel&brand=Lumio".to_owned(), "brand"),
        ("/?sentiment=angry".to_owned(), "sentiment"),
        ("/?source=fax".to_owned(), "source"),
        ("/?product=NOPE-1".to_owned(), "product"),
        ("/?aspect=smell".to_owned(), "aspect"),
        ("/?colour=red".to_owned(), "colour"),
        ("/products/KM-X200?from=soon".to_owned(), "from"),
        ("/products/KM-X200?brand=Kestrel".to_owned(), "brand"),
        ("/csv/volume?to=1.1.2026".to_owned(), "to"),
        ("/csv/product-trend".to_owned(), "product"),
        ("/csv/mentions?sentiment=angry".to_owned(), "sentiment"),
        ("/?cursor=junk".to_owned(), "cursor"),
    ];
    for (path, parameter) in cases {
        let (status, headers, body) = s.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(headers["content-type"].to_str().expect("ascii").starts_with("text/html"), "{path}");
        assert!(body.contains(&format!("The parameter `{parameter}` is wrong")), "{path}: {body}");
    }
    let (status, _, body) = s.get("/csv/pie").await;
    assert_eq!(status, 404);
    assert!(body.contains("no chart `pie`"), "{body}");
}

#[tokio::test]
async fn dashboard_escapes_untrusted_posts_and_sends_security_headers() {
    let s = Dash::start().await;
    let (status, headers, body) = s.get(&format!("/{}", range_query("&q=friends"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-security-policy"], CSP);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        body.contains(
            "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; Kestrel &amp; &quot;friends&quot;"
        ),
        "{body}"
    );
    assert!(body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!body.contains("<script") && !body.contains("<img"), "no markup from a post survives");
    // The search text comes back in the form, escaped too.
    let (_, _, body) = s.get(&format!("/{}", range_query("&q=%22%3E%3Cscript%3E"))).await;
    assert!(body.contains(r#"value="&quot;&gt;&lt;script&gt;""#) && !body.contains("<script"), "{body}");
}
