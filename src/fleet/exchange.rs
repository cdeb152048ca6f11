//! The exchange over HTTP: one task per peer asks it every `interval` for what changed
//! (`GET /fleet/exchange?epoch=E&since=G`, signed) and hands the answer, or why there was
//! none, to the control task as a message; [`answer`] is the other side, served from the
//! published export without waiting for the control task. Answers are bounded
//! ([`MAX_ANSWER`]) and time-limited: a peer that is slow, silent, huge or malformed is a
//! failed exchange, never a stall.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::auth::{self, Secret};
use super::{Export, Report};
use crate::config::fleet::Fleet;
use crate::control::Handle;

/// Largest answer read from a peer: a full report of 10,000 endpoints is about 1 MiB.
pub const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// Starts asking every peer of `fleet`, as the node `node`; answers go to the control task.
pub fn start(node: &str, fleet: &Fleet, handle: Handle) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(fleet.stale_after / 2)
        .timeout(fleet.stale_after / 2)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION"), " peer"))
        .build()
        .expect("a plain HTTP client builds");
    let secret = Secret::new(&fleet.secret);
    for (peer, address) in &fleet.peers {
        let asker = Asker { node: node.to_string(), peer: peer.clone(), address: *address, secret: secret.clone() };
        tokio::spawn(asker.run(client.clone(), fleet.interval, handle.clone()));
    }
}

struct Asker {
    node: String,
    peer: String,
    address: SocketAddr,
    secret: Secret,
}

impl Asker {
    async fn run(self, client: reqwest::Client, interval: Duration, handle: Handle) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The peer's epoch and generation this node has everything up to.
        let mut known = (0, 0);
        loop {
            ticker.tick().await;
            let answer = self.ask(&client, known).await;
            if let Ok((report, _)) = &answer {
                known = (report.epoch, report.generation);
            }
            if !handle.peer_report(self.peer.clone(), answer) {
                return;
            }
        }
    }

    async fn ask(&self, client: &reqwest::Client, (epoch, since): (u64, u64)) -> Result<(Report, usize), String> {
        let path = format!("/fleet/exchange?epoch={epoch}&since={since}");
        let time = auth::time_header(SystemTime::now());
        let mac = self.secret.sign_request(&self.node, time, &path);
        let mut response = client
            .get(format!("http://{}{path}", self.address))
            .header(auth::NODE, &self.node)
            .header(auth::TIME, time)
            .header(auth::SIGNATURE, &mac)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        let signature = response.headers().get(auth::SIGNATURE).and_then(|v| v.to_str().ok()).map(String::from);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(format!("answer larger than {MAX_ANSWER} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
            return Err(format!("HTTP {status}: {text}"));
        }
        if !signature.is_some_and(|s| self.secret.verify_answer(&mac, &body, &s)) {
            return Err("answer not signed with the shared secret".into());
        }
        let report: Report = serde_json::from_slice(&body).map_err(|e| format!("malformed answer: {e}"))?;
        if report.node != self.peer {
            return Err(format!("answered as node {:?}", report.node));
        }
        Ok((report, body.len()))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

/// Who may ask: the shared secret and the peers' names; and how often they do.
pub struct Askers {
    pub secret: Secret,
    pub nodes: Vec<String>,
    pub interval: Duration,
}

impl Askers {
    pub fn new(fleet: &Fleet) -> Askers {
        let nodes = fleet.peers.iter().map(|(name, _)| name.clone()).collect();
        Askers { secret: Secret::new(&fleet.secret), nodes, interval: fleet.interval }
    }
}

/// Why a request was refused: 401 for credentials, 403 for an unknown node, 400 for the rest.
pub enum Refused {
    Unauthorised(String),
    Forbidden(String),
    Invalid(String),
}

/// The signed answer (body, MAC) to a peer's request for `path` (with its query), from `export`.
pub fn answer(
    askers: &Askers,
    export: &Export,
    header: impl Fn(&str) -> Option<String>,
    path: &str,
) -> Result<(Vec<u8>, String), Refused> {
    let (Some(node), Some(time), Some(mac)) = (header(auth::NODE), header(auth::TIME), header(auth::SIGNATURE)) else {
        return Err(Refused::Unauthorised("peer requests are signed: x-switchyard-node, -time and -signature".into()));
    };
    askers.secret.verify_request(&node, &time, path, &mac).map_err(|why| Refused::Unauthorised(why.into()))?;
    if !askers.nodes.contains(&node) {
        return Err(Refused::Forbidden(format!("{node:?} is not one of this node's peers")));
    }
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let (mut epoch, mut since) = (None, None);
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "epoch" => epoch = value.parse::<u64>().ok(),
            "since" => since = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    let (Some(epoch), Some(since)) = (epoch, since) else {
        return Err(Refused::Invalid("expected ?epoch=N&since=N".into()));
    };
    let body = serde_json::to_vec(&export.report(epoch, since, SystemTime::now())).expect("a report serialises");
    let signature = askers.secret.sign_answer(&mac, &body);
    Ok((body, signature))
}
