//! Zone transfer out: switchyard as the primary of standard secondaries. AXFR (RFC 5936) and
//! IXFR (RFC 1995) are answered from the versions the control task published (one version
//! per transfer, so a transfer never mixes two), in messages of about 16 KiB, every one
//! TSIG-signed when the request was; NOTIFY (RFC 1996) tells the secondaries of each new
//! serial ([`notify`]); [`activity`] keeps what `/status` and the metrics say about them.

pub mod activity;
pub mod notify;
pub mod version;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RData, RecordType};

use crate::answer::Rcode;
use crate::answer::template::{Owner, Section, TemplateBuilder, wire_key};
use crate::dns::Transport;
use crate::model::{TransferAllow, wire_len};
use crate::tsig::{self, Chain, Keyring, Verified};
pub use activity::Activity;
pub use version::{History, Journal, Rr, SavedSerial, Version};

/// Messages of a transfer are closed once they reach this size (a larger RRset goes alone).
const MESSAGE_TARGET: usize = 16 * 1024;

/// What the DNS front-end needs to answer transfers: published with the answers.
#[derive(Default)]
pub struct Transfers {
    /// Transferable zones, by lower-case wire-format origin.
    pub zones: HashMap<Box<[u8]>, Arc<History>>,
    pub keys: Keyring,
    pub activity: Arc<Activity>,
}

/// How a transfer request was answered, for metrics and status.
struct Served {
    zone: String,
    kind: &'static str,
    result: &'static str,
    serial: Option<u32>,
}

impl Transfers {
    /// Answers an AXFR or IXFR request from `client`: each message, in order, goes to `send`
    /// as soon as it is built (a transfer of a large zone is never held whole in memory);
    /// `send` returns false when the client is gone, which ends the transfer.
    pub fn answer(&self, request: &[u8], client: IpAddr, transport: Transport, send: &mut dyn FnMut(Vec<u8>) -> bool) {
        let started = Instant::now();
        let mut bytes = 0;
        let mut counted = |message: Vec<u8>| {
            bytes += message.len();
            send(message)
        };
        let (response, served) = self.serve(request, client, transport);
        match response {
            Response::Message(message) => drop(counted(message)),
            Response::Records(reply, items) => reply.send(items, &mut counted),
        }
        if let Some(served) = served {
            self.activity.transferred(&served.zone, client, served.kind, served.result, served.serial, bytes, started);
        }
    }

    fn serve<'a>(&'a self, request: &'a [u8], client: IpAddr, transport: Transport) -> (Response<'a>, Option<Served>) {
        let now = tsig::now();
        let Ok(message) = Message::from_vec(request) else {
            return (Response::Message(tsig::error_header(request, Rcode::FormErr as u8)), None);
        };
        let [query] = &message.queries[..] else {
            return (Response::Message(tsig::error_header(request, Rcode::FormErr as u8)), None);
        };
        let kind = if query.query_type() == RecordType::AXFR { "AXFR" } else { "IXFR" };
        let mut served = Served { zone: query.name().to_lowercase().to_string(), kind, result: "ok", serial: None };
        let verified = match tsig::verify(&self.keys, request, now) {
            Ok(verified) => verified,
            Err(rejected) => {
                served.result = rejected.label();
                return (Response::Message(tsig::refusal(request, &rejected, now)), Some(served));
            }
        };
        let reply = Reply { request, verified, now };
        let history = self.zones.get(&wire_key(query.name())).filter(|_| query.query_class() == DNSClass::IN);
        let allowed = history.filter(|h| allows(&h.settings.allow, client, reply.verified.as_ref()));
        let Some(history) = allowed else {
            served.result = "refused";
            return (Response::Message(reply.refused()), Some(served));
        };
        let current = history.current();
        served.serial = Some(current.serial);
        if query.query_type() == RecordType::AXFR {
            if transport == Transport::Udp {
                served.result = "refused";
                return (Response::Message(reply.refused()), Some(served));
            }
            return (Response::Records(reply, full(current)), Some(served));
        }
        // IXFR: the client's serial is in the SOA of the authority section.
        let known = message.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        let Some(known) = known else {
            return (Response::Message(tsig::error_header(request, Rcode::FormErr as u8)), None);
        };
        let soa = || vec![Item::Soa(current, current.soa())];
        let (records, kind) = if !version::serial_after(current.serial, known) {
            (soa(), "IXFR-up-to-date")
        } else if transport == Transport::Udp {
            // RFC 1995 §2: the current SOA tells the client to ask over TCP.
            (soa(), "IXFR-UDP")
        } else if let Some(old) = history.find(known) {
            (incremental(old, current), "IXFR")
        } else {
            (full(current), "IXFR-as-AXFR")
        };
        served.kind = kind;
        (Response::Records(reply, records), Some(served))
    }
}

/// Whether an `allow` list lets `client` (with the key it signed with, if any) transfer.
fn allows(allow: &[TransferAllow], client: IpAddr, verified: Option<&Verified>) -> bool {
    let key = verified.map(|v| v.key.signer_name());
    allow.iter().any(|entry| {
        entry.network.is_none_or(|net| net.contains(&client.to_canonical()))
            && entry.key.as_ref().is_none_or(|wanted| key == Some(wanted))
    })
}

/// What a request gets: one message, or records to send in as many messages as they need.
enum Response<'a> {
    Message(Vec<u8>),
    Records(Reply<'a>, Vec<Item<'a>>),
}

/// One record of a transfer: owner, TTL and data, borrowed from a version or made for it.
enum Item<'a> {
    Borrowed(Rr<'a>),
    Soa(&'a Version, (u32, crate::model::Rdata)),
}

/// AXFR (and IXFR falling back to it): SOA, every record, SOA.
fn full(version: &Version) -> Vec<Item<'_>> {
    let mut items = vec![Item::Soa(version, version.soa())];
    for (owner, set) in version.rrsets() {
        items.extend(set.rdatas.iter().map(|rdata| Item::Borrowed(Rr { owner, ttl: set.ttl, rdata })));
    }
    items.push(Item::Soa(version, version.soa()));
    items
}

/// IXFR: new SOA, old SOA, removed records, new SOA, added records, new SOA.
fn incremental<'a>(old: &'a Version, new: &'a Version) -> Vec<Item<'a>> {
    let (removed, added) = version::difference(old, new);
    let mut items = vec![Item::Soa(new, new.soa()), Item::Soa(old, old.soa())];
    items.extend(removed.into_iter().map(Item::Borrowed));
    items.push(Item::Soa(new, new.soa()));
    items.extend(added.into_iter().map(Item::Borrowed));
    items.push(Item::Soa(new, new.soa()));
    items
}

/// The response being assembled for one request.
struct Reply<'a> {
    request: &'a [u8],
    verified: Option<Verified>,
    now: u64,
}

impl Reply<'_> {
    fn refused(&self) -> Vec<u8> {
        let mut out = tsig::error_header(self.request, Rcode::Refused as u8);
        if let Some(verified) = &self.verified {
            tsig::sign(&mut out, &verified.key, Chain::Reply(&verified.mac), self.now, None);
        }
        out
    }

    /// `items` in messages of about [`MESSAGE_TARGET`] bytes, RRsets kept whole, each message
    /// with the question and signed (chained) when the request was, each handed to `send` as
    /// soon as it is complete.
    fn send(&self, items: Vec<Item>, send: &mut dyn FnMut(Vec<u8>) -> bool) {
        let question_end = crate::dns::question_end(self.request).unwrap_or(self.request.len());
        let mut signer = Signer { reply: self, question: &self.request[12..question_end], previous_mac: None };
        let Some(Item::Soa(first, _)) = items.first() else { return };
        let origin = first.origin().clone();
        let mut builder = TemplateBuilder::new(&origin, 0);
        let mut count = 0;
        let same_set = |a: &Item, b: &Item| match (a, b) {
            (Item::Borrowed(a), Item::Borrowed(b)) => a.owner == b.owner && a.rdata.rtype() == b.rdata.rtype(),
            _ => false,
        };
        for set in items.chunk_by(same_set) {
            // The set's size, about: owners in full, names in the data as pointers.
            let estimate: usize = set
                .iter()
                .map(|item| {
                    let (owner, _, rdata) = item.parts();
                    wire_len(owner) + 10 + rdata.min_wire_len()
                })
                .sum();
            if count > 0 && builder.message_len() + estimate > MESSAGE_TARGET {
                let full = std::mem::replace(&mut builder, TemplateBuilder::new(&origin, 0));
                if !signer.send(full, send) {
                    return;
                }
                count = 0;
            }
            for item in set {
                let (owner, ttl, rdata) = item.parts();
                builder.record(Section::Answer, Owner::Name(owner), ttl, rdata);
                count += 1;
            }
        }
        signer.send(builder, send);
    }
}

/// Turns the builders of one response into its messages, in order: ID and question of the
/// request, each signed and chained to the one before when the request was signed.
struct Signer<'a> {
    reply: &'a Reply<'a>,
    question: &'a [u8],
    previous_mac: Option<Vec<u8>>,
}

impl Signer<'_> {
    /// Sends the message `builder` holds; false when the transfer is to end (the client is
    /// gone, or a message could not be encoded: SERVFAIL if nothing was sent yet).
    fn send(&mut self, builder: TemplateBuilder, send: &mut dyn FnMut(Vec<u8>) -> bool) -> bool {
        let request = self.reply.request;
        let template = builder.finish(Rcode::NoError, true, false);
        if template.rcode != Rcode::NoError {
            if self.previous_mac.is_none() {
                send(tsig::error_header(request, Rcode::ServFail as u8));
            }
            return false;
        }
        let mut message = template.message(self.question);
        message[..2].copy_from_slice(&request[..2]);
        if let Some(verified) = &self.reply.verified {
            let chain = match &self.previous_mac {
                None => Chain::Reply(&verified.mac),
                Some(mac) => Chain::Next(mac),
            };
            self.previous_mac = Some(tsig::sign(&mut message, &verified.key, chain, self.reply.now, None));
        }
        send(message)
    }
}

impl Item<'_> {
    fn parts(&self) -> (&crate::model::Name, u32, &crate::model::Rdata) {
        match self {
            Item::Borrowed(rr) => (rr.owner, rr.ttl, rr.rdata),
            Item::Soa(version, (ttl, rdata)) => (version.origin(), *ttl, rdata),
        }
    }
}
