//! Wall-clock times as Unix seconds (fractional), for JSON documents and metrics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serializer};

pub fn seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A wall-clock time as people and logs read it: `2026-11-30T15:07:16Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub fn now() -> f64 {
    seconds(SystemTime::now())
}

fn from_seconds<E: serde::de::Error>(secs: f64) -> Result<SystemTime, E> {
    Duration::try_from_secs_f64(secs).map(|d| UNIX_EPOCH + d).map_err(E::custom)
}

pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(seconds(*t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    from_seconds(f64::deserialize(d)?)
}

/// The same for `Option<SystemTime>` (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&seconds(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<f64>::deserialize(d)?.map(from_seconds).transpose()
    }
}
