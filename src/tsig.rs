//! TSIG (RFC 8945): the server's keys, loaded from the files operators already have, and
//! the two things a primary does with them: check a signed request (AXFR, IXFR, a NOTIFY's
//! answer) and sign a message: a request, the first message of a response, or each later
//! message of a multi-message transfer, chained to the MAC before it. hickory-proto brings
//! the HMACs, the TSIG record and the to-be-signed data of a received message; the chained
//! signing of responses (RFC 8945 §5.3.1) is done here.

use std::path::Path;

use hickory_proto::ProtoError;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, TSigner};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// Seconds a signature's time may differ from ours (RFC 8945 recommends 300).
const FUDGE: u16 = 300;

/// The server's TSIG keys, by name.
#[derive(Clone, Default)]
pub struct Keyring(Vec<TSigner>);

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_list().entries(self.0.iter().map(|k| k.signer_name().to_string())).finish()
    }
}

impl PartialEq for Keyring {
    fn eq(&self, other: &Keyring) -> bool {
        let key = |k: &TSigner| (k.signer_name().clone(), k.algorithm().clone(), k.key().to_vec());
        self.0.iter().map(key).eq(other.0.iter().map(key))
    }
}

impl Eq for Keyring {}

impl Keyring {
    pub fn add(&mut self, key: TSigner) {
        self.0.push(key);
    }

    pub fn get(&self, name: &Name) -> Option<&TSigner> {
        self.0.iter().find(|k| k.signer_name() == name)
    }

    pub fn contains(&self, name: &Name) -> bool {
        self.get(name).is_some()
    }

    /// Signs `response`, the answer to the signed `request`, with the request's key; a
    /// request whose signature does not check out gets its TSIG error instead (RFC 8945 §5.3).
    pub fn sign_response(&self, request: &[u8], response: &mut Vec<u8>) {
        let now = now();
        match verify(self, request, now) {
            Ok(Some(verified)) => drop(sign(response, &verified.key, Chain::Reply(&verified.mac), now, None)),
            Ok(None) => {}
            Err(rejected) => *response = refusal(request, &rejected, now),
        }
    }
}

/// A key from its name, algorithm name (`hmac-sha256`, `hmac-sha384`, `hmac-sha512`) and
/// base64 secret.
pub fn key(name: &str, algorithm: &str, secret: &str) -> Result<TSigner, String> {
    let name = Name::from_ascii(name).map_err(|e| format!("key name {name:?}: {e}"))?;
    let algorithm = match algorithm.trim_end_matches('.').to_ascii_lowercase().as_str() {
        "hmac-sha256" => TsigAlgorithm::HmacSha256,
        "hmac-sha384" => TsigAlgorithm::HmacSha384,
        "hmac-sha512" => TsigAlgorithm::HmacSha512,
        other => return Err(format!("algorithm {other:?} is not supported (hmac-sha256, hmac-sha384, hmac-sha512)")),
    };
    let secret: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let secret =
        data_encoding::BASE64.decode(secret.as_bytes()).map_err(|e| format!("the secret is not base64: {e}"))?;
    if secret.is_empty() {
        return Err("the secret is empty".into());
    }
    TSigner::new(secret, algorithm, name, FUDGE).map_err(|e| e.to_string())
}

/// The key `name` from a BIND key file (`key "name" { algorithm hmac-sha256; secret "..."; };`,
/// what `tsig-keygen`, `keymgr` and `ldns-keygen` users keep).
pub fn key_from_bind_file(name: &str, path: &Path) -> Result<TSigner, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let tokens = bind_tokens(&text);
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] != "key" || i + 2 >= tokens.len() || tokens[i + 2] != "{" {
            i += 1;
            continue;
        }
        let key_name = tokens[i + 1].trim_end_matches('.').to_string();
        let (mut algorithm, mut secret) = (None, None);
        i += 3;
        while i < tokens.len() && tokens[i] != "}" {
            match (tokens[i].as_str(), tokens.get(i + 1)) {
                ("algorithm", Some(value)) => algorithm = Some(value.clone()),
                ("secret", Some(value)) => secret = Some(value.clone()),
                _ => {}
            }
            i += 1;
        }
        found.push(key_name.clone());
        if key_name.eq_ignore_ascii_case(name.trim_end_matches('.')) {
            let algorithm =
                algorithm.ok_or_else(|| format!("key {key_name:?} in {} has no algorithm", path.display()))?;
            let secret = secret.ok_or_else(|| format!("key {key_name:?} in {} has no secret", path.display()))?;
            return key(name, &algorithm, &secret);
        }
    }
    match found.is_empty() {
        true => Err(format!("{} holds no BIND key statement (key \"{name}\" {{ ... }};)", path.display())),
        false => Err(format!("{} holds no key {name:?} (it holds {})", path.display(), found.join(", "))),
    }
}

/// Words, quoted strings and `{ } ;` of a BIND configuration file, comments left out.
fn bind_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'/') => while chars.next_if(|&c| c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => tokens.push(chars.by_ref().take_while(|&c| c != '"').collect()),
            '{' | '}' | ';' => tokens.push(c.to_string()),
            c if c.is_whitespace() => {}
            c => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace() && !"{};\"".contains(*c)) {
                    word.push(c);
                }
                tokens.push(word);
            }
        }
    }
    tokens
}

/// A request whose signature checked out: the key, and its MAC (which the response's first
/// signature covers).
#[derive(Clone)]
pub struct Verified {
    pub key: TSigner,
    pub mac: Vec<u8>,
}

/// Why a signed request is refused (RFC 8945 §5.2): each is answered NOTAUTH with the error
/// in an unsigned TSIG record, except BADTIME, which is signed.
pub enum Rejected {
    /// The message cannot be read (FORMERR).
    Malformed,
    /// No such key, or the key's algorithm differs.
    BadKey {
        name: Name,
        algorithm: TsigAlgorithm,
    },
    BadSig(TSigner),
    BadTime(Verified),
}

impl Rejected {
    pub fn label(&self) -> &'static str {
        match self {
            Rejected::Malformed => "FORMERR",
            Rejected::BadKey { .. } => "BADKEY",
            Rejected::BadSig(_) => "BADSIG",
            Rejected::BadTime(_) => "BADTIME",
        }
    }
}

/// Checks the TSIG of a request (`now` in Unix seconds): `Ok(None)` when it carries none.
pub fn verify(keys: &Keyring, packet: &[u8], now: u64) -> Result<Option<Verified>, Box<Rejected>> {
    let message = Message::from_vec(packet).map_err(|_| Rejected::Malformed)?;
    let Some(tsig) = message.signature() else { return Ok(None) };
    let Some(key) = keys.get(&tsig.name).filter(|k| *k.algorithm() == tsig.data.algorithm) else {
        return Err(Box::new(Rejected::BadKey { name: tsig.name.clone(), algorithm: tsig.data.algorithm.clone() }));
    };
    match key.verify_message_byte(packet, None, true) {
        Err(_) => Err(Box::new(Rejected::BadSig(key.clone()))),
        Ok((mac, _, window)) => {
            let verified = Verified { key: key.clone(), mac };
            if window.start <= now && now <= window.end {
                Ok(Some(verified))
            } else {
                Err(Box::new(Rejected::BadTime(verified)))
            }
        }
    }
}

/// What a signature is chained to.
#[derive(Clone, Copy)]
pub enum Chain<'a> {
    /// A request (a NOTIFY): nothing before it.
    Request,
    /// The first message of a response: the request's MAC.
    Reply(&'a [u8]),
    /// A later message of a response: the MAC of the message before it (timers only).
    Next(&'a [u8]),
}

/// Signs `message` (complete, unsigned) in place: the TSIG record is appended and counted.
/// Returns the MAC, which the next message of the same response is chained to.
pub fn sign(message: &mut Vec<u8>, key: &TSigner, chain: Chain, now: u64, error: Option<TsigError>) -> Vec<u8> {
    let id = u16::from_be_bytes([message[0], message[1]]);
    // BADTIME tells the client our time (RFC 8945 §5.2.3).
    let other = match error {
        Some(TsigError::BadTime) => now.to_be_bytes()[2..].to_vec(),
        _ => Vec::new(),
    };
    let tsig = TSIG::new(key.algorithm().clone(), now, key.fudge(), Vec::new(), id, error, other);
    let mac = to_be_signed(message, key, chain, &tsig).ok().and_then(|tbs| key.sign(&tbs).ok()).unwrap_or_default();
    append(message, key.signer_name().clone(), tsig.set_mac(mac.clone()));
    mac
}

/// What the MAC covers (RFC 8945 §4.3, §5.3.1): the MAC chained to, the message, and the
/// TSIG variables (only the timers for a later message of a response).
fn to_be_signed(message: &[u8], key: &TSigner, chain: Chain, tsig: &TSIG) -> Result<Vec<u8>, ProtoError> {
    let mut tbs = Vec::with_capacity(message.len() + 128);
    let mut encoder = BinEncoder::new(&mut tbs);
    if let Chain::Reply(mac) | Chain::Next(mac) = chain {
        encoder.emit_u16(u16::try_from(mac.len()).unwrap_or(0))?;
        encoder.emit_vec(mac)?;
    }
    encoder.emit_vec(message)?;
    match chain {
        Chain::Next(_) => {
            encoder.emit_u16((tsig.time >> 32) as u16)?;
            encoder.emit_u32(tsig.time as u32)?;
            encoder.emit_u16(tsig.fudge)?;
        }
        _ => tsig.emit_tsig_for_mac(&mut encoder, key.signer_name())?,
    }
    Ok(tbs)
}

/// The NOTAUTH answer to a refused request, its TSIG record carrying the error: unsigned for
/// BADKEY and BADSIG, signed for BADTIME.
pub fn refusal(request: &[u8], rejected: &Rejected, now: u64) -> Vec<u8> {
    let mut out = error_header(request, 9);
    let (name, algorithm, error) = match rejected {
        Rejected::Malformed => return error_header(request, 1),
        Rejected::BadKey { name, algorithm } => (name, algorithm, TsigError::BadKey),
        Rejected::BadSig(key) => (key.signer_name(), key.algorithm(), TsigError::BadSig),
        Rejected::BadTime(verified) => {
            sign(&mut out, &verified.key, Chain::Reply(&verified.mac), now, Some(TsigError::BadTime));
            return out;
        }
    };
    let id = u16::from_be_bytes([request[0], request[1]]);
    append(&mut out, name.clone(), TSIG::new(algorithm.clone(), now, FUDGE, Vec::new(), id, Some(error), Vec::new()));
    out
}

/// A response header (ID, opcode and RD echoed, QR, `rcode`) and the request's question.
pub fn error_header(request: &[u8], rcode: u8) -> Vec<u8> {
    let question_end = crate::dns::question_end(request).unwrap_or(12);
    let mut out = request[..question_end].to_vec();
    out[2] = 0x80 | (request[2] & 0x79); // QR, opcode, RD
    out[3] = rcode & 0x0F;
    let qdcount: u16 = if question_end > 12 { 1 } else { 0 };
    out[4..6].copy_from_slice(&qdcount.to_be_bytes());
    out[6..12].fill(0);
    out
}

/// Appends a TSIG record (names uncompressed) and counts it in ARCOUNT.
fn append(message: &mut Vec<u8>, name: Name, tsig: TSIG) {
    let mut record = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut record);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    if make_tsig_record(name, tsig).emit(&mut encoder).is_err() {
        return;
    }
    message.extend_from_slice(&record);
    let arcount = u16::from_be_bytes([message[10], message[11]]).saturating_add(1);
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
}

/// The current time in Unix seconds, as TSIG counts it.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_key_files_are_read_with_comments_and_several_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xfr.key");
        let text = "# made by tsig-keygen\nkey \"other\" { algorithm hmac-sha512; secret \"b3RoZXI=\"; };\n\
                    /* the one */ key \"xfr.\" {\n  algorithm hmac-sha256; // comment\n  secret \"c2VjcmV0c2VjcmV0\";\n};\n";
        std::fs::write(&path, text).unwrap();
        let key = key_from_bind_file("xfr", &path).unwrap();
        assert_eq!(key.signer_name().to_string(), "xfr.");
        assert_eq!(*key.algorithm(), TsigAlgorithm::HmacSha256);
        assert_eq!(key.key(), b"secretsecret");
        let missing = key_from_bind_file("nope", &path).err().unwrap();
        assert!(missing.ends_with("holds no key \"nope\" (it holds other, xfr)"), "{missing}");
        assert!(super::key("k", "hmac-md5", "c2VjcmV0").err().unwrap().contains("not supported"));
    }
}
