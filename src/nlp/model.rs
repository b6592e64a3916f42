//! The model directory and the classifier that runs it.
//!
//! A model directory (built by `models/build_model.py`) holds `manifest.json`,
//! the ONNX graph(s), `tokenizer.json`, the base `config.json` and the ONNX
//! Runtime library. Loading checks every file it uses against the sha256 in
//! the manifest before anything runs, so a half-copied or swapped file is
//! refused with its name instead of giving quietly different sentiments.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use super::chunk::{self, Tokens};
use super::{NlpError, runtime};

/// Which weights of the model directory to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// `model.onnx`: float32; batch-invariant (a text's result does not depend on its batch).
    Fp32,
    /// `model.int8.onnx`: dynamic int8 quantisation of most MatMuls; about 1.7x the speed of
    /// fp32 within 0.5 points of its accuracy (README, "Sentiment model"). The default.
    #[default]
    Int8,
}

impl Variant {
    fn file(self) -> &'static str {
        match self {
            Variant::Fp32 => "model.onnx",
            Variant::Int8 => "model.int8.onnx",
        }
    }
}

/// A file entry of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The ONNX Runtime library the directory carries.
#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeEntry {
    /// File name inside the model directory.
    pub file: String,
    /// The ONNX Runtime version it is.
    pub version: String,
}

/// `manifest.json` of a model directory (the keys brandpulse reads).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelManifest {
    /// Model name, e.g. `brandpulse-sentiment-minilm-v1`.
    pub name: String,
    /// `name@` + the first 12 hex digits of `model.onnx`'s sha256.
    pub model_id: String,
    /// Output classes in order; must be negative, neutral, positive.
    pub labels: Vec<String>,
    /// Longest input in tokens, special tokens included.
    pub max_length: usize,
    /// sha256 and size of every file.
    pub files: BTreeMap<String, FileEntry>,
    /// Languages (ISO 639-3) the model was trained on.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// The ONNX Runtime library in the directory.
    pub runtime: RuntimeEntry,
}

fn default_languages() -> Vec<String> {
    vec!["eng".to_owned()]
}

impl ModelManifest {
    /// Reads and checks `dir/manifest.json` (not the files it lists).
    pub fn read(dir: &Path) -> Result<ModelManifest, NlpError> {
        let path = dir.join("manifest.json");
        let text = fs::read_to_string(&path).map_err(|source| NlpError::Io { path: path.clone(), source })?;
        let manifest: ModelManifest = serde_json::from_str(&text).map_err(|e| NlpError::Manifest {
            dir: dir.to_path_buf(),
            message: format!("manifest.json: {e}"),
        })?;
        if manifest.labels != ["negative", "neutral", "positive"] {
            return Err(NlpError::Manifest {
                dir: dir.to_path_buf(),
                message: format!(
                    "labels are {:?}; brandpulse needs [negative, neutral, positive]",
                    manifest.labels
                ),
            });
        }
        if manifest.max_length < 8 {
            return Err(NlpError::Manifest {
                dir: dir.to_path_buf(),
                message: format!("max_length {} is too small", manifest.max_length),
            });
        }
        Ok(manifest)
    }

    /// The id results of `variant` are stored under. fp32 keeps the manifest's
    /// id; int8 gets its own, because its probabilities differ.
    pub fn model_id_for(&self, variant: Variant) -> Result<String, String> {
        match variant {
            Variant::Fp32 => Ok(self.model_id.clone()),
            Variant::Int8 => {
                let entry =
                    self.files.get(Variant::Int8.file()).ok_or("the manifest lists no model.int8.onnx")?;
                Ok(format!("{}-int8@{}", self.name, &entry.sha256[..12.min(entry.sha256.len())]))
            }
        }
    }
}

/// The sha256 of a file, read in 1 MiB blocks.
fn sha256_file(path: &Path) -> Result<String, NlpError> {
    let mut file =
        fs::File::open(path).map_err(|source| NlpError::Io { path: path.to_path_buf(), source })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| NlpError::Io { path: path.to_path_buf(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks `dir/name` against its manifest entry and returns its path.
fn checked_file(dir: &Path, manifest: &ModelManifest, name: &str) -> Result<PathBuf, NlpError> {
    let entry = manifest.files.get(name).ok_or_else(|| NlpError::Manifest {
        dir: dir.to_path_buf(),
        message: format!("manifest.json lists no `{name}`"),
    })?;
    let path = dir.join(name);
    let actual = sha256_file(&path)?;
    if !actual.eq_ignore_ascii_case(&entry.sha256) {
        return Err(NlpError::Manifest {
            dir: dir.to_path_buf(),
            message: format!(
                "{name} has sha256 {actual}, the manifest says {}; rebuild the directory with models/setup.sh",
                entry.sha256
            ),
        });
    }
    Ok(path)
}

/// The tokenizer and ONNX session of one model, run on one thread.
pub struct Classifier {
    session: Session,
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    pad: u32,
    /// Tokens per chunk, special tokens excluded.
    max_tokens: usize,
    model_id: String,
    languages: Vec<String>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").field("model_id", &self.model_id).finish_non_exhaustive()
    }
}

impl Classifier {
    /// Loads `variant` from `dir` with `threads` ONNX Runtime threads,
    /// checking every file against the manifest first.
    pub fn load(dir: &Path, variant: Variant, threads: usize) -> Result<Classifier, NlpError> {
        let manifest = ModelManifest::read(dir)?;
        let model_id = manifest
            .model_id_for(variant)
            .map_err(|message| NlpError::Manifest { dir: dir.to_path_buf(), message })?;
        let model_path = checked_file(dir, &manifest, variant.file())?;
        let tokenizer_path = checked_file(dir, &manifest, "tokenizer.json")?;
        let library = checked_file(dir, &manifest, &manifest.runtime.file)?;

        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| NlpError::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        // Chunking needs the whole text; padding is done per batch here.
        tokenizer.with_truncation(None).map_err(|e| NlpError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let special = |name: &str| {
            tokenizer
                .token_to_id(name)
                .ok_or_else(|| NlpError::Tokenizer(format!("tokenizer.json has no {name} token")))
        };
        let (cls, sep, pad) = (special("[CLS]")?, special("[SEP]")?, special("[PAD]")?);

        let environment = runtime::environment(&library)?;
        let runtime_error =
            |e: ort::Error<ort::session::builder::SessionBuilder>| NlpError::Runtime(e.to_string());
        let builder = Session::builder(environment).map_err(|e| NlpError::Runtime(e.to_string()))?;
        let builder =
            builder.with_optimization_level(GraphOptimizationLevel::Level3).map_err(runtime_error)?;
        let builder = builder.with_intra_threads(threads.max(1)).map_err(runtime_error)?;
        let builder = builder.with_inter_threads(1).map_err(runtime_error)?;
        // Spinning threads burn a core between batches; the machine also crawls.
        let mut builder = builder.with_intra_op_spinning(false).map_err(runtime_error)?;
        let session = builder
            .commit_from_file(&model_path)
            .map_err(|e| NlpError::Runtime(format!("{}: {e}", model_path.display())))?;

        Ok(Classifier {
            session,
            tokenizer,
            cls,
            sep,
            pad,
            max_tokens: manifest.max_length - 2,
            model_id,
            languages: manifest.languages,
        })
    }

    /// The id stored with results.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Languages the model was trained on.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// Tokenises `text` into model inputs (with `[CLS]`/`[SEP]`), split into
    /// several chunks when it is longer than the model reads.
    pub fn encode(&self, text: &str) -> Result<Vec<Vec<u32>>, NlpError> {
        let chunks = chunk::split(text, self.max_tokens, |piece| {
            let encoding =
                self.tokenizer.encode(piece, false).map_err(|e| NlpError::Tokenizer(e.to_string()))?;
            let words = encoding.get_word_ids();
            let word_start =
                (0..words.len()).map(|i| i == 0 || words[i].is_none() || words[i] != words[i - 1]).collect();
            Ok::<_, NlpError>(Tokens { ids: encoding.get_ids().to_vec(), word_start })
        })?;
        Ok(chunks
            .into_iter()
            .map(|ids| {
                let mut input = Vec::with_capacity(ids.len() + 2);
                input.push(self.cls);
                input.extend(ids);
                input.push(self.sep);
                input
            })
            .collect())
    }

    /// Class probabilities for a batch of encoded inputs, padded to the longest.
    pub fn infer(&mut self, batch: &[&[u32]]) -> Result<Vec<[f32; 3]>, NlpError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows = batch.len();
        let cols = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![i64::from(self.pad); rows * cols];
        let mut mask = vec![0i64; rows * cols];
        for (r, input) in batch.iter().enumerate() {
            for (c, &id) in input.iter().enumerate() {
                ids[r * cols + c] = i64::from(id);
                mask[r * cols + c] = 1;
            }
        }
        let shape = [rows as i64, cols as i64];
        let ids = Tensor::from_array((shape, ids)).map_err(|e| NlpError::Runtime(e.to_string()))?;
        let mask = Tensor::from_array((shape, mask)).map_err(|e| NlpError::Runtime(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
            .map_err(|e| NlpError::Runtime(e.to_string()))?;
        let logits = outputs
            .get("logits")
            .ok_or_else(|| NlpError::Runtime("the model has no `logits` output".to_owned()))?;
        let (out_shape, values) =
            logits.try_extract_tensor::<f32>().map_err(|e| NlpError::Runtime(e.to_string()))?;
        if out_shape.len() != 2 || out_shape[0] != rows as i64 || out_shape[1] != 3 {
            return Err(NlpError::Runtime(format!("logits have shape {out_shape:?}, expected [{rows}, 3]")));
        }
        Ok(values.chunks_exact(3).map(|l| softmax([l[0], l[1], l[2]])).collect())
    }
}

/// Softmax of three logits, stable for large values.
fn softmax(logits: [f32; 3]) -> [f32; 3] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = logits.map(|l| (l - max).exp());
    let sum: f32 = exp.iter().sum();
    exp.map(|e| e / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_large_logits() {
        let p = softmax([1000.0, 999.0, -5.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
    }

    #[test]
    fn a_missing_manifest_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelManifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
    }

    #[test]
    fn a_manifest_with_other_labels_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = r#"{"name":"m","model_id":"m@0","labels":["pos","neg"],"max_length":128,"files":{},
            "runtime":{"file":"libonnxruntime.so","version":"1.31.1"}}"#;
        fs::write(dir.path().join("manifest.json"), manifest).unwrap();
        let err = ModelManifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("labels"), "{err}");
    }

    #[test]
    fn a_changed_file_fails_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        let manifest = ModelManifest {
            name: "m".into(),
            model_id: "m@0".into(),
            labels: vec![],
            max_length: 128,
            files: BTreeMap::from([(
                "tokenizer.json".to_owned(),
                FileEntry { sha256: "00".repeat(32), bytes: 2 },
            )]),
            languages: vec![],
            runtime: RuntimeEntry { file: "x".into(), version: "1".into() },
        };
        let err = checked_file(dir.path(), &manifest, "tokenizer.json").unwrap_err().to_string();
        assert!(err.contains("tokenizer.json has sha256"), "{err}");
        let err = checked_file(dir.path(), &manifest, "model.onnx").unwrap_err().to_string();
        assert!(err.contains("lists no `model.onnx`"), "{err}");
    }
}
