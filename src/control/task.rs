//! The control task, the only writer: it receives probe reports, operator commands, finished
//! reloads and timers, hands each to [`Control`], and publishes what Control decides (answer
//! table and status together, one atomic store), then does the side effects: logs, metrics,
//! the state file. It never awaits anything but its inputs: a reload is loaded and compiled
//! in a blocking task and comes back as a message; its new probes run while the current
//! answers stay published, and it is installed once they have reported (or a deadline passed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::decide::{Applied, Control, OverrideRequest, Refusal};
use super::explain::ExplainRequest;
use crate::answer::{AnswerTable, Compiler, Published, Shared};
use crate::config::{Problem, Settings, ZoneSource};
use crate::fleet::{Export, Report as PeerReport, View};
use crate::health::state::{EndpointState, Status as Verdict};
use crate::health::{Monitors, Report};
use crate::metrics::Metrics;
use crate::model::{Model, Probe};
use crate::state_file::{self, Saved};
use crate::status::Status;
use crate::transfer::notify::{Announcement, Notifier};
use crate::transfer::version::serial_after;
use crate::transfer::{Activity, Journal, Transfers};
use crate::unix_time;

type ReloadReply = oneshot::Sender<Result<String, Vec<Problem>>>;
/// A reload's outcome once loaded and compiled.
type Loaded = Result<Compiler, Vec<Problem>>;

/// A reload being loaded and compiled in a blocking task, and who asked for it (nobody when
/// the same model is compiled again to sign it for a new validity window).
struct Loading {
    job: JoinHandle<Loaded>,
    replies: Vec<ReloadReply>,
    resign: bool,
}

/// Longest time probe details that changed no verdict wait to show in the status.
const STATUS_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);
/// Reports are taken in batches at most this often: waking the task costs more than applying
/// a report, and thousands of endpoints report every second.
const REPORT_BATCH: std::time::Duration = std::time::Duration::from_millis(10);

enum Command {
    Reload(ReloadReply),
    Override(OverrideRequest, oneshot::Sender<Result<Applied, Refusal>>),
    Explain(ExplainRequest, oneshot::Sender<Result<String, Refusal>>),
    Ping(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
    /// A peer's answer to the exchange, or why there was none.
    Peer(String, Result<(PeerReport, usize), String>),
}

/// How the rest of the program talks to the control task, and reads what it published.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    published: Shared,
}

impl Handle {
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(command(tx)).ok()?;
        rx.await.ok()
    }

    /// Reloads the zones directory; on success a one-line summary, else every problem.
    pub async fn reload(&self) -> Result<String, Vec<Problem>> {
        self.ask(Command::Reload).await.unwrap_or_else(|| Ok("shutting down".into()))
    }

    /// The published status, as of now, with the secondaries' latest. Never waits for the writer.
    pub fn status(&self) -> Status {
        let published = self.published.load();
        let mut status = published.status.as_of(SystemTime::now());
        status.secondaries = published.transfers.activity.secondaries();
        status
    }

    pub async fn set_override(&self, request: OverrideRequest) -> Result<Applied, Refusal> {
        let stopped = || Err(Refusal::Invalid("shutting down".into()));
        self.ask(|reply| Command::Override(request, reply)).await.unwrap_or_else(stopped)
    }

    pub async fn explain(&self, request: ExplainRequest) -> Result<String, Refusal> {
        let stopped = || Err(Refusal::Invalid("shutting down".into()));
        self.ask(|reply| Command::Explain(request, reply)).await.unwrap_or_else(stopped)
    }

    /// What this node tells its peers (in a fleet), as published. Never waits for the writer.
    pub fn exchange(&self) -> Option<Arc<Export>> {
        self.published.load().exchange.clone()
    }

    /// Waits until the fleet is heard (a quorum, deciding by agreement), at most `bound`;
    /// whether it was.
    pub async fn until_quorum(&self, bound: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let agreed = self.published.load().status.fleet.as_ref().is_none_or(|f| f.policy == "agreed");
            if agreed || tokio::time::Instant::now() >= deadline {
                return agreed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Hands a peer's answer to the task; false once the task has stopped.
    pub fn peer_report(&self, peer: String, answer: Result<(PeerReport, usize), String>) -> bool {
        self.commands.send(Command::Peer(peer, answer)).is_ok()
    }

    /// Whether the task is running and responsive (for the watchdog).
    pub async fn ping(&self) -> bool {
        self.ask(Command::Ping).await.is_some()
    }

    /// Stops the task after the state file holds the latest state.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}

/// A reload whose zones are compiled, waiting for the first verdicts of its new probes.
struct Staged {
    compiler: Compiler,
    first: HashMap<Arc<Probe>, EndpointState>,
    deadline: Instant,
    replies: Vec<ReloadReply>,
    resign: bool,
}

struct Task {
    control: Control,
    zones: ZoneSource,
    published: Shared,
    metrics: Arc<Metrics>,
    monitors: Monitors,
    reports: mpsc::UnboundedReceiver<Report>,
    commands: mpsc::UnboundedReceiver<Command>,
    state_file: Option<state_file::Writer>,
    /// When to decide again: a held failback, an override expiring, a suppression ending.
    wake: Option<Instant>,
    /// The answers last published, and when the status beside them is due for a refresh
    /// with probe details that changed no verdict (reasons, latencies, counts).
    answers: Arc<AnswerTable>,
    status_due: Option<Instant>,
    /// Until when reports wait to be taken as one batch.
    batch_until: Option<Instant>,
    /// Per probe id, the probe-duration histogram of each pool it checks for.
    series: Vec<Vec<prometheus::Histogram>>,
    loading: Option<Loading>,
    staged: Option<Staged>,
    /// Reload requests that arrived while another reload was under way.
    waiting: Vec<ReloadReply>,
    /// Versions of the transferable zones, what is published of them, and who hears of them.
    journal: Journal,
    transfers: Arc<Transfers>,
    notifier: Notifier,
    /// When a change waiting out a zone's coalescing interval gets its serial.
    serial_due: Option<Instant>,
    /// When the signed zones' next validity window starts: then they are compiled again.
    resign_due: Option<Instant>,
}

/// Restores what the state file remembers, starts probing `model`'s endpoints, waits for the
/// first verdict of every endpoint (at most [`Monitors::first_round_bound`]; said loudly when
/// that passes), publishes, then keeps the answers current in a background task.
pub async fn start(model: Model, settings: &Settings, published: Shared, metrics: Arc<Metrics>) -> Handle {
    let (zones, state_path) = (settings.zone_source(), settings.state_file.clone());
    let (report_tx, reports) = mpsc::unbounded_channel();
    let (command_tx, commands) = mpsc::unbounded_channel();
    let saved = state_path.as_deref().map(state_file::load).unwrap_or_default();
    log_restored(state_path.as_deref(), &saved);
    let journal = Journal::new(saved.serials.clone());
    let activity = Arc::new(Activity::new(metrics.clone()));
    let transfers =
        Arc::new(Transfers { keys: zones.context.keys.clone(), activity: activity.clone(), ..Transfers::default() });
    let probes = model.probes.clone();
    let compiler = tokio::task::spawn_blocking(move || Compiler::new(Arc::new(model))).await.expect("compiles");
    let (mut control, dropped) = Control::new(compiler, saved, Instant::now());
    control.join(
        settings.node.clone(),
        settings.fleet.clone().map(|fleet| View::new(settings.node.clone(), fleet, fastrand::u64(1..))),
    );
    dropped.iter().for_each(|subject| tracing::warn!(%subject, "dropped an override for something no longer served"));
    let mut task = Task {
        control,
        zones,
        published: published.clone(),
        metrics,
        monitors: Monitors::new(report_tx, settings.probe_source),
        reports,
        commands,
        state_file: state_path.map(state_file::Writer::start),
        wake: None,
        answers: Arc::default(),
        status_due: None,
        batch_until: None,
        series: Vec::new(),
        loading: None,
        staged: None,
        waiting: Vec::new(),
        journal,
        transfers,
        notifier: Notifier::start(activity),
        serial_due: None,
        resign_due: None,
    };
    task.schedule_resign();
    task.monitors.sync(&probes);
    task.look_up_series();
    task.first_round(Monitors::first_round_bound(&probes)).await;
    task.publish();
    task.metrics.announce(&task.published.load().status);
    task.metrics.config_reloads.with_label_values(&["success"]).inc();
    task.metrics.last_reload_successful.set(1);
    task.metrics.last_reload_success.set(unix_time::now());
    release_freed_memory();
    tokio::spawn(task.run());
    Handle { commands: command_tx, published }
}

fn log_restored(path: Option<&std::path::Path>, saved: &Saved) {
    let (overrides, verdicts, failover_choices) =
        (saved.overrides.iter().count(), saved.endpoints.len(), saved.routes.len());
    if let Some(path) = path.filter(|_| overrides + verdicts + failover_choices > 0) {
        let path = path.display().to_string();
        tracing::info!(path, overrides, verdicts, failover_choices, "restored state from the state file");
    }
}

impl Task {
    /// Applies reports until every endpoint has a verdict or `bound` has passed.
    async fn first_round(&mut self, bound: std::time::Duration) {
        let started = tokio::time::Instant::now();
        let deadline = started + bound;
        while self.control.any_unknown() {
            match tokio::time::timeout_at(deadline, self.reports.recv()).await {
                Ok(Some(report)) => {
                    self.apply(report);
                }
                _ => break,
            }
        }
        let count = |verdict| {
            (0..self.control.model().probes.len()).filter(|&id| self.control.state(id).status == verdict).count()
        };
        let (up, down, unknown) = (count(Verdict::Up), count(Verdict::Down), count(Verdict::Unknown));
        let seconds = started.elapsed().as_secs_f64();
        if unknown > 0 {
            tracing::warn!(up, down, unknown, bound = ?bound, "serving before every endpoint has a first verdict: no verdict yet counts as up");
        } else if up + down > 0 {
            tracing::info!(up, down, seconds, "first verdicts in");
        }
    }

    async fn run(mut self) {
        loop {
            let (wake, deadline) = (self.wake, self.staged.as_ref().map(|s| s.deadline));
            let (status_due, batch_until, serial_due) = (self.status_due, self.batch_until, self.serial_due);
            tokio::select! {
                _ = sleep_until(serial_due) => {
                    self.update_transfers();
                    self.refresh_status();
                    self.save_state();
                }
                _ = sleep_until(batch_until) => self.batch_until = None,
                _ = sleep_until(self.resign_due) => self.resign(),
                Some(report) = self.reports.recv(), if batch_until.is_none() => {
                    self.batch_until = Some(Instant::now() + REPORT_BATCH);
                    let mut changed = self.apply(report);
                    // Coalesce whatever else has arrived into one publication.
                    while let Ok(report) = self.reports.try_recv() {
                        changed |= self.apply(report);
                    }
                    if changed {
                        self.publish();
                    } else {
                        self.status_due.get_or_insert_with(|| Instant::now() + STATUS_REFRESH);
                    }
                    self.install_when_ready(false);
                }
                _ = sleep_until(status_due) => self.refresh_status(),
                Some(loaded) = finished(&mut self.loading) => self.loaded(loaded),
                _ = sleep_until(deadline) => self.install_when_ready(true),
                _ = sleep_until(wake) => {
                    for (subject, expired) in self.control.expire(SystemTime::now()) {
                        tracing::warn!(%subject, state = expired.state.label(), reason = %expired.reason, "override expired");
                    }
                    self.publish();
                }
                command = self.commands.recv() => match command {
                    Some(Command::Reload(reply)) => self.reload(reply),
                    Some(Command::Override(request, reply)) => {
                        let _ = reply.send(self.set_override(request));
                    }
                    Some(Command::Explain(request, reply)) => {
                        let _ = reply.send(self.control.explain(&request, Instant::now()));
                    }
                    Some(Command::Ping(reply)) => {
                        let _ = reply.send(());
                    }
                    Some(Command::Peer(peer, answer)) => {
                        let heard = self.control.peer_report(&peer, answer, Instant::now(), SystemTime::now());
                        self.log_agreed(&heard.verdict_changed);
                        if heard.answers_may_change {
                            self.publish();
                        } else if heard.overrides_sent {
                            self.refresh_status();
                        } else {
                            self.status_due.get_or_insert_with(|| Instant::now() + STATUS_REFRESH);
                        }
                    }
                    Some(Command::Shutdown(reply)) => {
                        if let Some(writer) = self.state_file.take() {
                            writer.flush().await;
                        }
                        let _ = reply.send(());
                        return;
                    }
                    None => return,
                },
            }
        }
    }

    /// Looks up, once per model, the histograms each probe's latencies go to.
    fn look_up_series(&mut self) {
        let probes = self.control.model().probes.len();
        self.series = (0..probes)
            .map(|id| {
                let users = self.control.users(id);
                users.iter().map(|[zone, pool, _]| self.metrics.probe_duration(zone, pool)).collect()
            })
            .collect();
    }

    /// Feeds one probe result to Control (or to a staged reload's new probe); counts it and
    /// logs a verdict change. Returns whether the current answers may have changed.
    fn apply(&mut self, report: Report) -> bool {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let Some(id) = self.control.probe_id(&report.probe) else {
            if let Some(state) = self.staged.as_mut().and_then(|s| s.first.get_mut(&*report.probe)) {
                state.observe(&report.result, &report.probe, now, wall);
            }
            return false;
        };
        let changed = self.control.observe(id, &report.result, now, wall);
        let latency = report.result.latency.as_secs_f64();
        for ([zone, pool, endpoint], duration) in self.control.users(id).iter().zip(&self.series[id]) {
            duration.observe(latency);
            let Some(change) = &changed else { continue };
            let (from, to, reason) = (change.from.label(), change.to.label(), report.result.reason());
            // A failure is a warning; a recovery or a first "down" is news; a first "up" is
            // counted in the first round's summary (thousands of them are not news).
            match (change.from, change.to) {
                (Verdict::Unknown, Verdict::Up) => {
                    tracing::debug!(zone, pool, endpoint, from, to, %reason, "endpoint changed state")
                }
                (Verdict::Up, Verdict::Down) => {
                    tracing::warn!(zone, pool, endpoint, from, to, %reason, "endpoint went down")
                }
                _ => tracing::info!(zone, pool, endpoint, from, to, %reason, "endpoint changed state"),
            }
        }
        changed.is_some()
    }

    /// Logs endpoints whose agreed verdict the fleet turned, with every node's vote: a node
    /// whose own probes still pass says why its answers moved.
    fn log_agreed(&self, probes: &[usize]) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        for &id in probes {
            let Some((agreed, votes)) = self.control.fleet_verdict(id, now, wall) else { continue };
            let votes: Vec<String> = votes.iter().map(|(node, vote)| format!("{node} {vote}")).collect();
            let (to, votes) = (if agreed.routable { "up" } else { "down" }, votes.join(", "));
            for [zone, pool, endpoint] in self.control.users(id) {
                tracing::warn!(zone, pool, endpoint, to, votes, "the fleet agreed on a new state for the endpoint");
            }
        }
    }

    fn set_override(&mut self, request: OverrideRequest) -> Result<Applied, Refusal> {
        let applied = self.control.set_override(request, SystemTime::now())?;
        let subject = &applied.subject;
        match (&applied.forced, &applied.cleared) {
            (Some(o), _) => {
                let expires = o.until.map_or("never".into(), unix_time::rfc3339);
                tracing::warn!(%subject, state = o.state.label(), reason = o.reason, %expires, "override set");
            }
            (None, Some(old)) => {
                tracing::warn!(%subject, was = old.state.label(), "override cleared; back to health checks")
            }
            (None, None) => tracing::info!(%subject, "no override to clear"),
        }
        self.publish();
        Ok(applied)
    }

    /// Starts loading and compiling the zones in a blocking task, unless a reload is already
    /// under way: then this request waits for the next one.
    fn reload(&mut self, reply: ReloadReply) {
        if self.loading.is_some() || self.staged.is_some() {
            self.waiting.push(reply);
            return;
        }
        let zones = self.zones.clone();
        let current = self.control.model().clone();
        let job = tokio::task::spawn_blocking(move || {
            let mut model = zones.load()?;
            carry_serials(&current, &mut model);
            Ok(Compiler::new(Arc::new(model)))
        });
        self.loading = Some(Loading { job, replies: vec![reply], resign: false });
    }

    /// Compiles the current model again in a blocking task, so that its signed zones are
    /// signed for the validity window that starts now (a reload under way does it too).
    fn resign(&mut self) {
        self.resign_due = None;
        if self.loading.is_some() || self.staged.is_some() {
            return;
        }
        let model = self.control.model().clone();
        let job = tokio::task::spawn_blocking(move || Ok(Compiler::new(model)));
        self.loading = Some(Loading { job, replies: Vec::new(), resign: true });
    }

    /// Sets the timer for the next validity window of the signed zones.
    fn schedule_resign(&mut self) {
        let next = self.control.compiler().signers().map(|(_, signer)| signer.window.next).min();
        self.resign_due = next.map(|next| {
            let wait = next.saturating_sub(unix_time::now() as u64);
            Instant::now() + std::time::Duration::from_secs(wait)
        });
    }

    /// A reload finished loading: rejected, or staged until its new probes have reported.
    fn loaded(&mut self, (result, replies, resign): (Loaded, Vec<ReloadReply>, bool)) {
        let compiler = match result {
            Ok(compiler) => compiler,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "reload rejected; still serving the previous configuration");
                }
                self.metrics.config_reloads.with_label_values(&["failure"]).inc();
                self.metrics.last_reload_successful.set(0);
                replies.into_iter().for_each(|reply| drop(reply.send(Err(problems.clone()))));
                self.next_reload();
                return;
            }
        };
        let model = compiler.model().clone();
        let new: Vec<Arc<Probe>> =
            model.probes.iter().filter(|p| self.control.probe_id(p).is_none()).cloned().collect();
        let running: Vec<Arc<Probe>> = self.control.model().probes.iter().chain(&new).cloned().collect();
        self.monitors.sync(&running);
        let now = Instant::now();
        let first = new.iter().map(|p| (p.clone(), EndpointState::new(now))).collect();
        let deadline = now + Monitors::first_round_bound(&new);
        self.staged = Some(Staged { compiler, first, deadline, replies, resign });
        self.install_when_ready(false);
    }

    /// Installs the staged reload once its new probes all have a verdict, or when `force`d
    /// (the deadline passed).
    fn install_when_ready(&mut self, force: bool) {
        let ready =
            self.staged.as_ref().is_some_and(|s| force || s.first.values().all(|s| s.status != Verdict::Unknown));
        if !ready {
            return;
        }
        let Some(staged) = self.staged.take() else { return };
        let model = staged.compiler.model().clone();
        let zones: Vec<String> = model.zones.iter().map(|z| format!("{} serial {}", z.origin, z.soa.serial)).collect();
        let summary =
            format!("loaded {} zones ({}), {} health checks", zones.len(), zones.join(", "), model.probes.len());
        let dropped = self.control.rebase(staged.compiler, staged.first, Instant::now());
        dropped.iter().for_each(|subject| tracing::warn!(%subject, "reload removed an overridden pool or endpoint"));
        self.monitors.sync(&model.probes);
        self.look_up_series();
        self.publish();
        self.schedule_resign();
        release_freed_memory();
        if staged.resign {
            for (z, signer) in self.control.compiler().signers() {
                let expire = unix_time::rfc3339(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(signer.window.expiration),
                );
                tracing::info!(zone = %model.zones[z].origin, %expire, "signed again for a new validity window");
            }
            self.next_reload();
            return;
        }
        self.metrics.announce(&self.published.load().status);
        self.metrics.config_reloads.with_label_values(&["success"]).inc();
        self.metrics.last_reload_successful.set(1);
        self.metrics.last_reload_success.set(unix_time::now());
        tracing::info!("{summary}");
        staged.replies.into_iter().for_each(|reply| drop(reply.send(Ok(summary.clone()))));
        self.next_reload();
    }

    /// Starts the reload that requests made while another one was under way are waiting for.
    fn next_reload(&mut self) {
        let mut waiting = std::mem::take(&mut self.waiting).into_iter();
        if let Some(first) = waiting.next() {
            self.reload(first);
            self.waiting.extend(waiting);
        }
    }

    /// Decides the answers for the current health and overrides, publishes them with their
    /// status in one store, and reports what changed.
    fn publish(&mut self) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let decision = self.control.decide(now, wall);
        for change in &decision.changes {
            let (record, family) = (change.record.as_str(), change.family.label());
            let (from, to) = (change.from.join(","), change.to.join(","));
            if change.normal {
                tracing::info!(record, family, from, to, "record is answered normally again");
            } else {
                tracing::warn!(
                    record,
                    family,
                    from,
                    to,
                    all_down = change.all_down,
                    "record changed its answering pools"
                );
            }
        }
        self.answers = Arc::new(decision.table);
        self.update_transfers();
        self.refresh_status();
        self.wake = decision.wake;
        self.save_state();
    }

    fn save_state(&self) {
        if let Some(writer) = &self.state_file {
            let mut saved = self.control.saved();
            saved.serials = self.journal.saved();
            writer.save(saved);
        }
    }

    /// Gives the transferable zones whose data changed a new version (now, or once their
    /// coalescing interval has passed), the answers' SOA records their serials, and tells
    /// the secondaries.
    fn update_transfers(&mut self) {
        let update = self.journal.update(self.control.compiler(), self.control.routes(), Instant::now());
        self.serial_due = update.due;
        // A signed zone's SOA goes out with its signature for the serial (signed once per serial:
        // the signer keeps what it signed).
        let compiler = self.control.compiler();
        let serials = self.journal.serials(self.control.model());
        let serials = serials.iter().enumerate().map(|(z, serial)| serial.map(|value| compiler.serial(z, value)));
        self.answers = Arc::new(self.answers.with_serials(serials.collect()));
        if !update.changed {
            return;
        }
        let keys = &self.transfers.keys;
        let mut announcements = Vec::new();
        for (version, settings) in self.journal.current() {
            let zone = version.origin().to_string();
            self.metrics.zone_serial.with_label_values(&[zone.as_str()]).set(i64::from(version.serial));
            self.metrics.transfers.with_label_values(&[zone.as_str(), "other", "AXFR", "refused"]).inc_by(0);
            self.metrics.transfer_bytes.with_label_values(&[zone.as_str(), "AXFR"]).inc_by(0);
            announcements.push(Announcement {
                zone: version.origin().clone(),
                serial: version.serial,
                soa: version.soa(),
                targets: settings.notify.clone(),
                key: settings.notify_key.as_ref().and_then(|k| keys.get(k)).cloned(),
            });
        }
        self.notifier.announce(announcements);
        let zones = self.journal.histories();
        self.transfers = Arc::new(Transfers { zones, keys: keys.clone(), activity: self.transfers.activity.clone() });
    }

    /// Publishes a fresh status beside the current answers.
    fn refresh_status(&mut self) {
        let mut status = self.control.status(Instant::now(), SystemTime::now());
        // The status lists the model's zones in order; a transferable one shows its current serial.
        for (zone, model) in status.zones.iter_mut().zip(&self.control.model().zones) {
            zone.serial = self.journal.serial(&model.origin).unwrap_or(zone.serial);
        }
        let transfers = self.transfers.clone();
        let exchange = self.control.fleet().map(|fleet| fleet.export().clone());
        self.published.store(Arc::new(Published { answers: self.answers.clone(), status, transfers, exchange }));
        self.status_due = None;
    }
}

/// Returns what the load's parse and the previous configuration freed to the system, on a
/// blocking thread (a trim walks every arena).
fn release_freed_memory() {
    tokio::task::spawn_blocking(crate::memory::release_freed);
}

/// The result of the reload being loaded, when there is one.
async fn finished(loading: &mut Option<Loading>) -> Option<(Loaded, Vec<ReloadReply>, bool)> {
    let result = (&mut loading.as_mut()?.job).await.unwrap_or_else(|e| {
        Err(vec![Problem::new("zones".as_ref(), Default::default(), format!("reload failed: {e}"))])
    });
    loading.take().map(|loading| (result, loading.replies, loading.resign))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Gives each zone of `new` a serial that moved forward if its file changed: the previous
/// serial when the text is the same, one more than it when the file sets no serial. An
/// explicit serial that did not increase is kept (the operator's choice) with a warning.
fn carry_serials(current: &Model, new: &mut Model) {
    for zone in &mut new.zones {
        let Some(before) = current.zones.iter().find(|z| z.origin == zone.origin) else { continue };
        let serial = before.soa.serial;
        if zone.fingerprint == before.fingerprint {
            zone.set_serial(serial);
        } else if !serial_after(zone.soa.serial, serial) {
            if zone.serial_auto {
                zone.set_serial(serial.wrapping_add(1));
            } else {
                tracing::warn!(zone = %zone.origin, serial, "zone changed but its explicit serial did not increase");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::serial_after;

    #[test]
    fn serials_compare_in_rfc_1982_order() {
        assert!(serial_after(2, 1));
        assert!(!serial_after(1, 1));
        assert!(!serial_after(1, 2));
        assert!(serial_after(0, u32::MAX), "wraps around");
        assert!(!serial_after(1 << 31, 0), "exactly half-way is undefined: not after");
    }
}
