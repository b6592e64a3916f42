//! Loading the ONNX Runtime shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at
//! build time, and the library is the `libonnxruntime.so` that the model
//! directory carries (copied from the pinned PyPI `onnxruntime` wheel by
//! `models/build_model.py`, its sha256 in the manifest). ONNX Runtime allows
//! one environment per process, so the first model loaded decides which
//! library file is used; loading another model from a different directory
//! reuses it (the manifests pin the same version).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use super::NlpError;

/// The process's ONNX Runtime environment, or why it could not be made.
static ENVIRONMENT: OnceLock<Result<(PathBuf, Environment), String>> = OnceLock::new();

/// The environment, loading `library` on the first call.
pub(crate) fn environment(library: &Path) -> Result<&'static Environment, NlpError> {
    let loaded = ENVIRONMENT.get_or_init(|| {
        let builder =
            ort::init_from(library).map_err(|e| format!("cannot load {}: {e}", library.display()))?;
        let env = builder
            .with_name("brandpulse")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot create the environment from {}: {e}", library.display()))?;
        Ok((library.to_path_buf(), env))
    });
    match loaded {
        Ok((_, env)) => Ok(env),
        Err(message) => Err(NlpError::Runtime(message.clone())),
    }
}
