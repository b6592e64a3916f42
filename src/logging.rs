//! Log output: `tracing` events to stderr, one line each, as text or JSON.
//!
//! Under systemd (`JOURNAL_STREAM` set) text lines carry no timestamp and
//! no colours: journald stamps and stores each line itself. `RUST_LOG`,
//! when set, wins over `[log] level`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// How to set up logging.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// An `EnvFilter` directive used when `RUST_LOG` is not set.
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

impl Default for LogSettings {
    /// What one-shot commands use: warnings and errors only, as text.
    fn default() -> LogSettings {
        LogSettings { level: "warn".to_owned(), format: LogFormat::Text }
    }
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = match (settings.format, journald) {
        (LogFormat::Json, _) => builder.json().flatten_event(true).with_current_span(true).try_init(),
        (LogFormat::Text, true) => builder.without_time().with_ansi(false).try_init(),
        (LogFormat::Text, false) => builder.try_init(),
    };
}
