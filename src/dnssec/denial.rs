//! Authenticated denial of existence with NSEC (RFC 4034 section 4, RFC 4035 section 3.1.3):
//! the chain over a zone's names in canonical order, built with the table, and the lookups the
//! query path makes in it: the NSEC that matches or covers a name (binary search over wire
//! names, no allocation).

use std::cmp::Ordering;

use crate::model::{Name, Rdata, RecordType, RrSet, wire_form};

/// Compares two lower-case, uncompressed wire names in canonical order (RFC 4034 6.1): label
/// by label from the root, each label as an octet string where a shorter prefix sorts first.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a_labels, mut b_labels) = ([0u8; 128], [0u8; 128]);
    let (na, nb) = (label_starts(a, &mut a_labels), label_starts(b, &mut b_labels));
    for (&i, &j) in a_labels[..na].iter().rev().zip(b_labels[..nb].iter().rev()) {
        let (i, j) = (usize::from(i), usize::from(j));
        let la = &a[i + 1..i + 1 + usize::from(a[i])];
        let lb = &b[j + 1..j + 1 + usize::from(b[j])];
        match la.cmp(lb) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    na.cmp(&nb)
}

/// Offsets of each label's length byte (the root excluded); returns how many.
fn label_starts(name: &[u8], starts: &mut [u8; 128]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < name.len() && name[at] != 0 && n < starts.len() {
        starts[n] = u8::try_from(at).unwrap_or(u8::MAX);
        n += 1;
        at += 1 + usize::from(name[at]);
    }
    n
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

/// A zone's NSEC chain: owners in canonical order, each with its NSEC.
#[derive(Debug, Default)]
pub struct Chain {
    pub owners: Box<[Box<[u8]>]>,
    pub links: Box<[Link]>,
}

impl Chain {
    /// The link of the greatest owner at or before `name` in canonical order: the NSEC of
    /// `name` itself when it owns one, else the NSEC covering it. Names before the apex (not
    /// in the zone) get the last link.
    pub fn at_or_before(&self, name: &[u8]) -> Option<&Link> {
        let after = self.owners.partition_point(|owner| canonical_cmp(owner, name) != Ordering::Greater);
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
    fn canonical_order_is_rfc_4034_example() {
        // RFC 4034 section 6.1's example, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let wires: Vec<Vec<u8>> = names.iter().map(|n| wire(n)).collect();
        for pair in wires.windows(2) {
            assert_eq!(canonical_cmp(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(canonical_cmp(&pair[1], &pair[0]), Ordering::Greater);
        }
        assert_eq!(canonical_cmp(&wires[3], &wires[3]), Ordering::Equal);
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
