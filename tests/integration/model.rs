//! The shipped model and the model commands: the published accuracy holds,
//! `eval` and `analyze` print what they promise, bad model directories and
//! bad eval files are refused with their names.

use std::path::Path;

use brandpulse::nlp::{Analyzer, Engine, EngineOptions, Evaluation, Label, ModelManifest, Variant};

use crate::helpers::{Run, brandpulse, model_dir, tweeteval, write_temp};

/// TweetEval sentiment test macro recall published in README.md ("Sentiment
/// model"). The shipped model may not fall more than 0.5 points below them.
const REPORTED_FP32: f64 = 0.6979;
const REPORTED_INT8: f64 = 0.6967;
const TOLERANCE: f64 = 0.005;

fn run(args: &[&str]) -> Run {
    brandpulse(args, &[])
}

fn model() -> String {
    let dir = model_dir();
    assert!(
        dir.join("manifest.json").is_file(),
        "no model at {}; build it with `bash models/setup.sh`",
        dir.display()
    );
    dir.to_string_lossy().into_owned()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn the_shipped_default_int8_model_keeps_its_published_tweeteval_figure() {
    let (text, labels) = (path(&tweeteval("test_text.txt")), path(&tweeteval("test_labels.txt")));
    let model = model();
    let out = run(&["eval", "--model", &model, "--text", &text, "--labels", &labels, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("eval --format json prints JSON");
    assert_eq!(report["n"], 12_284);
    let macro_recall = report["macro_recall"].as_f64().expect("macro_recall");
    assert!(
        macro_recall >= REPORTED_INT8 - TOLERANCE,
        "int8 (default) macro recall {macro_recall:.4} is below the published {REPORTED_INT8} - {TOLERANCE}"
    );
    assert!(
        (macro_recall - REPORTED_FP32).abs() <= TOLERANCE,
        "quantisation may cost at most 0.5 points against fp32's {REPORTED_FP32}"
    );
    for class in ["negative", "neutral", "positive"] {
        assert!(report["recall"][class].as_f64().is_some_and(|r| (0.0..=1.0).contains(&r)), "{report}");
    }
    let confusion: Vec<Vec<u64>> =
        serde_json::from_value(report["confusion"].clone()).expect("3x3 confusion");
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 12_284);
    assert!(report["posts_per_s"].as_f64().is_some_and(|v| v > 0.0), "{report}");
    assert!(
        report["model_id"].as_str().is_some_and(|id| id.starts_with("brandpulse-sentiment-minilm-v1-int8@"))
    );
}

#[test]
fn the_fp32_variant_keeps_its_published_tweeteval_figure() {
    let texts: Vec<String> = std::fs::read_to_string(tweeteval("test_text.txt"))
        .expect("read test texts")
        .lines()
        .map(str::to_owned)
        .collect();
    let gold: Vec<Label> = std::fs::read_to_string(tweeteval("test_labels.txt"))
        .expect("read test labels")
        .lines()
        .map(|l| l.parse().expect("label"))
        .collect();
    let options = EngineOptions { variant: Variant::Fp32, ..EngineOptions::default() };
    let engine = Engine::start(Path::new(&model()), options).expect("fp32 model loads");
    let predicted: Vec<Label> =
        engine.analyze_blocking(texts).expect("scores").iter().map(|s| s.label).collect();
    let e = Evaluation::new(&gold, &predicted);
    assert!(
        e.macro_recall >= REPORTED_FP32 - TOLERANCE,
        "fp32 macro recall {:.4} is below the published {REPORTED_FP32} - {TOLERANCE}",
        e.macro_recall
    );
    let manifest = ModelManifest::read(Path::new(&model())).expect("manifest");
    assert_eq!(engine.model_id(), manifest.model_id, "the manifest's model id is fp32's");
}

#[test]
fn analyze_prints_label_probabilities_and_model_id() {
    let model = model();
    let out =
        run(&["analyze", "--model", &model, "--format", "json", "The screen cracked on day one. Terrible."]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_eq!(v["label"], "negative", "{v}");
    let p = &v["probabilities"];
    let sum: f64 = ["negative", "neutral", "positive"].iter().map(|k| p[k].as_f64().expect("prob")).sum();
    assert!((sum - 1.0).abs() < 1e-3, "{v}");
    assert!(v["model_id"].as_str().is_some_and(|id| id.contains('@')), "{v}");

    let table = run(&["analyze", "--model", &model, "What a fantastic update, thank you!"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("positive ("), "{}", table.stdout);

    let german = run(&[
        "analyze",
        "--model",
        &model,
        "Das Telefon ist leider schon nach zwei Tagen kaputt gegangen und der Kundendienst hat sich nie gemeldet.",
    ]);
    assert!(
        german.stdout.contains("language deu") && german.stdout.contains("not scored"),
        "{}",
        german.stdout
    );
}

#[test]
fn eval_refuses_mismatched_or_bad_label_files() {
    let model = model();
    let (_d1, text) = write_temp("text.txt", b"good\nbad\n");
    let (_d2, one_label) = write_temp("labels.txt", b"2\n");
    let out = run(&["eval", "--model", &model, "--text", &path(&text), "--labels", &path(&one_label)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("labels.txt") && out.stderr.contains("1 labels but"), "{}", out.stderr);

    let (_d3, bad) = write_temp("labels.txt", b"2\nvery bad\n");
    let out = run(&["eval", "--model", &model, "--text", &path(&text), "--labels", &path(&bad)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("line 2") && out.stderr.contains("`very bad`"), "{}", out.stderr);

    let out = run(&["eval", "--model", &model, "--text", "/nonexistent/t.txt", "--labels", &path(&bad)]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/nonexistent/t.txt"), "{}", out.stderr);
}

#[test]
fn a_missing_or_tampered_model_directory_is_refused_by_name() {
    let out = run(&["analyze", "--model", "/nonexistent/model", "hello"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("/nonexistent/model/manifest.json"), "{}", out.stderr);

    // A copy whose tokenizer was edited: the checksum catches it before anything runs.
    let src = Path::new(&model()).to_path_buf();
    let copy = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&src).expect("read model dir") {
        let entry = entry.expect("entry");
        let target = copy.path().join(entry.file_name());
        if entry.file_name() == "tokenizer.json" {
            let mut text = std::fs::read(entry.path()).expect("read tokenizer");
            text.extend_from_slice(b"\n");
            std::fs::write(&target, text).expect("write tokenizer");
        } else {
            std::os::unix::fs::symlink(entry.path(), &target).expect("symlink");
        }
    }
    let out = run(&["analyze", "--model", &path(copy.path()), "hello"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("tokenizer.json has sha256"), "{}", out.stderr);
}
