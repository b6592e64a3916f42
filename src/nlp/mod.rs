//! The local sentiment model: a fine-tuned MiniLM transformer run in-process
//! on the CPU by ONNX Runtime.
//!
//! - [`model`]: the model directory: manifest, checksums, the ONNX session
//!   and the tokenizer.
//! - [`chunk`]: long posts split at sentence boundaries into pieces that fit
//!   the model, so nothing is truncated.
//! - [`engine`]: the [`Engine`]: dedicated inference threads fed by a
//!   bounded queue, batching queued texts by length.
//! - [`metrics`]: macro-averaged recall and the confusion matrix (`eval`).
//!
//! Everything above this module talks to the model through the [`Analyzer`]
//! trait, so the analysis worker does not know which runtime runs it.

pub mod chunk;
pub mod engine;
pub mod metrics;
pub mod model;
mod runtime;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

pub use engine::{Engine, EngineOptions, EngineStats};
pub use metrics::Evaluation;
pub use model::{ModelManifest, Variant};

/// A sentiment class, in the model's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// Negative.
    Negative,
    /// Neutral (or mixed, or no opinion).
    Neutral,
    /// Positive.
    Positive,
}

impl Label {
    /// The labels in the model's output order.
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    /// The name stored in the database and printed (`negative`, `neutral`, `positive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// The position in the model's output (0, 1, 2).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The label at output position `i`.
    pub fn from_index(i: usize) -> Option<Label> {
        Label::ALL.get(i).copied()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;

    /// Accepts the names and TweetEval's numbers (0 negative, 1 neutral, 2 positive).
    fn from_str(s: &str) -> Result<Label, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "negative" | "neg" => Ok(Label::Negative),
            "1" | "neutral" | "neu" => Ok(Label::Neutral),
            "2" | "positive" | "pos" => Ok(Label::Positive),
            other => Err(format!("`{other}` is not a label (0/1/2 or negative/neutral/positive)")),
        }
    }
}

/// The sentiment of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentiment {
    /// The most probable class.
    pub label: Label,
    /// Class probabilities `[negative, neutral, positive]`, summing to 1.
    pub probabilities: [f32; 3],
    /// How many model inputs the text was split into (1 unless it was long).
    pub chunks: u32,
}

impl Sentiment {
    /// Builds the result from class probabilities (argmax; ties go to the lower index).
    pub fn from_probabilities(probabilities: [f32; 3], chunks: u32) -> Sentiment {
        let mut best = 0;
        for i in 1..3 {
            if probabilities[i] > probabilities[best] {
                best = i;
            }
        }
        Sentiment { label: Label::ALL[best], probabilities, chunks }
    }

    /// The probability of the chosen label.
    pub fn score(&self) -> f32 {
        self.probabilities[self.label.index()]
    }
}

/// A boxed future, so [`Analyzer`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A sentiment model as the rest of brandpulse sees it.
///
/// Implementations must not run inference on the caller's (tokio) thread:
/// [`Engine`] sends the work to its own threads and awaits the answer.
pub trait Analyzer: Send + Sync {
    /// The id stored with every result: `name@` + the first 12 hex digits of
    /// the weights' sha256, so a retrained model never mixes with the old one.
    fn model_id(&self) -> &str;

    /// The languages (ISO 639-3) the model was trained on; posts in other
    /// languages are not scored.
    fn languages(&self) -> &[String];

    /// The sentiment of each text, in order.
    fn analyze(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Sentiment>, NlpError>>;
}

/// What can go wrong loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum NlpError {
    /// A model file is missing or unreadable.
    #[error("model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The model directory is not what the manifest says (bad JSON, a missing
    /// key, a checksum mismatch).
    #[error("model directory {dir}: {message}")]
    Manifest {
        /// The model directory.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// ONNX Runtime could not be loaded, or refused the model.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The tokenizer failed on a text or could not be loaded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The inference thread is gone (it panicked or the engine was shut down).
    #[error("the inference thread has stopped")]
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_from_names_and_tweeteval_numbers() {
        assert_eq!("0".parse::<Label>(), Ok(Label::Negative));
        assert_eq!(" Neutral ".parse::<Label>(), Ok(Label::Neutral));
        assert_eq!("2".parse::<Label>(), Ok(Label::Positive));
        assert!("3".parse::<Label>().unwrap_err().contains("`3`"));
    }

    #[test]
    fn argmax_picks_the_label_and_score() {
        let s = Sentiment::from_probabilities([0.1, 0.2, 0.7], 1);
        assert_eq!(s.label, Label::Positive);
        assert!((s.score() - 0.7).abs() < 1e-6);
        assert_eq!(Sentiment::from_probabilities([0.5, 0.5, 0.0], 1).label, Label::Negative);
    }
}
