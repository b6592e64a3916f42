//! `brandpulse run`: binds the API, turns signals into the daemon's
//! shutdown and reload requests, and runs [`crate::daemon::run`].

use std::path::Path;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::CliError;
use crate::config::{Config, Env};
use crate::daemon::{self, Options, Stats, Systemd};

/// `brandpulse run`: until SIGTERM or SIGINT; SIGHUP reloads the config.
pub async fn run(config: Config, path: &Path, env: &Env) -> Result<(), CliError> {
    // Bound before anything else, so a taken port fails the start at once
    // and READY means the listener is up.
    let api_listener = if config.api.enabled {
        let bind = config.api.bind;
        Some(tokio::net::TcpListener::bind(bind).await.map_err(|e| {
            CliError::Usage(format!(
                "api.bind: cannot listen on {bind}: {e} (is another brandpulse running there?)"
            ))
        })?)
    } else {
        None
    };
    let signal_error = |e: std::io::Error| CliError::Usage(format!("cannot listen for signals: {e}"));
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(signal_error)?;
    let (reload_tx, reload_rx) = mpsc::channel(4);
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            // A full queue already holds a reload that will read the newest file.
            let _ = reload_tx.try_send(());
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "shutdown requested"),
            _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "shutdown requested"),
        }
    };
    let options = Options {
        config_path: path.to_owned(),
        env: env.clone(),
        api_listener,
        notifier: Arc::new(Systemd),
        stats: Arc::new(Stats::default()),
        reload: reload_rx,
    };
    daemon::run(config, options, shutdown).await?;
    Ok(())
}
