//! The immutable answer table read by the query path: a hash map from lower-case wire
//! names to precompiled answers. Lookup takes no lock, allocates nothing and cannot fail
//! except by finding nothing (a name outside every zone: REFUSED).

use std::collections::HashMap;
use std::sync::Arc;

use super::template::{Denial, Serial, Template};
use crate::dnssec::denial::{Chain, Link, Proof};

/// Answers for one owner name, or for the names a wildcard synthesises.
#[derive(Debug)]
pub struct AnswerSet {
    pub(super) by_type: Box<[(u16, Answer)]>,
    /// For every type not listed: NODATA, a referral, or a CNAME with its chase.
    pub(super) otherwise: Answer,
}

impl AnswerSet {
    pub fn get(&self, qtype: u16) -> &Answer {
        self.by_type.iter().find(|(t, _)| *t == qtype).map_or(&self.otherwise, |(_, a)| a)
    }
}

/// One answer, or weighted alternatives (cumulative weights out of [`Answer::TOTAL`]).
#[derive(Debug, Clone)]
pub struct Answer {
    pub(super) variants: Box<[(u32, Arc<Template>)]>,
}

impl Answer {
    pub const TOTAL: u32 = 1 << 24;

    pub fn single(template: Arc<Template>) -> Answer {
        Answer { variants: Box::new([(Answer::TOTAL, template)]) }
    }

    /// The template to send; weighted alternatives are drawn at random (no allocation).
    pub fn pick(&self) -> &Template {
        match &*self.variants {
            [(_, only)] => only,
            variants => {
                let draw = fastrand::u32(0..variants.last().map_or(1, |v| v.0.max(1)));
                let i = variants.partition_point(|(cumulative, _)| *cumulative <= draw);
                &variants[i.min(variants.len() - 1)].1
            }
        }
    }

    pub fn variants(&self) -> impl Iterator<Item = &Template> {
        self.variants.iter().map(|(_, t)| &**t)
    }

    /// Each alternative with the share of queries it answers (summing to 1).
    pub fn shares(&self) -> impl Iterator<Item = (f64, &Template)> {
        let mut previous = 0;
        self.variants.iter().map(move |(cumulative, t)| {
            let share = f64::from(cumulative - previous) / f64::from(Answer::TOTAL);
            previous = *cumulative;
            (share, &**t)
        })
    }
}

#[derive(Debug)]
pub(super) enum Slot {
    Static(AnswerSet),
    /// Index into [`AnswerTable::dynamic`]: answers that depend on health.
    Dynamic(usize),
}

/// A name of the table. Small: a big zone has a million.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) answers: Slot,
    /// Answers for names synthesised from `*.<this name>` (few names have a wildcard child).
    pub(super) wildcard: Option<Box<Slot>>,
    /// The zone the name is in: names under it that do not exist get its NXDOMAIN.
    pub(super) zone: u16,
    /// At or below a zone cut: names under it get the referral in `answers.otherwise`.
    pub(super) delegated: bool,
}

/// The part of a table that only a reload changes.
#[derive(Debug, Default)]
pub struct StaticTable {
    /// Zone origins, indexed by [`Template::zone`].
    pub(super) zones: Arc<[String]>,
    pub(super) names: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
    /// Per zone, its NXDOMAIN answer.
    pub(super) nxdomains: Box<[Answer]>,
    /// Per zone, its NSEC chain (empty for an unsigned zone).
    pub(super) chains: Box<[Chain]>,
}

/// What the query path reads: static entries shared across health changes, plus the
/// health-dependent answer sets compiled for the current health state.
#[derive(Debug, Default, Clone)]
pub struct AnswerTable {
    pub(super) statics: Arc<StaticTable>,
    pub(super) dynamic: Arc<[AnswerSet]>,
    /// The NSEC records of names whose types follow health ([`Link::Dynamic`]).
    pub(super) proofs: Arc<[Proof]>,
    /// Per zone, the serial its SOA records carry now, when it moves with transfers (new
    /// versions of the zone's data), over the one compiled into the templates.
    pub(super) serials: Arc<[Option<Serial>]>,
}

impl AnswerTable {
    /// The answer for a lower-case wire-format query name, or `None` when no served zone
    /// contains it.
    pub fn lookup(&self, qname: &[u8], qtype: u16) -> Option<&Template> {
        self.find(qname, qtype).map(Answer::pick)
    }

    /// The answer with all its alternatives (what [`AnswerTable::lookup`] picks from).
    pub fn find(&self, qname: &[u8], qtype: u16) -> Option<&Answer> {
        self.locate(qname, qtype).map(|(answer, _)| answer)
    }

    /// The answer, and where in `qname` the name it was found at starts: 0 for the name
    /// itself, else the closest encloser (for a wildcard's or an NXDOMAIN's proofs).
    pub fn locate(&self, qname: &[u8], qtype: u16) -> Option<(&Answer, usize)> {
        let names = &self.statics.names;
        if let Some(entry) = names.get(qname) {
            return Some((self.slot(&entry.answers).get(qtype), 0));
        }
        // Walk up to the closest encloser (RFC 4592): a delegation, a wildcard or NXDOMAIN.
        let mut rest = qname;
        while rest.len() > 1 {
            rest = &rest[1 + rest[0] as usize..];
            if let Some(entry) = names.get(rest) {
                let answer = if entry.delegated {
                    &self.slot(&entry.answers).otherwise
                } else if let Some(wildcard) = &entry.wildcard {
                    self.slot(wildcard).get(qtype)
                } else {
                    &self.statics.nxdomains[usize::from(entry.zone)]
                };
                return Some((answer, qname.len() - rest.len()));
            }
        }
        None
    }

    /// The NSEC records (with their RRSIGs) that `template`, a signed answer to `qname`
    /// found at `encloser` (see [`AnswerTable::locate`]), carries besides its body.
    pub fn proofs(&self, template: &Template, qname: &[u8], encloser: usize) -> [Option<&Proof>; 2] {
        let chain = self.statics.chains.get(usize::from(template.zone)).filter(|_| template.denial != Denial::None);
        let Some(chain) = chain else { return [None, None] };
        let at_or_before = |name: &[u8]| chain.at_or_before(name).map(|link| self.proof(link));
        match template.denial {
            Denial::None => [None, None],
            Denial::Name | Denial::Answer => [at_or_before(qname), None],
            Denial::NameAndWildcard => {
                // The source of synthesis, `*.<closest encloser>`, built on the stack.
                let encloser = &qname[encloser.min(qname.len())..];
                let mut source = [0u8; 2 + 255];
                source[..2].copy_from_slice(&[1, b'*']);
                source[2..2 + encloser.len()].copy_from_slice(encloser);
                let covering = at_or_before(qname);
                let wildcard = at_or_before(&source[..2 + encloser.len()]);
                let same = matches!((covering, wildcard), (Some(a), Some(b)) if std::ptr::eq(a, b));
                [covering, wildcard.filter(|_| !same)]
            }
        }
    }

    fn proof<'a>(&'a self, link: &'a Link) -> &'a Proof {
        match link {
            Link::Static(proof) => proof,
            Link::Dynamic(i) => &self.proofs[*i],
        }
    }

    fn slot<'a>(&'a self, slot: &'a Slot) -> &'a AnswerSet {
        match slot {
            Slot::Static(set) => set,
            Slot::Dynamic(i) => &self.dynamic[*i],
        }
    }

    /// The serial of zone `zone`'s SOA records, when it differs from the compiled one.
    pub fn serial(&self, zone: u16) -> Option<&Serial> {
        self.serials.get(usize::from(zone)).and_then(Option::as_ref)
    }

    /// The same answers, their SOA records carrying `serials` (per zone).
    pub fn with_serials(&self, serials: Arc<[Option<Serial>]>) -> AnswerTable {
        AnswerTable { serials, ..self.clone() }
    }

    /// Zone origins, indexed by [`Template::zone`]; shared by every table of one reload.
    pub fn zones(&self) -> &Arc<[String]> {
        &self.statics.zones
    }
}
