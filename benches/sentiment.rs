//! Sentiment throughput and memory: the shipped model through the real
//! [`Engine`] (tokenisation, chunking, batching, ONNX Runtime), on the 2,000
//! TweetEval val tweets, 2 threads, batch 32.
//!
//! Each measurement runs in a fresh child process, so its peak RSS is its own:
//! - `file-order`: batches of 32 in file order, each padded to its longest and
//!   sent as its own job, the way the Python baseline runs;
//! - `grouped`: all texts in one job; the engine sorts chunks by length so each
//!   batch carries little padding (what the analysis worker gets).
//!
//! `cargo bench --bench sentiment [-- --rounds 3 --threads 2 --batch 32 --json]`
//! prints a table of medians (and `BENCH_JSON {...}` lines with `--json`, which
//! `benches/sentiment_vs_pytorch.sh` reads to compare with PyTorch in one run).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use brandpulse::nlp::{Engine, EngineOptions, Variant};

struct Options {
    model: PathBuf,
    texts: PathBuf,
    rounds: usize,
    threads: usize,
    batch: usize,
    json: bool,
    variants: Vec<String>,
    child: Option<(String, String)>,
}

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "sentiment bench: {message}\n\
         options: --model DIR --texts FILE --rounds N --threads N --batch N --variants fp32,int8 --json"
    );
    ExitCode::from(2)
}

fn parse() -> Result<Options, String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        model: std::env::var_os("BRANDPULSE_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("models/brandpulse-sentiment-minilm-v1")),
        texts: repo.join("../shared/eval/tweeteval-sentiment/val_text.txt"),
        rounds: 3,
        threads: 2,
        batch: 32,
        json: false,
        variants: vec!["fp32".into(), "int8".into()],
        child: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number =
            |name: &str, v: String| v.parse::<usize>().map_err(|_| format!("{name}: `{v}` is not a number"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false benches.
            "--bench" => {}
            "--model" => o.model = PathBuf::from(value("--model")?),
            "--texts" => o.texts = PathBuf::from(value("--texts")?),
            "--rounds" => o.rounds = number("--rounds", value("--rounds")?)?,
            "--threads" => o.threads = number("--threads", value("--threads")?)?,
            "--batch" => o.batch = number("--batch", value("--batch")?)?,
            "--variants" => o.variants = value("--variants")?.split(',').map(str::to_owned).collect(),
            "--json" => o.json = true,
            "--child" => {
                let variant = value("--child")?;
                let mode = args.next().ok_or("--child needs VARIANT MODE")?;
                o.child = Some((variant, mode));
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// A `/proc/self/status` field in MB (Linux).
fn proc_status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One measurement (in the child process): prints one `BENCH_JSON` line.
fn child(o: &Options, variant: &str, mode: &str) -> Result<(), String> {
    let texts: Vec<String> = std::fs::read_to_string(&o.texts)
        .map_err(|e| format!("{}: {e}", o.texts.display()))?
        .lines()
        .map(str::to_owned)
        .collect();
    let v = match variant {
        "fp32" => Variant::Fp32,
        "int8" => Variant::Int8,
        other => return Err(format!("unknown variant `{other}`")),
    };
    let options = EngineOptions { threads: o.threads, batch_size: o.batch, variant: v };
    let engine = Engine::start(&o.model, options).map_err(|e| e.to_string())?;
    // Warm-up, not counted: ONNX Runtime allocates its arenas on the first run.
    engine.analyze_blocking(texts[..o.batch.min(texts.len())].to_vec()).map_err(|e| e.to_string())?;
    let rss_loaded = proc_status_mb("VmRSS:");
    let calls_before = engine.model_calls();
    let started = Instant::now();
    match mode {
        "file-order" => {
            for batch in texts.chunks(o.batch) {
                engine.analyze_blocking(batch.to_vec()).map_err(|e| e.to_string())?;
            }
        }
        "grouped" => {
            engine.analyze_blocking(texts.clone()).map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unknown mode `{other}`")),
    }
    let seconds = started.elapsed().as_secs_f64();
    let runtime =
        if mode == "grouped" { format!("rust-ort-{variant}-grouped") } else { format!("rust-ort-{variant}") };
    println!(
        "BENCH_JSON {}",
        serde_json::json!({
            "runtime": runtime,
            "variant": variant,
            "mode": mode,
            "posts_per_s": texts.len() as f64 / seconds,
            "seconds": seconds,
            "peak_rss_mb": proc_status_mb("VmHWM:"),
            "rss_loaded_mb": rss_loaded,
            "n": texts.len(),
            "threads": o.threads,
            "batch": o.batch,
            "model_calls": engine.model_calls() - calls_before,
            "model_id": brandpulse::nlp::Analyzer::model_id(&engine),
        })
    );
    Ok(())
}

/// posts/s, peak RSS MB, RSS with the model loaded MB.
type Measurement = (f64, f64, f64);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    if let Some((variant, mode)) = &o.child {
        return match child(&o, variant, mode) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sentiment bench ({variant}, {mode}): {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Ok(exe) = std::env::current_exe() else { return usage("cannot find this executable") };
    let mut results: Vec<(String, Vec<Measurement>)> = Vec::new();
    for round in 0..o.rounds {
        // Interleaved, so a noisy neighbour hurts every runtime alike.
        for variant in &o.variants {
            for mode in ["file-order", "grouped"] {
                let output = Command::new(&exe)
                    .args(["--model", &o.model.to_string_lossy(), "--texts", &o.texts.to_string_lossy()])
                    .args(["--threads", &o.threads.to_string(), "--batch", &o.batch.to_string()])
                    .args(["--child", variant, mode])
                    .output();
                let output = match output {
                    Ok(output) if output.status.success() => output,
                    Ok(output) => {
                        eprint!("{}", String::from_utf8_lossy(&output.stderr));
                        return ExitCode::FAILURE;
                    }
                    Err(e) => {
                        eprintln!("cannot run the bench child: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                for line in String::from_utf8_lossy(&output.stdout).lines() {
                    let Some(json) = line.strip_prefix("BENCH_JSON ") else { continue };
                    if o.json {
                        println!("{line}");
                    }
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else { continue };
                    let runtime = v["runtime"].as_str().unwrap_or("?").to_owned();
                    let row = (
                        v["posts_per_s"].as_f64().unwrap_or(f64::NAN),
                        v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
                        v["rss_loaded_mb"].as_f64().unwrap_or(f64::NAN),
                    );
                    eprintln!(
                        "round {}: {runtime:<24} {:>6.0} posts/s  peak RSS {:>4.0} MB",
                        round + 1,
                        row.0,
                        row.1
                    );
                    match results.iter_mut().find(|(r, _)| *r == runtime) {
                        Some((_, rows)) => rows.push(row),
                        None => results.push((runtime, vec![row])),
                    }
                }
            }
        }
    }
    println!(
        "\nsentiment, {} texts from {}, {} threads, batch {}, {} rounds (medians):",
        std::fs::read_to_string(&o.texts).map(|t| t.lines().count()).unwrap_or(0),
        o.texts.display(),
        o.threads,
        o.batch,
        o.rounds
    );
    println!("| runtime | posts/s | peak RSS MB | RSS loaded MB |\n| --- | --- | --- | --- |");
    for (runtime, rows) in &results {
        println!(
            "| {runtime} | {:.0} | {:.0} | {:.0} |",
            median(rows.iter().map(|r| r.0).collect()),
            median(rows.iter().map(|r| r.1).collect()),
            median(rows.iter().map(|r| r.2).collect())
        );
    }
    ExitCode::SUCCESS
}
