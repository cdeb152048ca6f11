//! Operator overrides: force an endpoint, or every endpoint of a pool, up or down regardless
//! of its health checks, with a reason and an optional expiry. Pure data; the publisher
//! applies them, the state file keeps them across restarts.
//!
//! In a fleet every node holds the same set: each override (and each clearing, kept as a
//! [`Cleared`] mark) is stamped with when and by which node it was made, and [`Overrides::merge`]
//! keeps, per subject, the latest stamp (later time wins, then the greater node name), so
//! nodes that have seen the same changes hold the same overrides whatever the order.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forced {
    Up,
    Down,
}

impl Forced {
    pub fn label(self) -> &'static str {
        match self {
            Forced::Up => "up",
            Forced::Down => "down",
        }
    }
}

/// What an override applies to: a whole pool, or one endpoint of it (by its label).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject {
    pub zone: String,
    pub pool: String,
    pub endpoint: Option<String>,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.endpoint {
            Some(endpoint) => write!(f, "{} pool {} endpoint {}", self.zone, self.pool, endpoint),
            None => write!(f, "{} pool {}", self.zone, self.pool),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub state: Forced,
    pub reason: String,
    #[serde(with = "crate::unix_time")]
    pub set_at: SystemTime,
    #[serde(with = "crate::unix_time::option")]
    pub until: Option<SystemTime>,
    /// The node it was set on (`node:`).
    #[serde(default)]
    pub author: String,
}

/// When and where an override was cleared (`auto`): a clearing is a change like any other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cleared {
    #[serde(with = "crate::unix_time")]
    pub at: SystemTime,
    pub author: String,
}

/// Every override in force, by subject, and the clearings that won over earlier overrides.
/// Serialised as a list of entries (the form of earlier state files), or as both lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Overrides {
    active: BTreeMap<Subject, Override>,
    cleared: BTreeMap<Subject, Cleared>,
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    #[serde(flatten)]
    subject: Subject,
    #[serde(flatten)]
    value: T,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Both { active: Vec<Entry<Override>>, cleared: Vec<Entry<Cleared>> },
    Active(Vec<Entry<Override>>),
}

impl From<Stored> for Overrides {
    fn from(stored: Stored) -> Overrides {
        let (active, cleared) = match stored {
            Stored::Both { active, cleared } => (active, cleared),
            Stored::Active(active) => (active, Vec::new()),
        };
        Overrides {
            active: active.into_iter().map(|e| (e.subject, e.value)).collect(),
            cleared: cleared.into_iter().map(|e| (e.subject, e.value)).collect(),
        }
    }
}

impl From<Overrides> for Stored {
    fn from(overrides: Overrides) -> Stored {
        Stored::Both {
            active: overrides.active.into_iter().map(|(subject, value)| Entry { subject, value }).collect(),
            cleared: overrides.cleared.into_iter().map(|(subject, value)| Entry { subject, value }).collect(),
        }
    }
}

/// What orders changes to one subject: the later time (in milliseconds: times travel as
/// fractional seconds, which do not keep every nanosecond), then the greater node name.
pub type Stamp<'a> = (i64, &'a str);

fn millis(t: SystemTime) -> i64 {
    (crate::unix_time::seconds(t) * 1000.0).round() as i64
}

impl Override {
    pub fn stamp(&self) -> Stamp<'_> {
        (millis(self.set_at), &self.author)
    }
}

impl Cleared {
    fn stamp(&self) -> Stamp<'_> {
        (millis(self.at), &self.author)
    }
}

impl Overrides {
    pub fn set(&mut self, subject: Subject, value: Override) {
        self.cleared.remove(&subject);
        self.active.insert(subject, value);
    }

    /// Clears the subject's override (at `at`, by `author`); returns it.
    pub fn clear(&mut self, subject: &Subject, at: SystemTime, author: &str) -> Option<Override> {
        self.cleared.insert(subject.clone(), Cleared { at, author: author.into() });
        self.active.remove(subject)
    }

    fn stamp(&self, subject: &Subject) -> Option<Stamp<'_>> {
        self.active.get(subject).map(Override::stamp).or_else(|| self.cleared.get(subject).map(Cleared::stamp))
    }

    /// Takes every change of `other` later than what this set holds for its subject, except
    /// for subjects `exists` rejects and overrides expired by `now`. Returns whether
    /// anything changed.
    pub fn merge(&mut self, other: &Overrides, now: SystemTime, exists: impl Fn(&Subject) -> bool) -> bool {
        let mut changed = false;
        for (subject, o) in other.active.iter().filter(|(s, o)| exists(s) && o.until.is_none_or(|u| u > now)) {
            if self.stamp(subject).is_none_or(|mine| mine < o.stamp()) {
                self.set(subject.clone(), o.clone());
                changed = true;
            }
        }
        for (subject, c) in other.cleared.iter().filter(|(s, _)| exists(s)) {
            if self.stamp(subject).is_none_or(|mine| mine < c.stamp()) {
                self.active.remove(subject);
                self.cleared.insert(subject.clone(), c.clone());
                changed = true;
            }
        }
        changed
    }

    /// The override in force for an endpoint: its own, else its pool's.
    pub fn for_endpoint(&self, zone: &str, pool: &str, endpoint: &str) -> Option<(&Subject, &Override)> {
        if self.active.is_empty() {
            return None;
        }
        let mut subject = Subject { zone: zone.into(), pool: pool.into(), endpoint: Some(endpoint.into()) };
        if let Some(found) = self.active.get_key_value(&subject) {
            return Some(found);
        }
        subject.endpoint = None;
        self.active.get_key_value(&subject)
    }

    pub fn for_pool(&self, zone: &str, pool: &str) -> Option<&Override> {
        self.active.get(&Subject { zone: zone.into(), pool: pool.into(), endpoint: None })
    }

    /// Removes overrides whose time is up; returns them. (Every node expires them at the
    /// same moment: no clearing is recorded.)
    pub fn expire(&mut self, now: SystemTime) -> Vec<(Subject, Override)> {
        let expired: Vec<Subject> =
            self.active.iter().filter(|(_, o)| o.until.is_some_and(|u| u <= now)).map(|(s, _)| s.clone()).collect();
        expired.into_iter().filter_map(|s| self.active.remove_entry(&s)).collect()
    }

    /// Keeps only overrides for which `exists` holds (after a reload removed things); returns
    /// the subjects of the overrides dropped.
    pub fn retain(&mut self, mut exists: impl FnMut(&Subject) -> bool) -> Vec<Subject> {
        self.cleared.retain(|s, _| exists(s));
        let gone: Vec<Subject> = self.active.keys().filter(|s| !exists(s)).cloned().collect();
        gone.iter().for_each(|s| drop(self.active.remove(s)));
        gone
    }

    pub fn next_expiry(&self) -> Option<SystemTime> {
        self.active.values().filter_map(|o| o.until).min()
    }

    /// The overrides in force.
    pub fn iter(&self) -> impl Iterator<Item = (&Subject, &Override)> {
        self.active.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn forced(state: Forced, until: Option<SystemTime>) -> Override {
        Override { state, reason: "test".into(), set_at: SystemTime::now(), until, author: "ns1".into() }
    }

    #[test]
    fn an_endpoint_override_wins_over_its_pool_and_both_expire() {
        let now = SystemTime::now();
        let mut o = Overrides::default();
        let pool = Subject { zone: "z.".into(), pool: "p".into(), endpoint: None };
        let one = Subject { endpoint: Some("192.0.2.1".into()), ..pool.clone() };
        o.set(pool.clone(), forced(Forced::Down, Some(now + Duration::from_secs(60))));
        o.set(one.clone(), forced(Forced::Up, None));
        assert_eq!(o.for_endpoint("z.", "p", "192.0.2.1").unwrap().1.state, Forced::Up);
        assert_eq!(o.for_endpoint("z.", "p", "192.0.2.2").unwrap().1.state, Forced::Down);
        assert!(o.for_endpoint("z.", "q", "192.0.2.2").is_none());
        assert_eq!(o.next_expiry(), Some(now + Duration::from_secs(60)));
        assert!(o.expire(now).is_empty());
        assert_eq!(o.expire(now + Duration::from_secs(60)).len(), 1);
        assert!(o.for_endpoint("z.", "p", "192.0.2.2").is_none());
        let json = serde_json::to_string(&o).unwrap();
        let back: Overrides = serde_json::from_str(&json).unwrap();
        assert_eq!(back.for_endpoint("z.", "p", "192.0.2.1").unwrap().0, &one);
        // A state file from before fleets: a plain list.
        let old = r#"[{"zone":"z.","pool":"p","endpoint":null,"state":"down","reason":"r","set_at":1,"until":null}]"#;
        let old: Overrides = serde_json::from_str(old).unwrap();
        assert_eq!(old.for_pool("z.", "p").unwrap().state, Forced::Down);
    }

    #[test]
    fn merging_keeps_the_latest_change_per_subject_in_any_order() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let pool = Subject { zone: "z.".into(), pool: "p".into(), endpoint: None };
        let at = |secs: u64, author: &str, state| Override {
            state,
            reason: format!("{author} at {secs}"),
            set_at: t + Duration::from_secs(secs),
            until: None,
            author: author.into(),
        };
        let (mut a, mut b, mut c) = (Overrides::default(), Overrides::default(), Overrides::default());
        a.set(pool.clone(), at(1, "ns1", Forced::Down));
        b.set(pool.clone(), at(2, "ns2", Forced::Up));
        c.set(pool.clone(), at(2, "ns3", Forced::Down)); // same time: the greater name wins
        let now = t + Duration::from_secs(10);
        let all = |first: &Overrides, second: &Overrides, third: &Overrides| {
            let mut merged = first.clone();
            merged.merge(second, now, |_| true);
            merged.merge(third, now, |_| true);
            merged
        };
        let abc = all(&a, &b, &c);
        assert_eq!(abc.for_pool("z.", "p").unwrap().author, "ns3");
        assert_eq!(abc, all(&c, &a, &b));
        assert_eq!(abc, all(&b, &c, &a));
        // A later clearing wins over the override, and travels.
        let mut cleared = abc.clone();
        assert!(cleared.clear(&pool, t + Duration::from_secs(3), "ns1").is_some());
        let mut other = abc.clone();
        assert!(other.merge(&cleared, now, |_| true));
        assert!(other.for_pool("z.", "p").is_none());
        assert!(!other.merge(&abc, now, |_| true), "an earlier override does not come back");
        // Expired or unknown subjects are not taken.
        let mut expired = Overrides::default();
        let mut late = at(5, "ns2", Forced::Up);
        late.until = Some(t + Duration::from_secs(6));
        expired.set(pool.clone(), late);
        assert!(!other.clone().merge(&expired, now, |_| true));
        assert!(!Overrides::default().merge(&abc, now, |_| false));
    }
}
