//! Starting the daemon for a test: in-process ([`InProcess`], the same
//! `daemon::run` the binary calls, with a notifier the test can watch) or as
//! the real binary ([`Binary`], real signals, JSON logs read line by line).
//! Everything waits on events (lifecycle messages, counters, log lines)
//! with a deadline; nothing sleeps.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brandpulse::config::{Config, Env};
use brandpulse::daemon::{self, DaemonError, Lifecycle, Notifier, Options, Stats};
use tokio::sync::{mpsc, oneshot};

use crate::helpers::model_dir;

use crate::crawl::BRANDS;

/// A daemon config: these `[[sources]]` tables, fast ticks, the test model,
/// digests into `digest_dir`, and `extra` appended (more sections or keys).
pub fn daemon_config(sources: &str, digest_dir: &Path, daemon_extra: &str, extra: &str) -> String {
    format!(
        "[database]\nurl = \"postgres://unused@127.0.0.1/unused\"\n{BRANDS}\n{sources}\n\
         [model]\ndir = \"{model}\"\nbatch_size = 8\nthreads = 1\n\
         [digest]\ntime = \"00:00\"\ntime_zone = \"UTC\"\n\
         [[digest.deliver]]\nkind = \"directory\"\npath = \"{digests}\"\n\
         [fetch]\ncontact_url = \"https://brandpulse.example/contact\"\nper_host_requests_per_minute = 6000\n\
         per_host_concurrency = 8\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\n\
         [daemon]\ntick = \"100ms\"\n{shutdown}{daemon_extra}\n\
         [log]\nlevel = \"info\"\nformat = \"json\"\n{extra}\n",
        model = model_dir().display(),
        digests = digest_dir.display(),
        // A default unless the test sets its own (TOML refuses a key twice).
        shutdown =
            if daemon_extra.contains("shutdown_timeout") { "" } else { "shutdown_timeout = \"10s\"\n" },
    )
}

/// One `[[sources]]` table fetched every second.
pub fn source(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nschedule = \"* * * * * *\"\n{extra}\n"
    )
}

/// A config file on disk (the daemon re-reads it on reload).
pub struct ConfigFile {
    _dir: tempfile::TempDir,
    /// Its path.
    pub path: PathBuf,
    /// A directory for digests.
    pub digests: PathBuf,
}

impl ConfigFile {
    /// A temporary directory with room for the config and the digests.
    pub fn new() -> ConfigFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("brandpulse.toml");
        let digests = dir.path().join("digests");
        ConfigFile { path, digests, _dir: dir }
    }

    /// Writes the config text.
    pub fn write(&self, text: &str) {
        std::fs::write(&self.path, text).expect("write config");
    }
}

/// The environment a daemon gets: only the database URL.
pub fn env_for(database_url: &str) -> Env {
    Env::from_pairs([("BRANDPULSE_DATABASE_URL", database_url)])
}

/// Records lifecycle events for the test.
struct Recorder(mpsc::UnboundedSender<Lifecycle>);

impl Notifier for Recorder {
    fn notify(&self, event: &Lifecycle) {
        let _ = self.0.send(event.clone());
    }
}

/// A daemon running inside the test process.
pub struct InProcess {
    /// Its counters.
    pub stats: Arc<Stats>,
    events: mpsc::UnboundedReceiver<Lifecycle>,
    seen: Vec<Lifecycle>,
    reload: mpsc::Sender<()>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

impl InProcess {
    /// Starts `daemon::run` on the config file and waits for READY.
    pub async fn start(file: &ConfigFile, env: &Env) -> InProcess {
        let daemon = Self::spawn(file, env);
        daemon.ready().await
    }

    /// Starts `daemon::run` without waiting.
    pub fn spawn(file: &ConfigFile, env: &Env) -> InProcess {
        Self::spawn_with_api(file, env, None)
    }

    /// Starts `daemon::run` serving the API on `listener` (the config must enable it).
    pub fn spawn_with_api(
        file: &ConfigFile,
        env: &Env,
        listener: Option<tokio::net::TcpListener>,
    ) -> InProcess {
        let config = Config::load(&file.path, env).unwrap_or_else(|e| panic!("daemon config invalid: {e}"));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (reload, reload_rx) = mpsc::channel(4);
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let stats = Arc::new(Stats::default());
        let options = Options {
            config_path: file.path.clone(),
            env: env.clone(),
            api_listener: listener,
            notifier: Arc::new(Recorder(events_tx)),
            stats: Arc::clone(&stats),
            reload: reload_rx,
        };
        let task = tokio::spawn(daemon::run(config, options, async move {
            let _ = shutdown_rx.await;
        }));
        InProcess { stats, events, seen: Vec::new(), reload, shutdown: Some(shutdown_tx), task }
    }

    /// Waits for READY (at most two minutes: loading the model on a busy machine).
    pub async fn ready(mut self) -> InProcess {
        assert!(
            self.wait_event(&Lifecycle::Ready, Duration::from_secs(120)).await,
            "the daemon never got ready"
        );
        self
    }

    /// Waits for `event`; `false` if `timeout` passes or the daemon ends first.
    pub async fn wait_event(&mut self, event: &Lifecycle, timeout: Duration) -> bool {
        if self.seen.contains(event) {
            return true;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    let hit = &e == event;
                    self.seen.push(e);
                    if hit {
                        return true;
                    }
                }
                _ => return false,
            }
        }
    }

    /// Every event so far (after draining what is queued).
    pub fn events(&mut self) -> Vec<Lifecycle> {
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e);
        }
        self.seen.clone()
    }

    /// Asks for a config reload.
    pub async fn reload(&self) {
        self.reload.send(()).await.expect("daemon takes reloads");
    }

    /// Waits until `done(stats)` holds (panics with `what` after `timeout`).
    pub async fn wait_for(&self, what: &str, timeout: Duration, done: impl FnMut(&Stats) -> bool) {
        assert!(
            self.stats.wait_until(timeout, done).await,
            "timed out waiting for: {what}; stats: {:?}",
            self.stats
        );
    }

    /// Whether the daemon is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Asks it to stop and waits (bounded) for it to return.
    pub async fn stop(mut self, within: Duration) -> (Result<(), DaemonError>, Vec<Lifecycle>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(within, &mut self.task)
            .await
            .unwrap_or_else(|_| panic!("the daemon did not stop within {within:?}"))
            .expect("daemon task did not panic");
        let events = self.events();
        (result, events)
    }
}

/// The real binary running `brandpulse run`.
pub struct Binary {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every stderr line so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `brandpulse --config FILE run` with exactly `env` (plus PATH).
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_brandpulse"));
        command.arg("--config").arg(config).arg("run");
        Self::spawn(command, env)
    }

    /// Starts `sh -c SCRIPT` (which must `exec` the binary) with exactly `env` (plus PATH).
    pub fn start_shell(script: &str, env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        Self::spawn(command, env)
    }

    fn spawn(mut command: Command, env: &[(&str, &str)]) -> Binary {
        command.env_clear();
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the brandpulse binary");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().expect("log lock").push(line.clone());
                let _ = tx.send(line);
            }
        });
        Binary { child, lines, log }
    }

    /// Waits for a log line containing every one of `parts`; returns it.
    pub async fn wait_for_line(&mut self, parts: &[&str], timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if parts.iter().all(|p| line.contains(p)) => return line,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the daemon exited before logging {parts:?}; log:\n{}", self.log_text()),
                Err(_) => panic!("no log line with {parts:?} within {timeout:?}; log:\n{}", self.log_text()),
            }
        }
    }

    /// The next log line, or `None` when `timeout` passes or the daemon closed stderr.
    pub async fn next_line(&mut self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.lines.recv()).await.ok().flatten()
    }

    /// The JSON log events with this message.
    pub fn events(&self, message: &str) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["message"] == message)
            .collect()
    }

    /// The log so far, for failure messages.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Sends a signal (`TERM`, `INT`, `HUP`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return status.code().unwrap_or(-1);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {timeout:?}; log:\n{}", self.log_text());
            }
            // The process gives no event to await here; the channel closing
            // (stderr EOF) is the next best thing, bounded by the deadline.
            let _ = tokio::time::timeout(Duration::from_millis(100), self.lines.recv()).await;
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // A failed test must not leave a daemon behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
