//! Telling the service manager where the daemon is: READY, STOPPING,
//! WATCHDOG and a STATUS line, over systemd's notify socket. Without
//! `NOTIFY_SOCKET` (a terminal, a test) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

/// A lifecycle event the service manager may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Migrations applied, model loaded, listeners up: the daemon works.
    Ready,
    /// Shutdown has begun.
    Stopping,
    /// Alive: the database answers and the scheduler ticks.
    Watchdog,
    /// A one-line status (`systemctl status` shows it).
    Status(String),
}

/// Where lifecycle events go. The daemon takes one so tests can watch them.
pub trait Notifier: Send + Sync {
    /// Reports one event; failures are logged, never fatal.
    fn notify(&self, event: &Lifecycle);

    /// How often the service manager wants a watchdog ping (`None`: it does not).
    fn watchdog_interval(&self) -> Option<Duration> {
        None
    }
}

/// The systemd notify protocol (`Type=notify`, `WatchdogSec=`).
#[derive(Debug, Default)]
pub struct Systemd;

impl Notifier for Systemd {
    fn notify(&self, event: &Lifecycle) {
        let state = match event {
            Lifecycle::Ready => NotifyState::Ready,
            Lifecycle::Stopping => NotifyState::Stopping,
            Lifecycle::Watchdog => NotifyState::Watchdog,
            Lifecycle::Status(text) => NotifyState::Status(text),
        };
        // `false`: keep NOTIFY_SOCKET, later events need it too.
        if let Err(e) = sd_notify::notify(false, &[state]) {
            tracing::warn!(error = %e, event = ?event, "cannot notify the service manager");
        }
    }

    fn watchdog_interval(&self) -> Option<Duration> {
        let mut usec = 0u64;
        if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
            // Ping at half the deadline, as sd_watchdog_enabled(3) advises.
            Some(Duration::from_micros(usec) / 2)
        } else {
            None
        }
    }
}
