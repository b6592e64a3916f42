//! The model commands: `eval`, `analyze` and `analyze-pending`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::CliError;
use crate::analysis::{self, Worker};
use crate::config::Config;
use crate::nlp::{Analyzer, Engine, EngineOptions, Evaluation, Label, Variant};
use crate::store::Store;

/// Which model to run; by default the config's `[model]`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The model directory (default: `model.dir` of the config; with this flag
    /// `eval` and `analyze` need no config file).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,

    /// The weights to run (default: `model.variant` of the config, else int8).
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,

    /// ONNX Runtime threads (default: `model.threads`, else 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: Option<u32>,

    /// Texts per model call (default: `model.batch_size`, else 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub batch_size: Option<u32>,
}

/// `--variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// float32 weights.
    Fp32,
    /// int8 weights.
    Int8,
}

/// How `eval` and `analyze` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Table,
    /// One JSON object.
    Json,
}

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Texts, one per line.
    #[arg(long, value_name = "FILE")]
    pub text: PathBuf,

    /// Gold labels, one per line: 0/1/2 (TweetEval) or negative/neutral/positive.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The text to score.
    #[arg(value_name = "TEXT")]
    pub text: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Arguments of `analyze-pending`.
#[derive(Debug, Args)]
pub struct PendingArgs {
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

/// Posts claimed per transaction by `analyze-pending`.
const POSTS_PER_TRANSACTION: usize = 256;

/// Starts the engine the arguments and config name, off the async threads.
async fn start_engine(args: &ModelArgs, config: Option<&Config>) -> Result<(Engine, Duration), CliError> {
    let model = config.map(|c| &c.model);
    let dir = match (&args.model, model) {
        (Some(dir), _) => dir.clone(),
        (None, Some(m)) => m.dir.clone(),
        (None, None) => {
            return Err(CliError::Usage("no model: pass --model DIR or a config file".to_owned()));
        }
    };
    let variant = match args.variant {
        Some(VariantArg::Fp32) => Variant::Fp32,
        Some(VariantArg::Int8) => Variant::Int8,
        None => model.map(|m| m.variant).unwrap_or_default(),
    };
    let options = EngineOptions {
        threads: args.threads.or(model.map(|m| m.threads)).unwrap_or(2) as usize,
        batch_size: args.batch_size.or(model.map(|m| m.batch_size)).unwrap_or(32) as usize,
        variant,
    };
    let started = Instant::now();
    let engine = tokio::task::spawn_blocking(move || Engine::start(&dir, options))
        .await
        .map_err(|e| CliError::Usage(format!("loading the model panicked: {e}")))??;
    Ok((engine, started.elapsed()))
}

/// Reads a file's lines (a final empty line is not a line).
fn read_lines(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(text.lines().map(|l| l.trim_end_matches('\r').to_owned()).collect())
}

/// `brandpulse eval`.
pub async fn eval(args: &EvalArgs, config: Option<&Config>, out: &mut dyn Write) -> Result<(), CliError> {
    let texts = read_lines(&args.text)?;
    let gold = read_lines(&args.labels)?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.parse::<Label>().map_err(|message| CliError::Input {
                path: args.labels.clone(),
                message: format!("line {}: {message}", i + 1),
            })
        })
        .collect::<Result<Vec<Label>, CliError>>()?;
    if texts.len() != gold.len() {
        return Err(CliError::Input {
            path: args.labels.clone(),
            message: format!("{} labels but {} has {} lines", gold.len(), args.text.display(), texts.len()),
        });
    }
    if texts.is_empty() {
        return Err(CliError::Input { path: args.text.clone(), message: "no texts".to_owned() });
    }
    let (engine, load_time) = start_engine(&args.model, config).await?;
    let started = Instant::now();
    let sentiments = engine.analyze(texts).await?;
    let elapsed = started.elapsed();
    let predicted: Vec<Label> = sentiments.iter().map(|s| s.label).collect();
    let evaluation = Evaluation::new(&gold, &predicted);
    let posts_per_s = evaluation.n as f64 / elapsed.as_secs_f64().max(1e-9);
    let names = Label::ALL.map(Label::as_str);
    match args.format {
        ReportFormat::Json => {
            let report = json!({
                "model_id": engine.model_id(),
                "n": evaluation.n,
                "macro_recall": evaluation.macro_recall,
                "recall": {names[0]: evaluation.recall[0], names[1]: evaluation.recall[1], names[2]: evaluation.recall[2]},
                "accuracy": evaluation.accuracy,
                "confusion": evaluation.confusion,
                "confusion_order": names,
                "posts_per_s": posts_per_s,
                "elapsed_s": elapsed.as_secs_f64(),
                "model_load_s": load_time.as_secs_f64(),
                "model_calls": engine.model_calls(),
            });
            writeln!(out, "{report}")?;
        }
        ReportFormat::Table => {
            writeln!(out, "model         {}", engine.model_id())?;
            writeln!(out, "texts         {}", evaluation.n)?;
            writeln!(out, "macro recall  {:.2}", evaluation.macro_recall * 100.0)?;
            for (name, r) in names.iter().zip(evaluation.recall) {
                writeln!(out, "  recall {name:<9}{:.2}", r * 100.0)?;
            }
            writeln!(out, "accuracy      {:.2}", evaluation.accuracy * 100.0)?;
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            table.set_header(["gold \\ predicted", names[0], names[1], names[2]]);
            for (name, row) in names.iter().zip(evaluation.confusion) {
                table.add_row([name.to_string(), row[0].to_string(), row[1].to_string(), row[2].to_string()]);
            }
            writeln!(out, "{table}")?;
            writeln!(
                out,
                "speed         {posts_per_s:.0} posts/s ({:.1} s; model loaded in {:.1} s)",
                elapsed.as_secs_f64(),
                load_time.as_secs_f64()
            )?;
        }
    }
    Ok(())
}

/// `brandpulse analyze TEXT`: with a config, the stored catalog is used to link products.
pub async fn analyze(
    args: &AnalyzeArgs,
    config: Option<&Config>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (engine, _) = start_engine(&args.model, config).await?;
    let reader = match config {
        Some(config) => {
            let store = super::open(config).await?;
            let reader = analysis::load_reader(&store, config).await;
            store.close().await;
            reader?
        }
        None => analysis::empty_reader(),
    };
    let (lang, _) = crate::normalize::detect_language(&args.text, None);
    let report = analysis::analyze_text(&reader, &engine, &args.text, Some(&lang)).await?;
    let products = reader.products();
    let note = match report.gate {
        analysis::Gate::Score => None,
        analysis::Gate::SkipLanguage => Some(format!(
            "language `{lang}` is not one the model was trained on; the worker stores such posts as not scored"
        )),
        analysis::Gate::SkipEmpty => {
            Some("no text to read; the worker stores such posts as not scored".to_owned())
        }
    };
    let product_json: Vec<serde_json::Value> = report
        .products
        .iter()
        .map(|m| {
            let entry = products.iter().find(|p| p.product_id == m.product_id);
            json!({
                "sku": entry.map(|p| p.sku.as_str()),
                "name": entry.map(|p| p.name.as_str()),
                "surface": m.surface,
                "start": m.start,
                "end": m.end,
                "confidence": m.confidence,
                "rule": m.rule,
                "sentiment": m.sentiment.as_ref().map(|s| s.label.as_str()),
                "sentiment_score": m.sentiment.as_ref().map(|s| s.score()),
                "evidence": m.evidence,
                "aspects": m.aspects.iter().map(|(a, l)| json!({"aspect": a, "sentiment": l.as_str()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    match args.format {
        ReportFormat::Json => {
            let p = report.sentiment.as_ref().map(|s| s.probabilities);
            let value = json!({
                "label": report.sentiment.as_ref().map(|s| s.label.as_str()),
                "score": report.sentiment.as_ref().map(|s| s.score()),
                "probabilities": p.map(|p| json!({"negative": p[0], "neutral": p[1], "positive": p[2]})),
                "chunks": report.sentiment.as_ref().map(|s| s.chunks),
                "language": lang,
                "would_be_scored": report.gate == analysis::Gate::Score,
                "model_id": engine.model_id(),
                "products": product_json,
                "unlinked": report.unlinked.iter().map(|c| json!({
                    "surface": c.surface, "normalized": c.normalized, "rule": c.rule,
                    "brand": c.brand.and_then(|b| reader.brands().get(b)).map(|b| b.name.as_str()),
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{value}")?;
        }
        ReportFormat::Table => {
            match &report.sentiment {
                Some(s) => {
                    let p = s.probabilities;
                    writeln!(out, "{} ({:.2})", s.label, s.score())?;
                    writeln!(out, "  negative {:.3}  neutral {:.3}  positive {:.3}", p[0], p[1], p[2])?;
                    if s.chunks > 1 {
                        writeln!(out, "  read in {} chunks (split at sentences)", s.chunks)?;
                    }
                }
                None => writeln!(out, "not scored")?,
            }
            writeln!(out, "  language {lang}; model {}", engine.model_id())?;
            if let Some(note) = note {
                writeln!(out, "  note: {note}")?;
            }
            for (m, j) in report.products.iter().zip(&product_json) {
                let aspects: Vec<String> = m.aspects.iter().map(|(a, l)| format!("{a} {l}")).collect();
                writeln!(
                    out,
                    "product {} ({}) \"{}\": link {:.2} by {}; {}{}\n  evidence: {}",
                    j["sku"].as_str().unwrap_or("?"),
                    j["name"].as_str().unwrap_or("?"),
                    m.surface,
                    m.confidence,
                    m.rule,
                    m.sentiment.as_ref().map_or("no sentiment".to_owned(), |s| format!(
                        "{} ({:.2})",
                        s.label,
                        s.score()
                    )),
                    if aspects.is_empty() {
                        String::new()
                    } else {
                        format!("; aspects: {}", aspects.join(", "))
                    },
                    m.evidence
                )?;
            }
            for c in &report.unlinked {
                writeln!(out, "not in the catalog: \"{}\" ({})", c.surface, c.rule)?;
            }
            if config.is_none() {
                writeln!(
                    out,
                    "  (no config: products are not linked; pass --config to use the stored catalog)"
                )?;
            }
        }
    }
    Ok(())
}

/// `brandpulse analyze-pending`.
pub async fn analyze_pending(
    args: &PendingArgs,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let no_flags = ModelArgs { model: None, variant: None, threads: None, batch_size: None };
    let (engine, _) = start_engine(&no_flags, Some(config)).await?;
    let reader = analysis::load_reader(store, config).await?;
    let worker = Worker::new(store, &engine, &reader, POSTS_PER_TRANSACTION);
    run_worker(&worker, &engine, args.quiet, out).await
}

/// Arguments of `reanalyze`.
#[derive(Debug, Args)]
pub struct ReanalyzeArgs {
    /// Only posts published (else fetched) since this day (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "WHEN", value_parser = super::parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only posts that mention this brand.
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,

    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,

    /// The model (default: the config's; another directory re-scores under its own model id).
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `brandpulse reanalyze`: drops the model id's results for the selected posts
/// (none when the model is new) and reads them again with the current catalog.
pub async fn reanalyze(
    args: &ReanalyzeArgs,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let brand_id = super::brand_id(store, args.brand.as_deref()).await?;
    let filter = crate::store::PostFilter { since: args.since, brand_id };
    let (engine, _) = start_engine(&args.model, Some(config)).await?;
    let reader = analysis::load_reader(store, config).await?;
    let reset = store.reset_analysis(engine.model_id(), filter).await?;
    writeln!(out, "{reset} posts had results from {}; reading them again", engine.model_id())?;
    let worker = Worker::new(store, &engine, &reader, POSTS_PER_TRANSACTION).with_filter(filter);
    run_worker(&worker, &engine, args.quiet, out).await
}

/// Runs `worker` until idle with a progress bar and prints the summary.
async fn run_worker(
    worker: &Worker<'_>,
    engine: &Engine,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let pending = worker.pending().await?;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        // ProgressBar draws to stderr and stays silent when it is not a terminal.
        let bar = indicatif::ProgressBar::new(pending);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} analysing [{bar:30}] {pos}/{len} posts  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    };
    let started = Instant::now();
    let report = worker.run_until_idle(|batch| bar.inc(batch.posts)).await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "{} posts analysed with {} in {elapsed:.1} s: {} scored, {} skipped (language), {} skipped (empty), \
         {} product mentions, {} names not in the catalog{}",
        report.posts,
        engine.model_id(),
        report.scored,
        report.skipped_language,
        report.skipped_empty,
        report.product_mentions,
        report.unlinked,
        if report.already_scored > 0 {
            format!(", {} already scored", report.already_scored)
        } else {
            String::new()
        }
    )?;
    Ok(())
}
