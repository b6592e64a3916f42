//! `brandpulse demo --no-serve`, run twice on a fresh database with the
//! real model: what it stores matches what the bundled sample posts say
//! (worked out here with the library's own normaliser and brand matcher),
//! every post is read by the model, the summary names the spike day and the
//! problem product, each own brand gets 14 digests, and the second run adds
//! nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use brandpulse::config::{Config, Env};
use brandpulse::demo::{self, SampleSource};
use brandpulse::matching::BrandMatcher;
use brandpulse::nlp::{ModelManifest, Variant};
use brandpulse::normalize::normalize_deferred;
use brandpulse::sources::{Body, Engagement, RawItem};
use sqlx::PgPool;

use crate::helpers::{Run, TestDb, brandpulse, example_config, model_dir};

/// What the sample data should leave in the database: distinct posts (by
/// content hash) that mention a watched brand, and mentions per brand.
fn expected(config: &Config) -> (usize, BTreeMap<String, i64>) {
    let matcher = BrandMatcher::new(&config.brands);
    let mut posts: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
    for p in demo::sample_posts().expect("posts.jsonl parses") {
        let item = RawItem {
            external_id: p.line.to_string(),
            url: None,
            author: None,
            title: p.title.clone(),
            body: Body::Text(p.text.clone()),
            published: None,
            engagement: Engagement::default(),
            lang_hint: None,
        };
        let pending = normalize_deferred(item, None);
        let found = matcher.find(&pending.post.match_text());
        if found.is_empty() {
            continue;
        }
        posts.entry(pending.post.content_hash).or_insert_with(|| found.iter().map(|m| m.brand).collect());
    }
    let mut mentions = BTreeMap::new();
    for brands in posts.values() {
        for &b in brands {
            *mentions.entry(config.brands[b].name.clone()).or_insert(0) += 1;
        }
    }
    (posts.len(), mentions)
}

#[derive(Debug, PartialEq, Eq)]
struct Counts {
    posts: i64,
    mentions: BTreeMap<String, i64>,
    sentiments: i64,
    unread: i64,
    digests: i64,
    /// Per brand: (distinct days, first day, last day).
    digest_days: BTreeMap<String, (i64, String, String)>,
}

async fn counts(pool: &PgPool, model_id: &str) -> Counts {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.expect(sql)
    };
    let count_for_model = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql).bind(model_id).fetch_one(pool).await.expect(sql)
    };
    let mentions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT b.name, count(*) FROM mentions m JOIN brands b ON b.id = m.brand_id GROUP BY b.name",
    )
    .fetch_all(pool)
    .await
    .expect("mentions");
    let days: Vec<(String, i64, String, String)> = sqlx::query_as(
        "SELECT b.name, count(DISTINCT d.day), min(d.day)::text, max(d.day)::text
         FROM digests d JOIN brands b ON b.id = d.brand_id GROUP BY b.name",
    )
    .fetch_all(pool)
    .await
    .expect("digests");
    Counts {
        posts: count("SELECT count(*) FROM posts").await,
        mentions: mentions.into_iter().collect(),
        sentiments: count_for_model("SELECT count(*) FROM sentiments WHERE model_id = $1").await,
        unread: count_for_model("SELECT count(*) FROM posts WHERE analysed_model_id IS DISTINCT FROM $1")
            .await,
        digests: count("SELECT count(*) FROM digests").await,
        digest_days: days.into_iter().map(|(b, n, first, last)| (b, (n, first, last))).collect(),
    }
}

async fn run_demo(db_url: &str, out: &std::path::Path) -> Run {
    let (db_url, out) = (db_url.to_owned(), out.to_string_lossy().into_owned());
    tokio::task::spawn_blocking(move || {
        let config = example_config().to_string_lossy().into_owned();
        let model = model_dir().to_string_lossy().into_owned();
        brandpulse(
            &["--config", &config, "demo", "--no-serve", "--quiet", "--out", &out],
            &[("BRANDPULSE_DATABASE_URL", &db_url), ("BRANDPULSE_MODEL_DIR", &model)],
        )
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn demo_runs_the_pipeline_offline_and_twice_adds_nothing() {
    let db = TestDb::new().await;
    let out = tempfile::tempdir().expect("temp dir");
    let config =
        Config::load(&example_config(), &Env::from_pairs([("BRANDPULSE_DATABASE_URL", db.url.as_str())]))
            .expect("example config");
    let model_id =
        ModelManifest::read(&model_dir()).expect("manifest").model_id_for(Variant::Int8).expect("int8 id");
    let (want_posts, want_mentions) = expected(&config);
    assert!((250..=450).contains(&want_posts), "several hundred posts mention a brand: {want_posts}");

    let started = Instant::now();
    let first = run_demo(&db.url, out.path()).await;
    let took = started.elapsed();
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let after_first = counts(&db.pool, &model_id).await;
    println!(
        "demo took {:.1} s: {} posts, mentions {:?}\n{}",
        took.as_secs_f64(),
        after_first.posts,
        after_first.mentions,
        first.stdout
    );

    // Stored: every sample post that names a watched brand, once; no others.
    assert_eq!(after_first.posts as usize, want_posts, "{}", first.stdout);
    assert_eq!(after_first.mentions, want_mentions, "{}", first.stdout);
    assert!(first.stdout.contains(&format!("{want_posts} new this run")), "{}", first.stdout);
    // Every post read by the real model.
    assert_eq!(after_first.unread, 0);
    assert_eq!(after_first.sentiments, after_first.posts);

    // The summary names the spike day (the busiest day of the data) and the
    // problem product.
    let samples = demo::sample_posts().expect("samples");
    let mut per_day = [0usize; demo::DAYS as usize];
    for p in &samples {
        per_day[p.day as usize] += 1;
    }
    let spike_day = (0..demo::DAYS).max_by_key(|d| per_day[*d as usize]).expect("a day");
    let today = chrono::Utc::now().date_naive();
    let spike_date = today - chrono::Duration::days(i64::from(demo::DAYS - 1 - spike_day));
    let spike_line = first.stdout.lines().find(|l| l.trim_start().starts_with("spike")).unwrap_or("");
    assert!(spike_line.contains(&spike_date.to_string()), "spike on {spike_date}:\n{}", first.stdout);
    assert!(spike_line.contains("Kestrel"), "{spike_line}");
    let problem = first.stdout.lines().find(|l| l.trim_start().starts_with("problem product")).unwrap_or("");
    assert!(problem.contains("Kestrel X200 Pro (KM-X200P)"), "{}", first.stdout);
    assert!(first.stdout.contains("top products"), "{}", first.stdout);
    assert!(samples.iter().any(|p| p.source == SampleSource::Forum));

    // 14 digests per own brand, the last for today, each also written as HTML.
    let first_date = today - chrono::Duration::days(i64::from(demo::DAYS - 1));
    let own: Vec<&str> = config.own_brands().map(|b| b.name.as_str()).collect();
    assert_eq!(after_first.digests, 14 * own.len() as i64);
    for brand in &own {
        assert_eq!(
            after_first.digest_days.get(*brand),
            Some(&(14, first_date.to_string(), today.to_string())),
            "{brand}"
        );
        let latest = out.path().join(format!("digest-{}-{today}.html", brand.to_lowercase()));
        let html = std::fs::read_to_string(&latest).expect("latest digest written");
        assert!(html.contains(brand), "{}", latest.display());
        assert!(first.stdout.contains(&latest.display().to_string()), "{}", first.stdout);
    }
    assert_eq!(std::fs::read_dir(out.path()).expect("out dir").count(), 14 * own.len());

    // Again: nothing new anywhere; the digests of the same days are replaced.
    let second = run_demo(&db.url, out.path()).await;
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(counts(&db.pool, &model_id).await, after_first);
    let posts_line = second.stdout.lines().find(|l| l.trim_start().starts_with("posts")).unwrap_or("");
    assert!(posts_line.contains(" 0 new this run"), "{}", second.stdout);
    assert!(second.stdout.contains("(0 posts read this run)"), "{}", second.stdout);
    assert!(second.stdout.contains(&spike_date.to_string()), "{}", second.stdout);
}
