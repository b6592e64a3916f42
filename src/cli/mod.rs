//! The command line: argument definitions and what each command does.
//!
//! Each command loads and validates the config, opens the store (applying
//! migrations and syncing brands and sources from the config) when it needs
//! the database, does its one job and prints the result to `out`. Errors are
//! returned, never printed here, so `main` can print the cause chain once and
//! pick the exit code ([`CliError::exit_code`]).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::{self, CatalogError, CatalogFormat};
use crate::config::{Config, ConfigError, DeliveryTarget, DigestFormat, Env, SourceKind};
use crate::crawl::{CrawlError, Crawler, SourceReport};
use crate::fetch::Fetcher;
use crate::store::{ProductRow, RunStatus, Store, StoreError, SyncReport};

pub mod daemon;
pub mod demo;
pub mod digest;
pub mod model;
pub mod status;
pub mod trends;

/// brandpulse: a self-hosted brand-sentiment monitor.
#[derive(Debug, Parser)]
#[command(
    name = "brandpulse",
    version,
    about = "Self-hosted brand-sentiment monitor: public posts in, local model, PostgreSQL out",
    after_help = "The config file is --config PATH, else $BRANDPULSE_CONFIG, else /etc/brandpulse/brandpulse.toml.\n\
                  Exit codes: 0 ok, 2 bad input or configuration, 1 runtime failure.\n\n\
                  Example:\n  brandpulse --config config/brandpulse.example.toml check-config"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and report every problem at once (no database needed).
    #[command(after_help = "Example:\n  brandpulse --config /etc/brandpulse/brandpulse.toml check-config")]
    CheckConfig,

    /// Apply the database migrations this version has (and sync brands and sources from the config).
    #[command(
        after_help = "Example:\n  BRANDPULSE_DATABASE_URL=postgres://brandpulse@localhost/brandpulse brandpulse migrate"
    )]
    Migrate,

    /// Import or list the product catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),

    /// Fetch sources now, store the posts that mention a watched brand, and report per source.
    #[command(
        after_help = "Examples:\n  brandpulse crawl --once\n  brandpulse crawl --once --source hn-kestrel"
    )]
    Crawl(CrawlArgs),

    /// Score a labelled file with the model and print TweetEval's metric (macro-averaged
    /// recall), per-class recall, the confusion matrix and the speed.
    #[command(
        after_help = "Example:\n  brandpulse eval --model models/brandpulse-sentiment-minilm-v1 \\\n    \
                            --text ../shared/eval/tweeteval-sentiment/test_text.txt \\\n    \
                            --labels ../shared/eval/tweeteval-sentiment/test_labels.txt --format json"
    )]
    Eval(model::EvalArgs),

    /// Print the model's sentiment of one text (label, probabilities, model id).
    #[command(after_help = "Examples:\n  brandpulse analyze \"the battery died after a day\"\n  \
                            brandpulse --config brandpulse.toml analyze --format json \"love it\"")]
    Analyze(model::AnalyzeArgs),

    /// Read stored posts again with the current (or another) model and the current catalog;
    /// results of each model id are kept apart.
    #[command(after_help = "Examples:\n  brandpulse reanalyze --since 2026-11-01 --brand Kestrel\n  \
                      brandpulse reanalyze --model /var/lib/brandpulse/models/brandpulse-sentiment-minilm-v2")]
    Reanalyze(model::ReanalyzeArgs),

    /// Make (or remake) the daily digest of a day: store it, print it, and with --deliver send it.
    #[command(
        after_help = "Examples:\n  brandpulse digest\n  brandpulse digest --date 2026-11-22 --brand Kestrel --format html > d.html\n  \
                      brandpulse digest --date 2026-11-22 --deliver"
    )]
    Digest(digest::DigestArgs),

    /// Mentions and sentiment per hour, day or week, and rising products.
    #[command(after_help = "Examples:\n  brandpulse trends --brand Kestrel --since 90d --bucket week\n  \
                      brandpulse trends --product KM-X200 --from 2026-10-01 --to 2026-10-31 --format csv\n  \
                      brandpulse trends --aspect battery --source reddit")]
    Trends(trends::TrendsArgs),

    /// Score every stored post the active model has not read yet, with a progress bar.
    #[command(after_help = "Example:\n  brandpulse analyze-pending")]
    AnalyzePending(model::PendingArgs),

    /// The daemon: fetch sources on their schedules, analyse new posts, make the daily
    /// digests, apply retention and serve the API, until SIGTERM or SIGINT (SIGHUP reloads
    /// the config). Meant to run under systemd (config/brandpulse.service).
    #[command(after_help = "Example:\n  brandpulse --config /etc/brandpulse/brandpulse.toml run")]
    Run,

    /// Show the daemons, each source's last run, failures, next due time and lease, the
    /// analysis queue and the latest digests, from the database.
    #[command(after_help = "Example:\n  brandpulse --config /etc/brandpulse/brandpulse.toml status")]
    Status,

    /// Run the whole pipeline offline on bundled sample posts (14 days, four kinds of source),
    /// print a summary, then serve the dashboard; meant for a database of its own.
    #[command(
        after_help = "Examples:\n  BRANDPULSE_DATABASE_URL=postgres://brandpulse@127.0.0.1:5432/brandpulse_demo \\\n    \
                            brandpulse --config config/brandpulse.example.toml demo\n  \
                            brandpulse demo --no-serve --out /tmp/brandpulse-demo"
    )]
    Demo(demo::DemoArgs),
}

/// Arguments of `crawl`.
#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Fetch each source once and exit (the scheduled daemon is `brandpulse run`).
    #[arg(long, required = true)]
    pub once: bool,

    /// Only this source (by name).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
}

/// `brandpulse catalog ...`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import a catalog file (CSV or JSON): upsert by SKU in one transaction.
    ///
    /// Columns: sku, name, brand (required), category, aliases (separated by |), url;
    /// other columns are kept as attributes. Products missing from the file are
    /// marked discontinued (kept, with their history) unless --keep-missing is given.
    /// A bad row aborts the whole import and leaves the catalog as it was.
    #[command(after_help = "Example:\n  brandpulse catalog import config/catalog.example.csv")]
    Import(ImportArgs),

    /// List product-like names that link to no catalog product, by volume and growth.
    #[command(
        after_help = "Examples:\n  brandpulse catalog gaps\n  brandpulse catalog gaps --since 2026-11-01 --brand Kestrel --format json"
    )]
    Gaps(GapsArgs),

    /// Add a name as a manual alias of a product (kept across imports); new posts link to it,
    /// `brandpulse reanalyze` relinks stored ones.
    #[command(after_help = "Example:\n  brandpulse catalog alias KM-X200 \"X-Two-Hundred\"")]
    Alias(AliasArgs),

    /// List the catalog.
    #[command(
        after_help = "Examples:\n  brandpulse catalog list --brand Acme\n  brandpulse catalog list --format csv > catalog.csv"
    )]
    List(ListArgs),
}

/// Arguments of `catalog import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The catalog file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The file's format (default: from its extension).
    #[arg(long, value_enum)]
    pub format: Option<CatalogFormat>,

    /// Keep products the file does not list active instead of marking them discontinued
    /// (for importing one part of the catalog).
    #[arg(long)]
    pub keep_missing: bool,
}

/// Arguments of `catalog gaps`.
#[derive(Debug, Args)]
pub struct GapsArgs {
    /// Only sightings since this day (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only names seen with this brand.
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,

    /// At most this many names.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// Arguments of `catalog alias`.
#[derive(Debug, Args)]
pub struct AliasArgs {
    /// The product's SKU.
    #[arg(value_name = "SKU")]
    pub sku: String,

    /// The name to add.
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `--since`: a day (`2026-11-01`, UTC midnight) or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::trends::parse_time(text)
}

/// A day argument, `YYYY-MM-DD` (`--date`, `--from`, `--to`).
pub fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    crate::trends::parse_day(text)
}

/// The model id the config's `[model]` stores results under, read from the
/// model directory's manifest (no model is loaded): what `trends` and
/// `digest` read.
pub(crate) fn active_model_id(config: &Config) -> Result<String, CliError> {
    let manifest = crate::nlp::ModelManifest::read(&config.model.dir)?;
    Ok(manifest
        .model_id_for(config.model.variant)
        .map_err(|message| crate::nlp::NlpError::Manifest { dir: config.model.dir.clone(), message })?)
}

/// The id of the brand named `name` (ignoring case), or a usage error listing the known ones.
pub(crate) async fn brand_id(store: &Store, name: Option<&str>) -> Result<Option<i64>, CliError> {
    let Some(name) = name else { return Ok(None) };
    let brands = store.brands().await?;
    match brands.iter().find(|b| b.name.to_lowercase() == name.to_lowercase()) {
        Some(b) => Ok(Some(b.id)),
        None => {
            let known: Vec<&str> = brands.iter().map(|b| b.name.as_str()).collect();
            Err(CliError::Usage(format!(
                "--brand: no brand named \"{name}\" (known brands: {})",
                known.join(", ")
            )))
        }
    }
}

/// Arguments of `catalog list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this brand's products.
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for people.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array.
    Json,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A catalog file is missing or invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A command-line argument is wrong in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    /// The crawl could not run.
    #[error(transparent)]
    Crawl(#[from] CrawlError),
    /// The model could not be loaded or failed.
    #[error(transparent)]
    Model(#[from] crate::nlp::NlpError),
    /// The analysis worker failed.
    #[error(transparent)]
    Analysis(#[from] crate::analysis::AnalysisError),
    /// An input file (labels, texts) could not be read or is malformed.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line number when there is one).
        message: String,
    },
    /// Some digest deliveries failed (each is recorded in `digest_deliveries`).
    #[error("{failed} digest deliveries failed; see the messages above and `digest_deliveries`")]
    DeliveriesFailed {
        /// Deliveries that failed.
        failed: usize,
    },
    /// The demo failed.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    /// The daemon could not start.
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    /// Some sources failed (each is reported and recorded).
    #[error("{failed} of {total} sources failed; see the table above and `fetch_runs`")]
    SourcesFailed {
        /// Sources that failed.
        failed: usize,
        /// Sources fetched.
        total: usize,
    },
}

impl CliError {
    /// 2 for bad input or configuration, 1 for runtime failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Catalog(_) | CliError::Usage(_) | CliError::Input { .. } => 2,
            CliError::Crawl(CrawlError::UnknownSource(_)) => 2,
            CliError::Demo(e) => e.exit_code(),
            // A model directory that does not load is a configuration problem:
            // restarting will not fix it (the unit does not restart on 2).
            CliError::Daemon(crate::daemon::DaemonError::Model { .. }) => 2,
            CliError::Daemon(_) => 1,
            CliError::Store(_)
            | CliError::Output(_)
            | CliError::Crawl(_)
            | CliError::Model(_)
            | CliError::Analysis(_)
            | CliError::SourcesFailed { .. }
            | CliError::DeliveriesFailed { .. } => 1,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

/// How the command logs: the daemon by its config's `[log]` (info by
/// default), one-shot commands warnings only. A config that does not load
/// gets the defaults here; the command itself then reports why.
pub fn log_settings(cli: &Cli, env: &Env) -> crate::logging::LogSettings {
    if !matches!(cli.command, Command::Run) {
        return crate::logging::LogSettings::default();
    }
    let path = crate::config::resolve_path(cli.config.as_deref(), env);
    match Config::load(&path, env) {
        Ok(config) => crate::logging::LogSettings { level: config.log.level, format: config.log.format },
        Err(_) => crate::logging::LogSettings { level: "info".to_owned(), ..Default::default() },
    }
}

/// Runs one command, printing its result to `out`.
pub async fn run(cli: Cli, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
    let path = crate::config::resolve_path(cli.config.as_deref(), env);
    // With --model, the model commands need no config file (evaluating a model
    // on a workstation); everything else reads the config.
    match &cli.command {
        Command::Eval(args) if args.model.model.is_some() => return model::eval(args, None, out).await,
        Command::Analyze(args) if args.model.model.is_some() => return model::analyze(args, None, out).await,
        // With no config file anywhere, the demo runs on the built-in example config.
        Command::Demo(args)
            if cli.config.is_none() && env.get(crate::config::CONFIG_ENV).is_none() && !path.exists() =>
        {
            return demo::demo(args, None, env, out).await;
        }
        _ => {}
    }
    let config = Config::load(&path, env)?;
    match cli.command {
        Command::Eval(args) => model::eval(&args, Some(&config), out).await,
        Command::Analyze(args) => model::analyze(&args, Some(&config), out).await,
        Command::Demo(args) => demo::demo(&args, Some(config), env, out).await,
        Command::AnalyzePending(args) => {
            let store = open(&config).await?;
            let result = model::analyze_pending(&args, &config, &store, out).await;
            store.close().await;
            result
        }
        Command::CheckConfig => check_config(&config, out),
        Command::Run => daemon::run(config, &path, env).await,
        Command::Status => {
            let store = Store::connect(&config.database).await?;
            let result = status::status(&config, &store, out).await;
            store.close().await;
            result
        }
        Command::Migrate => {
            let store = Store::connect(&config.database).await?;
            let report = store.migrate().await?;
            if report.applied.is_empty() {
                writeln!(out, "database schema is up to date (version {})", report.version)?;
            } else {
                for (version, description) in &report.applied {
                    writeln!(out, "applied migration {version}: {description}")?;
                }
                writeln!(out, "database schema is now at version {}", report.version)?;
            }
            let sync = store.sync_config(&config).await?;
            print_sync(out, &sync)?;
            store.close().await;
            Ok(())
        }
        Command::Catalog(CatalogCommand::Import(args)) => {
            let store = open(&config).await?;
            let brands = catalog::known_brands(store.brands().await?);
            let products = catalog::read_file(&args.file, args.format, &brands)?;
            let report = store.import_catalog(&products, !args.keep_missing).await?;
            writeln!(
                out,
                "imported {}: {} products: {} inserted, {} updated, {} unchanged; {} discontinued",
                args.file.display(),
                products.len(),
                report.inserted,
                report.updated,
                report.unchanged,
                report.discontinued
            )?;
            store.close().await;
            Ok(())
        }
        Command::Catalog(CatalogCommand::List(args)) => {
            let store = open(&config).await?;
            let brand_id = brand_id(&store, args.brand.as_deref()).await?;
            let products = store.products(brand_id).await?;
            print_products(out, &products, args.format)?;
            store.close().await;
            Ok(())
        }
        Command::Catalog(CatalogCommand::Gaps(args)) => {
            let store = open(&config).await?;
            let brand_id = brand_id(&store, args.brand.as_deref()).await?;
            let gaps = store.catalog_gaps(args.since, brand_id, args.limit).await?;
            print_gaps(out, &gaps, args.format)?;
            store.close().await;
            Ok(())
        }
        Command::Catalog(CatalogCommand::Alias(args)) => {
            let store = open(&config).await?;
            let name = args.name.trim();
            if name.is_empty() {
                return Err(CliError::Usage("the alias is empty".to_owned()));
            }
            let added = match store.add_manual_alias(&args.sku, name).await {
                Err(StoreError::NotFound { what }) => {
                    return Err(CliError::Usage(format!("{what}; see `brandpulse catalog list`")));
                }
                other => other?,
            };
            if added {
                writeln!(
                    out,
                    "added \"{name}\" to {}; new posts link to it, `brandpulse reanalyze` relinks stored posts",
                    args.sku
                )?;
            } else {
                writeln!(out, "{} already has the name \"{name}\"; nothing changed", args.sku)?;
            }
            store.close().await;
            Ok(())
        }
        Command::Digest(args) => {
            let store = open(&config).await?;
            let result = digest::digest(&args, &config, &store, out).await;
            store.close().await;
            result
        }
        Command::Trends(args) => {
            let store = open(&config).await?;
            let result = trends::trends(&args, &config, &store, out).await;
            store.close().await;
            result
        }
        Command::Reanalyze(args) => {
            let store = open(&config).await?;
            let result = model::reanalyze(&args, &config, &store, out).await;
            store.close().await;
            result
        }
        Command::Crawl(args) => {
            let store = open(&config).await?;
            let fetcher = Fetcher::new(&config.fetch).map_err(CrawlError::from)?;
            let crawler = Crawler::new(&config, store.clone(), fetcher).await?;
            let reports = crawler.crawl_all(args.source.as_deref()).await?;
            print_crawl(out, &reports)?;
            store.close().await;
            let failed = reports.iter().filter(|r| r.status == RunStatus::Failed).count();
            if failed > 0 {
                return Err(CliError::SourcesFailed { failed, total: reports.len() });
            }
            Ok(())
        }
    }
}

fn print_crawl(out: &mut dyn Write, reports: &[SourceReport]) -> std::io::Result<()> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "Source",
        "Status",
        "HTTP",
        "Items seen",
        "New posts",
        "New mentions",
        "Elapsed",
        "Error",
    ]);
    for r in reports {
        table.add_row([
            r.name.clone(),
            r.status.as_str().to_owned(),
            r.http_status.map(|s| s.to_string()).unwrap_or_default(),
            r.items_seen.to_string(),
            r.new_posts.to_string(),
            r.new_mentions.to_string(),
            format!("{:.2}s", r.elapsed.as_secs_f64()),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    writeln!(out, "{table}")?;
    let posts: u64 = reports.iter().map(|r| r.new_posts).sum();
    let mentions: u64 = reports.iter().map(|r| r.new_mentions).sum();
    writeln!(out, "{} sources fetched: {posts} new posts, {mentions} new mentions", reports.len())
}

/// Connects, migrates and syncs the config: what every database command does first.
pub(crate) async fn open(config: &Config) -> Result<Store, CliError> {
    let store = Store::open(&config.database).await?;
    store.sync_config(config).await?.log();
    Ok(store)
}

fn print_sync(out: &mut dyn Write, sync: &SyncReport) -> std::io::Result<()> {
    for (what, c) in [("brands", sync.brands), ("sources", sync.sources)] {
        writeln!(
            out,
            "{what}: {} inserted, {} updated, {} unchanged, {} disabled",
            c.inserted, c.updated, c.unchanged, c.disabled
        )?;
    }
    Ok(())
}

fn check_config(config: &Config, out: &mut dyn Write) -> Result<(), CliError> {
    writeln!(out, "{}: OK", config.path.display())?;
    let own: Vec<&str> = config.own_brands().map(|b| b.name.as_str()).collect();
    let competitors: Vec<&str> =
        config.brands.iter().filter(|b| b.competitor).map(|b| b.name.as_str()).collect();
    writeln!(out, "  brands:   {} (own); {} (competitors)", join_or_none(&own), join_or_none(&competitors))?;
    let enabled = config.sources.iter().filter(|s| s.enabled).count();
    let mut kinds = Vec::new();
    for kind in SourceKind::ALL {
        let n = config.sources.iter().filter(|s| s.kind == kind).count();
        if n > 0 {
            kinds.push(format!("{kind} {n}"));
        }
    }
    writeln!(out, "  sources:  {} ({} enabled): {}", config.sources.len(), enabled, kinds.join(", "))?;
    let formats: Vec<&str> = config
        .digest
        .formats
        .iter()
        .map(|f| match f {
            DigestFormat::Markdown => "markdown",
            DigestFormat::Html => "html",
            DigestFormat::Json => "json",
        })
        .collect();
    let targets: Vec<&str> = config
        .digest
        .deliver
        .iter()
        .map(|t| match t {
            DeliveryTarget::Directory { .. } => "directory",
            DeliveryTarget::Webhook { .. } => "webhook",
            DeliveryTarget::Smtp { .. } => "smtp",
        })
        .collect();
    writeln!(
        out,
        "  digest:   daily at {} {}, {}; delivered to {}",
        config.digest.time.format("%H:%M"),
        config.digest.time_zone,
        formats.join(", "),
        join_or_none(&targets)
    )?;
    writeln!(out, "  database: {}", config.database.display_url())?;
    writeln!(
        out,
        "  api:      {}",
        if config.api.enabled { format!("enabled on {}", config.api.bind) } else { "disabled".to_owned() }
    )?;
    Ok(())
}

fn join_or_none(items: &[&str]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn print_products(
    out: &mut dyn Write,
    products: &[ProductRow],
    format: OutputFormat,
) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, products).map_err(|e| CliError::Output(e.into()))?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            // The same columns `catalog import` reads, so a listing can be edited and re-imported.
            let mut extra: Vec<String> = products
                .iter()
                .filter_map(|p| p.attributes.as_object())
                .flat_map(|o| o.keys().cloned())
                .collect();
            extra.sort();
            extra.dedup();
            let mut writer = csv::Writer::from_writer(&mut *out);
            let mut header = vec!["sku", "name", "brand", "category", "aliases", "url", "discontinued"];
            header.extend(extra.iter().map(String::as_str));
            writer.write_record(&header).map_err(csv_error)?;
            for p in products {
                let mut record = vec![
                    p.sku.clone(),
                    p.name.clone(),
                    p.brand.clone(),
                    p.category.clone().unwrap_or_default(),
                    p.aliases.join("|"),
                    p.url.clone().unwrap_or_default(),
                    p.discontinued_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                ];
                for key in &extra {
                    record.push(match p.attributes.get(key) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    });
                }
                writer.write_record(&record).map_err(csv_error)?;
            }
            writer.flush()?;
        }
        OutputFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header(["SKU", "Name", "Brand", "Category", "Aliases", "Status"]);
            for p in products {
                let mut aliases = p.aliases.clone();
                aliases.extend(p.manual_aliases.iter().cloned());
                table.add_row([
                    p.sku.clone(),
                    p.name.clone(),
                    p.brand.clone(),
                    p.category.clone().unwrap_or_default(),
                    aliases.join(" | "),
                    if p.discontinued_at.is_some() { "discontinued".into() } else { "active".into() },
                ]);
            }
            writeln!(out, "{table}")?;
            let active = products.iter().filter(|p| p.discontinued_at.is_none()).count();
            writeln!(
                out,
                "{} products ({} active, {} discontinued)",
                products.len(),
                active,
                products.len() - active
            )?;
        }
    }
    Ok(())
}

fn print_gaps(
    out: &mut dyn Write,
    gaps: &[crate::store::GapRow],
    format: OutputFormat,
) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, gaps).map_err(|e| CliError::Output(e.into()))?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record([
                "name",
                "brand",
                "mentions",
                "last_7d",
                "prev_7d",
                "first_seen",
                "last_seen",
                "example",
            ])
            .map_err(csv_error)?;
            for g in gaps {
                w.write_record([
                    g.surface.as_str(),
                    g.brand.as_deref().unwrap_or(""),
                    &g.mentions.to_string(),
                    &g.last_7d.to_string(),
                    &g.prev_7d.to_string(),
                    &g.first_seen.to_rfc3339(),
                    &g.last_seen.to_rfc3339(),
                    g.example_url.as_deref().unwrap_or(""),
                ])
                .map_err(csv_error)?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            if gaps.is_empty() {
                writeln!(out, "no names the catalog lacks were seen")?;
                return Ok(());
            }
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header([
                "Name",
                "Brand",
                "Posts",
                "Last 7 d",
                "Prev 7 d",
                "First seen",
                "Last seen",
                "Example",
            ]);
            for g in gaps {
                let example: String = g.example_text.as_deref().unwrap_or("").chars().take(60).collect();
                table.add_row([
                    g.surface.clone(),
                    g.brand.clone().unwrap_or_default(),
                    g.mentions.to_string(),
                    g.last_7d.to_string(),
                    g.prev_7d.to_string(),
                    g.first_seen.format("%Y-%m-%d").to_string(),
                    g.last_seen.format("%Y-%m-%d").to_string(),
                    example,
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(out, "add one with: brandpulse catalog alias SKU \"NAME\"")?;
        }
    }
    Ok(())
}

pub(crate) fn csv_error(e: csv::Error) -> CliError {
    CliError::Output(std::io::Error::other(e))
}
