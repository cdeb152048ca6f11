//! One query in, one response out: parse the header, question and EDNS OPT of a query
//! without allocating, look the name up in the answer table, and assemble the response
//! from a precompiled template (patching ID, flags, the query's own name casing and OPT).
//!
//! Protocol rules applied here: responses are never answered; QDCOUNT != 1, malformed names
//! and duplicate OPT records get FORMERR; unknown opcodes NOTIMP; EDNS versions above 0
//! BADVERS (RFC 6891); names outside every zone REFUSED; answers that do not fit the
//! client's UDP size are truncated (TC) so the client retries over TCP. AXFR and IXFR go to
//! the transfer module (an IXFR query's SOA in the authority section is allowed); the
//! server's own identity answers NSID and CHAOS queries (see [`Identity`]).

use super::identity::{Identity, write_chaos_txt};
use crate::answer::{AnswerTable, Denial, Rcode, Serial, Template};
use crate::dnssec::denial::Proof;

const HEADER: usize = 12;
const TYPE_OPT: u16 = 41;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_TSIG: u16 = 250;
const OPTION_NSID: u16 = 3;
/// Our EDNS UDP payload size: the DNS flag day 2020 value, safe from IP fragmentation.
pub const MAX_UDP_PAYLOAD: u16 = 1232;
const OPT_LEN: usize = 11;
/// RFC 6891 extended RCODE 16.
const BADVERS_HIGH_BITS: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What happened to one query, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The zone that answered, if any.
    pub zone: Option<u16>,
    pub qtype: u16,
    /// The response code (16 for BADVERS).
    pub rcode: u16,
    /// What the table alone could not do, left to the caller.
    pub handoff: Option<Handoff>,
}

impl Outcome {
    fn of(zone: Option<u16>, qtype: u16, rcode: u16) -> Outcome {
        Outcome { zone, qtype, rcode, handoff: None }
    }
}

/// The part of an answer that needs more than the answer table ([`crate::transfer`] and
/// [`crate::tsig`] do it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// An AXFR or IXFR request: the response written is the REFUSED of a server that serves
    /// no transfers; the transfer module answers instead.
    Transfer,
    /// The query is TSIG-signed: the response written must be signed with its key (or
    /// replaced by the TSIG error).
    Sign,
}

#[derive(Clone, Copy)]
struct Edns {
    udp_size: u16,
    version: u8,
    dnssec_ok: bool,
    /// The query carries an (empty) NSID option: it asks who answered.
    wants_nsid: bool,
}

/// The OPT record of a response: the query's DO bit, and our NSID when it was asked for.
#[derive(Clone, Copy)]
struct Opt<'a> {
    dnssec_ok: bool,
    nsid: Option<&'a [u8]>,
}

impl<'a> Opt<'a> {
    fn answering(edns: Option<Edns>, identity: &'a Identity) -> Option<Opt<'a>> {
        edns.map(|e| Opt { dnssec_ok: e.dnssec_ok, nsid: identity.nsid().filter(|_| e.wants_nsid) })
    }

    fn len(&self) -> usize {
        OPT_LEN + self.nsid.map_or(0, |id| 4 + id.len())
    }
}

/// A parsed query: header fields, the question as sent, and its lower-cased name.
struct Query<'a> {
    id: [u8; 2],
    /// Opcode, RD and CD bits of the query, as they are to be echoed.
    echoed_flags: u16,
    question: &'a [u8],
    qname_len: usize,
    lower: [u8; 255],
    qtype: u16,
    qclass: u16,
    edns: Option<Edns>,
    /// The query ends with a TSIG record.
    signed: bool,
}

// Lives on the stack for one query; boxing the large variant would allocate per query.
#[allow(clippy::large_enum_variant)]
enum Parse<'a> {
    Query(Query<'a>),
    /// Answer with this code, echoing the question when there is one.
    Error {
        rcode: Rcode,
        question: Option<&'a [u8]>,
        edns: Option<Edns>,
    },
    Drop,
}

/// Handles one query packet, writing the response to `out` (cleared first). Returns
/// `None` when nothing must be sent (a response, or a packet too short to answer). A zone
/// transfer request (AXFR, IXFR) is answered REFUSED, and a signed query unsigned, with the
/// rest to do as the outcome's [`Handoff`].
pub fn respond(
    table: &AnswerTable,
    identity: &Identity,
    packet: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    out.clear();
    let query = match parse(packet) {
        Parse::Drop => return None,
        Parse::Error { rcode, question, edns } => {
            error_response(packet, rcode as u8, question, Opt::answering(edns, identity), out);
            return Some(Outcome::of(None, 0, rcode as u16));
        }
        Parse::Query(query) => query,
    };
    let signed = query.signed;
    let mut outcome = answer(table, identity, packet, &query, transport, out);
    if signed && outcome.handoff.is_none() {
        outcome.handoff = Some(Handoff::Sign);
    }
    Some(outcome)
}

/// The response to a well-formed query.
fn answer(
    table: &AnswerTable,
    identity: &Identity,
    packet: &[u8],
    query: &Query,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Outcome {
    let qtype = query.qtype;
    let opt = Opt::answering(query.edns, identity);
    let early = |rcode: Rcode, out: &mut Vec<u8>| {
        error_response(packet, rcode as u8, Some(query.question), opt, out);
        Outcome::of(None, qtype, rcode as u16)
    };
    if let Some(opt) = opt.filter(|_| query.edns.is_some_and(|e| e.version > 0)) {
        write_header(out, query.id, query.echoed_flags, 0, [1, 0, 0, 1]);
        out.extend_from_slice(query.question);
        write_opt(out, BADVERS_HIGH_BITS, opt);
        return Outcome::of(None, qtype, 16);
    }
    match qtype {
        TYPE_OPT => return early(Rcode::FormErr, out),
        TYPE_IXFR | TYPE_AXFR => {
            return Outcome { handoff: Some(Handoff::Transfer), ..early(Rcode::Refused, out) };
        }
        253 | 254 => return early(Rcode::NotImp, out), // MAILB, MAILA
        _ => {}
    }
    if let Some(text) = identity.chaos_text(query.qclass, qtype, &query.lower[..query.qname_len]) {
        const AA: u16 = 1 << 10;
        write_header(out, query.id, query.echoed_flags | AA, 0, [1, 1, 0, opt.is_some() as u16]);
        out.extend_from_slice(query.question);
        write_chaos_txt(out, text);
        if let Some(opt) = opt {
            write_opt(out, 0, opt);
        }
        return Outcome::of(None, qtype, 0);
    }
    if query.qclass != 1 {
        return early(Rcode::Refused, out);
    }
    let qname = &query.lower[..query.qname_len];
    let Some((answer, encloser)) = table.locate(qname, qtype) else {
        return early(Rcode::Refused, out);
    };
    let template = answer.pick().for_dnssec(query.edns.is_some_and(|e| e.dnssec_ok));
    let proofs = table.proofs(template, qname, encloser);
    let limit = match (transport, query.edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(e)) => e.udp_size.clamp(512, MAX_UDP_PAYLOAD) as usize,
    };
    let sent = Sent { template, proofs, serial: table.serial(template.zone) };
    write_answer(query, opt, &sent, limit, out);
    Outcome::of(Some(template.zone), qtype, template.rcode as u16)
}

/// An answer as sent: the template, the NSEC records it takes from the zone's chain, and the
/// zone's current serial.
struct Sent<'a> {
    template: &'a Template,
    proofs: [Option<&'a Proof>; 2],
    serial: Option<&'a Serial>,
}

/// Writes `sent` as the answer to `query`, truncated (TC, empty sections) when it does
/// not fit in `limit` bytes.
fn write_answer(query: &Query, opt: Option<Opt>, sent: &Sent, limit: usize, out: &mut Vec<u8>) {
    let template = sent.template;
    let proofs = sent.proofs.iter().flatten();
    let (proofs_len, proof_records) = proofs.clone().fold((0, 0), |(l, n), p| (l + p.wire.len(), n + p.records));
    let opt_len = opt.map_or(0, |o| o.len());
    let fixed = HEADER + query.question.len() + opt_len + proofs_len;
    // Proofs follow the body: no additional section after them (templates with proofs have
    // none, but for glue after a wildcard CNAME into a delegation).
    let with_additional = proof_records == 0 && fixed + template.len(true) <= limit;
    let fits = with_additional
        || ((!template.additional_required() || proof_records > 0) && fixed + template.len(false) <= limit);
    let [mut an, mut ns, ar] = template.counts;
    match template.denial {
        Denial::Answer => an += proof_records,
        _ => ns += proof_records,
    }
    let flags = query.echoed_flags | (template.authoritative as u16) << 10 | template.rcode as u16;
    let opt_count = opt.is_some() as u16;
    if fits {
        let ar = if with_additional { ar } else { 0 };
        write_header(out, query.id, flags, 0, [1, an, ns, ar + opt_count]);
        out.extend_from_slice(query.question);
        template.write_body(out, query.qname_len, with_additional, sent.serial);
        proofs.for_each(|proof| out.extend_from_slice(&proof.wire));
    } else {
        const TC: u16 = 1 << 9;
        write_header(out, query.id, flags | TC, 0, [1, 0, 0, opt_count]);
        out.extend_from_slice(query.question);
    }
    if let Some(opt) = opt {
        write_opt(out, 0, opt);
    }
}

/// The response code in a response's header.
pub fn rcode_of(response: &[u8]) -> u16 {
    response.get(3).map_or(0, |flags| u16::from(flags & 0x0F))
}

/// Turns a response into its truncated form: TC set, the question alone (what rate limiting
/// "slips" so that a real client retries over TCP).
pub fn truncate(out: &mut Vec<u8>) {
    if out.len() < HEADER {
        return;
    }
    let question_end = match u16::from_be_bytes([out[4], out[5]]) {
        0 => HEADER,
        _ => match skip_name(out, HEADER) {
            Some(at) if at + 4 <= out.len() => at + 4,
            _ => return,
        },
    };
    out.truncate(question_end);
    out[2] |= 0x02; // TC
    out[6..12].fill(0);
}

/// A response carrying only a code (and the question and OPT when the query had them).
fn error_response(packet: &[u8], rcode: u8, question: Option<&[u8]>, opt: Option<Opt>, out: &mut Vec<u8>) {
    let id = [packet[0], packet[1]];
    let echoed = u16::from_be_bytes([packet[2], packet[3]]) & ECHOED_FLAGS;
    let counts = [question.is_some() as u16, 0, 0, opt.is_some() as u16];
    write_header(out, id, echoed, rcode, counts);
    if let Some(question) = question {
        out.extend_from_slice(question);
    }
    if let Some(opt) = opt {
        write_opt(out, 0, opt);
    }
}

/// Opcode, RD and CD: the bits a response copies from its query.
const ECHOED_FLAGS: u16 = 0x7800 | 0x0100 | 0x0010;

fn write_header(out: &mut Vec<u8>, id: [u8; 2], flags: u16, rcode: u8, counts: [u16; 4]) {
    const QR: u16 = 1 << 15;
    out.extend_from_slice(&id);
    out.extend_from_slice(&(flags | QR | rcode as u16).to_be_bytes());
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
}

fn write_opt(out: &mut Vec<u8>, extended_rcode: u8, opt: Opt) {
    out.push(0); // root owner
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[extended_rcode, 0, if opt.dnssec_ok { 0x80 } else { 0 }, 0]);
    match opt.nsid {
        // At most 255 bytes (checked when configured; cut here all the same).
        Some(id) => {
            let len = u8::try_from(id.len()).unwrap_or(u8::MAX);
            out.extend_from_slice(&(4 + u16::from(len)).to_be_bytes());
            out.extend_from_slice(&OPTION_NSID.to_be_bytes());
            out.extend_from_slice(&u16::from(len).to_be_bytes());
            out.extend_from_slice(&id[..usize::from(len)]);
        }
        None => out.extend_from_slice(&[0, 0]),
    }
}

fn parse(packet: &[u8]) -> Parse<'_> {
    if packet.len() < HEADER {
        return Parse::Drop;
    }
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    if flags & 0x8000 != 0 {
        return Parse::Drop; // a response: never answer one
    }
    let count = |i: usize| u16::from_be_bytes([packet[4 + 2 * i], packet[5 + 2 * i]]);
    let (qdcount, ancount, nscount, arcount) = (count(0), count(1), count(2), count(3));
    let formerr = Parse::Error { rcode: Rcode::FormErr, question: None, edns: None };
    if qdcount != 1 {
        let opcode = (flags >> 11) & 0xF;
        let rcode = if opcode == 0 { Rcode::FormErr } else { Rcode::NotImp };
        return Parse::Error { rcode, question: None, edns: None };
    }
    let mut lower = [0u8; 255];
    let Some(qname_len) = read_question_name(packet, &mut lower) else { return formerr };
    let question_end = HEADER + qname_len + 4;
    if packet.len() < question_end {
        return formerr;
    }
    let question = &packet[HEADER..question_end];
    let qtype = u16::from_be_bytes([packet[question_end - 4], packet[question_end - 3]]);
    let qclass = u16::from_be_bytes([packet[question_end - 2], packet[question_end - 1]]);
    let (edns, signed) = match read_edns(packet, question_end, ancount as usize + nscount as usize, arcount) {
        Ok(read) => read,
        Err(()) => return Parse::Error { rcode: Rcode::FormErr, question: Some(question), edns: None },
    };
    if (flags >> 11) & 0xF != 0 {
        return Parse::Error { rcode: Rcode::NotImp, question: Some(question), edns };
    }
    // An IXFR query carries the client's SOA in the authority section (RFC 1995).
    if ancount != 0 || (nscount != 0 && qtype != TYPE_IXFR) {
        return Parse::Error { rcode: Rcode::FormErr, question: Some(question), edns };
    }
    Parse::Query(Query {
        id: [packet[0], packet[1]],
        echoed_flags: flags & ECHOED_FLAGS,
        question,
        qname_len,
        lower,
        qtype,
        qclass,
        edns,
        signed,
    })
}

/// Reads the question name (which may not use compression), lower-casing it into `lower`.
/// Returns its wire length.
fn read_question_name(packet: &[u8], lower: &mut [u8; 255]) -> Option<usize> {
    let mut at = HEADER;
    loop {
        let len_byte = *packet.get(at)?;
        let len = usize::from(len_byte);
        if len > 63 {
            return None; // a pointer or a reserved label type
        }
        let end = at + 1 + len;
        let name_len = end - HEADER;
        if name_len > 255 || end > packet.len() {
            return None;
        }
        lower[at - HEADER] = len_byte;
        for (dst, src) in lower[at - HEADER + 1..name_len].iter_mut().zip(&packet[at + 1..end]) {
            *dst = src.to_ascii_lowercase();
        }
        at = end;
        if len == 0 {
            return Some(name_len);
        }
    }
}

/// Skips `skip` records after the question, then reads the additional section looking for
/// the OPT record, and tells whether the last record is a TSIG (the query is signed). Two OPT
/// records, an OPT not owned by the root, an OPT outside the additional section, records
/// running past the packet, or bytes after the last record (as Knot DNS treats them) are
/// format errors.
fn read_edns(packet: &[u8], mut at: usize, skip: usize, arcount: u16) -> Result<(Option<Edns>, bool), ()> {
    let (mut edns, mut signed) = (None, false);
    for i in 0..skip + arcount as usize {
        let owner_at = at;
        at = skip_name(packet, at).ok_or(())?;
        let fixed = packet.get(at..at + 10).ok_or(())?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let rdata_end = at + 10 + rdlen;
        if rdata_end > packet.len() {
            return Err(());
        }
        signed = rtype == TYPE_TSIG && i >= skip;
        if rtype == TYPE_OPT {
            if i < skip || edns.is_some() || packet[owner_at] != 0 {
                return Err(());
            }
            edns = Some(Edns {
                udp_size: u16::from_be_bytes([fixed[2], fixed[3]]),
                version: fixed[5],
                dnssec_ok: fixed[6] & 0x80 != 0,
                wants_nsid: read_options(&packet[at + 10..rdata_end])?,
            });
        }
        at = rdata_end;
    }
    // Bytes after the last section the header announces: not a well-formed message.
    if at != packet.len() {
        return Err(());
    }
    Ok((edns, signed))
}

/// EDNS options are (code, length, data); all must be well formed, unknown ones are
/// ignored. Returns whether NSID is asked for.
fn read_options(mut options: &[u8]) -> Result<bool, ()> {
    let mut wants_nsid = false;
    while !options.is_empty() {
        let header = options.get(..4).ok_or(())?;
        wants_nsid |= u16::from_be_bytes([header[0], header[1]]) == OPTION_NSID;
        let len = u16::from_be_bytes([header[2], header[3]]) as usize;
        options = options.get(4 + len..).ok_or(())?;
    }
    Ok(wants_nsid)
}

/// Skips a possibly compressed name; returns the offset after it.
/// Where the question of a one-question message ends (`None`: no question, or malformed).
pub fn question_end(packet: &[u8]) -> Option<usize> {
    if packet.len() < HEADER || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    skip_name(packet, HEADER).map(|at| at + 4).filter(|&end| end <= packet.len())
}

fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += 1 + len as usize,
            0xC0..=0xFF => return packet.get(at + 1).map(|_| at + 2),
            _ => return None,
        }
    }
}
