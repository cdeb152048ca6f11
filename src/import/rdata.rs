//! Record data in zone-file presentation form, read into what the zone YAML writes: a typed
//! value for the types the YAML has a syntax for, or RFC 3597 generic data (wire bytes) for
//! the others and for data the YAML cannot hold (text that is not UTF-8, SvcParams without a
//! YAML key).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::lexer::{Token, unescape};
use crate::model::{self, Name, Wire};

/// A value as the zone YAML writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    Name(Name),
    Text(String),
    Int(u64),
    Bool(bool),
    List(Vec<Yaml>),
    Map(Vec<(&'static str, Yaml)>),
}

/// One record's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    Typed(Yaml),
    /// RDATA as bytes, written `\# LENGTH HEX`.
    Generic(Vec<u8>),
}

/// Reads fields off a record's tokens.
struct Fields<'a> {
    tokens: std::slice::Iter<'a, Token>,
    origin: &'a Name,
}

impl<'a> Fields<'a> {
    fn next(&mut self, what: &str) -> Result<&'a Token, String> {
        self.tokens.next().ok_or_else(|| format!("missing {what}"))
    }
    fn text(&mut self, what: &str) -> Result<&'a str, String> {
        self.next(what)?.str()
    }
    fn number<N: std::str::FromStr>(&mut self, what: &str) -> Result<N, String> {
        let text = self.text(what)?;
        text.parse().map_err(|_| format!("invalid {what} {text:?}"))
    }
    fn name(&mut self, what: &str) -> Result<Name, String> {
        name(self.text(what)?, self.origin)
    }
    /// A character-string (at most 255 bytes).
    fn string(&mut self, what: &str) -> Result<Vec<u8>, String> {
        let bytes = unescape(&self.next(what)?.text)?;
        match bytes.len() {
            0..=255 => Ok(bytes),
            n => Err(format!("the {what} is {n} bytes; a character-string holds at most 255")),
        }
    }
    /// The remaining tokens joined (hex and base64 may be split by spaces).
    fn rest(&mut self, what: &str) -> Result<String, String> {
        let joined: Vec<&str> = self.tokens.by_ref().map(Token::str).collect::<Result<_, _>>()?;
        match joined.is_empty() {
            true => Err(format!("missing {what}")),
            false => Ok(joined.concat()),
        }
    }
    fn hex(&mut self, what: &str) -> Result<Vec<u8>, String> {
        let text = self.rest(what)?;
        data_encoding::HEXLOWER_PERMISSIVE.decode(text.as_bytes()).map_err(|_| format!("invalid hex in the {what}"))
    }
    fn base64(&mut self, what: &str) -> Result<Vec<u8>, String> {
        let text = self.rest(what)?;
        data_encoding::BASE64.decode(text.as_bytes()).map_err(|_| format!("invalid base64 in the {what}"))
    }
    fn end(&mut self) -> Result<(), String> {
        match self.tokens.next() {
            None => Ok(()),
            Some(extra) => Err(format!("unexpected {:?} after the record data", String::from_utf8_lossy(&extra.text))),
        }
    }
}

/// A domain name in a zone file: `@`, absolute, or relative to `origin`; lower-cased.
pub fn name(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    let name = model::presentation_name(text).map_err(|e| format!("invalid domain name {text:?}: {e}"))?;
    let name = match name.is_fqdn() {
        true => name,
        false => name.append_domain(origin).map_err(|_| format!("{text:?} relative to {origin} is too long"))?,
    };
    Ok(name.to_lowercase())
}

/// A TTL: seconds, or BIND's units (`1h30m`, `2d`, `1w`), at most 2^31 - 1.
pub fn ttl(text: &str) -> Option<u32> {
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        match c.to_ascii_lowercase() {
            d @ '0'..='9' => number = Some(number.unwrap_or(0).checked_mul(10)? + u64::from(d as u8 - b'0')),
            unit @ ('s' | 'm' | 'h' | 'd' | 'w') => {
                let scale = match unit {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    'd' => 86_400,
                    _ => 604_800,
                };
                total = total.checked_add(number.take()?.checked_mul(scale)?)?;
            }
            _ => return None,
        }
    }
    let total = total.checked_add(number.unwrap_or(0))?;
    u32::try_from(total).ok().filter(|&t| t <= i32::MAX as u32 && !text.is_empty())
}

/// The types whose generic form the YAML refuses (it reads their data), and DNAME.
fn must_be_typed(code: u16) -> bool {
    matches!(code, 2 | 5 | 6 | 39)
}

/// Reads the data of a record of type `code` from `tokens`.
pub fn read(code: u16, tokens: &[Token], origin: &Name) -> Result<Data, String> {
    let mnemonic = model::type_name(code);
    if tokens.first().is_some_and(|t| !t.quoted && t.text == b"\\#") {
        if must_be_typed(code) {
            return Err(format!("{mnemonic} data in generic form (\\#): write it in {mnemonic}'s own syntax"));
        }
        let mut f = Fields { tokens: tokens[1..].iter(), origin };
        let length: usize = f.number("data length after \\#")?;
        let data = if length == 0 { Vec::new() } else { f.hex("generic data")? };
        if data.len() != length {
            return Err(format!("\\# {length} is followed by {} bytes of data", data.len()));
        }
        return Ok(Data::Generic(data));
    }
    let mut f = Fields { tokens: tokens.iter(), origin };
    let typed = |pairs: Vec<(&'static str, Yaml)>| Data::Typed(Yaml::Map(pairs));
    let data = match mnemonic.as_str() {
        "A" => Data::Typed(Yaml::Text(f.number::<Ipv4Addr>("IPv4 address")?.to_string())),
        "AAAA" => Data::Typed(Yaml::Text(f.number::<Ipv6Addr>("IPv6 address")?.to_string())),
        "NS" | "CNAME" | "PTR" => Data::Typed(Yaml::Name(f.name("name")?)),
        "DNAME" => return Err("DNAME (RFC 6672) is not served by switchyard".into()),
        "MX" => typed(vec![
            ("preference", int(f.number::<u16>("preference")?)),
            ("exchange", Yaml::Name(f.name("exchange")?)),
        ]),
        "SRV" => typed(vec![
            ("priority", int(f.number::<u16>("priority")?)),
            ("weight", int(f.number::<u16>("weight")?)),
            ("port", int(f.number::<u16>("port")?)),
            ("target", Yaml::Name(f.name("target")?)),
        ]),
        "TXT" | "SPF" => {
            let mut strings = vec![f.string("text")?];
            while f.tokens.len() > 0 {
                strings.push(f.string("text")?);
            }
            match (mnemonic.as_str(), texts(&strings)) {
                ("TXT", Some(mut texts)) if texts.len() == 1 => Data::Typed(texts.remove(0)),
                ("TXT", Some(texts)) => Data::Typed(Yaml::List(texts)),
                _ => Data::Generic(strings.iter().fold(Wire::default(), |w, s| w.u8(len8(s)).bytes(s)).0),
            }
        }
        "CAA" => {
            let flags = f.number::<u8>("flags")?;
            let tag = f.text("tag")?;
            if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("CAA tag {tag:?} is not 1 to 15 letters or digits"));
            }
            let value = unescape(&f.next("value")?.text)?;
            match String::from_utf8(value) {
                Ok(value) => typed(vec![("flags", int(flags)), ("tag", text(tag)), ("value", Yaml::Text(value))]),
                Err(e) => Data::Generic(
                    Wire::default().u8(flags).u8(len8(tag.as_bytes())).bytes(tag.as_bytes()).bytes(e.as_bytes()).0,
                ),
            }
        }
        "SOA" => {
            let (mname, rname) = (f.name("mname")?, f.name("rname")?);
            let serial = f.number::<u32>("serial")?;
            let mut times = Vec::new();
            for what in ["refresh", "retry", "expire", "minimum"] {
                let t = f.text(what)?;
                times.push(ttl(t).ok_or_else(|| format!("invalid {what} {t:?}"))?);
            }
            typed(vec![
                ("mname", Yaml::Name(mname)),
                ("rname", Yaml::Name(rname)),
                ("serial", int(serial)),
                ("refresh", int(times[0])),
                ("retry", int(times[1])),
                ("expire", int(times[2])),
                ("minimum", int(times[3])),
            ])
        }
        "HINFO" => {
            let (cpu, os) = (f.string("cpu")?, f.string("os")?);
            match texts(&[cpu.clone(), os.clone()]) {
                Some(t) => typed(vec![("cpu", t[0].clone()), ("os", t[1].clone())]),
                None => Data::Generic(Wire::default().u8(len8(&cpu)).bytes(&cpu).u8(len8(&os)).bytes(&os).0),
            }
        }
        "RP" => typed(vec![("mbox", Yaml::Name(f.name("mbox")?)), ("txt", Yaml::Name(f.name("txt")?))]),
        "NAPTR" => {
            let (order, preference) = (f.number::<u16>("order")?, f.number::<u16>("preference")?);
            let strings = [f.string("flags")?, f.string("service")?, f.string("regexp")?];
            let replacement = f.name("replacement")?;
            match texts(&strings) {
                Some(t) => typed(vec![
                    ("order", int(order)),
                    ("preference", int(preference)),
                    ("flags", t[0].clone()),
                    ("service", t[1].clone()),
                    ("regexp", t[2].clone()),
                    ("replacement", Yaml::Name(replacement)),
                ]),
                None => {
                    let wire =
                        strings.iter().fold(Wire::default().u16(order).u16(preference), |w, s| w.u8(len8(s)).bytes(s));
                    Data::Generic(wire.name(&replacement).0)
                }
            }
        }
        "TLSA" | "SMIMEA" => {
            let (usage, selector, matching) =
                (f.number::<u8>("usage")?, f.number::<u8>("selector")?, f.number::<u8>("matching type")?);
            let data = f.hex("certificate data")?;
            match mnemonic.as_str() {
                "TLSA" => typed(vec![
                    ("usage", int(usage)),
                    ("selector", int(selector)),
                    ("matching_type", int(matching)),
                    ("data", hex(&data)),
                ]),
                _ => Data::Generic(Wire::default().u8(usage).u8(selector).u8(matching).bytes(&data).0),
            }
        }
        "SSHFP" => {
            let (algorithm, kind) = (f.number::<u8>("algorithm")?, f.number::<u8>("fingerprint type")?);
            let fingerprint = f.hex("fingerprint")?;
            typed(vec![("algorithm", int(algorithm)), ("type", int(kind)), ("fingerprint", hex(&fingerprint))])
        }
        "DS" | "CDS" => {
            let (key_tag, algorithm, digest_type) =
                (f.number::<u16>("key tag")?, f.number::<u8>("algorithm")?, f.number::<u8>("digest type")?);
            let digest = f.hex("digest")?;
            match mnemonic.as_str() {
                "DS" => typed(vec![
                    ("key_tag", int(key_tag)),
                    ("algorithm", int(algorithm)),
                    ("digest_type", int(digest_type)),
                    ("digest", hex(&digest)),
                ]),
                _ => Data::Generic(Wire::default().u16(key_tag).u8(algorithm).u8(digest_type).bytes(&digest).0),
            }
        }
        "DNSKEY" | "CDNSKEY" => {
            let (flags, protocol, algorithm) =
                (f.number::<u16>("flags")?, f.number::<u8>("protocol")?, f.number::<u8>("algorithm")?);
            let key = f.base64("public key")?;
            Data::Generic(Wire::default().u16(flags).u8(protocol).u8(algorithm).bytes(&key).0)
        }
        "OPENPGPKEY" => Data::Generic(f.base64("key")?),
        "URI" => {
            let (priority, weight) = (f.number::<u16>("priority")?, f.number::<u16>("weight")?);
            let target = unescape(&f.next("target")?.text)?;
            if target.is_empty() {
                return Err("a URI record needs a target".into());
            }
            match String::from_utf8(target) {
                Ok(t) => typed(vec![("priority", int(priority)), ("weight", int(weight)), ("target", Yaml::Text(t))]),
                Err(e) => Data::Generic(Wire::default().u16(priority).u16(weight).bytes(e.as_bytes()).0),
            }
        }
        "SVCB" | "HTTPS" => svcb(&mut f)?,
        "RRSIG" | "NSEC" | "NSEC3" | "NSEC3PARAM" => {
            return Err(format!("{mnemonic} belongs to a signed zone: import the unsigned zone file"));
        }
        other if other.starts_with("TYPE") => {
            return Err(format!("{other} data must be in generic form: \\# LENGTH HEX"));
        }
        other => {
            return Err(format!(
                "{other} records cannot be imported: write them in RFC 3597 generic form ({other} \\# LENGTH HEX)"
            ));
        }
    };
    f.end()?;
    Ok(data)
}

fn int(n: impl Into<u64>) -> Yaml {
    Yaml::Int(n.into())
}

fn text(s: &str) -> Yaml {
    Yaml::Text(s.to_string())
}

fn hex(bytes: &[u8]) -> Yaml {
    Yaml::Text(data_encoding::HEXLOWER.encode(bytes))
}

/// A character-string's length byte (checked to be at most 255 when read).
fn len8(s: &[u8]) -> u8 {
    u8::try_from(s.len()).unwrap_or(u8::MAX)
}

/// Character-strings as YAML texts, when every one is UTF-8.
fn texts(strings: &[Vec<u8>]) -> Option<Vec<Yaml>> {
    strings.iter().map(|s| String::from_utf8(s.clone()).ok().map(Yaml::Text)).collect()
}

/// A SvcParam key: a name, or `keyNNNNN`.
fn svc_key(text: &str) -> Result<u16, String> {
    match model::SVC_KEYS.iter().position(|k| *k == text) {
        Some(n) => Ok(u16::try_from(n).unwrap_or(0)),
        None => text
            .strip_prefix("key")
            .and_then(|n| n.parse().ok())
            .or(match text {
                "dohpath" => Some(7),
                "ohttp" => Some(8),
                _ => None,
            })
            .ok_or_else(|| format!("unknown SvcParam key {text:?}")),
    }
}

/// A comma-separated value list (RFC 9460 appendix A.1): `\,` is a comma inside an item.
fn value_list(raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (mut items, mut item) = (Vec::new(), Vec::new());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => item.extend([b].into_iter().chain(bytes.next().copied())),
            b',' => items.push(unescape(&std::mem::take(&mut item))?),
            b => item.push(b),
        }
    }
    items.push(unescape(&item)?);
    Ok(items)
}

/// SVCB and HTTPS: priority, target, SvcParams (`key=value`, in any order).
fn svcb(f: &mut Fields) -> Result<Data, String> {
    let priority = f.number::<u16>("priority")?;
    let target_text = f.text("target")?;
    let target = if target_text == "." { Name::root() } else { name(target_text, f.origin)? };
    // key -> (wire value, YAML value when the zone YAML can write it)
    let mut params: std::collections::BTreeMap<u16, (Vec<u8>, Option<Yaml>)> = Default::default();
    for token in f.tokens.by_ref() {
        let text = &token.text;
        let (key, value) = match text.iter().position(|&b| b == b'=') {
            Some(eq) => (std::str::from_utf8(&text[..eq]).map_err(|e| e.to_string())?, Some(&text[eq + 1..])),
            None => (token.str()?, None),
        };
        let code = svc_key(key)?;
        let items = || value_list(value.unwrap_or_default());
        let utf8 = |items: &[Vec<u8>]| -> Result<Vec<String>, String> {
            items.iter().map(|i| String::from_utf8(i.clone()).map_err(|_| format!("{key} is not UTF-8"))).collect()
        };
        let param = match code {
            0 => {
                let keys = utf8(&items()?)?;
                let mut numbers = keys.iter().map(|k| svc_key(k)).collect::<Result<Vec<_>, _>>()?;
                numbers.sort_unstable();
                let wire = numbers.iter().flat_map(|n| n.to_be_bytes()).collect();
                let named = numbers.iter().all(|&n| usize::from(n) < model::SVC_KEYS.len());
                (wire, named.then(|| Yaml::List(keys.into_iter().map(Yaml::Text).collect())))
            }
            1 => {
                let ids = items()?;
                if ids.iter().any(|id| id.is_empty() || id.len() > 255) {
                    return Err("an alpn id is 1 to 255 bytes".into());
                }
                let wire = ids.iter().fold(Wire::default(), |w, id| w.u8(len8(id)).bytes(id)).0;
                (wire, utf8(&ids).ok().map(|ids| Yaml::List(ids.into_iter().map(Yaml::Text).collect())))
            }
            2 if value.is_none() => (Vec::new(), Some(Yaml::Bool(true))),
            3 => {
                let port: u16 = utf8(&items()?)?.concat().parse().map_err(|_| "invalid port".to_string())?;
                (port.to_be_bytes().to_vec(), Some(int(port)))
            }
            4 | 6 => {
                let addresses = utf8(&items()?)?;
                let mut wire = Vec::new();
                for a in &addresses {
                    match code {
                        4 => {
                            wire.extend(a.parse::<Ipv4Addr>().map_err(|_| format!("invalid IPv4 hint {a:?}"))?.octets())
                        }
                        _ => {
                            wire.extend(a.parse::<Ipv6Addr>().map_err(|_| format!("invalid IPv6 hint {a:?}"))?.octets())
                        }
                    }
                }
                (wire, Some(Yaml::List(addresses.into_iter().map(Yaml::Text).collect())))
            }
            5 => {
                let text = unescape(value.unwrap_or_default())?;
                let bytes = data_encoding::BASE64.decode(&text).map_err(|_| "invalid base64 in ech".to_string())?;
                (bytes, Some(Yaml::Text(String::from_utf8_lossy(&text).into_owned())))
            }
            2 => return Err("no-default-alpn takes no value".into()),
            _ => (unescape(value.unwrap_or_default())?, None),
        };
        if params.insert(code, param).is_some() {
            return Err(format!("SvcParam {key} appears twice"));
        }
    }
    if params.values().all(|(_, yaml)| yaml.is_some()) {
        let mut pairs = vec![("priority", int(priority)), ("target", Yaml::Name(target))];
        let yaml: Vec<(&'static str, Yaml)> =
            params.into_iter().filter_map(|(k, (_, y))| Some((model::SVC_KEYS[usize::from(k)], y?))).collect();
        if !yaml.is_empty() {
            pairs.push(("params", Yaml::Map(yaml)));
        }
        return Ok(Data::Typed(Yaml::Map(pairs)));
    }
    let mut wire = Wire::default().u16(priority).name(&target);
    for (key, (value, _)) in &params {
        let len = u16::try_from(value.len()).map_err(|_| "a SvcParam value over 65535 bytes".to_string())?;
        wire = wire.u16(*key).u16(len).bytes(value);
    }
    Ok(Data::Generic(wire.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::lexer::entries;

    fn data(rtype: &str, text: &str) -> Result<Data, String> {
        let origin = Name::from_ascii("example.test.").unwrap();
        let tokens = entries(text.as_bytes()).unwrap().remove(0).tokens;
        read(model::type_code(rtype).unwrap(), &tokens, &origin)
    }

    fn name(n: &str) -> Yaml {
        Yaml::Name(Name::from_ascii(n).unwrap())
    }

    #[test]
    fn ttls_take_bind_units() {
        assert_eq!(ttl("3600"), Some(3600));
        assert_eq!(ttl("1h30m"), Some(5400));
        assert_eq!(ttl("1W2D"), Some(777_600));
        assert_eq!(ttl("2147483648"), None);
        assert_eq!(ttl("1x"), None);
        assert_eq!(ttl(""), None);
    }

    #[test]
    fn typed_data_reads_as_the_yaml_writes_it() {
        assert_eq!(data("A", "192.0.2.1"), Ok(Data::Typed(Yaml::Text("192.0.2.1".into()))));
        assert_eq!(data("CNAME", "WWW"), Ok(Data::Typed(name("www.example.test."))));
        assert_eq!(
            data("MX", "10 @"),
            Ok(Data::Typed(Yaml::Map(vec![("preference", Yaml::Int(10)), ("exchange", name("example.test."))])))
        );
        assert_eq!(
            data("TXT", r#""a b" c\059"#),
            Ok(Data::Typed(Yaml::List(vec![Yaml::Text("a b".into()), Yaml::Text("c;".into())])))
        );
        assert_eq!(data("TXT", r#""\255""#), Ok(Data::Generic(vec![1, 255])));
        assert_eq!(data("SPF", r#""v=spf1""#), Ok(Data::Generic(b"\x06v=spf1".to_vec())));
        assert_eq!(data("TYPE65400", r"\# 2 0a 01"), Ok(Data::Generic(vec![10, 1])));
        assert_eq!(data("TYPE65400", r"\# 0"), Ok(Data::Generic(Vec::new())));
        let https = data("HTTPS", r#"1 . alpn="h3,h2" port=8443 mandatory=port"#).unwrap();
        let Data::Typed(Yaml::Map(pairs)) = https else { panic!("{https:?}") };
        assert_eq!(
            pairs[2],
            (
                "params",
                Yaml::Map(vec![
                    ("mandatory", Yaml::List(vec![Yaml::Text("port".into())])),
                    ("alpn", Yaml::List(vec![Yaml::Text("h3".into()), Yaml::Text("h2".into())])),
                    ("port", Yaml::Int(8443)),
                ])
            )
        );
        let Ok(Data::Typed(Yaml::Map(pairs))) = data("SVCB", r"1 . alpn=a\,b,c") else { panic!() };
        assert_eq!(pairs[2], ("params", Yaml::Map(vec![("alpn", Yaml::List(vec![text("a,b"), text("c")]))])));
        // A key the YAML has no name for: the whole record in generic form.
        assert_eq!(data("SVCB", "1 . key65000=ab"), Ok(Data::Generic(b"\x00\x01\x00\xfd\xe8\x00\x02ab".to_vec())));
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert_eq!(data("A", "192.0.2.300"), Err("invalid IPv4 address \"192.0.2.300\"".into()));
        assert_eq!(data("MX", "10"), Err("missing exchange".into()));
        assert_eq!(data("A", "192.0.2.1 extra"), Err("unexpected \"extra\" after the record data".into()));
        assert_eq!(data("TYPE65400", r"\# 3 0a01"), Err(r"\# 3 is followed by 2 bytes of data".into()));
        assert_eq!(data("NS", r"\# 1 00"), Err(r"NS data in generic form (\#): write it in NS's own syntax".into()));
        assert!(data("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m").unwrap_err().starts_with("LOC records cannot"));
        assert!(data("DNAME", "x").is_err());
        assert_eq!(
            data("NSEC", "a.example.test. A"),
            Err("NSEC belongs to a signed zone: import the unsigned zone file".into())
        );
        assert!(data("TXT", &format!("\"{}\"", "x".repeat(256))).unwrap_err().contains("at most 255"));
    }
}
