//! Trend and digest latency on a generated database of 2,000,000 posts.
//!
//! Generates (entirely in SQL, `generate_series` into the real schema, about
//! two minutes on two cores) a database `bp_bench_trends` with 2,000,000 posts
//! over the 365 days before 2026-11-01T00:00Z, 20 brands (3 competitors),
//! 2,000 products, one mention per post, post sentiment, product mentions with
//! aspects, unlinked names and fetch runs. Then times, each as median and p95
//! over 30 runs after 3 warm-ups on one connection (so the plan cache does
//! what it does in a long-lived process: custom plans for the first five
//! executions, then possibly the generic plan):
//!
//! - `Store::trend` for the most mentioned product over 90 days by day
//!   (target: under 50 ms) and for the busiest brand over a year by week;
//! - `Store::rising_products` for that brand over 30 days;
//! - the full digest of that brand's last day (`digest::build::build`, and
//!   build + render + save; target: under 1 s).
//!
//! It prints `EXPLAIN (ANALYZE, BUFFERS)` of the two trend queries (and of the
//! rising products query) as custom and as generic plans, OK/FAIL for "no Seq
//! Scan on posts or mentions", the sequential scans each timed section caused
//! (from `pg_stat_user_tables`), and a summary table.
//!
//! Run: `cargo bench --bench trends [-- --keep --reuse --posts N --runs N --warmups N]`
//! (needs the database that `bash config/dev-postgres.sh` sets up, or
//! BRANDPULSE_TEST_ADMIN_URL). The database is dropped and regenerated on
//! every run and dropped at the end; `--keep` leaves it in place, `--reuse`
//! keeps it and skips generation when a complete one with the expected post
//! count exists.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::time::{Duration, Instant};

use brandpulse::digest::build::{BrandRef, build};
use brandpulse::digest::render;
use brandpulse::digest::rules::AlertRule;
use brandpulse::store::{Bucket, Store, Subject, TrendQuery};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, Row};

const DATABASE: &str = "bp_bench_trends";
const MODEL_ID: &str = "bench-model@000000000000";
const TIME_ZONE: &str = "Europe/Berlin";
const DEFAULT_POSTS: i64 = 2_000_000;
const DAYS: i64 = 365;
const PRODUCTS_PER_BRAND: i64 = 100;
const NAMES_PER_BRAND: i64 = 150;
const FETCH_RUNS_PER_DAY: i64 = 4;
/// Marks a database whose generation finished (with the post count appended).
const COMPLETE_MARK: &str = "brandpulse trends bench v1 complete";

/// Watched brands; the first is the busiest (weights fall off as 1/rank^0.9).
const BRANDS: &[&str] = &[
    "Kestrel", "Lumio", "Orbix", "Vantor", "Nimbra", "Quillo", "Zephyra", "Altrix", "Brevo", "Corvane",
    "Dunelo", "Evanta", "Fyrra", "Glimmr", "Halcyo", "Iventa", "Jorvik", "Kairon", "Lunaro", "Myrra",
];
/// Brand ranks (1-based) that are competitors.
const COMPETITORS: &[i64] = &[2, 4, 7];
/// One source per kind, with its share of posts.
const SOURCES: &[(&str, f64)] = &[
    ("feed", 0.25),
    ("hackernews", 0.05),
    ("mastodon", 0.20),
    ("reddit", 0.25),
    ("lemmy", 0.05),
    ("bluesky", 0.15),
    ("html", 0.05),
];
const CATEGORIES: &[&str] =
    &["phones", "headphones", "laptops", "tablets", "smartwatches", "speakers", "cameras", "accessories"];
const ASPECTS: &[&str] = &[
    "battery",
    "camera",
    "screen",
    "sound",
    "performance",
    "price",
    "delivery",
    "customer_service",
    "build_quality",
    "software",
];
const PHRASES: &[&str] = &[
    "Battery life is better than I expected after the update.",
    "Honestly the camera struggles at night, photos look muddy.",
    "Delivery took two weeks and support never answered my ticket.",
    "Sound quality is great, the bass is punchy without being boomy.",
    "Screen is bright and sharp, easily readable outdoors.",
    "Price is too high for what you get compared to last year's model.",
    "Firmware update fixed the connection drops, works fine now.",
    "Build quality feels cheap, the case creaks when you hold it.",
    "Switched from a competitor last month and I am not going back.",
    "Returned it after a week, the app kept crashing on startup.",
    "Comfortable for long sessions and the noise cancelling is solid.",
    "Performance is snappy, no lag even with many apps open.",
];

struct Options {
    keep: bool,
    reuse: bool,
    posts: i64,
    runs: usize,
    warmups: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options { keep: false, reuse: false, posts: DEFAULT_POSTS, runs: 30, warmups: 3 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .parse::<i64>()
                .map_err(|e| format!("{name}: {e}"))
                .and_then(|n| if n > 0 { Ok(n) } else { Err(format!("{name} must be positive")) })
        };
        match arg.as_str() {
            // cargo bench passes --bench to harness = false benches.
            "--bench" => {}
            "--keep" => o.keep = true,
            "--reuse" => o.reuse = true,
            "--posts" => o.posts = number("--posts")?,
            "--runs" => o.runs = number("--runs")? as usize,
            "--warmups" => o.warmups = number("--warmups")? as usize,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; options: --keep --reuse --posts N --runs N --warmups N"
                ));
            }
        }
    }
    Ok(o)
}

/// SQL for a deterministic uniform number in [0, 1) from `column` and a salt.
fn u(column: &str, salt: u32) -> String {
    format!("((hashint8extended({column}, {salt}) & 9007199254740991)::float8 / 9007199254740992.0)")
}

/// SQL array literal of the lower bounds of weighted buckets, for `width_bucket`.
fn bounds(weights: &[f64]) -> String {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out = Vec::with_capacity(weights.len());
    for w in weights {
        out.push(format!("{:.9}", acc / total));
        acc += w;
    }
    format!("ARRAY[{}]::float8[]", out.join(","))
}

fn text_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect();
    format!("ARRAY[{}]::text[]", quoted.join(","))
}

fn end_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("end time")
}

/// Local midnight of `day` in Berlin, as UTC (no DST jump happens at midnight there).
fn berlin_midnight(day: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .expect("Berlin midnight exists")
        .with_timezone(&Utc)
}

/// The statements that fill a migrated database, each with a label.
fn generation_sql(posts: i64) -> Vec<(&'static str, String)> {
    let start = end_time() - chrono::Duration::days(DAYS);
    let start = start.format("%Y-%m-%d %H:%M:%S+00");
    let brand_weights: Vec<f64> = (1..=BRANDS.len()).map(|k| 1.0 / (k as f64).powf(0.9)).collect();
    let source_weights: Vec<f64> = SOURCES.iter().map(|s| s.1).collect();
    let names = text_array(BRANDS);
    let phrases = text_array(PHRASES);
    let n_phrases = PHRASES.len();
    let weeks = DAYS as f64 / 7.0;
    let mut sql = Vec::new();

    let brands: Vec<String> = BRANDS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = i as i64 + 1;
            format!(
                "({id}, '{name}', ARRAY['{name}', '#{lower}', '@{lower}'], {competitor})",
                lower = name.to_lowercase(),
                competitor = COMPETITORS.contains(&id)
            )
        })
        .collect();
    sql.push((
        "brands",
        format!(
            "INSERT INTO brands (id, name, aliases, competitor) OVERRIDING SYSTEM VALUE VALUES {}",
            brands.join(", ")
        ),
    ));
    let sources: Vec<String> = SOURCES
        .iter()
        .enumerate()
        .map(|(i, (kind, _))| {
            let (url, query) = match *kind {
                "hackernews" | "bluesky" => ("NULL".to_owned(), "'kestrel OR lumio'".to_owned()),
                _ => (format!("'https://{kind}.bench.example/'"), "NULL".to_owned()),
            };
            format!("({}, 'bench {kind}', '{kind}', {url}, {query}, '0 */15 * * * *')", i + 1)
        })
        .collect();
    sql.push((
        "sources",
        format!(
            "INSERT INTO sources (id, name, kind, url, query, schedule) OVERRIDING SYSTEM VALUE VALUES {}",
            sources.join(", ")
        ),
    ));
    sql.push((
        "products",
        format!(
            "INSERT INTO products (id, sku, name, brand_id, category, aliases) OVERRIDING SYSTEM VALUE
             SELECT (b - 1) * {PRODUCTS_PER_BRAND} + r,
                    upper(left(({names})[b], 3)) || '-' || lpad(r::text, 3, '0'),
                    ({names})[b] || ' ' || chr(65 + r % 26) || (r * 10)::text,
                    b,
                    ({categories})[1 + (b * 7 + r) % {n_categories}],
                    ARRAY[lower(({names})[b]) || ' ' || lower(chr(65 + r % 26)) || (r * 10)::text]
             FROM generate_series(1, {brands}) b, generate_series(1, {PRODUCTS_PER_BRAND}) r",
            categories = text_array(CATEGORIES),
            n_categories = CATEGORIES.len(),
            brands = BRANDS.len(),
        ),
    ));

    // One row per post with everything the tables below derive from it.
    // Time: post i sits at quantile (i - 0.5) / N of a year whose volume grows
    // from 0.8x to 1.2x, with a weekly cycle (quietest Friday to Sunday,
    // busiest Tuesday) and a daily one (quietest around 02:30 UTC, busiest
    // around 14:30 UTC).
    sql.push((
        "staging (temporary table)",
        format!(
            "CREATE TEMPORARY TABLE gen AS
             WITH g AS (
                 SELECT i,
                        (sqrt(0.64 + 0.8 * ((i - 0.5) / {posts})) - 0.8) / 0.4 AS t,
                        {u_tod} AS r_tod
                 FROM generate_series(1::bigint, {posts}::bigint) i),
             w AS (
                 SELECT i, least(t + 0.25 * sin(2 * pi() * {weeks} * t) / (2 * pi() * {weeks}), 0.999999) AS w,
                        r_tod + 0.6 * sin(2 * pi() * r_tod) / (2 * pi()) + 0.1 AS tod
                 FROM g)
             SELECT i AS id,
                    width_bucket({u_brand}, {brand_bounds}) AS brand_id,
                    width_bucket({u_source}, {source_bounds}) AS source_id,
                    timestamptz '{start}'
                        + make_interval(secs => (floor(w * {DAYS}) + tod - floor(tod)) * 86400) AS at,
                    {u_scored} >= 0.05 AS scored,
                    {u_label} AS r_label,
                    {u_score} AS r_score,
                    CASE WHEN {u_pm} < 0.30 THEN CASE WHEN {u_pm2} < 0.25 THEN 2 ELSE 1 END ELSE 0 END AS npm,
                    least({PRODUCTS_PER_BRAND}, floor(exp({u_p1} * ln({PRODUCTS_PER_BRAND} + 1))))::int AS pk1,
                    least({PRODUCTS_PER_BRAND}, floor(exp({u_p2} * ln({PRODUCTS_PER_BRAND} + 1))))::int AS pk2,
                    CASE WHEN {u_name} < 0.03
                         THEN least({NAMES_PER_BRAND}, floor(exp({u_name2} * ln({NAMES_PER_BRAND} + 1))))::int
                    END AS name_rank,
                    floor(exp({u_eng} * 7.5))::int AS likes
             FROM w",
            u_tod = u("i", 1),
            u_brand = u("i", 2),
            brand_bounds = bounds(&brand_weights),
            u_source = u("i", 3),
            source_bounds = bounds(&source_weights),
            u_scored = u("i", 4),
            u_label = u("i", 5),
            u_score = u("i", 6),
            u_pm = u("i", 7),
            u_pm2 = u("i", 8),
            u_p1 = u("i", 9),
            u_p2 = u("i", 10),
            u_name = u("i", 11),
            u_name2 = u("i", 12),
            u_eng = u("i", 13),
        ),
    ));
    sql.push((
        "posts",
        format!(
            "INSERT INTO posts (id, source_id, external_id, url, author, title, body, lang, lang_confidence,
                                published_at, fetched_at, engagement, content_hash, analysed_model_id)
             OVERRIDING SYSTEM VALUE
             SELECT id, source_id, 'bench-' || id, 'https://bench.example/p/' || id,
                    'user' || (hashint8extended(id, 20) & 65535),
                    CASE WHEN source_id IN (1, 2, 4, 5, 7) THEN 'About my ' || ({names})[brand_id] END,
                    'Thoughts on my ' || ({names})[brand_id] || ' so far. '
                        || ({phrases})[1 + (hashint8extended(id, 21) & 1023) % {n_phrases}] || ' '
                        || ({phrases})[1 + (hashint8extended(id, 22) & 1023) % {n_phrases}],
                    CASE WHEN scored THEN 'eng' ELSE 'deu' END,
                    0.80 + 0.19 * {u_conf},
                    at, at + make_interval(secs => 60 + {u_delay} * 1800),
                    jsonb_build_object('likes', likes, 'reposts', likes / 7, 'replies', likes / 4),
                    sha256(int8send(id)), '{MODEL_ID}'
             FROM gen ORDER BY id",
            u_conf = u("id", 23),
            u_delay = u("id", 24),
        ),
    ));
    sql.push((
        "mentions",
        format!(
            "INSERT INTO mentions (id, post_id, brand_id, mentioned_at, matched_terms, matches)
             OVERRIDING SYSTEM VALUE
             SELECT id, id, brand_id, at, ARRAY[({names})[brand_id]],
                    jsonb_build_array(jsonb_build_object('term', ({names})[brand_id], 'start', 15,
                                                         'end', 15 + length(({names})[brand_id])))
             FROM gen ORDER BY id"
        ),
    ));
    // Label mix: positive 40%, neutral 35%, negative 25% of scored posts.
    sql.push((
        "sentiments",
        format!(
            "INSERT INTO sentiments (post_id, model_id, status, label, score, probabilities, chunks, analysed_at)
             SELECT id, '{MODEL_ID}', CASE WHEN scored THEN 'scored' ELSE 'skipped_language' END,
                    CASE WHEN NOT scored THEN NULL WHEN r_label < 0.40 THEN 'positive'
                         WHEN r_label < 0.75 THEN 'neutral' ELSE 'negative' END,
                    CASE WHEN scored THEN 0.4 + 0.6 * r_score END,
                    CASE WHEN NOT scored THEN NULL
                         WHEN r_label < 0.40 THEN ARRAY[(1 - (0.4 + 0.6 * r_score)) * 0.3,
                                                        (1 - (0.4 + 0.6 * r_score)) * 0.7, 0.4 + 0.6 * r_score]
                         WHEN r_label < 0.75 THEN ARRAY[(1 - (0.4 + 0.6 * r_score)) * 0.5, 0.4 + 0.6 * r_score,
                                                        (1 - (0.4 + 0.6 * r_score)) * 0.5]
                         ELSE ARRAY[0.4 + 0.6 * r_score, (1 - (0.4 + 0.6 * r_score)) * 0.7,
                                    (1 - (0.4 + 0.6 * r_score)) * 0.3] END::real[],
                    CASE WHEN scored THEN 1 END,
                    at + make_interval(secs => 120 + r_score * 3600)
             FROM gen ORDER BY id"
        ),
    ));
    // Products of the post's brand, Zipf-like (rank 1 about 15% of the brand's mentions).
    sql.push((
        "product_mentions",
        format!(
            "INSERT INTO product_mentions (post_id, product_id, model_id, mentioned_at, span_start, span_end,
                                           surface, link_confidence, link_rule, sentiment, sentiment_score,
                                           evidence)
             SELECT g.id, p.id, '{MODEL_ID}', g.at, 40 * k.n, 40 * k.n + length(p.name), p.name,
                    CASE WHEN {u_rule} < 0.7 THEN 0.95 ELSE 0.8 END,
                    CASE WHEN {u_rule} < 0.7 THEN 'name' ELSE 'alias+brand' END,
                    CASE WHEN {u_sent} < 0.08 THEN NULL WHEN {u_sent} < 0.45 THEN 'positive'
                         WHEN {u_sent} < 0.75 THEN 'neutral' ELSE 'negative' END,
                    CASE WHEN {u_sent} >= 0.08 THEN 0.5 + 0.5 * g.r_score END,
                    'My ' || p.name || ': ' || ({phrases})[1 + (hashint8extended(g.id + k.n, 25) & 1023) % {n_phrases}]
             FROM gen g
             CROSS JOIN LATERAL generate_series(1, g.npm) k(n)
             JOIN products p ON p.id = (g.brand_id - 1) * {PRODUCTS_PER_BRAND}
                                       + CASE WHEN k.n = 1 THEN g.pk1 ELSE g.pk2 END
             WHERE g.npm > 0
             ORDER BY g.id, k.n",
            u_rule = u("g.id * 2 + k.n", 26),
            u_sent = u("g.id * 2 + k.n", 27),
        ),
    ));
    sql.push((
        "product_mention_aspects",
        format!(
            "INSERT INTO product_mention_aspects (product_mention_id, aspect, sentiment)
             SELECT id, ({aspects})[1 + (hashint8extended(id, 30) & 1023) % {n_aspects}],
                    COALESCE(sentiment, 'neutral')
             FROM product_mentions WHERE {u_aspect} < 0.40",
            aspects = text_array(ASPECTS),
            n_aspects = ASPECTS.len(),
            u_aspect = u("id", 31),
        ),
    ));
    sql.push((
        "unlinked_entities",
        format!(
            "INSERT INTO unlinked_entities (id, brand_id, normalized, surface, mention_count, first_seen,
                                            last_seen, example_post_id)
             OVERRIDING SYSTEM VALUE
             SELECT e, min(brand_id), lower(min(({names})[brand_id])) || ' z' || e,
                    min(({names})[brand_id]) || ' Z' || e, count(*), min(at), max(at), min(id)
             FROM (SELECT (brand_id - 1) * {NAMES_PER_BRAND} + name_rank AS e, brand_id, at, id
                   FROM gen WHERE name_rank IS NOT NULL) s
             GROUP BY e"
        ),
    ));
    sql.push((
        "unlinked_entity_sightings",
        format!(
            "INSERT INTO unlinked_entity_sightings (entity_id, post_id, seen_at)
             SELECT (brand_id - 1) * {NAMES_PER_BRAND} + name_rank, id, at
             FROM gen WHERE name_rank IS NOT NULL ORDER BY id"
        ),
    ));
    // Every source every 24/FETCH_RUNS_PER_DAY hours, with some jitter: 85% ok,
    // 10% not modified, 5% failed.
    sql.push((
        "fetch_runs",
        format!(
            "INSERT INTO fetch_runs (source_id, started_at, finished_at, status, http_status, bytes, items_seen,
                                     new_posts, new_mentions, error)
             SELECT s, at, at + make_interval(secs => 0.2 + 20 * r2),
                    CASE WHEN r < 0.05 THEN 'failed' WHEN r < 0.15 THEN 'not_modified' ELSE 'ok' END,
                    CASE WHEN r < 0.05 THEN 503 WHEN r < 0.15 THEN 304 ELSE 200 END,
                    CASE WHEN r >= 0.15 THEN (20000 + 400000 * r2)::bigint END,
                    CASE WHEN r >= 0.15 THEN (20 + 180 * r2)::int ELSE 0 END,
                    CASE WHEN r >= 0.15 THEN (6 + 50 * r2)::int ELSE 0 END,
                    CASE WHEN r >= 0.15 THEN (6 + 50 * r2)::int ELSE 0 END,
                    CASE WHEN r < 0.05 THEN 'HTTP 503 Service Unavailable' END
             FROM (SELECT s, timestamptz '{start}'
                             + make_interval(secs => n * (86400 / {FETCH_RUNS_PER_DAY}) + 600 * {u_jitter}) AS at,
                          {u_status} AS r, {u_size} AS r2
                   FROM generate_series(1, {n_sources}) s,
                        generate_series(0, {runs} - 1) n) x
             ORDER BY at, s",
            n_sources = SOURCES.len(),
            runs = DAYS * FETCH_RUNS_PER_DAY,
            u_jitter = u("s * 100000 + n", 40),
            u_status = u("s * 100000 + n", 41),
            u_size = u("s * 100000 + n", 42),
        ),
    ));
    sql.push((
        "identity sequences",
        ["brands", "sources", "products", "posts", "mentions", "unlinked_entities"]
            .iter()
            .map(|t| {
                format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}));")
            })
            .collect::<String>(),
    ));
    sql.push(("drop staging", "DROP TABLE gen".to_owned()));
    sql.push(("VACUUM ANALYZE", "VACUUM ANALYZE".to_owned()));
    sql
}

/// Drops and recreates the database, migrates it and fills it.
async fn generate(admin: &mut PgConnection, url: &str, posts: i64) -> Duration {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .execute(&mut *admin)
        .await
        .expect("drop old bench database");
    sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
        .execute(&mut *admin)
        .await
        .expect("create bench database");
    let started = Instant::now();
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await.expect("connect to bench database");
    Store::from_pool(pool.clone()).migrate().await.expect("migrations apply");
    pool.close().await;

    let mut conn = PgConnection::connect(url).await.expect("connect to bench database");
    conn.execute(
        "SET synchronous_commit = off; SET TIME ZONE 'UTC'; SET work_mem = '256MB';
         SET maintenance_work_mem = '512MB'; SET temp_buffers = '256MB'",
    )
    .await
    .expect("session settings");
    for (label, sql) in generation_sql(posts) {
        let t = Instant::now();
        conn.execute(sql.as_str()).await.unwrap_or_else(|e| panic!("generating {label}: {e}\n{sql}"));
        println!("  {label:<28} {:>7.1} s", t.elapsed().as_secs_f64());
    }
    // Rows were bulk-inserted around the store, so the brand rollups the store
    // keeps in step are computed once here, by the store's own repair.
    let t = Instant::now();
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await.expect("connect to bench database");
    let slots = Store::from_pool(pool.clone()).rebuild_rollups().await.expect("brand rollups");
    pool.close().await;
    conn.execute("ANALYZE brand_volume_slots, brand_sentiment_slots").await.expect("analyze rollups");
    println!("  {:<28} {:>7.1} s ({slots} slots)", "brand rollups", t.elapsed().as_secs_f64());
    sqlx::query(&format!("COMMENT ON DATABASE {DATABASE} IS '{COMPLETE_MARK} {posts}'"))
        .execute(&mut conn)
        .await
        .expect("mark the database complete");
    conn.close().await.ok();
    started.elapsed()
}

/// Whether the bench database exists, was generated to the end and has `posts` posts.
async fn reusable(admin: &mut PgConnection, url: &str, posts: i64) -> bool {
    let mark: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(DATABASE)
    .fetch_optional(&mut *admin)
    .await
    .expect("look up the bench database");
    if mark.flatten().as_deref() != Some(format!("{COMPLETE_MARK} {posts}").as_str()) {
        return false;
    }
    let Ok(mut conn) = PgConnection::connect(url).await else { return false };
    let count: Result<i64, _> = sqlx::query_scalar("SELECT count(*) FROM posts").fetch_one(&mut conn).await;
    conn.close().await.ok();
    count.is_ok_and(|c| c == posts)
}

struct Timing {
    query: String,
    runs: usize,
    median_ms: f64,
    p95_ms: f64,
    target_ms: Option<f64>,
    /// Executions on custom / generic plans (statements run more than once).
    plans: String,
}

fn timing(query: &str, target_ms: Option<f64>, mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    let n = ms.len();
    let median_ms = if n % 2 == 1 { ms[n / 2] } else { (ms[n / 2 - 1] + ms[n / 2]) / 2.0 };
    // Nearest rank.
    let p95_ms = ms[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1];
    let t = Timing { query: query.to_owned(), runs: n, median_ms, p95_ms, target_ms, plans: String::new() };
    println!(
        "{query}: {n} runs, median {median_ms:.1} ms, p95 {p95_ms:.1} ms, min {:.1} ms, max {:.1} ms",
        ms[0],
        ms[n - 1]
    );
    t
}

/// Runs `f` `warmups` times untimed, then `runs` times timed.
async fn measure<F, Fut, T>(warmups: usize, runs: usize, mut f: F) -> (Vec<Duration>, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    for _ in 0..warmups {
        f().await;
    }
    let mut samples = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f().await;
        samples.push(t.elapsed());
        last = Some(out);
    }
    (samples, last.expect("at least one run"))
}

/// The SQL `Store::trend` sends for a brand or product subject (the store's own text).
fn trend_sql(product: bool, unit: &str) -> String {
    let bucket = match unit {
        "hour" => Bucket::Hour,
        "week" => Bucket::Week,
        _ => Bucket::Day,
    };
    let subject = if product { Subject::Product(0) } else { Subject::Brand(0) };
    brandpulse::store::trend_sql(&subject, bucket, false)
}

/// The SQL of `Store::rising_products` (the store's own text).
const RISING_SQL: &str = brandpulse::store::RISING_SQL;

/// One plan of a statement: its mode, execution time and the tables it scans sequentially.
struct Plan {
    mode: &'static str,
    execution_ms: f64,
    seq_scans: Vec<String>,
}

struct PlanCheck {
    name: &'static str,
    /// Whether "no Seq Scan on posts or mentions" is asserted for it.
    checked: bool,
    plans: Vec<Plan>,
    /// Whether the default plan cache mode switched to the generic plan.
    switched: bool,
}

impl PlanCheck {
    /// The custom plan (what the bound query gets) has no Seq Scan on posts or mentions.
    fn ok(&self) -> bool {
        self.plans
            .iter()
            .filter(|p| p.mode == "force_custom_plan")
            .all(|p| !p.seq_scans.iter().any(|t| t == "posts" || t == "mentions"))
    }
}

/// Prints `EXPLAIN (ANALYZE, BUFFERS)` of a prepared statement executed with
/// `args`, as a custom plan (what the first executions get) and as the
/// generic plan PostgreSQL may switch to after five executions, and which of
/// the two the default plan cache mode settles on.
async fn explain(
    conn: &mut PgConnection,
    name: &'static str,
    types: &str,
    sql: &str,
    args: &str,
    assert_clean: bool,
) -> PlanCheck {
    conn.execute(format!("PREPARE {name} ({types}) AS {sql}").as_str()).await.expect("prepare");
    let mut plans = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        conn.execute(format!("SET plan_cache_mode = {mode}").as_str()).await.expect("plan_cache_mode");
        let rows = sqlx::raw_sql(&format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name} ({args})"))
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
        let lines: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        let custom = mode == "force_custom_plan";
        println!("\n--- {name}: EXPLAIN (ANALYZE, BUFFERS), {mode} ---");
        if custom {
            for line in &lines {
                println!("{line}");
            }
        } else {
            // The generic plan only in outline: scans and the totals.
            for line in lines.iter().filter(|l| {
                l.contains("Scan")
                    || l.contains("Index Cond")
                    || l.contains("Rows Removed")
                    || l.contains("Execution Time")
            }) {
                println!("{line}");
            }
        }
        let forbidden: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("Seq Scan on posts") || l.contains("Seq Scan on mentions"))
            .collect();
        let other: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("Seq Scan on product_mentions") || l.contains("Seq Scan on sentiments"))
            .collect();
        let verdict = if !assert_clean {
            "(not checked)"
        } else if forbidden.is_empty() {
            "OK"
        } else {
            "FAIL"
        };
        println!("{name} [{mode}]: no Seq Scan on posts or mentions: {verdict}");
        for line in &forbidden {
            println!("  seq scan: {}", line.trim());
        }
        for line in &other {
            println!("  also a seq scan: {}", line.trim());
        }
        let execution_ms = lines
            .iter()
            .find_map(|l| l.strip_prefix("Execution Time: ")?.strip_suffix(" ms")?.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        let seq_scans = lines
            .iter()
            .filter_map(|l| {
                let table = l.split_once("Seq Scan on ")?.1.split_whitespace().next()?;
                Some(if l.contains("(never executed)") {
                    format!("{table} (never executed)")
                } else {
                    table.to_owned()
                })
            })
            .collect();
        plans.push(Plan { mode, execution_ms, seq_scans });
    }
    // What the default mode settles on: five custom plans, then generic if its cost is no worse.
    conn.execute("SET plan_cache_mode = auto").await.expect("plan_cache_mode");
    conn.execute(format!("DEALLOCATE {name}").as_str()).await.expect("deallocate");
    conn.execute(format!("PREPARE {name} ({types}) AS {sql}").as_str()).await.expect("prepare");
    for _ in 0..8 {
        sqlx::raw_sql(&format!("EXECUTE {name} ({args})")).fetch_all(&mut *conn).await.expect("execute");
    }
    let row = sqlx::query("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .expect("pg_prepared_statements");
    let (generic, custom): (i64, i64) = (row.get(0), row.get(1));
    println!(
        "{name}: plan_cache_mode = auto over 8 executions: {custom} custom, {generic} generic plans{}",
        if generic > 0 { " (switched to the generic plan)" } else { " (stays on custom plans)" }
    );
    conn.execute(format!("DEALLOCATE {name}").as_str()).await.expect("deallocate");
    PlanCheck { name, checked: assert_clean, plans, switched: generic > 0 }
}

/// Tables whose sequential scans the runtime check counts.
const SCANNED: &[&str] = &[
    "posts",
    "mentions",
    "sentiments",
    "product_mentions",
    "product_mention_aspects",
    "unlinked_entity_sightings",
];

/// `pg_stat_user_tables.seq_scan` of the tables in [`SCANNED`].
async fn seq_scans(conn: &mut PgConnection) -> Vec<(String, i64)> {
    // A backend flushes its counters when it exits (or up to 10 s after going idle).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    conn.execute("SELECT pg_stat_clear_snapshot()").await.expect("clear stats snapshot");
    sqlx::query_as(
        "SELECT relname::text, seq_scan FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY 1",
    )
    .bind(SCANNED)
    .fetch_all(&mut *conn)
    .await
    .expect("pg_stat_user_tables")
}

/// Sequential scans since `before`, per table, only tables that had any.
async fn seq_scan_delta(conn: &mut PgConnection, before: &[(String, i64)]) -> Vec<(String, i64)> {
    let after = seq_scans(conn).await;
    after
        .into_iter()
        .filter_map(|(table, n)| {
            let was = before.iter().find(|(t, _)| *t == table).map_or(0, |b| b.1);
            (n > was).then_some((table, n - was))
        })
        .collect()
}

/// A fresh pool for one measured section: its connections start with an
/// empty statement cache, as a new `brandpulse` process does, and closing it
/// at the end of the section makes the server flush their statistics.
async fn fresh_store(url: &str) -> (Store, PgPool) {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await.expect("connect to bench database");
    (Store::from_pool(pool.clone()), pool)
}

/// Prints, for the statements the section's connection has prepared, how
/// many executions got a custom plan and how many the generic plan; returns the totals.
async fn plan_cache(pool: &PgPool) -> (i64, i64) {
    // The section's one connection (waits until the last query has handed it back).
    let mut conn = pool.acquire().await.expect("the section's connection");
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT regexp_replace(left(statement, 400), '\\s+', ' ', 'g'), custom_plans, generic_plans
         FROM pg_prepared_statements WHERE custom_plans + generic_plans > 1 ORDER BY prepare_time",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("pg_prepared_statements");
    let (mut custom_total, mut generic_total) = (0, 0);
    for (statement, custom, generic) in rows {
        let short: String = statement.chars().take(90).collect();
        println!("  plan cache: {custom:>3} custom, {generic:>3} generic plans: {short}...");
        custom_total += custom;
        generic_total += generic;
    }
    (custom_total, generic_total)
}

fn lit(t: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let admin = std::env::var("BRANDPULSE_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://brandpulse:brandpulse@127.0.0.1:5432/brandpulse".into());
    let url = format!("{}/{DATABASE}", admin.rsplit_once('/').expect("admin URL has a database").0);
    let mut admin_conn =
        PgConnection::connect(&admin).await.expect("connect as admin (run config/dev-postgres.sh)");

    if o.reuse && reusable(&mut admin_conn, &url, o.posts).await {
        println!("reusing {DATABASE} ({} posts); generation skipped", o.posts);
    } else {
        println!(
            "generating {DATABASE}: {} posts over {DAYS} days, {} brands, {} products",
            o.posts,
            BRANDS.len(),
            BRANDS.len() as i64 * PRODUCTS_PER_BRAND
        );
        let took = generate(&mut admin_conn, &url, o.posts).await;
        println!("generation took {:.1} s ({:.1} min)", took.as_secs_f64(), took.as_secs_f64() / 60.0);
    }

    let mut conn = PgConnection::connect(&url).await.expect("connect to bench database");

    println!("\nrow counts:");
    for table in [
        "brands",
        "sources",
        "products",
        "posts",
        "mentions",
        "sentiments",
        "product_mentions",
        "product_mention_aspects",
        "unlinked_entities",
        "unlinked_entity_sightings",
        "fetch_runs",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect("count");
        println!("  {table:<26} {n:>10}");
    }
    let size: String = sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
        .fetch_one(&mut conn)
        .await
        .expect("database size");
    println!("  database size {size}");

    let end = end_time();
    let last_day = end.date_naive() - chrono::Duration::days(1);
    let to = berlin_midnight(end.date_naive());
    let from_90 = berlin_midnight(end.date_naive() - chrono::Duration::days(90));
    let from_365 = berlin_midnight(end.date_naive() - chrono::Duration::days(DAYS));
    let from_30 = berlin_midnight(end.date_naive() - chrono::Duration::days(30));

    let row = sqlx::query(
        "SELECT pm.product_id, p.sku, count(*) FROM product_mentions pm JOIN products p ON p.id = pm.product_id
         WHERE pm.mentioned_at >= $1 AND pm.mentioned_at < $2
         GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 1",
    )
    .bind(from_90)
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .expect("most mentioned product");
    let (product_id, sku, product_n): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
    let row = sqlx::query(
        "SELECT m.brand_id, b.name, count(*) FROM mentions m JOIN brands b ON b.id = m.brand_id
         GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("busiest brand");
    let (brand_id, brand, brand_n): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
    println!("\nproduct {sku} (id {product_id}): {product_n} product mentions in the 90 days");
    println!("brand {brand} (id {brand_id}): {brand_n} mentions in the year");

    let query = |subject: Subject, from: DateTime<Utc>, bucket: Bucket| TrendQuery {
        subject,
        from,
        to,
        bucket,
        time_zone: TIME_ZONE.to_owned(),
        source_kind: None,
        model_id: MODEL_ID.to_owned(),
    };
    let q_product = query(Subject::Product(product_id), from_90, Bucket::Day);
    let q_brand = query(Subject::Brand(brand_id), from_365, Bucket::Week);
    let q_rising = query(Subject::Brand(brand_id), from_30, Bucket::Day);
    let (w, n) = (o.warmups, o.runs);
    println!("\ntimings ({w} warm-up runs, then {n} timed runs each):");
    let mut timings = Vec::new();

    // Each section runs on a fresh single-connection pool, so the plan cache
    // behaves as on one long-lived connection: PostgreSQL plans the first five
    // executions of a statement for their values (custom plans), then may
    // switch to one generic plan. The sequential scans each section caused are
    // read from the server's own counters: they see the plans actually run.
    let aliases: Vec<String> = sqlx::query_scalar("SELECT aliases FROM brands WHERE id = $1")
        .bind(brand_id)
        .fetch_one(&mut conn)
        .await
        .expect("brand aliases");
    let brand_ref = BrandRef { id: brand_id, name: brand.clone(), aliases };
    let rule = AlertRule::default();
    let tz = chrono_tz::Europe::Berlin;
    let mut scans: Vec<(&str, Vec<(String, i64)>)> = Vec::new();
    for section in 0..5 {
        let before = seq_scans(&mut conn).await;
        let (store, pool) = fresh_store(&url).await;
        let (name, target, samples) = match section {
            0 => {
                let (samples, points) = measure(w, n, || store.trend(&q_product)).await;
                let points = points.expect("product trend");
                let total: i64 = points.iter().map(|p| p.mentions).sum();
                println!("  product trend: {} day buckets, {total} mentions", points.len());
                ("trend: 1 product, 90 days by day", Some(50.0), samples)
            }
            1 => {
                let (samples, points) = measure(w, n, || store.trend(&q_brand)).await;
                let points = points.expect("brand trend");
                let total: i64 = points.iter().map(|p| p.mentions).sum();
                println!("  brand trend: {} week buckets, {total} mentions", points.len());
                ("trend: 1 brand, 365 days by week", None, samples)
            }
            2 => {
                let (samples, rising) = measure(w, n, || store.rising_products(&q_rising, 5, 10)).await;
                println!("  rising products: {} rows", rising.expect("rising products").len());
                ("rising products: 1 brand, 30 days", None, samples)
            }
            // The full digest of one brand-day, as `brandpulse digest` computes it:
            // build (its queries and assembly), then render and store it.
            3 => {
                let (samples, digest) =
                    measure(w, n, || build(&store, &brand_ref, last_day, tz, MODEL_ID, &rule)).await;
                let digest = digest.expect("digest");
                println!(
                    "  digest {brand} {last_day}: {} mentions, {} alerts, {} rising products, {} new names, \
                     {} examples",
                    digest.volume.mentions,
                    digest.alerts.len(),
                    digest.products.rising.len(),
                    digest.new_names.len(),
                    digest.examples.len()
                );
                ("digest: 1 brand-day, build", Some(1000.0), samples)
            }
            _ => {
                let (samples, bytes) = measure(w, n, || async {
                    let digest =
                        build(&store, &brand_ref, last_day, tz, MODEL_ID, &rule).await.expect("digest");
                    let (markdown, html, json) =
                        (render::markdown(&digest), render::html(&digest), render::json(&digest));
                    let stats = serde_json::to_value(&digest).expect("digest as JSON");
                    store
                        .save_digest(brand_id, last_day, MODEL_ID, &stats, &markdown, &html)
                        .await
                        .expect("save digest");
                    markdown.len() + html.len() + json.len()
                })
                .await;
                println!("  rendered digest: {bytes} bytes (Markdown + HTML + JSON)");
                ("digest: 1 brand-day, build + render + save", Some(1000.0), samples)
            }
        };
        let mut t = timing(name, target, samples);
        let (custom, generic) = plan_cache(&pool).await;
        t.plans = format!("{custom} / {generic}");
        timings.push(t);
        store.close().await;
        scans.push((name, seq_scan_delta(&mut conn, &before).await));
    }

    println!("\nplans (the SQL of src/store/trends.rs, prepared with the benchmark's parameters):");
    let types = "text, timestamptz, timestamptz, bigint, text, text";
    let mut checks = Vec::new();
    checks.push(
        explain(
            &mut conn,
            "trend_product",
            types,
            &trend_sql(true, "day"),
            &format!("'{MODEL_ID}', {}, {}, {product_id}, NULL, '{TIME_ZONE}'", lit(from_90), lit(to)),
            true,
        )
        .await,
    );
    checks.push(
        explain(
            &mut conn,
            "trend_brand",
            types,
            &trend_sql(false, "week"),
            &format!("'{MODEL_ID}', {}, {}, {brand_id}, NULL, '{TIME_ZONE}'", lit(from_365), lit(to)),
            true,
        )
        .await,
    );
    checks.push(
        explain(
            &mut conn,
            "rising_products",
            "text, timestamptz, timestamptz, bigint, bigint, bigint, text, bigint",
            RISING_SQL,
            &format!("'{MODEL_ID}', {}, {}, 5, {brand_id}, NULL, NULL, 10", lit(from_30), lit(to)),
            false,
        )
        .await,
    );

    println!("\nsummary ({} posts; PostgreSQL on this machine):", o.posts);
    println!("| query | runs | median ms | p95 ms | target | met? | custom / generic plans |");
    println!("| --- | ---: | ---: | ---: | --- | --- | --- |");
    for t in &timings {
        let (target, met) = match t.target_ms {
            Some(ms) => (format!("< {ms:.0} ms"), if t.p95_ms < ms { "yes" } else { "no" }.to_owned()),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {target} | {met} | {} |",
            t.query, t.runs, t.median_ms, t.p95_ms, t.plans
        );
    }
    for (section, tables) in &scans {
        let list: Vec<String> = tables.iter().map(|(t, n)| format!("{t} x{n}")).collect();
        println!(
            "sequential scans during {section} (pg_stat_user_tables): {}",
            if list.is_empty() { "none".to_owned() } else { list.join(", ") }
        );
    }
    for c in &checks {
        let verdict = match (c.checked, c.ok()) {
            (false, _) => "not checked",
            (true, true) => "OK",
            (true, false) => "FAIL",
        };
        println!("plan {}: no Seq Scan on posts or mentions (custom plan): {verdict}", c.name);
        for p in &c.plans {
            let scans = if p.seq_scans.is_empty() { "none".to_owned() } else { p.seq_scans.join(", ") };
            println!("  {}: {:.1} ms, Seq Scan on: {scans}", p.mode, p.execution_ms);
        }
        println!(
            "  default plan_cache_mode: {}",
            if c.switched {
                "switches to the generic plan after 5 executions"
            } else {
                "stays on custom plans"
            }
        );
    }

    conn.close().await.ok();
    if o.keep || o.reuse {
        println!("kept database {DATABASE}");
    } else {
        sqlx::query(&format!("DROP DATABASE {DATABASE} WITH (FORCE)"))
            .execute(&mut admin_conn)
            .await
            .expect("drop bench database");
    }
}
