//! Operator overrides: force an endpoint, or every endpoint of a pool, up or down regardless
//! of its health checks, with a reason and an optional expiry. Pure data; the publisher
//! applies them, the state file keeps them across restarts.

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
}

/// Every override in force, by subject. Serialised as a list of entries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Entry>", into = "Vec<Entry>")]
pub struct Overrides(BTreeMap<Subject, Override>);

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    subject: Subject,
    #[serde(flatten)]
    value: Override,
}

impl From<Vec<Entry>> for Overrides {
    fn from(entries: Vec<Entry>) -> Overrides {
        Overrides(entries.into_iter().map(|e| (e.subject, e.value)).collect())
    }
}

impl From<Overrides> for Vec<Entry> {
    fn from(overrides: Overrides) -> Vec<Entry> {
        overrides.0.into_iter().map(|(subject, value)| Entry { subject, value }).collect()
    }
}

impl Overrides {
    pub fn set(&mut self, subject: Subject, value: Override) {
        self.0.insert(subject, value);
    }

    pub fn clear(&mut self, subject: &Subject) -> Option<Override> {
        self.0.remove(subject)
    }

    /// The override in force for an endpoint: its own, else its pool's.
    pub fn for_endpoint(&self, zone: &str, pool: &str, endpoint: &str) -> Option<(&Subject, &Override)> {
        if self.0.is_empty() {
            return None;
        }
        let mut subject = Subject { zone: zone.into(), pool: pool.into(), endpoint: Some(endpoint.into()) };
        if let Some(found) = self.0.get_key_value(&subject) {
            return Some(found);
        }
        subject.endpoint = None;
        self.0.get_key_value(&subject)
    }

    pub fn for_pool(&self, zone: &str, pool: &str) -> Option<&Override> {
        self.0.get(&Subject { zone: zone.into(), pool: pool.into(), endpoint: None })
    }

    /// Removes overrides whose time is up; returns them.
    pub fn expire(&mut self, now: SystemTime) -> Vec<(Subject, Override)> {
        let expired: Vec<Subject> =
            self.0.iter().filter(|(_, o)| o.until.is_some_and(|u| u <= now)).map(|(s, _)| s.clone()).collect();
        expired.into_iter().filter_map(|s| self.0.remove_entry(&s)).collect()
    }

    /// Keeps only overrides for which `exists` holds (after a reload removed things).
    pub fn retain(&mut self, mut exists: impl FnMut(&Subject) -> bool) -> Vec<Subject> {
        let gone: Vec<Subject> = self.0.keys().filter(|s| !exists(s)).cloned().collect();
        gone.iter().for_each(|s| drop(self.0.remove(s)));
        gone
    }

    pub fn next_expiry(&self) -> Option<SystemTime> {
        self.0.values().filter_map(|o| o.until).min()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Subject, &Override)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn forced(state: Forced, until: Option<SystemTime>) -> Override {
        Override { state, reason: "test".into(), set_at: SystemTime::now(), until }
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
    }
}
