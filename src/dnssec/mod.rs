//! DNSSEC: keys (`key`), signatures made when answers are compiled (`sign`), and NSEC
//! denial of existence over the table's names (`denial`). Every answer a health state can
//! produce is signed before the table holding it is published, so a signed answer costs the
//! query path what an unsigned one costs, and a failover publishes answers already signed.

pub mod denial;
pub mod key;
pub mod sign;

pub use key::{Algorithm, KeyPair, Role, State, ZoneKey};
pub use sign::{Signing, Window, ZoneSigner};

use crate::model::{Name, Rdata, RecordType, RrSet};

/// Types a signed zone's records of which switchyard makes (a zone file may not write them).
pub fn generated(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::DNSKEY
            | RecordType::RRSIG
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
            | RecordType::CDS
            | RecordType::CDNSKEY
    )
}

/// The apex RRsets a signed zone publishes: DNSKEY (every key, active or published), and
/// CDS and CDNSKEY (RFC 7344) for the keys the parent's DS should point at.
pub fn apex_rrsets(origin: &Name, signing: &Signing, ttl: u32) -> Vec<RrSet> {
    let set = |rtype, rdatas: Vec<Vec<u8>>| RrSet {
        rtype,
        ttl,
        rdatas: rdatas.into_iter().map(|data| Rdata::Opaque { rtype, data: data.into() }).collect(),
    };
    let entry_points: Vec<&ZoneKey> = signing.keys.iter().filter(|k| k.role.signs_keys()).collect();
    vec![
        set(RecordType::DNSKEY, signing.keys.iter().map(|k| k.dnskey.clone()).collect()),
        set(RecordType::CDS, entry_points.iter().map(|k| k.ds(origin)).collect()),
        set(RecordType::CDNSKEY, entry_points.iter().map(|k| k.dnskey.clone()).collect()),
    ]
}
