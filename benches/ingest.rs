//! Ingestion throughput: parse + normalise + match + store, model excluded.
//!
//! Generates RSS feeds with 100,000 posts of realistic length (20% mention a
//! watched brand of the example config), then runs the real pipeline stages
//! on them into a fresh PostgreSQL database and prints posts/s.
//!
//! Run: `cargo bench --bench ingest` (needs the database that
//! `bash config/dev-postgres.sh` sets up, or BRANDPULSE_TEST_ADMIN_URL).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brandpulse::config::{Config, Env};
use brandpulse::crawl::prepare_item;
use brandpulse::matching::BrandMatcher;
use brandpulse::sources::{Response, feed};
use brandpulse::store::{NewPost, Store};
use chrono::Utc;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection};

const POSTS: usize = 100_000;
const PER_FEED: usize = 100;

const WORDS: &[&str] = &[
    "the",
    "a",
    "battery",
    "camera",
    "screen",
    "really",
    "update",
    "after",
    "week",
    "price",
    "love",
    "hate",
    "delivery",
    "support",
    "sound",
    "quality",
    "fast",
    "slow",
    "charger",
    "case",
    "review",
    "honestly",
    "upgrade",
    "bought",
    "returned",
    "works",
    "broken",
    "great",
    "terrible",
    "app",
    "firmware",
    "weekend",
    "photos",
    "night",
    "mode",
    "bass",
    "noise",
    "cancelling",
    "comfortable",
    "heavy",
    "light",
    "shipping",
    "is",
    "was",
    "and",
    "but",
    "with",
    "for",
    "on",
    "my",
    "this",
    "new",
    "old",
    "than",
    "better",
    "worse",
];
const MENTIONS: &[&str] = &[
    "my Kestrel X200 Pro",
    "the Lumio XM5",
    "Orbix S9 Ultra",
    "#LumioAudio",
    "@kestrelmobile",
    "Kestrel phone",
    "Lumio Buds 2",
    "the new Orbix",
    "路米欧耳机",
];

fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s.push('.');
    s
}

fn generate_feed(rng: &mut StdRng, feed: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Bench</title>\
         <link>https://bench.example/</link><description>generated</description>\n",
    );
    for item in 0..PER_FEED {
        let mut body = String::new();
        // 300 to 800 characters: a few sentences.
        let length = rng.random_range(300..800);
        while body.len() < length {
            body.push_str("<p>");
            let words = rng.random_range(8..20);
            body.push_str(&sentence(rng, words));
            body.push_str("</p>");
        }
        if rng.random_bool(0.2) {
            let mention = MENTIONS[rng.random_range(0..MENTIONS.len())];
            body.push_str(&format!("<p>Thoughts on {mention} so far: {}</p>", sentence(rng, 10)));
        }
        xml.push_str(&format!(
            "<item><title>{}</title><link>https://bench.example/{feed}/{item}?utm_source=rss</link>\
             <guid>bench-{feed}-{item}</guid><pubDate>Mon, 23 Nov 2026 08:{:02}:00 GMT</pubDate>\
             <description><![CDATA[{body}]]></description></item>\n",
            sentence(rng, 6),
            item % 60
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml.into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let admin = std::env::var("BRANDPULSE_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://brandpulse:brandpulse@127.0.0.1:5432/brandpulse".into());
    let name = format!("bp_bench_ingest_{}", std::process::id());
    let mut conn =
        PgConnection::connect(&admin).await.expect("connect as admin (run config/dev-postgres.sh)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create bench database");

    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/brandpulse.example.toml");
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("admin URL has a database").0);
    let env = Env::from_pairs([("BRANDPULSE_DATABASE_URL", url.as_str())]);
    let config = Config::load(&config_path, &env).expect("example config");
    let store = Store::open(&config.database).await.expect("open bench database");
    store.sync_config(&config).await.expect("sync");
    let brand_ids: Vec<i64> = {
        let rows = store.brands().await.expect("brands");
        config.brands.iter().map(|b| rows.iter().find(|r| r.name == b.name).expect("brand").id).collect()
    };
    let source_id: i64 = sqlx::query_scalar("SELECT id FROM sources ORDER BY id LIMIT 1")
        .fetch_one(&mut conn_for(&url).await)
        .await
        .expect("a source");

    let mut rng = StdRng::seed_from_u64(20261123);
    let feeds: Vec<Vec<u8>> = (0..POSTS / PER_FEED).map(|f| generate_feed(&mut rng, f)).collect();
    let bytes: usize = feeds.iter().map(Vec::len).sum();
    println!("generated {} feeds, {POSTS} posts, {:.1} MB", feeds.len(), bytes as f64 / 1e6);

    // The crawler's own stages: parse, then normalise → match → language for
    // each item (crawl::prepare_item), on blocking threads, four feeds at a
    // time as `crawl` fetches four sources at a time; then store.
    let matcher = Arc::new(BrandMatcher::new(&config.brands));
    let brand_ids: Arc<[i64]> = brand_ids.into();
    let base = url::Url::parse("https://bench.example/feed.xml").expect("url");
    let cpu = Arc::new(std::sync::Mutex::new((Duration::ZERO, Duration::ZERO)));
    let (mut seen, mut stored, mut mentions, mut t_store) = (0usize, 0u64, 0u64, Duration::ZERO);
    let started = Instant::now();
    let mut prepared = futures_util::stream::iter(feeds.into_iter().map(|body| {
        let (matcher, brand_ids, base, cpu) = (matcher.clone(), brand_ids.clone(), base.clone(), cpu.clone());
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let response =
                Response { url: &base, content_type: Some("application/rss+xml"), link: None, body: &body };
            let page = feed::parse(&response).expect("generated feed parses");
            let t_parse = t.elapsed();
            let t = Instant::now();
            let fetched_at = Utc::now();
            let items = page.items.len();
            let posts: Vec<NewPost> = page
                .items
                .into_iter()
                .filter_map(|item| prepare_item(&matcher, &brand_ids, None, item, fetched_at))
                .collect();
            if let Ok(mut cpu) = cpu.lock() {
                cpu.0 += t_parse;
                cpu.1 += t.elapsed();
            }
            (items, posts)
        })
    }))
    .buffer_unordered(4);
    while let Some(result) = prepared.next().await {
        let (items, batch) = result.expect("prepare task");
        seen += items;
        let t = Instant::now();
        let report = store.insert_posts(source_id, &batch).await.expect("store");
        t_store += t.elapsed();
        stored += report.new_posts;
        mentions += report.new_mentions;
    }
    let total = started.elapsed();
    let (t_parse, t_prepare) = *cpu.lock().expect("timings");
    println!(
        "posts seen {seen}, stored {stored} ({:.1}%), mentions {mentions}",
        100.0 * stored as f64 / seen as f64
    );
    let per = |d: Duration| d.as_secs_f64() * 1e6 / seen as f64;
    println!(
        "CPU time per post: parse {:.1} µs, normalise + match + language {:.1} µs; store (wall, per post seen) {:.1} µs",
        per(t_parse),
        per(t_prepare),
        per(t_store)
    );
    println!(
        "ingest throughput: {:.0} posts/s ({seen} posts in {:.2} s on {} cores; target >= 5,000 posts/s)",
        seen as f64 / total.as_secs_f64(),
        total.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop bench database");
}

async fn conn_for(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connect to bench database")
}
