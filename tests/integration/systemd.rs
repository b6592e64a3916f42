//! The systemd notify protocol with the real binary: READY after start,
//! watchdog pings while healthy, STOPPING and exit 0 on SIGTERM, reload on
//! SIGHUP. A unix datagram socket stands in for systemd (`NOTIFY_SOCKET`).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::daemon_harness::{Binary, ConfigFile, daemon_config, source};
use crate::fixture_server::FixtureServer;
use crate::helpers::TestDb;

/// Receives notify messages on a socket in a temporary directory.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    messages: mpsc::UnboundedReceiver<String>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        let (tx, messages) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Ends when the test drops the receiver and the next send fails.
            while let Ok(n) = socket.recv(&mut buffer) {
                if tx.send(String::from_utf8_lossy(&buffer[..n]).into_owned()).is_err() {
                    return;
                }
            }
        });
        NotifySocket { _dir: dir, path, messages }
    }

    /// Waits for a message starting with `prefix`; returns it.
    async fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.messages.recv()).await {
                Ok(Some(m)) if m.starts_with(prefix) => return m,
                Ok(Some(_)) => {}
                _ => panic!("no {prefix} notification within {timeout:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_binary_speaks_the_systemd_notify_protocol() {
    let db = TestDb::new().await;
    let server = FixtureServer::start().await;
    let file = ConfigFile::new();
    let url = server.fixture_url("rss-atom", "atom-github-commits.xml");
    file.write(&daemon_config(&source("github", "feed", &url, ""), &file.digests, "", ""));
    let mut notify = NotifySocket::bind();
    let socket = notify.path.to_string_lossy().into_owned();
    // The watchdog is addressed to one pid; `exec` keeps the shell's, so `$$` is the daemon's.
    let command = format!(
        "WATCHDOG_PID=$$ exec '{}' --config '{}' run",
        env!("CARGO_BIN_EXE_brandpulse"),
        file.path.display()
    );
    let mut daemon = Binary::start_shell(
        &command,
        &[
            ("BRANDPULSE_DATABASE_URL", db.url.as_str()),
            ("NOTIFY_SOCKET", socket.as_str()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    notify.expect("READY=1", Duration::from_secs(120)).await;
    let status = notify.expect("STATUS=running", Duration::from_secs(10)).await;
    assert!(status.contains("1 sources"), "{status}");
    // Pinged at half the 1 s deadline while the database answers and the scheduler ticks.
    notify.expect("WATCHDOG=1", Duration::from_secs(5)).await;
    notify.expect("WATCHDOG=1", Duration::from_secs(5)).await;

    // SIGHUP re-reads the file: a second source appears in the database.
    let second =
        source("youtube", "feed", &server.fixture_url("rss-atom", "atom-youtube-channel-google.xml"), "");
    file.write(&daemon_config(&[source("github", "feed", &url, ""), second].concat(), &file.digests, "", ""));
    daemon.signal("HUP");
    daemon
        .wait_for_line(&["configuration change applied", "source youtube added"], Duration::from_secs(30))
        .await;
    daemon.wait_for_line(&["configuration reloaded"], Duration::from_secs(30)).await;
    let enabled: i64 = sqlx::query_scalar("SELECT count(*) FROM sources WHERE enabled")
        .fetch_one(&db.pool)
        .await
        .expect("count sources");
    assert_eq!(enabled, 2);

    daemon.signal("TERM");
    notify.expect("STOPPING=1", Duration::from_secs(30)).await;
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)).await, 0, "{}", daemon.log_text());
}

#[tokio::test]
async fn a_daemon_config_that_cannot_work_exits_2_naming_the_problem() {
    let file = ConfigFile::new();
    let db = "postgres://nobody@127.0.0.1:1/none";
    // A model directory that does not exist: restarting cannot fix it (the unit does not restart on 2).
    let text = daemon_config("", &file.digests, "", "")
        .replace("[model]\ndir = \"", "[model]\ndir = \"/nonexistent");
    file.write(&text);
    let run = crate::helpers::brandpulse(
        &["--config", file.path.to_str().expect("utf-8"), "run"],
        &[("BRANDPULSE_DATABASE_URL", db)],
    );
    // The database is unreachable too: the model is checked before the daemon
    // starts waiting for PostgreSQL, so the mistake is reported at once.
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("model"), "{}", run.stderr);
}
