//! systemd integration for `Type=notify` units: readiness once the zones are loaded, the first
//! health verdicts are in and the DNS sockets are bound; status lines; and watchdog pings
//! that only go out while the control task (the only writer) still answers. Outside
//! systemd (no `NOTIFY_SOCKET`) every call here does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::control::Handle;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// With `WatchdogSec=` set, pings systemd at half the interval as long as the control task
/// responds within that time; a wedged server stops pinging and systemd restarts it.
pub fn start_watchdog(control: Handle) {
    let Some(interval) = sd_notify::watchdog_enabled() else { return };
    let every = interval / 2;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match tokio::time::timeout(every.max(Duration::from_millis(100)), control.ping()).await {
                Ok(true) => send(&[NotifyState::Watchdog]),
                Ok(false) => return, // shutting down
                Err(_) => tracing::error!("control task unresponsive: withholding the watchdog ping"),
            }
        }
    });
}
