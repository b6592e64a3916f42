//! The inference engine: the model on its own thread, fed by a bounded queue.
//!
//! Callers (tokio tasks or plain threads) send jobs, each a list of texts,
//! into a bounded channel; a full queue makes `analyze` wait, which is the
//! back-pressure on the crawler and the worker. The inference thread takes
//! one job, then whatever else is already queued (up to a limit), splits
//! every text into chunks, sorts all chunks by length and runs them in
//! batches of `batch_size`, so each batch is padded only to its own longest
//! chunk. Results go back to each job's caller in its own order.
//!
//! There is one inference thread; ONNX Runtime parallelises each batch over
//! `threads` intra-op threads. With 2 cores that is faster than two sessions
//! competing, and memory holds one copy of the weights.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::model::{Classifier, Variant};
use super::{Analyzer, BoxFuture, NlpError, Sentiment};

/// How the engine runs the model (from `[model]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Chunks per model call.
    pub batch_size: usize,
    /// Which weights.
    pub variant: Variant,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions { threads: 2, batch_size: 32, variant: Variant::default() }
    }
}

impl From<&crate::config::ModelConfig> for EngineOptions {
    fn from(model: &crate::config::ModelConfig) -> EngineOptions {
        EngineOptions {
            threads: model.threads as usize,
            batch_size: model.batch_size as usize,
            variant: model.variant,
        }
    }
}

/// Jobs waiting in the queue before `analyze` waits for room.
const QUEUE_JOBS: usize = 64;
/// The inference thread gathers queued jobs until it holds this many batches
/// of work: enough to group by length, small enough to answer soon.
const GATHER_BATCHES: usize = 16;

/// Counters of what the engine did, for tests, benches and progress output.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Model calls (`Session::run`), one per batch.
    pub model_calls: AtomicU64,
    /// Texts scored.
    pub texts: AtomicU64,
    /// Chunks scored (texts plus the extra pieces of long texts).
    pub chunks: AtomicU64,
    /// Padding positions run through the model (the waste that length grouping avoids).
    pub padding_tokens: AtomicU64,
    /// Real token positions run through the model.
    pub tokens: AtomicU64,
}

struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Sentiment>, NlpError>>,
}

/// The running model. Dropping it stops the inference thread after the
/// queued jobs are answered.
pub struct Engine {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    model_id: String,
    languages: Vec<String>,
    stats: Arc<EngineStats>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("model_id", &self.model_id).finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the model from `dir` (checking checksums) and starts the
    /// inference thread. Blocking: a second or so; call it from
    /// `spawn_blocking` inside async code.
    pub fn start(dir: &Path, options: EngineOptions) -> Result<Engine, NlpError> {
        let classifier = Classifier::load(dir, options.variant, options.threads)?;
        let model_id = classifier.model_id().to_owned();
        let languages = classifier.languages().to_vec();
        let stats = Arc::new(EngineStats::default());
        let (tx, rx) = mpsc::channel(QUEUE_JOBS);
        let thread_stats = Arc::clone(&stats);
        let batch_size = options.batch_size.max(1);
        let thread = std::thread::Builder::new()
            .name("brandpulse-inference".to_owned())
            .spawn(move || run(classifier, rx, batch_size, &thread_stats))
            .map_err(|e| NlpError::Runtime(format!("cannot start the inference thread: {e}")))?;
        Ok(Engine { queue: Some(tx), thread: Some(thread), model_id, languages, stats })
    }

    /// [`Engine::start`] off the async worker threads, for async callers.
    pub async fn start_in_background(
        dir: std::path::PathBuf,
        options: EngineOptions,
    ) -> Result<Engine, NlpError> {
        tokio::task::spawn_blocking(move || Engine::start(&dir, options))
            .await
            .map_err(|e| NlpError::Runtime(format!("loading the model stopped without an answer: {e}")))?
    }

    /// What the engine has done so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Model calls so far.
    pub fn model_calls(&self) -> u64 {
        self.stats.model_calls.load(Ordering::Relaxed)
    }

    /// Scores `texts` from a thread that is not a tokio worker (tests, benches).
    /// It blocks until the answer comes; inside async code use [`Analyzer::analyze`]
    /// (tokio refuses to block one of its worker threads and panics).
    pub fn analyze_blocking(&self, texts: Vec<String>) -> Result<Vec<Sentiment>, NlpError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or(NlpError::Stopped)?;
        queue.blocking_send(Job { texts, reply }).map_err(|_| NlpError::Stopped)?;
        answer.blocking_recv().map_err(|_| NlpError::Stopped)?
    }
}

impl Analyzer for Engine {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn languages(&self) -> &[String] {
        &self.languages
    }

    fn analyze(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Sentiment>, NlpError>> {
        Box::pin(async move {
            if texts.is_empty() {
                return Ok(Vec::new());
            }
            let (reply, answer) = oneshot::channel();
            let queue = self.queue.as_ref().ok_or(NlpError::Stopped)?;
            queue.send(Job { texts, reply }).await.map_err(|_| NlpError::Stopped)?;
            answer.await.map_err(|_| NlpError::Stopped)?
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once it is drained.
        self.queue.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the inference thread panicked");
        }
    }
}

/// The inference thread's loop.
fn run(mut classifier: Classifier, mut rx: mpsc::Receiver<Job>, batch_size: usize, stats: &EngineStats) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut queued: usize = jobs[0].texts.len();
        while queued < GATHER_BATCHES * batch_size {
            match rx.try_recv() {
                Ok(job) => {
                    queued += job.texts.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        process(&mut classifier, jobs, batch_size, stats);
    }
}

/// One chunk of one text of one job.
struct Unit {
    job: usize,
    text: usize,
    input: Vec<u32>,
}

/// Scores the gathered jobs and answers each one.
fn process(classifier: &mut Classifier, jobs: Vec<Job>, batch_size: usize, stats: &EngineStats) {
    let mut units = Vec::new();
    let mut failed: Vec<Option<NlpError>> = jobs.iter().map(|_| None).collect();
    for (j, job) in jobs.iter().enumerate() {
        for (t, text) in job.texts.iter().enumerate() {
            match classifier.encode(text) {
                Ok(chunks) => units.extend(chunks.into_iter().map(|input| Unit { job: j, text: t, input })),
                Err(e) => {
                    failed[j] = Some(e);
                    break;
                }
            }
        }
    }
    units.retain(|u| failed[u.job].is_none());
    // Length grouping: neighbours in this order have (nearly) the same length.
    units.sort_by_key(|u| u.input.len());

    // Per job, per text: probability sums weighted by chunk tokens, weight, chunks.
    let mut sums: Vec<Vec<([f64; 3], f64, u32)>> =
        jobs.iter().map(|job| vec![([0.0; 3], 0.0, 0); job.texts.len()]).collect();
    for batch in units.chunks(batch_size) {
        let inputs: Vec<&[u32]> = batch.iter().map(|u| u.input.as_slice()).collect();
        let longest = inputs.iter().map(|i| i.len()).max().unwrap_or(0);
        let real: usize = inputs.iter().map(|i| i.len()).sum();
        stats.model_calls.fetch_add(1, Ordering::Relaxed);
        stats.tokens.fetch_add(real as u64, Ordering::Relaxed);
        stats.padding_tokens.fetch_add((longest * inputs.len() - real) as u64, Ordering::Relaxed);
        match classifier.infer(&inputs) {
            Ok(probabilities) => {
                for (unit, p) in batch.iter().zip(probabilities) {
                    let weight = unit.input.len() as f64;
                    let slot = &mut sums[unit.job][unit.text];
                    for (sum, pk) in slot.0.iter_mut().zip(p) {
                        *sum += f64::from(pk) * weight;
                    }
                    slot.1 += weight;
                    slot.2 += 1;
                }
            }
            Err(e) => {
                // One failed batch fails the jobs it carried; the others go on.
                let message = e.to_string();
                for unit in batch {
                    failed[unit.job].get_or_insert_with(|| NlpError::Runtime(message.clone()));
                }
            }
        }
    }

    for ((job, error), sums) in jobs.into_iter().zip(failed).zip(sums) {
        let answer = match error {
            Some(e) => Err(e),
            None => {
                stats.texts.fetch_add(job.texts.len() as u64, Ordering::Relaxed);
                Ok(sums
                    .into_iter()
                    .map(|(sum, weight, chunks)| {
                        stats.chunks.fetch_add(u64::from(chunks), Ordering::Relaxed);
                        let p = sum.map(|s| if weight > 0.0 { (s / weight) as f32 } else { 1.0 / 3.0 });
                        Sentiment::from_probabilities(p, chunks.max(1))
                    })
                    .collect())
            }
        };
        // The caller may have gone away (timeout, shutdown); nothing to do then.
        let _ = job.reply.send(answer);
    }
}
