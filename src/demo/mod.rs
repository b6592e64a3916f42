//! `brandpulse demo`: the whole pipeline on bundled sample data, with no
//! internet.
//!
//! The flow is the real one, with only the sources swapped: a local server
//! ([`server`]) renders the bundled posts (`posts.jsonl`: 14 days about the
//! example brands, with a spike and a problem product) as an RSS feed, a
//! Mastodon timeline, an HTML forum page and Hacker News search results; the
//! configured database, brands, model and digest settings are used as they
//! are. Then: migrate and sync → import the example catalog → crawl every
//! demo source once → analyse with the real model → a digest per own brand
//! for each of the 14 days → a short summary. The CLI (`cli::demo`) then
//! serves the dashboard.
//!
//! Running it again stores nothing twice: the sample posts keep their
//! external ids (derived from their line in the data), so the second crawl
//! finds only posts it has, the model has nothing left to read, and digests
//! of the same days replace the old ones.

pub mod samples;
pub mod server;

pub use samples::{
    Expectation, SampleEngagement, SamplePost, SampleSource, Timeline, parse_sample_posts, sample_posts,
};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use rand::Rng;
use secrecy::SecretString;
use url::Url;

use crate::analysis::{self, AnalysisError, Worker};
use crate::catalog::{self, CatalogFormat};
use crate::config::{Config, ConfigError, Env, SourceConfig, SourceKind, SourceParams};
use crate::crawl::{CrawlError, Crawler, SourceReport};
use crate::digest::build::{BrandRef, build};
use crate::digest::rules::{AlertKind, AlertRule};
use crate::digest::{Digest, render};
use crate::fetch::Fetcher;
use crate::nlp::{Analyzer, Engine, EngineOptions, NlpError};
use crate::store::{RunStatus, Store, StoreError};

/// The bundled sample posts, one JSON object a line (see [`SamplePost`]).
pub const SAMPLE_POSTS: &str = include_str!("posts.jsonl");
/// The shipped example config: the demo's fallback when no config file exists.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/brandpulse.example.toml");
/// The shipped example catalog, imported by the demo.
pub const EXAMPLE_CATALOG: &str = include_str!("../../config/catalog.example.csv");
/// Days the sample data covers; its last day is today.
pub const DAYS: u32 = 14;
/// The Mastodon hashtag the demo instance serves its posts under.
pub const SOCIAL_TAG: &str = "gadgets";
/// Statuses per Mastodon page (Mastodon's own maximum).
pub const SOCIAL_PAGE: usize = 40;
/// Scored product mentions over the 14 days a product needs to rank as the
/// problem product. The digest asks 3 in a day; over a fortnight a share of
/// 5 out of 10 is a quiet product's noise, not the headline problem.
pub const PROBLEM_MIN_MENTIONS: u64 = 20;
/// Posts claimed per analysis transaction (as `analyze-pending`).
const POSTS_PER_TRANSACTION: usize = 256;
/// Path shown in messages about the built-in example config.
const BUILT_IN_CONFIG: &str = "<built-in example config>";

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A line of the bundled sample data does not parse (a bug in the data).
    #[error("the bundled sample posts are broken: line {line}: {message}")]
    SampleData {
        /// 1-based line in `posts.jsonl`.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The configuration (or the built-in example) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The example catalog does not fit the configured brands.
    #[error(
        "the example catalog does not fit the configured brands ({0}); the demo needs the example \
         config's brands: run it with --config config/brandpulse.example.toml"
    )]
    Catalog(String),
    /// The local source server could not start.
    #[error("cannot start the demo's source server on 127.0.0.1")]
    Server(#[source] std::io::Error),
    /// A demo source could not be built (a bug).
    #[error("cannot set up the demo source {name}: {message}")]
    Source {
        /// The source.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The crawl could not run.
    #[error(transparent)]
    Crawl(#[from] CrawlError),
    /// Demo sources failed: their server is local, so this is a bug.
    #[error(
        "{failed} of {total} demo sources failed ({details}); the demo server is local, so please report this"
    )]
    SourcesFailed {
        /// Sources that failed.
        failed: usize,
        /// Sources fetched.
        total: usize,
        /// Each failed source with its error.
        details: String,
    },
    /// The model could not be loaded or failed.
    #[error(transparent)]
    Model(#[from] NlpError),
    /// The analysis worker failed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// A digest file could not be written.
    #[error("cannot write {}; pass --out DIR with a writable directory", path.display())]
    WriteFile {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The dashboard address is taken or not ours.
    #[error("cannot listen on {addr} for the dashboard; pass --bind ADDR with a free port (or --no-serve)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The dashboard server failed.
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
}

impl DemoError {
    /// 2 for bad input or configuration, 1 for runtime failures (as `CliError`).
    pub fn exit_code(&self) -> u8 {
        match self {
            DemoError::Config(_) | DemoError::Catalog(_) | DemoError::Bind { .. } => 2,
            _ => 1,
        }
    }
}

impl From<std::io::Error> for DemoError {
    fn from(e: std::io::Error) -> Self {
        DemoError::Output(e)
    }
}

/// The example config built into brandpulse, validated against `env` (so
/// `BRANDPULSE_DATABASE_URL` and `BRANDPULSE_MODEL_DIR` still apply).
pub fn example_config(env: &Env) -> Result<Config, ConfigError> {
    Config::from_bytes(Path::new(BUILT_IN_CONFIG), EXAMPLE_CONFIG.as_bytes(), env)
}

/// The demo's sources, pointing at the local server at `base`: the news
/// feed, the Mastodon timeline, the forum page and one Hacker News search
/// per configured brand (Algolia answers a query with the hits that contain
/// it, as the demo server does).
pub fn demo_sources(
    config: &Config,
    base: &Url,
    social_posts: usize,
) -> Result<Vec<SourceConfig>, DemoError> {
    let url = |name: &str, path: &str| {
        base.join(path).map_err(|e| DemoError::Source { name: name.to_owned(), message: e.to_string() })
    };
    let schedule = |name: &str| {
        // Hourly, should a daemon ever pick the source up before the next
        // sync disables it; the demo itself fetches each source once.
        cron::Schedule::from_str("0 0 * * * *")
            .map_err(|e| DemoError::Source { name: name.to_owned(), message: e.to_string() })
    };
    let source = |name: &str, kind, path: &str, query: Option<String>, params| {
        Ok::<_, DemoError>(SourceConfig {
            name: name.to_owned(),
            kind,
            url: url(name, path)?,
            query,
            schedule: schedule(name)?,
            enabled: true,
            params,
        })
    };
    // Every page of the timeline, plus the empty one that ends it.
    let pages = (social_posts.div_ceil(SOCIAL_PAGE) + 1).clamp(1, 50) as u32;
    let mut sources = vec![
        source("demo-news", SourceKind::Feed, "news/feed.xml", None, SourceParams::default())?,
        source(
            "demo-social",
            SourceKind::Mastodon,
            "social",
            None,
            SourceParams {
                tag: Some(SOCIAL_TAG.to_owned()),
                max_pages: Some(pages),
                ..SourceParams::default()
            },
        )?,
        source(
            "demo-forum",
            SourceKind::Html,
            "forum/latest",
            None,
            SourceParams { selectors: Some(server::forum_selectors()), ..SourceParams::default() },
        )?,
    ];
    for brand in &config.brands {
        let slug = slug(&brand.name);
        sources.push(source(
            &format!("demo-hn-{slug}"),
            SourceKind::HackerNews,
            "hn",
            Some(brand.name.clone()),
            SourceParams { tags: vec!["story".to_owned(), "comment".to_owned()], ..SourceParams::default() },
        )?);
    }
    Ok(sources)
}

/// `config` with its sources replaced by `sources`. The fetcher's per-host
/// rate limit is lifted: it protects other people's servers, and this one
/// is ours (at the example's 30 a minute the demo would wait for minutes).
pub fn with_sources(mut config: Config, sources: Vec<SourceConfig>) -> Config {
    config.sources = sources;
    config.fetch.per_host_requests_per_minute = 6000;
    config
}

/// What `demo` does besides the pipeline itself.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the digest HTML files go.
    pub out_dir: PathBuf,
    /// No progress bar.
    pub quiet: bool,
}

/// A product's figures over the demo's 14 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductTotal {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Its brand.
    pub brand: String,
    /// Mentions.
    pub mentions: u64,
    /// Mentions with a positive targeted sentiment.
    pub positive: u64,
    /// Neutral ones.
    pub neutral: u64,
    /// Negative ones.
    pub negative: u64,
}

impl ProductTotal {
    fn scored(&self) -> u64 {
        self.positive + self.neutral + self.negative
    }

    /// Negative share of the scored mentions.
    pub fn negative_share(&self) -> f64 {
        if self.scored() == 0 { 0.0 } else { self.negative as f64 / self.scored() as f64 }
    }
}

/// The day that stood out.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// The day (in the digest time zone).
    pub day: NaiveDate,
    /// The brand.
    pub brand: String,
    /// Its mentions that day.
    pub mentions: u64,
    /// The digest's volume alert sentence, or `None` when no day passed the
    /// spike rule (then this is merely the busiest day).
    pub alert: Option<String>,
}

/// What the demo did and found.
#[derive(Debug, Clone)]
pub struct Summary {
    /// First day covered.
    pub first_day: NaiveDate,
    /// Last day covered (today).
    pub last_day: NaiveDate,
    /// Sample posts served.
    pub served: usize,
    /// Posts this run stored.
    pub new_posts: u64,
    /// Brand mentions this run stored.
    pub new_mentions: u64,
    /// Posts in the database read by the model.
    pub total_posts: u64,
    /// Posts the model read this run.
    pub analysed: u64,
    /// The model id.
    pub model_id: String,
    /// Mentions per brand over the 14 days: (brand, competitor, mentions).
    pub mentions: Vec<(String, bool, u64)>,
    /// Posts per sentiment: negative, neutral, positive.
    pub sentiment: [u64; 3],
    /// Posts the model did not score (language, no text).
    pub unscored: u64,
    /// The most mentioned products.
    pub top_products: Vec<ProductTotal>,
    /// The own product with the highest negative share.
    pub problem: Option<ProductTotal>,
    /// The spike.
    pub spike: Option<Spike>,
    /// Digests made (brand-days).
    pub digests: usize,
    /// The latest day's digest file of each own brand.
    pub latest_digests: Vec<PathBuf>,
    /// The spike day's digest file.
    pub spike_digest: Option<PathBuf>,
    /// Wall time of the whole run.
    pub elapsed: std::time::Duration,
}

impl Summary {
    /// Prints the summary for people.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out)?;
        writeln!(
            out,
            "Summary: {} to {} ({DAYS} days), in {:.1} s",
            self.first_day,
            self.last_day,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            out,
            "  posts            {} new this run, {} in the database ({} sample posts served)",
            self.new_posts, self.total_posts, self.served
        )?;
        let mentions: Vec<String> = self
            .mentions
            .iter()
            .map(|(brand, competitor, n)| {
                format!("{brand} {n}{}", if *competitor { " (competitor)" } else { "" })
            })
            .collect();
        writeln!(out, "  mentions         {}; {} new this run", mentions.join(", "), self.new_mentions)?;
        let [negative, neutral, positive] = self.sentiment;
        let scored = negative + neutral + positive;
        let pct = |n: u64| if scored == 0 { 0.0 } else { n as f64 * 100.0 / scored as f64 };
        writeln!(
            out,
            "  sentiment        {:.0}% positive, {:.0}% neutral, {:.0}% negative of {scored} scored posts{}",
            pct(positive),
            pct(neutral),
            pct(negative),
            if self.unscored > 0 { format!(" ({} not scored)", self.unscored) } else { String::new() }
        )?;
        let top: Vec<String> =
            self.top_products.iter().map(|p| format!("{} ({}) {}", p.name, p.sku, p.mentions)).collect();
        writeln!(
            out,
            "  top products     {}",
            if top.is_empty() { "none linked".to_owned() } else { top.join(", ") }
        )?;
        match &self.spike {
            Some(Spike { day, brand, alert: Some(reason), .. }) => {
                writeln!(out, "  spike            {day}: {brand}: {reason}")?;
            }
            Some(Spike { day, brand, mentions, alert: None }) => writeln!(
                out,
                "  spike            none passed the alert rule; the busiest day was {day} ({brand}, {mentions} mentions)"
            )?,
            None => writeln!(out, "  spike            none (no mentions)")?,
        }
        match &self.problem {
            Some(p) => writeln!(
                out,
                "  problem product  {} ({}): {:.0}% negative ({} of {} scored mentions)",
                p.name,
                p.sku,
                p.negative_share() * 100.0,
                p.negative,
                p.scored()
            )?,
            None => writeln!(
                out,
                "  problem product  none with at least {PROBLEM_MIN_MENTIONS} scored mentions and a negative one"
            )?,
        }
        writeln!(out, "  model            {} ({} posts read this run)", self.model_id, self.analysed)?;
        writeln!(out, "  digests          {} stored (each own brand, each day)", self.digests)?;
        for path in &self.latest_digests {
            writeln!(out, "    latest:        {}", path.display())?;
        }
        if let Some(path) = &self.spike_digest {
            writeln!(out, "    spike day:     {}", path.display())?;
        }
        Ok(())
    }
}

/// What a finished demo leaves for the dashboard.
pub struct DemoRun {
    /// The database, migrated and filled.
    pub store: Store,
    /// The config the demo ran with (its sources are the demo's).
    pub config: Arc<Config>,
    /// The loaded model.
    pub engine: Engine,
    /// What it did and found.
    pub summary: Summary,
}

/// Runs the demo up to its summary (printed to `out`): serves the sample
/// posts locally, crawls, analyses, writes digests. `config` supplies the
/// database, brands, model and digest settings; its sources are replaced by
/// the demo's.
pub async fn run(config: Config, options: &DemoOptions, out: &mut dyn Write) -> Result<DemoRun, DemoError> {
    let started = Instant::now();
    let posts = sample_posts()?;
    let timeline = Timeline::new(Utc::now());
    let social = posts.iter().filter(|p| p.source == SampleSource::Social).count();
    let served = posts.len();
    let server = server::DemoServer::start(posts, timeline).await.map_err(DemoError::Server)?;
    writeln!(
        out,
        "brandpulse demo: {served} sample posts from {} to {} served on {}",
        timeline.first_day,
        timeline.date(DAYS - 1),
        server.url()
    )?;
    // The server only has to live through the crawl; stop it on every path.
    let crawled = crawl(config, &server, social, out).await;
    server.stop().await;
    let (store, config, reports) = crawled?;
    let config = Arc::new(config);
    let result = analyse_and_digest(&store, &config, &timeline, options, &reports, out).await;
    match result {
        Ok((engine, mut summary)) => {
            summary.served = served;
            summary.elapsed = started.elapsed();
            summary.write(out)?;
            Ok(DemoRun { store, config, engine, summary })
        }
        Err(e) => {
            store.close().await;
            Err(e)
        }
    }
}

/// Migrates, syncs the demo sources, imports the catalog and crawls.
async fn crawl(
    config: Config,
    server: &server::DemoServer,
    social_posts: usize,
    out: &mut dyn Write,
) -> Result<(Store, Config, Vec<SourceReport>), DemoError> {
    let sources = demo_sources(&config, &server.url(), social_posts)?;
    let config = with_sources(config, sources);
    let store = Store::open(&config.database).await?;
    let result = async {
        let sync = store.sync_config(&config).await?;
        if sync.sources.disabled > 0 {
            writeln!(
                out,
                "note: the demo is meant for a fresh database of its own; it disabled {} configured sources here \
                 (the next command run with your config enables them again)",
                sync.sources.disabled
            )?;
        }
        import_catalog(&store, out).await?;
        let fetcher = Fetcher::new(&config.fetch).map_err(CrawlError::from)?;
        let crawler = Crawler::new(&config, store.clone(), fetcher).await?;
        let reports = crawler.crawl_all(None).await?;
        print_crawl(out, &reports)?;
        let failed: Vec<String> = reports
            .iter()
            .filter(|r| r.status == RunStatus::Failed)
            .map(|r| format!("{}: {}", r.name, r.error.as_deref().unwrap_or("failed")))
            .collect();
        if !failed.is_empty() {
            return Err(DemoError::SourcesFailed {
                failed: failed.len(),
                total: reports.len(),
                details: failed.join("; "),
            });
        }
        Ok(reports)
    }
    .await;
    match result {
        Ok(reports) => Ok((store, config, reports)),
        Err(e) => {
            store.close().await;
            Err(e)
        }
    }
}

/// Imports the example catalog, keeping products it does not list (a
/// database with a catalog of its own keeps it).
async fn import_catalog(store: &Store, out: &mut dyn Write) -> Result<(), DemoError> {
    let brands = catalog::known_brands(store.brands().await?);
    let products =
        catalog::parse(EXAMPLE_CATALOG.as_bytes(), CatalogFormat::Csv, &brands).map_err(|problems| {
            let first: Vec<String> = problems.iter().take(3).map(|p| p.to_string()).collect();
            DemoError::Catalog(format!("{} rows rejected, e.g. {}", problems.len(), first.join("; ")))
        })?;
    let report = store.import_catalog(&products, false).await?;
    writeln!(
        out,
        "catalog: {} example products ({} inserted, {} updated, {} unchanged)",
        products.len(),
        report.inserted,
        report.updated,
        report.unchanged
    )?;
    Ok(())
}

fn print_crawl(out: &mut dyn Write, reports: &[SourceReport]) -> std::io::Result<()> {
    for r in reports {
        writeln!(
            out,
            "crawled {:<18} {:<12} {:>4} items, {:>4} new posts, {:>4} new mentions  {:.2} s",
            r.name,
            r.status.as_str(),
            r.items_seen,
            r.new_posts,
            r.new_mentions,
            r.elapsed.as_secs_f64()
        )?;
    }
    Ok(())
}

/// Loads the model, reads every post it has not read, and makes the digests.
async fn analyse_and_digest(
    store: &Store,
    config: &Config,
    timeline: &Timeline,
    options: &DemoOptions,
    reports: &[SourceReport],
    out: &mut dyn Write,
) -> Result<(Engine, Summary), DemoError> {
    writeln!(out, "loading the model from {}", config.model.dir.display())?;
    let engine = start_engine(config).await?;
    let reader = analysis::load_reader(store, config).await?;
    let worker = Worker::new(store, &engine, &reader, POSTS_PER_TRANSACTION);
    let pending = worker.pending().await?;
    let bar = progress_bar(pending, options.quiet);
    let analysing = Instant::now();
    let report = worker.run_until_idle(|batch| bar.inc(batch.posts)).await?;
    bar.finish_and_clear();
    writeln!(
        out,
        "analysed {} posts with {} in {:.1} s: {} product mentions, {} names not in the catalog",
        report.posts,
        engine.model_id(),
        analysing.elapsed().as_secs_f64(),
        report.product_mentions,
        report.unlinked
    )?;
    let model_id = engine.model_id().to_owned();

    let digests = make_digests(store, config, timeline, &model_id, &options.out_dir).await?;
    writeln!(out, "wrote {} digests to {}", digests.len(), options.out_dir.display())?;

    let mut summary = summarise(store, config, timeline, &model_id, &digests).await?;
    summary.new_posts = reports.iter().map(|r| r.new_posts).sum();
    summary.new_mentions = reports.iter().map(|r| r.new_mentions).sum();
    summary.analysed = report.posts;
    Ok((engine, summary))
}

/// Starts the configured model off the async threads (loading takes seconds).
async fn start_engine(config: &Config) -> Result<Engine, DemoError> {
    Ok(Engine::start_in_background(config.model.dir.clone(), EngineOptions::from(&config.model)).await?)
}

/// The analysis progress bar (on stderr; indicatif hides it when stderr is
/// not a terminal).
fn progress_bar(pending: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(pending);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} analysing [{bar:30}] {pos}/{len} posts  {per_sec}  eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// One made digest.
struct MadeDigest {
    digest: Digest,
    path: PathBuf,
}

/// Makes, stores (replacing) and writes as HTML the digest of every own
/// brand for each of the 14 days.
async fn make_digests(
    store: &Store,
    config: &Config,
    timeline: &Timeline,
    model_id: &str,
    out_dir: &Path,
) -> Result<Vec<MadeDigest>, DemoError> {
    std::fs::create_dir_all(out_dir)
        .map_err(|source| DemoError::WriteFile { path: out_dir.to_path_buf(), source })?;
    let rows = store.brands().await?;
    let tz = config.digest.time_zone;
    let mut made = Vec::new();
    for own in config.own_brands() {
        let Some(row) = rows.iter().find(|r| r.name.to_lowercase() == own.name.to_lowercase()) else {
            continue;
        };
        let brand = BrandRef { id: row.id, name: row.name.clone(), aliases: own.aliases.clone() };
        // The sample days, read as days of the digest's time zone.
        for day in 0..DAYS {
            let date = timeline.date(day);
            let digest = build(store, &brand, date, tz, model_id, &AlertRule::default()).await?;
            let html = render::html(&digest);
            let markdown = render::markdown(&digest);
            let stats = serde_json::to_value(&digest).map_err(|e| DemoError::Output(e.into()))?;
            store.save_digest(brand.id, date, model_id, &stats, &markdown, &html).await?;
            let path = out_dir.join(format!("digest-{}-{date}.html", slug(&brand.name)));
            std::fs::write(&path, html.as_bytes())
                .map_err(|source| DemoError::WriteFile { path: path.clone(), source })?;
            made.push(MadeDigest { digest, path });
        }
    }
    Ok(made)
}

/// The summary's figures, from the store and the digests just made.
async fn summarise(
    store: &Store,
    config: &Config,
    timeline: &Timeline,
    model_id: &str,
    digests: &[MadeDigest],
) -> Result<Summary, DemoError> {
    let (from, to) = (timeline.start(), timeline.end());
    let mentions = store
        .brand_volumes(from, to)
        .await?
        .into_iter()
        .map(|v| (v.brand, v.competitor, v.mentions.max(0) as u64))
        .collect();

    let sentiments = store.sentiments(model_id).await?;
    let mut sentiment = [0u64; 3];
    let mut unscored = 0;
    for row in &sentiments {
        match row.label.as_deref() {
            Some("negative") => sentiment[0] += 1,
            Some("neutral") => sentiment[1] += 1,
            Some("positive") => sentiment[2] += 1,
            _ => unscored += 1,
        }
    }

    let mut products = Vec::new();
    let mut own_products = Vec::new();
    for brand in store.brands().await?.into_iter().filter(|b| b.enabled) {
        for day in store.product_days(brand.id, model_id, from, from, to).await? {
            let total = ProductTotal {
                sku: day.sku,
                name: day.name,
                brand: brand.name.clone(),
                mentions: day.mentions.max(0) as u64,
                positive: day.positive.max(0) as u64,
                neutral: day.neutral.max(0) as u64,
                negative: day.negative.max(0) as u64,
            };
            if !brand.competitor {
                own_products.push(total.clone());
            }
            products.push(total);
        }
    }
    products.sort_by(|a, b| b.mentions.cmp(&a.mentions).then_with(|| a.sku.cmp(&b.sku)));
    products.truncate(3);
    // As the digest ranks problem products, over the whole window.
    let problem = own_products
        .into_iter()
        .filter(|p| p.scored() >= PROBLEM_MIN_MENTIONS && p.negative > 0)
        .max_by(|a, b| {
            a.negative_share().total_cmp(&b.negative_share()).then_with(|| a.mentions.cmp(&b.mentions))
        });

    let (spike, spike_digest) = find_spike(digests);
    let mut latest_digests = Vec::new();
    for own in config.own_brands() {
        let latest = digests
            .iter()
            .filter(|d| d.digest.brand.to_lowercase() == own.name.to_lowercase())
            .max_by_key(|d| d.digest.day);
        if let Some(d) = latest {
            latest_digests.push(d.path.clone());
        }
    }

    Ok(Summary {
        first_day: timeline.first_day,
        last_day: timeline.date(DAYS - 1),
        served: 0,
        new_posts: 0,
        new_mentions: 0,
        total_posts: sentiments.len() as u64,
        analysed: 0,
        model_id: model_id.to_owned(),
        mentions,
        sentiment,
        unscored,
        top_products: products,
        problem,
        spike,
        digests: digests.len(),
        latest_digests,
        spike_digest,
        elapsed: std::time::Duration::ZERO,
    })
}

/// The brand-day whose digest raised the strongest volume-spike alert, else
/// the busiest brand-day; with its digest file.
fn find_spike(digests: &[MadeDigest]) -> (Option<Spike>, Option<PathBuf>) {
    let alerted = digests
        .iter()
        .filter_map(|d| {
            let alert = d.digest.alerts.iter().find(|a| a.kind == AlertKind::VolumeSpike)?;
            Some((d, alert))
        })
        .max_by(|(_, a), (_, b)| a.z.total_cmp(&b.z));
    if let Some((d, alert)) = alerted {
        let spike = Spike {
            day: d.digest.day,
            brand: d.digest.brand.clone(),
            mentions: d.digest.volume.mentions,
            alert: Some(alert.reason.clone()),
        };
        return (Some(spike), Some(d.path.clone()));
    }
    let busiest =
        digests.iter().filter(|d| d.digest.volume.mentions > 0).max_by_key(|d| d.digest.volume.mentions);
    match busiest {
        Some(d) => (
            Some(Spike {
                day: d.digest.day,
                brand: d.digest.brand.clone(),
                mentions: d.digest.volume.mentions,
                alert: None,
            }),
            Some(d.path.clone()),
        ),
        None => (None, None),
    }
}

/// A name as a file-name and source-name part: lowercase letters and digits,
/// other runs as one `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { "brand".to_owned() } else { trimmed.to_owned() }
}

/// The dashboard's token: the config's `[api]` token if it has one, else a
/// random one for this run (`true`: generated, so it must be shown).
pub fn dashboard_token(config: &Config) -> (SecretString, bool) {
    match &config.api.token {
        Some(token) => (token.clone(), false),
        None => {
            let token: String =
                rand::rng().sample_iter(rand::distr::Alphanumeric).take(32).map(char::from).collect();
            (SecretString::from(token), true)
        }
    }
}

/// Serves the dashboard and API on `listener` over the demo's data until
/// `shutdown` resolves.
pub async fn serve_dashboard(
    run: &DemoRun,
    listener: tokio::net::TcpListener,
    token: SecretString,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let status = Arc::new(crate::api::RuntimeStatus::default());
    // The model stays loaded while the dashboard runs.
    status.set_model_loaded(true);
    let state = crate::api::AppState {
        store: run.store.clone(),
        config: crate::api::AppState::fixed_config(Arc::clone(&run.config)),
        token,
        model_id: run.engine.model_id().to_owned(),
        status,
    };
    crate::api::serve(listener, state, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration};

    #[test]
    fn the_bundled_sample_posts_parse() {
        let posts = sample_posts().expect("posts.jsonl parses");
        assert!(posts.len() >= 300, "{} posts", posts.len());
        for kind in [SampleSource::News, SampleSource::Social, SampleSource::Forum, SampleSource::Hn] {
            assert!(posts.iter().any(|p| p.source == kind), "no {kind:?} posts");
        }
        assert!(posts.iter().all(|p| p.line > 0));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let text = "{\"day\":0,\"hour\":1,\"source\":\"hn\",\"author\":\"a\",\"title\":null,\"text\":\"t\",\
                    \"engagement\":{\"likes\":1,\"replies\":0,\"reposts\":0},\"expect\":\"neutral\"}\n\n{oops";
        match parse_sample_posts(text) {
            Err(DemoError::SampleData { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        let late = text.replace("\"day\":0", "\"day\":14").replace("\n\n{oops", "");
        assert!(matches!(parse_sample_posts(&late), Err(DemoError::SampleData { line: 1, .. })));
    }

    #[test]
    fn the_timeline_ends_today_and_never_in_the_future() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T10:30:00Z").expect("time").with_timezone(&Utc);
        let t = Timeline::new(now);
        assert_eq!(t.first_day.to_string(), "2026-11-11");
        assert_eq!(t.date(13).to_string(), "2026-11-24");
        let post = |day, hour, line| SamplePost {
            line,
            day,
            hour,
            source: SampleSource::Hn,
            author: "a".into(),
            title: None,
            text: "t".into(),
            engagement: SampleEngagement::default(),
            expect: Expectation::Neutral,
        };
        let early = t.published(&post(0, 8, 1));
        assert_eq!(early.date_naive().to_string(), "2026-11-11");
        assert_eq!(early.format("%H").to_string(), "08");
        // Later today: moved into the last hour before now.
        let late = t.published(&post(13, 22, 7));
        assert!(late < now && late > now - Duration::hours(1), "{late}");
        assert_eq!(t.published(&post(5, 3, 2)), t.published(&post(5, 3, 2)));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Kestrel"), "kestrel");
        assert_eq!(slug("Lumio Audio!"), "lumio-audio");
        assert_eq!(slug("  "), "brand");
    }

    #[test]
    fn demo_sources_replace_the_configured_ones() {
        let config = example_config(&Env::from_pairs([(
            "BRANDPULSE_DATABASE_URL",
            "postgres://demo@127.0.0.1:5432/demo",
        )]))
        .expect("example config");
        let base = Url::parse("http://127.0.0.1:4321/").expect("url");
        let sources = demo_sources(&config, &base, 155).expect("sources");
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["demo-news", "demo-social", "demo-forum", "demo-hn-kestrel", "demo-hn-lumio", "demo-hn-orbix"]
        );
        assert!(sources.iter().all(|s| s.url.as_str().starts_with("http://127.0.0.1:4321/")));
        assert_eq!(sources[1].params.max_pages, Some(5));
        let config = with_sources(config, sources);
        assert_eq!(config.sources.len(), 6);
        assert_eq!(config.fetch.per_host_requests_per_minute, 6000);
    }
}
