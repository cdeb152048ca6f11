//! Which server answered: the NSID EDNS option (RFC 5001) and the CHAOS-class TXT names
//! operators ask (`id.server` / `hostname.bind`, and `version.bind` / `version.server`, RFC
//! 4892). Answers are written straight into the response buffer, without allocating.

/// What this server says about itself; the default says nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The server's name (at most 255 bytes): the `id.server` and `hostname.bind` answer;
    /// empty hides it.
    pub id: String,
    /// Whether the NSID option carries `id` when a query asks for it.
    pub nsid: bool,
    /// The `version.bind` and `version.server` answer; `None` refuses those queries.
    pub version: Option<String>,
}

/// Longest identity or version string: one TXT character-string.
pub const MAX_TEXT: usize = 255;

const CLASS_CH: u16 = 3;
const TYPE_TXT: u16 = 16;
const TYPE_ANY: u16 = 255;

impl Identity {
    /// The NSID payload for a query that asked for one, if this server gives it.
    pub fn nsid(&self) -> Option<&[u8]> {
        (self.nsid && !self.id.is_empty()).then_some(self.id.as_bytes())
    }

    /// The TXT string answering a CHAOS query for `lower_qname` (wire format, lower case),
    /// or `None` when that name is not one we answer (the query is then refused).
    pub fn chaos_text(&self, qclass: u16, qtype: u16, lower_qname: &[u8]) -> Option<&[u8]> {
        if qclass != CLASS_CH || !matches!(qtype, TYPE_TXT | TYPE_ANY) {
            return None;
        }
        let text = match lower_qname {
            b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => Some(self.id.as_str()),
            b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => self.version.as_deref(),
            _ => None,
        };
        text.filter(|t| !t.is_empty()).map(str::as_bytes)
    }
}

/// Appends the answer record `<query name> 0 CH TXT "<text>"` (owner compressed to the
/// question, `text` at most [`MAX_TEXT`] bytes).
pub fn write_chaos_txt(out: &mut Vec<u8>, text: &[u8]) {
    let len = u8::try_from(text.len().min(MAX_TEXT)).unwrap_or(u8::MAX);
    let text = &text[..usize::from(len)];
    out.extend_from_slice(&[0xC0, 12]); // the question name, at offset 12
    out.extend_from_slice(&TYPE_TXT.to_be_bytes());
    out.extend_from_slice(&CLASS_CH.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(u16::from(len) + 1).to_be_bytes());
    out.push(len);
    out.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_names_answer_only_what_is_configured() {
        let identity = Identity { id: "ns-a".into(), nsid: true, version: None };
        assert_eq!(identity.chaos_text(3, 16, b"\x02id\x06server\x00"), Some(&b"ns-a"[..]));
        assert_eq!(identity.chaos_text(3, 255, b"\x08hostname\x04bind\x00"), Some(&b"ns-a"[..]));
        assert_eq!(identity.chaos_text(3, 16, b"\x07version\x04bind\x00"), None, "version hidden by default");
        assert_eq!(identity.chaos_text(1, 16, b"\x02id\x06server\x00"), None, "class IN is the zones' business");
        assert_eq!(identity.chaos_text(3, 1, b"\x02id\x06server\x00"), None, "only TXT");
        assert_eq!(Identity::default().nsid(), None);
    }
}
