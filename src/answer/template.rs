//! Precompiled responses. A [`Template`] is everything after the question section, encoded
//! once to wire format, so answering costs a copy and a patch.
//!
//! A template is encoded after a question name `Q` (the name it was compiled for, or for
//! wildcard, NXDOMAIN and referral answers the closest existing ancestor of any query name it
//! serves). Every compression pointer in it points at `Q` or later, so for a query name
//! `prefix + Q` all pointers move by `len(prefix)`: the template lists their positions
//! (`relocs`). Owner names equal to the query name itself are written as a fixed pointer to
//! offset 12, which never moves.

// Every length and offset written to the wire is converted with a check: a response that
// does not fit a DNS message becomes SERVFAIL, never a corrupt packet.
#![deny(clippy::cast_possible_truncation)]

use crate::model::{HEADER_LEN, MAX_MESSAGE, Name, OPT_ROOM, Rdata, RecordType, wire_form};

/// Compression pointers can only reach the first 16 KiB of a message (less the longest shift).
const POINTER_LIMIT: usize = 0x3F00; // room for a query name longer than the question

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

impl Rcode {
    pub const ALL: [Rcode; 6] =
        [Rcode::NoError, Rcode::FormErr, Rcode::ServFail, Rcode::NxDomain, Rcode::NotImp, Rcode::Refused];

    /// The name `dig` prints for a response code (`None` for codes we never send).
    pub fn name_of(code: u16) -> Option<&'static str> {
        Rcode::ALL.into_iter().find(|r| *r as u16 == code).map(Rcode::name)
    }

    /// The name `dig` prints.
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// Who owns a record: the query name as asked, or a fixed name.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    Query,
    Name(&'a Name),
}

/// The NSEC records a signed negative or wildcard answer needs that depend on the query name
/// (found in the zone's chain when the answer is sent, see [`crate::dnssec::denial`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Denial {
    None,
    /// The NSEC at or before the query name: its own (NODATA), or the one covering it (a
    /// wildcard expansion, NODATA at an empty non-terminal).
    Name,
    /// That, and the NSEC at or before the source of synthesis `*.<closest encloser>`
    /// (NXDOMAIN: no wildcard; wildcard NODATA: the wildcard lacks the type).
    NameAndWildcard,
    /// The query name's own NSEC as the answer (a query for type NSEC).
    Answer,
}

/// A zone's SOA serial when it moved on from the compiled one, with the SOA's signatures
/// for it in a signed zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serial {
    pub value: u32,
    /// RRSIG RDATAs of the SOA RRset with this serial, by the TTL the SOA is sent with.
    pub signatures: Box<[(u32, Box<[u8]>)]>,
}

/// Equal templates are stored once (see `Pass::share` in compile): names whose answers are
/// the same bytes (the same address, the RFC 8482 answer to ANY) share one.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// Index of the zone this answer comes from (for per-zone metrics).
    pub zone: u16,
    pub rcode: Rcode,
    pub authoritative: bool,
    /// Record counts of the answer, authority and additional sections.
    pub counts: [u16; 3],
    body: Box<[u8]>,
    /// Wire length of the question name the body was encoded after.
    qname_len: u8,
    relocs: Box<[u16]>,
    /// Where the additional section starts in `body`.
    additional_at: u16,
    /// Whether the additional section is needed (referral glue): then it cannot be dropped
    /// to fit a small UDP size; the response is truncated instead.
    additional_required: bool,
    /// Where the serial of the SOA record in the body is (an answer or authority record).
    serial_at: Option<u16>,
    /// Where the RDATA of the SOA's RRSIG is in a signed answer, and the SOA's TTL.
    soa_signature_at: Option<(u16, u32)>,
    /// The answer with its RRSIGs, for queries with the DO bit, in a signed zone.
    pub signed: Option<Box<Template>>,
    /// NSEC records to add when sent, in a signed answer.
    pub denial: Denial,
}

impl Template {
    /// Length of the body when written whole, or without its additional section.
    pub fn len(&self, with_additional: bool) -> usize {
        if with_additional { self.body.len() } else { self.additional_at as usize }
    }

    pub fn additional_required(&self) -> bool {
        self.additional_required
    }

    /// The whole response to `question` (wire format: name, type, class), ID 0, every
    /// section included: what `explain` decodes to show an answer exactly as sent.
    pub fn message(&self, question: &[u8]) -> Vec<u8> {
        const QR: u16 = 1 << 15;
        let flags = QR | u16::from(self.authoritative) << 10 | self.rcode as u16;
        let mut out = vec![0, 0];
        out.extend_from_slice(&flags.to_be_bytes());
        for count in [1, self.counts[0], self.counts[1], self.counts[2]] {
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(question);
        self.write_body(&mut out, question.len() - 4, true, None);
        out
    }

    /// The template for a query with the DO bit or without.
    pub fn for_dnssec(&self, dnssec_ok: bool) -> &Template {
        match &self.signed {
            Some(signed) if dnssec_ok => signed,
            _ => self,
        }
    }

    /// Appends the body for a query whose name is `qname_len` bytes long (a name that ends
    /// with this template's question name), moving compression pointers to match, and giving
    /// its SOA record `serial` (and that serial's signature) when there is one.
    pub fn write_body(&self, out: &mut Vec<u8>, qname_len: usize, with_additional: bool, serial: Option<&Serial>) {
        let start = out.len();
        let end = self.len(with_additional);
        out.extend_from_slice(&self.body[..end]);
        if let (Some(serial), Some(at)) = (serial, self.serial_at) {
            let at = start + at as usize;
            out[at..at + 4].copy_from_slice(&serial.value.to_be_bytes());
            // Same key, same length: a serial is never sent without its own signature.
            if let Some((at, ttl)) = self.soa_signature_at
                && let Some((_, signature)) = serial.signatures.iter().find(|(t, _)| *t == ttl)
            {
                let at = start + at as usize;
                if let Some(old) = out.get_mut(at..at + signature.len()) {
                    old.copy_from_slice(signature);
                }
            }
        }
        // Pointers move by the difference in name length, modulo 2^16 (it may be negative).
        let shift = u16::try_from(qname_len).unwrap_or(0).wrapping_sub(u16::from(self.qname_len));
        if shift != 0 {
            for &at in self.relocs.iter().take_while(|&&at| (at as usize) < end) {
                let at = start + at as usize;
                let pointer = u16::from_be_bytes([out[at], out[at + 1]]).wrapping_add(shift);
                out[at..at + 2].copy_from_slice(&pointer.to_be_bytes());
            }
        }
    }
}

/// Encodes one template: records are added section by section, in order.
pub struct TemplateBuilder {
    /// A scratch message: header, question, then the body; offsets are message offsets.
    buf: Vec<u8>,
    zone: u16,
    body_start: usize,
    qname_len: usize,
    /// Names written so far: each suffix's lower-case wire form (as a range of `suffixes`)
    /// and where it is in the message.
    dictionary: Vec<(std::ops::Range<usize>, u16)>,
    /// The suffixes of `dictionary`, one after another (one buffer, not one per suffix).
    suffixes: Vec<u8>,
    relocs: Vec<usize>,
    counts: [u16; 3],
    section: Section,
    additional_at: Option<usize>,
    /// Some length or count did not fit its wire field: the response cannot be sent.
    overflow: bool,
    serial_at: Option<usize>,
    soa_signature_at: Option<(usize, u32)>,
    /// Names in RDATA may be compressed (not in canonical form, for signing).
    compress: bool,
}

impl TemplateBuilder {
    pub fn new(question: &Name, zone: usize) -> TemplateBuilder {
        let mut builder = TemplateBuilder {
            buf: Vec::with_capacity(128),
            zone: u16::try_from(zone).unwrap_or(u16::MAX), // at most u16::MAX zones load
            body_start: 0,
            qname_len: 0,
            dictionary: Vec::with_capacity(8),
            suffixes: Vec::with_capacity(64),
            relocs: Vec::new(),
            counts: [0; 3],
            section: Section::Answer,
            additional_at: None,
            overflow: false,
            serial_at: None,
            soa_signature_at: None,
            compress: true,
        };
        builder.buf.resize(HEADER_LEN, 0);
        builder.name(question, false);
        builder.relocs.clear();
        builder.qname_len = builder.buf.len() - HEADER_LEN;
        builder.buf.extend_from_slice(&[0; 4]);
        builder.body_start = builder.buf.len();
        builder
    }

    /// The message's length so far (header and question included).
    pub fn message_len(&self) -> usize {
        self.buf.len()
    }

    pub fn rrset(&mut self, section: Section, owner: Owner, ttl: u32, rdatas: &[Rdata]) {
        for rdata in rdatas {
            self.record(section, owner, ttl, rdata);
        }
    }

    pub fn record(&mut self, section: Section, owner: Owner, ttl: u32, rdata: &Rdata) {
        debug_assert!(section >= self.section, "sections are written in order");
        self.section = section;
        if section == Section::Additional && self.additional_at.is_none() {
            self.additional_at = Some(self.buf.len());
        }
        match owner {
            Owner::Query => self.buf.extend_from_slice(&[0xC0, 12]), // a pointer to the question name
            Owner::Name(name) => self.name(name, true),
        }
        let rtype: u16 = rdata.rtype().into();
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes()); // class IN
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        if let Rdata::Opaque { rtype: RecordType::RRSIG, data } = rdata
            && data.starts_with(&u16::from(RecordType::SOA).to_be_bytes())
        {
            self.soa_signature_at = Some((self.buf.len(), ttl));
        }
        self.rdata(rdata);
        let length = self.fit(self.buf.len() - length_at - 2);
        self.buf[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
        let count = &mut self.counts[section as usize];
        match count.checked_add(1) {
            Some(n) => *count = n,
            None => self.overflow = true,
        }
    }

    /// The finished template; SERVFAIL if the response could never be sent (longer than a
    /// DNS message, which loading rules out for any single RRset).
    pub fn finish(mut self, rcode: Rcode, authoritative: bool, additional_required: bool) -> Template {
        let body_start = self.body_start;
        let body_len = self.buf.len() - body_start;
        let additional_at = self.additional_at.map_or(body_len, |at| at - body_start);
        let qname_len = u8::try_from(self.qname_len).ok();
        let serial_at = self.serial_at.and_then(|at| u16::try_from(at - body_start).ok());
        let soa_signature_at =
            self.soa_signature_at.and_then(|(at, ttl)| Some((u16::try_from(at - body_start).ok()?, ttl)));
        let relocs: Option<Box<[u16]>> = self.relocs.iter().map(|&at| u16::try_from(at - body_start).ok()).collect();
        let fits = self.buf.len() + OPT_ROOM <= MAX_MESSAGE;
        match (qname_len, relocs, u16::try_from(additional_at)) {
            (Some(qname_len), Some(relocs), Ok(additional_at)) if fits && !self.overflow => Template {
                zone: self.zone,
                rcode,
                authoritative,
                counts: self.counts,
                body: self.buf[body_start..].into(),
                qname_len,
                relocs,
                additional_at,
                additional_required,
                serial_at,
                soa_signature_at,
                signed: None,
                denial: Denial::None,
            },
            _ => {
                self.buf.truncate(body_start);
                self.relocs.clear();
                (self.counts, self.additional_at, self.overflow, self.serial_at) = ([0; 3], None, false, None);
                self.soa_signature_at = None;
                self.finish(Rcode::ServFail, false, false)
            }
        }
    }

    /// `n` as a 16-bit wire field, noting an overflow.
    fn fit(&mut self, n: usize) -> u16 {
        u16::try_from(n).unwrap_or_else(|_| {
            self.overflow = true;
            0
        })
    }

    fn rdata(&mut self, rdata: &Rdata) {
        match rdata {
            Rdata::A(ip) => self.buf.extend_from_slice(&ip.octets()),
            Rdata::Aaaa(ip) => self.buf.extend_from_slice(&ip.octets()),
            Rdata::Ns(name) | Rdata::Cname(name) | Rdata::Ptr(name) => self.name(name, true),
            Rdata::Mx { preference, exchange } => {
                self.buf.extend_from_slice(&preference.to_be_bytes());
                self.name(exchange, true);
            }
            Rdata::Txt(strings) => {
                for s in strings {
                    self.character_string(s);
                }
            }
            Rdata::Srv { priority, weight, port, target } => {
                for n in [priority, weight, port] {
                    self.buf.extend_from_slice(&n.to_be_bytes());
                }
                self.name(target, false); // RFC 2782: no compression in SRV
            }
            Rdata::Caa { flags, tag, value } => {
                self.buf.push(*flags);
                self.character_string(tag.as_bytes());
                self.buf.extend_from_slice(value);
            }
            Rdata::Soa(soa) => {
                self.name(&soa.mname, true);
                self.name(&soa.rname, true);
                self.serial_at = Some(self.buf.len());
                for n in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    self.buf.extend_from_slice(&n.to_be_bytes());
                }
            }
            Rdata::Hinfo { cpu, os } => {
                self.character_string(cpu);
                self.character_string(os);
            }
            Rdata::Svcb(svcb) => {
                self.buf.extend_from_slice(&svcb.priority.to_be_bytes());
                self.name(&svcb.target, false); // RFC 9460: never compressed
                for (key, value) in &svcb.params {
                    let len = self.fit(value.len());
                    self.buf.extend_from_slice(&key.to_be_bytes());
                    self.buf.extend_from_slice(&len.to_be_bytes());
                    self.buf.extend_from_slice(value);
                }
            }
            Rdata::Opaque { data, .. } => self.buf.extend_from_slice(data),
        }
    }

    /// A length-prefixed string (at most 255 bytes, as loading ensures).
    fn character_string(&mut self, s: &[u8]) {
        match u8::try_from(s.len()) {
            Ok(len) => self.buf.push(len),
            Err(_) => self.overflow = true,
        }
        self.buf.extend_from_slice(s);
    }

    /// Writes `name`, ending in a pointer to the longest suffix already written when
    /// `compress` is set; every suffix written in full becomes a target for later names.
    fn name(&mut self, name: &Name, compress: bool) {
        let compress = compress && self.compress;
        let wire = wire_form(name.iter());
        let mut at = 0;
        // Each suffix of the name, longest first: `wire[at..]` (the root alone is never a
        // target: a pointer would be longer).
        while wire[at] != 0 {
            let suffix = &wire[at..];
            let known = |(range, _): &&(std::ops::Range<usize>, u16)| &self.suffixes[range.clone()] == suffix;
            if compress && let Some(&(_, target)) = self.dictionary.iter().find(known) {
                self.relocs.push(self.buf.len());
                self.buf.extend_from_slice(&(0xC000 | target).to_be_bytes());
                return;
            }
            if let Ok(here) = u16::try_from(self.buf.len())
                && self.buf.len() < POINTER_LIMIT
            {
                let start = self.suffixes.len();
                self.suffixes.extend_from_slice(suffix);
                self.dictionary.push((start..self.suffixes.len(), here));
            }
            let end = at + 1 + usize::from(wire[at]);
            self.buf.extend_from_slice(&wire[at..end]);
            at = end;
        }
        self.buf.push(0);
    }
}

/// The canonical wire form of an RDATA (RFC 4034 6.2: names lower-case and uncompressed),
/// as signatures cover it. Answers send names lower-case, so this is also what they carry.
pub fn rdata_wire(rdata: &Rdata) -> Vec<u8> {
    let mut builder = TemplateBuilder::new(&Name::root(), 0);
    builder.compress = false;
    let start = builder.buf.len();
    builder.rdata(rdata);
    builder.buf.split_off(start)
}

/// The lower-case wire form of `name`: the key of the answer table.
pub fn wire_key(name: &Name) -> Box<[u8]> {
    wire_form(name.iter()).into()
}

/// RFC 8482's answer to ANY.
pub fn any_answer() -> Rdata {
    Rdata::Hinfo { cpu: b"RFC8482".to_vec(), os: Vec::new() }
}
