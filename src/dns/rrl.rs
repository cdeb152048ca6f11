//! Response-rate limiting (RRL), off by default: each client network (a /24 for IPv4, a /56
//! for IPv6 by default) gets `responses_per_second` answers per second, with one second of
//! burst. Beyond that, every `slip`-th response is sent truncated (TC set, no records), so a
//! real client behind a spoofed flood retries over TCP and is served, and the rest are dropped;
//! a reflection attack gets nothing larger than the query back. `slip: 0` drops them all.
//!
//! Each UDP worker keeps its own table (no locks on the query path), so the limit applies per
//! worker: with N workers a network may get up to N times the rate when the kernel spreads
//! its queries over several sockets. The table is bounded: when full, it is cleared.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Most client networks remembered per worker before the table is cleared.
const MAX_NETWORKS: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrlSettings {
    pub responses_per_second: u32,
    /// Every n-th limited response is sent truncated; 0 drops them all.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

impl Default for RrlSettings {
    fn default() -> Self {
        RrlSettings { responses_per_second: 20, slip: 2, ipv4_prefix: 24, ipv6_prefix: 56 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send a truncated response (TC=1, empty sections) instead.
    Slip,
    Drop,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    limited: u32,
}

pub struct RateLimiter {
    settings: RrlSettings,
    buckets: HashMap<u128, Bucket, foldhash::fast::RandomState>,
}

impl RateLimiter {
    pub fn new(settings: RrlSettings) -> RateLimiter {
        RateLimiter { settings, buckets: HashMap::default() }
    }

    /// Whether a response to `client` may go out now.
    pub fn check(&mut self, client: IpAddr, now: Instant) -> Verdict {
        if self.buckets.len() >= MAX_NETWORKS {
            self.buckets.clear();
        }
        let rate = f64::from(self.settings.responses_per_second);
        let bucket =
            self.buckets.entry(self.network(client)).or_insert(Bucket { tokens: rate, refilled: now, limited: 0 });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Send;
        }
        bucket.limited = bucket.limited.wrapping_add(1);
        match self.settings.slip {
            0 => Verdict::Drop,
            slip if bucket.limited.is_multiple_of(slip) => Verdict::Slip,
            _ => Verdict::Drop,
        }
    }

    /// The client's network as a key: the address masked to the configured prefix.
    fn network(&self, client: IpAddr) -> u128 {
        match client {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                let prefix = self.settings.ipv4_prefix.min(32);
                let masked = if prefix == 0 { 0 } else { bits & (u32::MAX << (32 - prefix)) };
                u128::from(masked) | 1 << 127 // keep v4 and v6 keys apart
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let prefix = self.settings.ipv6_prefix.min(128);
                if prefix == 0 { 0 } else { bits & (u128::MAX << (128 - u32::from(prefix))) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_network_gets_its_rate_then_every_slipth_truncated() {
        let mut rrl = RateLimiter::new(RrlSettings { responses_per_second: 5, slip: 2, ..RrlSettings::default() });
        let t = Instant::now();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let neighbour: IpAddr = "198.51.100.200".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..9).map(|_| rrl.check(client, t)).collect();
        use Verdict::{Drop, Send, Slip};
        assert_eq!(verdicts, [Send, Send, Send, Send, Send, Drop, Slip, Drop, Slip]);
        assert_eq!(rrl.check(neighbour, t), Drop, "the same /24 shares the budget");
        assert_eq!(rrl.check("198.51.101.7".parse().unwrap(), t), Send, "another /24 does not");
        // A second later the budget is back.
        assert_eq!(rrl.check(client, t + Duration::from_secs(1)), Send);
    }

    #[test]
    fn slip_zero_drops_everything_over_the_rate() {
        let mut rrl = RateLimiter::new(RrlSettings { responses_per_second: 1, slip: 0, ..RrlSettings::default() });
        let t = Instant::now();
        let client: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(rrl.check(client, t), Verdict::Send);
        assert!((0..10).all(|_| rrl.check(client, t) == Verdict::Drop));
        assert_eq!(rrl.check("2001:db8:0:ff::1".parse().unwrap(), t), Verdict::Drop, "same /56");
        assert_eq!(rrl.check("2001:db8:1::1".parse().unwrap(), t), Verdict::Send);
    }
}
