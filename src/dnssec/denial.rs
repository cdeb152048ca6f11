//! Authenticated denial of existence with NSEC (RFC 4034 section 4, RFC 4035 section 3.1.3):
//! the chain over a zone's names in canonical order, built with the table, and the lookups the
//! query path makes in it: the NSEC that matches or covers a name (binary search over wire
//! names, no allocation).

use crate::model::{Name, Rdata, RecordType, RrSet, wire_form};

/// Longest [`canonical_key`] of a name (every byte escaped, a terminator per label).
pub const KEY_MAX: usize = 2 * 255;

/// Writes into `key` a byte string whose plain order is the canonical order (RFC 4034 6.1)
/// of the lower-case, uncompressed wire name `name`: its labels from the root, each escaped
/// (bytes 0 and 1 as 1,1 and 1,2) and ended by a 0, so that a label sorts before its longer
/// extensions and a name before the names below it. Returns the key's length.
pub fn canonical_key(name: &[u8], key: &mut [u8; KEY_MAX]) -> usize {
    let mut starts = [0u8; 128];
    let mut labels = 0;
    let mut at = 0;
    while at < name.len() && name[at] != 0 && labels < starts.len() {
        starts[labels] = u8::try_from(at).unwrap_or(u8::MAX);
        labels += 1;
        at += 1 + usize::from(name[at]);
    }
    let mut len = 0;
    for &start in starts[..labels].iter().rev() {
        let start = usize::from(start);
        let label = name.get(start + 1..start + 1 + usize::from(name[start])).unwrap_or_default();
        for &byte in label {
            if byte < 2 {
                key[len] = 1;
                len += 1;
            }
            key[len] = byte.max(1) + u8::from(byte == 1);
            len += 1;
        }
        key[len] = 0;
        len += 1;
    }
    len
}

/// The type bitmap of an NSEC RDATA (RFC 4034 4.1.2) for `types` (any order).
pub fn type_bitmap(types: impl IntoIterator<Item = u16>) -> Vec<u8> {
    let mut types: Vec<u16> = types.into_iter().collect();
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = types[i] >> 8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && types[i] >> 8 == window {
            let low = usize::from(types[i] & 0xFF);
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.extend_from_slice(&[window as u8, len as u8]);
        out.extend_from_slice(&bits[..len]);
    }
    out
}

/// The NSEC RRset of a name whose successor in the chain is `next` and which owns `types`
/// (RRSIG and NSEC added), with the negative TTL (RFC 9077: the SOA's TTL or minimum, the
/// smaller).
pub fn nsec(next: &Name, types: impl IntoIterator<Item = u16>, ttl: u32) -> RrSet {
    let types = types.into_iter().chain([RecordType::RRSIG.into(), RecordType::NSEC.into()]);
    let mut data = wire_form(next.iter());
    data.extend_from_slice(&type_bitmap(types));
    let nsec = Rdata::Opaque { rtype: RecordType::NSEC, data: data.into() };
    RrSet { rtype: RecordType::NSEC, ttl, rdatas: vec![nsec] }
}

/// Pre-encoded records proving something: an NSEC and its RRSIGs, owner names in full.
#[derive(Debug, Clone, Default)]
pub struct Proof {
    pub wire: Box<[u8]>,
    pub records: u16,
}

/// One name's NSEC in the chain: fixed, or (for names whose types follow health) compiled
/// with the table for each health state.
#[derive(Debug)]
pub enum Link {
    Static(Proof),
    /// Index into the table's health-dependent proofs.
    Dynamic(usize),
}

/// A zone's NSEC chain: owners in canonical order (as [`canonical_key`]s), each with its NSEC.
#[derive(Debug, Default)]
pub struct Chain {
    pub owners: Box<[Box<[u8]>]>,
    pub links: Box<[Link]>,
}

impl Chain {
    /// The chain of `owners` (lower-case wire names in canonical order) and their links.
    pub fn new(owners: impl Iterator<Item = Vec<u8>>, links: Box<[Link]>) -> Chain {
        let mut key = [0; KEY_MAX];
        let owners = owners
            .map(|owner| {
                let len = canonical_key(&owner, &mut key);
                key[..len].into()
            })
            .collect();
        Chain { owners, links }
    }

    /// The link of the greatest owner at or before the wire name `name` in canonical order:
    /// the NSEC of `name` itself when it owns one, else the NSEC covering it. Names before
    /// the apex (not in the zone) get the last link.
    pub fn at_or_before(&self, name: &[u8]) -> Option<&Link> {
        let mut key = [0; KEY_MAX];
        let len = canonical_key(name, &mut key);
        let key = &key[..len];
        let after = self.owners.partition_point(|owner| **owner <= *key);
        self.links.get(after.checked_sub(1).unwrap_or(self.links.len().wrapping_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(name: &str) -> Vec<u8> {
        wire_form(crate::model::presentation_name(name).unwrap().iter())
    }

    #[test]
    fn keys_sort_in_canonical_order() {
        // RFC 4034 section 6.1's example in order, and names with bytes 0 and 1 in labels.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\000.z.example.",
            "\\000\\000.z.example.",
            "\\001.z.example.",
            "\\001.\\001.z.example.",
            "\\001\\000.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let keys: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                let mut key = [0; KEY_MAX];
                let len = canonical_key(&wire(n), &mut key);
                key[..len].to_vec()
            })
            .collect();
        for (pair, names) in keys.windows(2).zip(names.windows(2)) {
            assert!(pair[0] < pair[1], "{names:?}");
        }
        let parsed: Vec<Name> = names.iter().map(|n| crate::model::presentation_name(n).unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "hickory orders them alike");
    }

    #[test]
    fn bitmap_matches_rfc_4034_example() {
        // A MX RRSIG NSEC TYPE1234 (section 4.3).
        let bitmap = type_bitmap([1, 15, 46, 47, 1234]);
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend([0; 26]);
        expected.push(0x20);
        assert_eq!(bitmap, expected);
    }
}
