//! The per-endpoint health state machine: rise/fall hysteresis and flap damping. Pure:
//! results and time come in as arguments.
//!
//! Rules:
//! - The first result after start (or after the endpoint appears) counts directly.
//! - Up -> Down after `fall` consecutive failures; Down -> Up after `rise` consecutive
//!   successes.
//! - Flap damping: going down less than `FLAP_WINDOW_FACTOR x flap_hold` after coming up is a
//!   flap. The n-th flap in a row holds the endpoint down for `flap_hold x 2^(n-1)` (at most
//!   `MAX_HOLD_FACTOR x flap_hold`), even if probes succeed meanwhile. Staying up longer than
//!   the window forgives all flaps. `flap_hold: 0s` turns damping off.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Probe;

pub const FLAP_WINDOW_FACTOR: u32 = 6;
pub const MAX_HOLD_FACTOR: u32 = 32;
/// Transitions remembered per endpoint for `/status`.
const HISTORY: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unknown,
    Up,
    Down,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// One probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    /// Short reason: `HTTP 200`, `connected`, `timeout`, `refused`, `HTTP 503`, `body mismatch`, ...
    pub reason: String,
    pub latency: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    #[serde(with = "crate::unix_time")]
    pub at: SystemTime,
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct EndpointState {
    pub status: Status,
    /// Why the current status holds (the last verdict's reason).
    pub reason: String,
    pub since: Instant,
    pub last_check: Option<(SystemTime, Duration)>,
    pub checks: u64,
    pub transitions: VecDeque<Transition>,
    successes: u32,
    failures: u32,
    up_at: Option<Instant>,
    flaps: u32,
    held_until: Option<Instant>,
}

impl EndpointState {
    pub fn new(now: Instant) -> EndpointState {
        EndpointState {
            status: Status::Unknown,
            reason: "no check yet".into(),
            since: now,
            last_check: None,
            checks: 0,
            transitions: VecDeque::new(),
            successes: 0,
            failures: 0,
            up_at: None,
            flaps: 0,
            held_until: None,
        }
    }

    /// A state carried over from the state file: the saved verdict stands until probes
    /// overturn it through the usual rise/fall counts.
    pub fn restored(status: Status, now: Instant) -> EndpointState {
        EndpointState { status, reason: "restored from the state file".into(), ..EndpointState::new(now) }
    }

    pub fn is_up(&self) -> bool {
        self.status != Status::Down
    }

    /// Feeds one result; returns the new status when it changed.
    pub fn observe(&mut self, result: &CheckResult, probe: &Probe, now: Instant, wall: SystemTime) -> Option<Status> {
        self.checks += 1;
        self.last_check = Some((wall, result.latency));
        if result.ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        let held = self.held_until.is_some_and(|until| now < until);
        let next = match (self.status, result.ok) {
            (Status::Unknown, true) => Status::Up,
            (Status::Unknown, false) => Status::Down,
            (Status::Up, false) if self.failures >= probe.fall => Status::Down,
            (Status::Down, true) if self.successes >= probe.rise && !held => Status::Up,
            (status, _) => {
                if status == Status::Down && result.ok && held {
                    self.reason =
                        format!("held down for flapping ({} s left)", (self.held_until.unwrap() - now).as_secs());
                } else if status == self.verdict_for(result.ok) {
                    self.reason = result.reason.clone();
                }
                return None;
            }
        };
        if next == Status::Down && self.status == Status::Up {
            self.damp(probe.flap_hold, now);
        }
        if next == Status::Up {
            self.up_at = Some(now);
        }
        let from = self.status;
        self.status = next;
        self.reason = result.reason.clone();
        self.since = now;
        if self.transitions.len() == HISTORY {
            self.transitions.pop_front();
        }
        self.transitions.push_back(Transition { at: wall, from, to: next, reason: result.reason.clone() });
        Some(next)
    }

    fn verdict_for(&self, ok: bool) -> Status {
        if ok { Status::Up } else { Status::Down }
    }

    fn damp(&mut self, flap_hold: Duration, now: Instant) {
        if flap_hold.is_zero() {
            return;
        }
        let flapped = self.up_at.is_some_and(|up| now - up < flap_hold * FLAP_WINDOW_FACTOR);
        self.flaps = if flapped { self.flaps + 1 } else { 0 };
        self.held_until = (self.flaps > 0).then(|| {
            let factor = 1u32 << (self.flaps - 1).min(MAX_HOLD_FACTOR.trailing_zeros());
            now + flap_hold * factor
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Check;

    fn probe(rise: u32, fall: u32, flap_hold: u64) -> Probe {
        Probe {
            target: "127.0.0.1:1".parse().unwrap(),
            check: Check::Tcp,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            rise,
            fall,
            flap_hold: Duration::from_secs(flap_hold),
        }
    }

    fn result(ok: bool) -> CheckResult {
        CheckResult { ok, reason: if ok { "connected" } else { "refused" }.into(), latency: Duration::ZERO }
    }

    /// Feeds results one second apart; returns the status after each.
    fn run(state: &mut EndpointState, p: &Probe, start: Instant, results: &[bool]) -> Vec<Status> {
        results
            .iter()
            .enumerate()
            .map(|(i, &ok)| {
                state.observe(&result(ok), p, start + Duration::from_secs(i as u64), SystemTime::now());
                state.status
            })
            .collect()
    }

    #[test]
    fn first_result_counts_then_hysteresis() {
        use Status::{Down, Up};
        let p = probe(2, 3, 0);
        let t = Instant::now();
        let mut s = EndpointState::new(t);
        let seen = run(&mut s, &p, t, &[true, false, false, true, false, false, false, true, true]);
        assert_eq!(seen, vec![Up, Up, Up, Up, Up, Up, Down, Down, Up]);
        assert_eq!(s.transitions.len(), 3);
        let mut s = EndpointState::new(t);
        assert_eq!(run(&mut s, &p, t, &[false]), vec![Down]);
        assert_eq!(s.reason, "refused");
    }

    #[test]
    fn flapping_endpoint_is_held_down_longer_each_time() {
        let p = probe(1, 1, 10);
        let t = Instant::now();
        let mut s = EndpointState::new(t);
        let at = |secs| t + Duration::from_secs(secs);
        s.observe(&result(true), &p, at(0), SystemTime::now());
        s.observe(&result(false), &p, at(5), SystemTime::now()); // flap 1: held 10 s
        s.observe(&result(true), &p, at(6), SystemTime::now());
        assert_eq!(s.status, Status::Down);
        assert!(s.reason.starts_with("held down"), "{}", s.reason);
        s.observe(&result(true), &p, at(15), SystemTime::now());
        assert_eq!(s.status, Status::Up);
        s.observe(&result(false), &p, at(20), SystemTime::now()); // flap 2: held 20 s
        s.observe(&result(true), &p, at(39), SystemTime::now());
        assert_eq!(s.status, Status::Down);
        s.observe(&result(true), &p, at(40), SystemTime::now());
        assert_eq!(s.status, Status::Up);
        // Up longer than the window (60 s): the next failure is not a flap.
        s.observe(&result(false), &p, at(101), SystemTime::now());
        s.observe(&result(true), &p, at(102), SystemTime::now());
        assert_eq!(s.status, Status::Up);
    }
}
