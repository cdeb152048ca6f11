//! Wiring: load zones -> HTTP up (not ready) -> first probe round -> bind DNS -> ready.
//! Then serve until told to stop; SIGHUP reloads, SIGTERM/SIGINT stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use tokio::sync::{OnceCell, watch};

use crate::answer::{Published, Shared};
use crate::config::Settings;
use crate::control::{self, Handle};
use crate::dns::{self, TcpLimits};
use crate::http::{self, Admin, HttpState};
use crate::metrics::Metrics;
use crate::systemd;

/// Longest wait at start-up for a quorum of the fleet before serving DNS anyway.
const FLEET_START: std::time::Duration = std::time::Duration::from_secs(5);

/// Longest wait at shutdown for TCP connections to finish their queries.
pub const TCP_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A started server.
pub struct Running {
    /// Bound DNS addresses (UDP and TCP share each one).
    pub dns: Vec<SocketAddr>,
    /// The DNS addresses as logged, e.g. `[::]:53 (IPv4 and IPv6), 127.0.0.1:53`.
    pub listening: String,
    pub http: SocketAddr,
    pub control: Handle,
    pub published: Shared,
    pub metrics: Arc<Metrics>,
    stop_udp: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    udp_threads: Vec<JoinHandle<()>>,
    tcp_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The zone file watcher, when `watch` is on; dropping it stops watching.
    _watcher: Option<crate::watch::Watcher>,
}

impl Running {
    /// Stops accepting queries and connections, lets TCP connections finish the query they
    /// are answering (at most [`TCP_DRAIN`]), waits for the UDP workers, writes the state file.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tcp_tasks {
            let _ = task.await;
        }
        self.control.shutdown().await;
        self.stop_udp.store(true, Ordering::Relaxed);
        let threads = self.udp_threads;
        let _ = tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join()))).await;
    }
}

pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    let model = settings.zone_source().load().map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid zones:\n{}", lines.join("\n"))
    })?;
    let published: Shared = Arc::new(ArcSwap::from_pointee(Published::default()));
    let metrics = Metrics::new(&published);
    let (stop, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicBool::new(false));
    let control_cell = Arc::new(OnceCell::new());
    let http_listener =
        dns::tcp_listener(settings.http).with_context(|| format!("cannot bind HTTP on {}", settings.http))?;
    let http_addr = http_listener.local_addr()?;
    let admin = Admin { token: admin_token(settings)?, loopback_only: http_addr.ip().is_loopback() };
    let peers = settings.fleet.as_ref().map(|fleet| Arc::new(crate::fleet::exchange::Askers::new(fleet)));
    let http_state =
        HttpState { metrics: metrics.clone(), ready: ready.clone(), control: control_cell.clone(), admin, peers };
    tokio::spawn(http::serve(http_listener, http_state, stop_rx.clone()));

    let (zones, probes) = (model.zones.len(), model.probes.len());
    let control = control::start(model, settings, published.clone(), metrics.clone()).await;
    let _ = control_cell.set(control.clone());
    if let Some(fleet) = &settings.fleet {
        // Answers agree from the first query: DNS waits (briefly) until the peers are heard.
        crate::fleet::exchange::start(&settings.node, fleet, control.clone());
        let bound = fleet.stale_after.min(FLEET_START);
        if !control.until_quorum(bound).await {
            tracing::warn!(?bound, "serving before a quorum of the fleet is heard: deciding by this node's probes");
        }
    }
    let watcher = match settings.watch {
        true => {
            Some(crate::watch::start(&settings.zones, control.clone()).context("cannot watch the zones directory")?)
        }
        false => None,
    };

    let workers = match settings.udp_workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let stop_udp = Arc::new(AtomicBool::new(false));
    let limits = TcpLimits {
        max_connections: settings.tcp_max_connections,
        max_connections_per_ip: settings.tcp_max_connections_per_ip,
        idle_timeout: settings.tcp_idle_timeout,
    };
    let mut dns_addrs = Vec::new();
    let mut udp_threads = Vec::new();
    let mut tcp_tasks = Vec::new();
    let mut described = Vec::new();
    let identity = Arc::new(settings.identity.clone());
    for (plan, dns::Bound { udp, tcp }) in dns::bind_all(&settings.listen, workers)? {
        let bound = tcp.local_addr()?;
        dns_addrs.push(bound);
        described.push(plan.describe(bound));
        let serve_udp =
            dns::serve_udp(udp, published.clone(), identity.clone(), metrics.clone(), settings.rrl, stop_udp.clone());
        udp_threads.extend(serve_udp?);
        let serve = dns::serve_tcp(
            tcp,
            published.clone(),
            identity.clone(),
            metrics.clone(),
            limits,
            stop_rx.clone(),
            TCP_DRAIN,
        );
        tcp_tasks.push(tokio::spawn(serve));
    }
    ready.store(true, Ordering::Release);
    let listening = described.join(", ");
    tracing::info!(dns = %listening, http = %http_addr, zones, probes, watch = settings.watch, "serving");
    Ok(Running {
        dns: dns_addrs,
        listening,
        http: http_addr,
        control,
        published,
        metrics,
        stop_udp,
        stop,
        udp_threads,
        tcp_tasks,
        _watcher: watcher,
    })
}

/// The admin bearer token, from `admin_token_file` (surrounding whitespace ignored).
fn admin_token(settings: &Settings) -> anyhow::Result<Option<Arc<str>>> {
    let Some(path) = &settings.admin_token_file else { return Ok(None) };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let token = text.trim();
    if token.len() < 16 {
        bail!("{}: the admin token must be at least 16 characters", path.display());
    }
    Ok(Some(token.into()))
}

/// Runs the server until SIGTERM or SIGINT; SIGHUP reloads the zones.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let running = start(&settings).await?;
    let serving = format!("serving DNS on {} (UDP and TCP), HTTP on {}", running.listening, running.http);
    println!("switchyard: {serving}");
    systemd::ready(&serving);
    systemd::start_watchdog(running.control.clone());
    loop {
        tokio::select! {
            _ = hangup.recv() => match running.control.reload().await {
                Ok(summary) => {
                    tracing::info!(%summary, "reloaded on SIGHUP");
                    systemd::status(&format!("{serving}; last reload: {summary}"));
                }
                Err(problems) => {
                    tracing::error!(errors = problems.len(), "reload on SIGHUP rejected");
                    systemd::status(&format!("{serving}; last reload REJECTED ({} problems)", problems.len()));
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    systemd::stopping();
    running.stop().await;
    Ok(())
}
