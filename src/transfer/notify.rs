//! NOTIFY (RFC 1996) to every secondary of a zone when its serial changes, over UDP, sent
//! again with backoff until the secondary acknowledges it or a newer serial replaces it; and
//! a SOA query to each secondary every few seconds, so status and metrics show how far behind
//! it is. Answers are taken only from the address the message went to, with its ID (and
//! its TSIG, when the NOTIFY was signed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::{Name, RData, TSigner};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Activity;
use super::activity::Polled;
use crate::answer::Rcode;
use crate::answer::template::{Owner, Section, TemplateBuilder, wire_key};
use crate::model::Rdata;
use crate::tsig::{self, Chain};

/// The first retransmission waits this long; each later one twice as long as the one before.
pub const RETRY_FIRST: Duration = Duration::from_secs(2);
/// Retransmissions after the first send (RFC 1996 §3.6 suggests 5).
pub const RETRANSMISSIONS: u32 = 5;
/// How often each secondary's SOA is asked for.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// One zone's current serial and whom to tell.
#[derive(Clone)]
pub struct Announcement {
    pub zone: Name,
    pub serial: u32,
    /// The SOA record (TTL, data) the NOTIFY carries.
    pub soa: (u32, Rdata),
    pub targets: Vec<SocketAddr>,
    pub key: Option<TSigner>,
}

/// Hands the current announcements to the notifier task.
pub struct Notifier {
    latest: watch::Sender<Vec<Announcement>>,
}

impl Notifier {
    pub fn start(activity: Arc<Activity>) -> Notifier {
        let (latest, changes) = watch::channel(Vec::new());
        tokio::spawn(run(changes, activity));
        Notifier { latest }
    }

    /// Every transferable zone's serial and secondaries, as of now.
    pub fn announce(&self, announcements: Vec<Announcement>) {
        self.latest.send_replace(announcements);
    }
}

/// A NOTIFY waiting for its acknowledgement.
struct Pending {
    id: u16,
    serial: u32,
    message: Vec<u8>,
    /// The request's MAC, which a signed acknowledgement is chained to.
    mac: Option<Vec<u8>>,
    key: Option<TSigner>,
    attempts: u32,
    next_at: Instant,
}

type Key = (Name, SocketAddr);

struct State {
    activity: Arc<Activity>,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    zones: Vec<Announcement>,
    /// The serial each secondary was last told (acknowledged or given up on).
    told: HashMap<Key, u32>,
    pending: HashMap<Key, Pending>,
    /// SOA queries in flight, by ID.
    polls: HashMap<u16, Key>,
}

async fn run(mut changes: watch::Receiver<Vec<Announcement>>, activity: Arc<Activity>) {
    let mut state = State {
        activity,
        v4: UdpSocket::bind("0.0.0.0:0").await.ok(),
        v6: UdpSocket::bind("[::]:0").await.ok(),
        zones: Vec::new(),
        told: HashMap::new(),
        pending: HashMap::new(),
        polls: HashMap::new(),
    };
    let (mut buf4, mut buf6) = (vec![0u8; 65_535], vec![0u8; 65_535]);
    let mut next_poll = Instant::now() + POLL_EVERY;
    loop {
        let next_retry = state.pending.values().map(|p| p.next_at).min();
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let zones = changes.borrow_and_update().clone();
                state.sync(zones).await;
            }
            Ok((len, from)) = receive(state.v4.as_ref(), &mut buf4) => state.received(&buf4[..len], from),
            Ok((len, from)) = receive(state.v6.as_ref(), &mut buf6) => state.received(&buf6[..len], from),
            _ = sleep_until(next_retry) => state.retransmit().await,
            _ = tokio::time::sleep_until(next_poll) => {
                state.poll().await;
                next_poll = Instant::now() + POLL_EVERY;
            }
        }
    }
}

async fn receive(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl State {
    fn socket(&self, target: SocketAddr) -> Option<&UdpSocket> {
        if target.is_ipv4() { self.v4.as_ref() } else { self.v6.as_ref() }
    }

    /// Takes the new announcements: a secondary not yet told of its zone's serial is sent a
    /// NOTIFY (one still waiting for an older serial is superseded); secondaries no longer
    /// listed are forgotten.
    async fn sync(&mut self, zones: Vec<Announcement>) {
        let listed: Vec<Key> = zones.iter().flat_map(|a| a.targets.iter().map(|t| (a.zone.clone(), *t))).collect();
        self.told.retain(|key, _| listed.contains(key));
        self.pending.retain(|key, _| listed.contains(key));
        let labels: Vec<(String, SocketAddr)> = listed.iter().map(|(z, t)| (z.to_string(), *t)).collect();
        self.activity.keep(&labels);
        for announcement in &zones {
            for &target in &announcement.targets {
                let key = (announcement.zone.clone(), target);
                let waiting = self.pending.get(&key).map(|p| p.serial);
                if self.told.get(&key) == Some(&announcement.serial) || waiting == Some(announcement.serial) {
                    continue;
                }
                self.send_notify(announcement, target).await;
            }
        }
        self.zones = zones;
    }

    async fn send_notify(&mut self, announcement: &Announcement, target: SocketAddr) {
        let id = fastrand::u16(..);
        let mut message = notify_message(announcement, id);
        let mac = announcement.key.as_ref().map(|key| tsig::sign(&mut message, key, Chain::Request, tsig::now(), None));
        let zone = announcement.zone.to_string();
        tracing::info!(zone, %target, serial = announcement.serial, "sending NOTIFY");
        if let Some(socket) = self.socket(target) {
            let _ = socket.send_to(&message, target).await;
        }
        self.activity.notify_sent(&zone, target, announcement.serial, 1);
        let pending = Pending {
            id,
            serial: announcement.serial,
            message,
            mac,
            key: announcement.key.clone(),
            attempts: 1,
            next_at: Instant::now() + RETRY_FIRST,
        };
        self.pending.insert((announcement.zone.clone(), target), pending);
    }

    /// Sends again every NOTIFY whose wait is over; gives up after [`RETRANSMISSIONS`].
    async fn retransmit(&mut self) {
        let now = Instant::now();
        let due: Vec<Key> = self.pending.iter().filter(|(_, p)| p.next_at <= now).map(|(k, _)| k.clone()).collect();
        for key in due {
            let Some(pending) = self.pending.get_mut(&key) else { continue };
            let zone = key.0.to_string();
            if pending.attempts > RETRANSMISSIONS {
                tracing::warn!(zone, target = %key.1, serial = pending.serial, attempts = pending.attempts, "secondary never acknowledged the NOTIFY; giving up");
                self.told.insert(key.clone(), pending.serial);
                self.pending.remove(&key);
                continue;
            }
            pending.attempts += 1;
            pending.next_at = now + RETRY_FIRST * 2u32.pow(pending.attempts - 1);
            let (serial, attempts) = (pending.serial, pending.attempts);
            let message = pending.message.clone();
            if let Some(socket) = self.socket(key.1) {
                let _ = socket.send_to(&message, key.1).await;
            }
            tracing::debug!(zone, target = %key.1, serial, attempts, "NOTIFY sent again");
            self.activity.notify_sent(&zone, key.1, serial, attempts);
        }
    }

    /// Asks every secondary for its SOA; one that did not answer the last round has none.
    async fn poll(&mut self) {
        for (_, (zone, target)) in self.polls.drain() {
            if let Some(current) = self.zones.iter().find(|a| a.zone == zone) {
                self.activity.polled(&zone.to_string(), target, Polled::Silent, current.serial);
            }
        }
        let keys: Vec<Key> = self.zones.iter().flat_map(|a| a.targets.iter().map(|t| (a.zone.clone(), *t))).collect();
        for key in keys {
            let id = fastrand::u16(..);
            let mut query = vec![0u8; 12];
            query[..2].copy_from_slice(&id.to_be_bytes());
            query[5] = 1; // QDCOUNT
            query.extend_from_slice(&soa_question(&key.0));
            if let Some(socket) = self.socket(key.1) {
                let _ = socket.send_to(&query, key.1).await;
            }
            self.polls.insert(id, key);
        }
    }

    /// An answer: a NOTIFY's acknowledgement or a polled SOA, taken only from the address
    /// it was sent to, with its ID.
    fn received(&mut self, packet: &[u8], from: SocketAddr) {
        let Ok(message) = Message::from_vec(packet) else { return };
        let id = message.metadata.id;
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        let matches = |target: &SocketAddr| SocketAddr::new(target.ip().to_canonical(), target.port()) == from;
        if message.metadata.op_code == OpCode::Notify {
            let Some(key) = self.pending.iter().find(|(k, p)| p.id == id && matches(&k.1)).map(|(k, _)| k.clone())
            else {
                return;
            };
            let pending = &self.pending[&key];
            if let (Some(key), Some(mac)) = (&pending.key, &pending.mac)
                && key.verify_message_byte(packet, Some(mac), true).is_err()
            {
                tracing::warn!(%from, "NOTIFY acknowledgement with a bad TSIG ignored");
                return;
            }
            let zone = key.0.to_string();
            tracing::info!(zone, target = %key.1, serial = pending.serial, "NOTIFY acknowledged");
            self.activity.notify_acknowledged(&zone, key.1, pending.serial);
            self.told.insert(key.clone(), pending.serial);
            self.pending.remove(&key);
        } else if let Some(key) = self.polls.get(&id).filter(|k| matches(&k.1)).cloned() {
            self.polls.remove(&id);
            let polled = message
                .answers
                .iter()
                .find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(Polled::Serial(soa.serial)),
                    _ => None,
                })
                .unwrap_or(Polled::NoSoa);
            if let Some(current) = self.zones.iter().find(|a| a.zone == key.0) {
                self.activity.polled(&key.0.to_string(), key.1, polled, current.serial);
            }
        }
    }
}

/// A NOTIFY for `announcement`'s zone, its SOA in the answer section (RFC 1996 §3.7).
fn notify_message(announcement: &Announcement, id: u16) -> Vec<u8> {
    let mut builder = TemplateBuilder::new(&announcement.zone, 0);
    builder.record(Section::Answer, Owner::Query, announcement.soa.0, &announcement.soa.1);
    let mut message = builder.finish(Rcode::NoError, true, false).message(&soa_question(&announcement.zone));
    message[..2].copy_from_slice(&id.to_be_bytes());
    message[2..4].copy_from_slice(&0x2400u16.to_be_bytes()); // opcode NOTIFY, AA
    message
}

/// The question `zone SOA IN`, in wire form.
fn soa_question(zone: &Name) -> Vec<u8> {
    let mut question = wire_key(zone).into_vec();
    question.extend_from_slice(&[0, 6, 0, 1]);
    question
}
