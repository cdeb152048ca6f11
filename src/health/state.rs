//! The per-endpoint health state machine: rise/fall hysteresis and flap damping. Pure:
//! results and time come in as arguments.
//!
//! Rules:
//! - The first result after start (or after the endpoint appears) counts directly.
//! - Up -> Down after `fall` consecutive failures; Down -> Up after `rise` consecutive
//!   successes. That is the probes' verdict ([`Status`]); it is never delayed.
//! - Flap damping, in the spirit of BGP route-flap damping (RFC 2439): every Up -> Down
//!   transition adds [`FLAP_PENALTY`] to a penalty that halves every
//!   `HALF_LIFE_FACTOR x flap_hold` (60 s by default). An endpoint whose penalty reaches
//!   [`SUPPRESS_AT`] is *suppressed*: routing prefers other healthy endpoints (or pools) to
//!   it until the penalty has decayed below [`REUSE_BELOW`]. One or two outages never reach
//!   the threshold; the third flap within about a minute does (flaps 17 s apart or closer,
//!   or e.g. at 0, 20 and 30 s). The penalty is capped at [`PENALTY_CEILING`], so an
//!   endpoint that stops flapping is released at most 3 half-lives (180 s) later.
//!   Suppression only moves traffic to healthy endpoints: when nothing else passes its
//!   probes, a suppressed endpoint that passes is still used before any all-down fallback.
//!   `flap_hold: 0s` turns damping off.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Probe;

/// The penalty's half-life, in multiples of `flap_hold`.
pub const HALF_LIFE_FACTOR: u32 = 6;
/// Added at every Up -> Down transition.
pub const FLAP_PENALTY: f64 = 1000.0;
/// Suppressed from this penalty on: the third flap in quick succession.
pub const SUPPRESS_AT: f64 = 2500.0;
/// Released once the penalty has decayed below this.
pub const REUSE_BELOW: f64 = 750.0;
/// The penalty never exceeds this (at most log2(6000 / 750) = 3 half-lives of suppression
/// after the last flap).
pub const PENALTY_CEILING: f64 = 6000.0;
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

/// Why a probe failed. The metric label ([`Failure::label`]) and the human reason (its
/// `Display`) both come from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Refused,
    /// An HTTP status the check does not accept.
    BadStatus(u16),
    BodyMismatch,
    Tls(String),
    ConnectionClosed,
    /// Anything else (a connect error, an unusable check), with its description.
    Other(String),
    /// A signal (a Prometheus query, a DNS answer) says the endpoint is failing: what it said.
    Signal(String),
    /// The signal could not be read (the metrics system down, a bad query, a malformed
    /// answer), counted as a failure (`on_error: down`).
    QueryError(String),
    /// The same, under `on_error: keep`: neither a pass nor a failure; the state stays.
    Unavailable(String),
}

/// Every `result` label of `switchyard_health_checks_total`: success, then each failure's.
pub const RESULTS: [&str; 10] = [
    "success",
    "timeout",
    "refused",
    "bad_status",
    "body_mismatch",
    "tls_error",
    "connection_closed",
    "error",
    "signal",
    "query_error",
];

impl Failure {
    /// The failure's index in [`RESULTS`].
    fn index(&self) -> usize {
        match self {
            Failure::Timeout => 1,
            Failure::Refused => 2,
            Failure::BadStatus(_) => 3,
            Failure::BodyMismatch => 4,
            Failure::Tls(_) => 5,
            Failure::ConnectionClosed => 6,
            Failure::Other(_) => 7,
            Failure::Signal(_) => 8,
            Failure::QueryError(_) | Failure::Unavailable(_) => 9,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timeout"),
            Failure::Refused => f.write_str("refused"),
            Failure::BadStatus(code) => write!(f, "HTTP {code}"),
            Failure::BodyMismatch => f.write_str("body mismatch"),
            Failure::Tls(detail) => write!(f, "TLS error: {detail}"),
            Failure::ConnectionClosed => f.write_str("connection closed"),
            Failure::Other(detail) => write!(f, "error: {detail}"),
            Failure::Signal(said) => f.write_str(said),
            Failure::QueryError(why) => write!(f, "query failed: {why}"),
            Failure::Unavailable(why) => write!(f, "query failed, state kept (on_error: keep): {why}"),
        }
    }
}

/// One probe's result.
/// What a passing check saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pass {
    Connected,
    Http(u16),
    /// A query that selects the failing state returned no series.
    NoSeries,
    /// A query's one value, which compared as `healthy_when` wants.
    Value(f64),
    /// The query failed and `on_error: up` counts that as a pass.
    Assumed,
    /// A DNS answer with the expected rcode (and data).
    Answered(u16),
}

/// One probe's outcome. Cheap to make and to keep: nothing is allocated for a pass.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub outcome: Result<Pass, Failure>,
    pub latency: Duration,
}

impl CheckResult {
    pub fn passed(pass: Pass, latency: Duration) -> CheckResult {
        CheckResult { outcome: Ok(pass), latency }
    }

    pub fn failed(failure: Failure, latency: Duration) -> CheckResult {
        CheckResult { outcome: Err(failure), latency }
    }

    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The result's index in [`RESULTS`].
    fn index(&self) -> usize {
        self.outcome.as_ref().err().map_or(0, Failure::index)
    }

    pub fn reason(&self) -> Reason {
        match &self.outcome {
            Ok(pass) => Reason::Passed(*pass),
            Err(failure) => Reason::Failed(failure.clone()),
        }
    }
}

/// Why an endpoint's status holds: its last verdict's outcome, or where the status came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    NoCheckYet,
    Restored,
    Passed(Pass),
    Failed(Failure),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NoCheckYet => f.write_str("no check yet"),
            Reason::Restored => f.write_str("restored from the state file"),
            Reason::Passed(Pass::Connected) => f.write_str("connected"),
            Reason::Passed(Pass::Http(code)) => write!(f, "HTTP {code}"),
            Reason::Passed(Pass::NoSeries) => f.write_str("no series (nothing failing)"),
            Reason::Passed(Pass::Value(value)) => write!(f, "value {}", super::signals::number(*value)),
            Reason::Passed(Pass::Assumed) => f.write_str("query failed, counted as up (on_error: up)"),
            Reason::Passed(Pass::Answered(rcode)) => {
                write!(f, "{}", crate::answer::Rcode::name_of(*rcode).unwrap_or("answered"))
            }
            Reason::Failed(failure) => failure.fmt(f),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    pub reason: Reason,
    pub since: Instant,
    pub last_check: Option<(SystemTime, Duration)>,
    /// Checks by result, indexed as [`RESULTS`].
    pub results: [u64; RESULTS.len()],
    /// Transitions into up and into down.
    pub became_up: u64,
    pub became_down: u64,
    pub transitions: VecDeque<Transition>,
    successes: u32,
    failures: u32,
    damping: Damping,
}

/// The decaying flap penalty of one endpoint.
#[derive(Clone, Copy, Debug, Default)]
struct Damping {
    /// The penalty as it was at `at`.
    penalty: f64,
    at: Option<Instant>,
    suppressed: bool,
}

impl Damping {
    fn penalty(&self, now: Instant, half_life: Duration) -> f64 {
        match self.at {
            Some(at) if !half_life.is_zero() => {
                let half_lives = now.saturating_duration_since(at).as_secs_f64() / half_life.as_secs_f64();
                self.penalty * 0.5f64.powf(half_lives)
            }
            _ => 0.0,
        }
    }

    fn flap(&mut self, now: Instant, half_life: Duration) {
        if half_life.is_zero() {
            return;
        }
        self.penalty = (self.penalty(now, half_life) + FLAP_PENALTY).min(PENALTY_CEILING);
        self.at = Some(now);
        self.suppressed |= self.penalty >= SUPPRESS_AT;
    }

    /// How long a suppression still lasts (`None` when not suppressed).
    fn left(&self, now: Instant, half_life: Duration) -> Option<Duration> {
        let penalty = self.penalty(now, half_life);
        (self.suppressed && penalty >= REUSE_BELOW)
            .then(|| half_life.mul_f64((penalty / REUSE_BELOW).log2()).max(Duration::from_millis(1)))
    }
}

impl EndpointState {
    pub fn new(now: Instant) -> EndpointState {
        EndpointState {
            status: Status::Unknown,
            reason: Reason::NoCheckYet,
            since: now,
            last_check: None,
            results: [0; RESULTS.len()],
            became_up: 0,
            became_down: 0,
            transitions: VecDeque::new(),
            successes: 0,
            failures: 0,
            damping: Damping::default(),
        }
    }

    /// A state carried over from the state file: the saved verdict stands until probes
    /// overturn it through the usual rise/fall counts.
    pub fn restored(status: Status, now: Instant) -> EndpointState {
        EndpointState { status, reason: Reason::Restored, ..EndpointState::new(now) }
    }

    /// Checks run so far.
    pub fn checks(&self) -> u64 {
        self.results.iter().sum()
    }

    /// Whether the probes say up (or have not spoken yet).
    pub fn is_up(&self) -> bool {
        self.status != Status::Down
    }

    /// Up and not suppressed for flapping: what routing prefers.
    pub fn is_routable(&self, probe: &Probe, now: Instant) -> bool {
        self.is_up() && self.suppressed_for(probe, now).is_none()
    }

    /// How much longer the endpoint stays suppressed for flapping, if it is.
    pub fn suppressed_for(&self, probe: &Probe, now: Instant) -> Option<Duration> {
        self.damping.left(now, half_life(probe))
    }

    /// The current flap penalty (see the module docs).
    pub fn penalty(&self, probe: &Probe, now: Instant) -> f64 {
        self.damping.penalty(now, half_life(probe))
    }

    /// Feeds one result; returns the new status when it changed.
    pub fn observe(&mut self, result: &CheckResult, probe: &Probe, now: Instant, wall: SystemTime) -> Option<Status> {
        self.results[result.index()] += 1;
        self.last_check = Some((wall, result.latency));
        if let Err(Failure::Unavailable(_)) = result.outcome {
            // Seen (and shown) but not counted: the status and the rise/fall counts stay.
            self.reason = result.reason();
            return None;
        }
        if result.ok() {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        if self.damping.suppressed && self.suppressed_for(probe, now).is_none() {
            self.damping.suppressed = false; // decayed below the reuse threshold
        }
        let next = match (self.status, result.ok()) {
            (Status::Unknown, true) => Status::Up,
            (Status::Unknown, false) => Status::Down,
            (Status::Up, false) if self.failures >= probe.fall => Status::Down,
            (Status::Down, true) if self.successes >= probe.rise => Status::Up,
            (status, _) => {
                if status == self.verdict_for(result.ok()) {
                    self.reason = result.reason();
                }
                return None;
            }
        };
        if next == Status::Down && self.status == Status::Up {
            self.damping.flap(now, half_life(probe));
        }
        let from = self.status;
        match next {
            Status::Up => self.became_up += 1,
            _ => self.became_down += 1,
        }
        self.status = next;
        self.reason = result.reason();
        self.since = now;
        if self.transitions.len() == HISTORY {
            self.transitions.pop_front();
        }
        self.transitions.push_back(Transition { at: wall, from, to: next, reason: self.reason.to_string() });
        Some(next)
    }

    fn verdict_for(&self, ok: bool) -> Status {
        if ok { Status::Up } else { Status::Down }
    }
}

fn half_life(probe: &Probe) -> Duration {
    probe.flap_hold * HALF_LIFE_FACTOR
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
            agreement: Default::default(),
        }
    }

    fn result(ok: bool) -> CheckResult {
        match ok {
            true => CheckResult::passed(Pass::Connected, Duration::ZERO),
            false => CheckResult::failed(Failure::Refused, Duration::ZERO),
        }
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
        assert_eq!(s.reason.to_string(), "refused");
    }

    /// Feeds (second, ok) results; returns (status, routable) after the last one.
    fn feed(s: &mut EndpointState, p: &Probe, t: Instant, results: &[(u64, bool)]) -> (Status, bool) {
        for &(secs, ok) in results {
            s.observe(&result(ok), p, t + Duration::from_secs(secs), SystemTime::now());
        }
        let last = t + Duration::from_secs(results.last().map_or(0, |r| r.0));
        (s.status, s.is_routable(p, last))
    }

    #[test]
    fn one_or_two_outages_never_delay_a_recovery() {
        let p = probe(1, 1, 10);
        let t = Instant::now();
        for outages in [1, 2] {
            let mut s = EndpointState::new(t);
            // Up at start (a start-up verdict is no "coming up"), then quick outages.
            let mut results = vec![(0, true)];
            for i in 0..outages {
                results.extend([(1 + 2 * i, false), (2 + 2 * i, true)]);
            }
            assert_eq!(feed(&mut s, &p, t, &results), (Status::Up, true), "{outages} outage(s)");
        }
    }

    #[test]
    fn the_third_quick_flap_suppresses_until_the_penalty_decays() {
        use Status::{Down, Up};
        let p = probe(1, 1, 10); // half-life 60 s
        let t = Instant::now();
        let mut s = EndpointState::new(t);
        let flaps = [(0, true), (2, false), (3, true), (5, false), (6, true), (8, false)];
        assert_eq!(feed(&mut s, &p, t, &flaps), (Down, false));
        assert!(s.penalty(&p, t + Duration::from_secs(8)) > SUPPRESS_AT);
        // Passing again: the probes say up at once, routing still avoids it.
        assert_eq!(feed(&mut s, &p, t, &[(9, true)]), (Up, false));
        let left = s.suppressed_for(&p, t + Duration::from_secs(9)).unwrap();
        // ~2977 after three flaps -> 750 takes log2(2977/750) = 1.99 half-lives, ~119 s.
        assert!((110..125).contains(&left.as_secs()), "{left:?}");
        let released = t + Duration::from_secs(9) + left;
        assert!(s.is_routable(&p, released), "released once below the reuse threshold");
        // A fourth flap later only adds to what is left of the penalty.
        assert!(s.penalty(&p, released) < REUSE_BELOW + 1.0);
    }

    #[test]
    fn flaps_spread_over_minutes_are_forgiven_and_zero_hold_disables_damping() {
        let t = Instant::now();
        let p = probe(1, 1, 10);
        let mut s = EndpointState::new(t);
        let slow = [(0, true), (1, false), (2, true), (61, false), (62, true), (121, false), (122, true)];
        assert_eq!(feed(&mut s, &p, t, &slow), (Status::Up, true));
        let p = probe(1, 1, 0);
        let mut s = EndpointState::new(t);
        let fast: Vec<(u64, bool)> = (0..20).map(|i| (i, i % 2 == 0)).collect();
        assert_eq!(feed(&mut s, &p, t, &fast), (Status::Down, false));
        assert_eq!(feed(&mut s, &p, t, &[(20, true)]), (Status::Up, true));
    }
}
