//! Record types beyond the basic ones, as written in zone files: SVCB/HTTPS (RFC 9460), TLSA
//! (RFC 6698), SSHFP (RFC 4255), NAPTR (RFC 3403), DS (RFC 4034), URI (RFC 7553), HINFO and
//! RP (RFC 1035, 1183), TXT with its character-strings kept, and any other type in RFC 3597
//! generic form. Each is validated with positions and encoded once to its RDATA (names
//! uncompressed, as RFC 3597 requires for all but the RFC 1035 types), which answers then
//! carry as they are.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::yaml::{Pos, items};
use super::zone::{Cx, RawNode};
use crate::model::{self, Family, Name, Rdata, RecordType, Svcb, Wire};

/// One text, or a list of strings: a TXT record (one text split into 255-byte
/// character-strings, or its character-strings as listed) and an address hint (addresses, or
/// `dynamic` for the record's current answer).
#[derive(Debug)]
pub enum TextOrList {
    Text(String),
    List(Vec<String>),
}

impl TextOrList {
    /// The text as a list of one, or the list.
    fn items(&self) -> &[String] {
        match self {
            TextOrList::Text(text) => std::slice::from_ref(text),
            TextOrList::List(list) => list,
        }
    }
}

impl<'de> Deserialize<'de> for TextOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrListVisitor;
        impl<'de> Visitor<'de> for TextOrListVisitor {
            type Value = TextOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextOrList, E> {
                Ok(TextOrList::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TextOrList, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TextOrList, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TextOrList, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TextOrList, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextOrList, A::Error> {
                let mut list = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    list.push(s);
                }
                Ok(TextOrList::List(list))
            }
        }
        deserializer.deserialize_any(TextOrListVisitor)
    }
}

/// SVCB and HTTPS: AliasMode (`priority: 0`, a target, no params) or ServiceMode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSvcb {
    priority: u16,
    /// `.` (the owner itself in ServiceMode) or a name.
    target: String,
    #[serde(default)]
    params: RawSvcParams,
}

/// SvcParams (RFC 9460 section 7), in any order; written to the wire sorted by key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSvcParams {
    mandatory: Option<Vec<String>>,
    alpn: Option<Vec<String>>,
    #[serde(default)]
    no_default_alpn: bool,
    port: Option<u16>,
    ipv4hint: Option<TextOrList>,
    /// An ECHConfigList, base64.
    ech: Option<String>,
    ipv6hint: Option<TextOrList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsa {
    usage: u8,
    selector: u8,
    matching_type: u8,
    /// The certificate association data, hex.
    data: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSshfp {
    algorithm: u8,
    #[serde(rename = "type")]
    fingerprint_type: u8,
    /// Hex.
    fingerprint: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNaptr {
    order: u16,
    preference: u16,
    #[serde(default)]
    flags: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    regexp: String,
    #[serde(default = "root")]
    replacement: String,
}

fn root() -> String {
    ".".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDs {
    key_tag: u16,
    algorithm: u8,
    digest_type: u8,
    /// Hex.
    digest: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUri {
    priority: u16,
    weight: u16,
    target: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHinfo {
    cpu: String,
    os: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRp {
    /// The responsible person's mailbox as a name (`hostmaster.example.com.`), or `.`.
    mbox: String,
    /// A name with TXT records about them, or `.`.
    txt: String,
}

impl Cx<'_> {
    /// Every record of the types above, encoded; problems are reported at their items.
    pub(super) fn more_records(&mut self, raw: &RawNode, origin: &Name) -> Vec<(Rdata, Pos)> {
        let mut out = Vec::new();
        for (txt, pos) in items(&raw.txt) {
            let strings: Vec<Vec<u8>> = match txt {
                TextOrList::Text(text) if text.is_empty() => vec![Vec::new()],
                TextOrList::Text(text) => text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect(),
                TextOrList::List(strings) => strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            };
            match strings.iter().find(|s| s.len() > 255) {
                Some(long) => self.problem(pos, format!("a character-string of {} bytes; at most 255", long.len())),
                None if strings.is_empty() => self.problem(pos, "a TXT record needs at least one character-string"),
                None => out.push((Rdata::Txt(strings), pos)),
            }
        }
        for (rtype, field) in [(RecordType::SVCB, &raw.svcb), (RecordType::HTTPS, &raw.https)] {
            for (svcb, pos) in items(field) {
                out.extend(self.svcb(rtype, svcb, pos, origin).map(|svcb| (Rdata::Svcb(Box::new(svcb)), pos)));
            }
        }
        for (tlsa, pos) in items(&raw.tlsa) {
            if let Some(data) = self.hex(&tlsa.data, pos) {
                let wire = Wire::default().u8(tlsa.usage).u8(tlsa.selector).u8(tlsa.matching_type).bytes(&data);
                out.push((wire.rdata(RecordType::TLSA), pos));
            }
        }
        for (sshfp, pos) in items(&raw.sshfp) {
            if let Some(fingerprint) = self.hex(&sshfp.fingerprint, pos) {
                let wire = Wire::default().u8(sshfp.algorithm).u8(sshfp.fingerprint_type).bytes(&fingerprint);
                out.push((wire.rdata(RecordType::SSHFP), pos));
            }
        }
        for (naptr, pos) in items(&raw.naptr) {
            let Some(replacement) = self.relative(&naptr.replacement, pos, origin) else { continue };
            let wire = Wire::default().u16(naptr.order).u16(naptr.preference);
            let strings = [&naptr.flags, &naptr.service, &naptr.regexp];
            match strings.iter().try_fold(wire, |wire, s| wire.string(s.as_bytes())) {
                Some(wire) => out.push((wire.name(&replacement).rdata(RecordType::NAPTR), pos)),
                None => self.problem(pos, "NAPTR flags, service and regexp are at most 255 bytes each"),
            }
        }
        for (ds, pos) in items(&raw.ds) {
            if let Some(digest) = self.hex(&ds.digest, pos) {
                let wire = Wire::default().u16(ds.key_tag).u8(ds.algorithm).u8(ds.digest_type).bytes(&digest);
                out.push((wire.rdata(RecordType::DS), pos));
            }
        }
        for (uri, pos) in items(&raw.uri) {
            if uri.target.is_empty() {
                self.problem(pos, "a URI record needs a target");
                continue;
            }
            let wire = Wire::default().u16(uri.priority).u16(uri.weight).bytes(uri.target.as_bytes());
            out.push((wire.rdata(RecordType::Unknown(256)), pos));
        }
        for (hinfo, pos) in items(&raw.hinfo) {
            let (cpu, os) = (hinfo.cpu.as_bytes().to_vec(), hinfo.os.as_bytes().to_vec());
            if cpu.len() > 255 || os.len() > 255 {
                self.problem(pos, "HINFO cpu and os are at most 255 bytes each");
                continue;
            }
            out.push((Rdata::Hinfo { cpu, os }, pos));
        }
        for (rp, pos) in items(&raw.rp) {
            let mbox = self.relative(&rp.mbox, pos, origin);
            let txt = self.relative(&rp.txt, pos, origin);
            if let (Some(mbox), Some(txt)) = (mbox, txt) {
                out.push((Wire::default().name(&mbox).name(&txt).rdata(RecordType::Unknown(17)), pos));
            }
        }
        for (key, values) in &raw.generic {
            let Some(code) = model::type_code(&key.value) else { continue };
            if let Some(why) = not_opaque(code) {
                self.problem(Pos::of(key), format!("{} records cannot be written in generic form: {why}", key.value));
                continue;
            }
            for (text, pos) in items(values) {
                match generic_rdata(text) {
                    Ok(data) => out.push((Rdata::Opaque { rtype: RecordType::from(code), data: data.into() }, pos)),
                    Err(e) => self.problem(pos, format!("{e} (RFC 3597 generic form: '\\# LENGTH HEX')")),
                }
            }
        }
        out
    }

    fn hex(&mut self, text: &str, pos: Pos) -> Option<Vec<u8>> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match data_encoding::HEXLOWER_PERMISSIVE.decode(compact.as_bytes()) {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            _ => {
                self.problem(pos, format!("invalid hex {text:?}"));
                None
            }
        }
    }

    fn svcb(&mut self, rtype: RecordType, raw: &RawSvcb, pos: Pos, origin: &Name) -> Option<Svcb> {
        let target = match raw.target.as_str() {
            "." => Name::root(),
            name => self.relative(name, pos, origin)?,
        };
        let p = &raw.params;
        // Key number -> value, so the wire order is the keys' order whatever the YAML's.
        let mut params: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
        if let Some(keys) = &p.mandatory {
            let mut numbers = Vec::new();
            for key in keys {
                match model::SVC_KEYS.iter().position(|k| k == key) {
                    Some(0) | None => {
                        self.problem(
                            pos,
                            format!("mandatory lists {key:?}, which is not a SvcParam key (or is itself)"),
                        );
                        return None;
                    }
                    Some(n) => numbers.push(u16::try_from(n).ok()?),
                }
            }
            numbers.sort_unstable();
            numbers.dedup();
            params.insert(0, numbers.iter().flat_map(|n| n.to_be_bytes()).collect());
        }
        if let Some(alpn) = &p.alpn {
            let mut wire = Wire::default();
            for id in alpn {
                match (id.is_empty(), wire.string(id.as_bytes())) {
                    (false, Some(next)) => wire = next,
                    _ => {
                        self.problem(pos, format!("invalid alpn id {id:?} (1 to 255 bytes)"));
                        return None;
                    }
                }
            }
            params.insert(1, wire.0);
        }
        if p.no_default_alpn {
            params.insert(2, Vec::new());
        }
        if let Some(port) = p.port {
            params.insert(3, port.to_be_bytes().to_vec());
        }
        let mut follows = Vec::new();
        match &p.ipv4hint {
            Some(TextOrList::Text(text)) if text == "dynamic" => follows.push(Family::V4),
            Some(hints) => {
                params.insert(4, self.addresses::<Ipv4Addr>(hints.items(), pos, "IPv4", |a| a.octets().to_vec())?);
            }
            None => {}
        }
        if let Some(ech) = &p.ech {
            match data_encoding::BASE64.decode(ech.as_bytes()) {
                Ok(bytes) => params.insert(5, bytes),
                Err(e) => {
                    self.problem(pos, format!("invalid base64 in ech: {e}"));
                    return None;
                }
            };
        }
        match &p.ipv6hint {
            Some(TextOrList::Text(text)) if text == "dynamic" => follows.push(Family::V6),
            Some(hints) => {
                params.insert(6, self.addresses::<Ipv6Addr>(hints.items(), pos, "IPv6", |a| a.octets().to_vec())?);
            }
            None => {}
        }
        if raw.priority == 0 && !(params.is_empty() && follows.is_empty()) {
            self.problem(pos, "an AliasMode record (priority 0) has no params (RFC 9460 section 2.4.2)");
            return None;
        }
        if params
            .get(&0)
            .is_some_and(|keys| keys.chunks(2).any(|k| !params.contains_key(&u16::from_be_bytes([k[0], k[1]]))))
        {
            self.problem(pos, "mandatory lists a key this record does not set");
            return None;
        }
        if params.contains_key(&2) && !params.contains_key(&1) {
            self.problem(pos, "no-default-alpn needs alpn (RFC 9460 section 7.1.1)");
            return None;
        }
        if params.values().any(|value| value.len() > usize::from(u16::MAX)) {
            self.problem(pos, "a SvcParam value is longer than 65535 bytes");
            return None;
        }
        Some(Svcb { rtype, priority: raw.priority, target, params: params.into_iter().collect(), follows })
    }

    fn addresses<A: std::str::FromStr>(
        &mut self,
        texts: &[String],
        pos: Pos,
        family: &str,
        octets: impl Fn(A) -> Vec<u8>,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for text in texts {
            match text.parse::<A>() {
                Ok(address) => out.extend(octets(address)),
                Err(_) => {
                    self.problem(pos, format!("invalid {family} address {text:?} in a hint"));
                    return None;
                }
            }
        }
        if out.is_empty() {
            self.problem(pos, format!("an {family} hint needs at least one address"));
            return None;
        }
        Some(out)
    }
}

/// Why records of type `code` cannot be served as opaque data, if they cannot: the types
/// whose data shapes answers (SOA, NS, CNAME), DNAME (not served), and meta types.
fn not_opaque(code: u16) -> Option<&'static str> {
    match code {
        2 | 5 | 6 => Some("the server reads this type's data; use its own syntax"),
        39 => Some("DNAME (RFC 6672) is not served"),
        0 | 41 | 128..=255 => Some("a meta or query type, never zone data"),
        _ => None,
    }
}

/// RDATA in RFC 3597 generic form: `\# LENGTH HEX...` (hex in any number of pieces).
fn generic_rdata(text: &str) -> Result<Vec<u8>, String> {
    let mut words = text.split_ascii_whitespace();
    if words.next() != Some("\\#") {
        return Err(format!("{text:?} does not start with \\#"));
    }
    let length: usize = match words.next().map(str::parse) {
        Some(Ok(length)) if length <= usize::from(u16::MAX) => length,
        _ => return Err("\\# is followed by the data's length in bytes (0 to 65535)".into()),
    };
    let hex: String = words.collect();
    let data = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|_| format!("invalid hex {hex:?}"))?;
    match data.len() == length {
        true => Ok(data),
        false => Err(format!("the length says {length} bytes, the hex has {}", data.len())),
    }
}
