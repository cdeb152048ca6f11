//! Peer authentication with the shared secret: every request carries the asking node's name,
//! the time and an HMAC-SHA256 over both and the path; every answer carries an HMAC over the
//! request's MAC and the body, so neither can be forged, and an answer cannot be replayed to
//! another request. Requests older or newer than [`MAX_SKEW`] are refused (replay window).

use std::time::{Duration, SystemTime};

use ring::hmac;

pub const NODE: &str = "x-switchyard-node";
pub const TIME: &str = "x-switchyard-time";
pub const SIGNATURE: &str = "x-switchyard-signature";

/// How far a request's time may be from ours.
pub const MAX_SKEW: Duration = Duration::from_secs(30);

/// The shared secret as an HMAC key.
#[derive(Clone)]
pub struct Secret(hmac::Key);

impl Secret {
    pub fn new(secret: &[u8]) -> Secret {
        Secret(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn request_text(node: &str, time: u64, path: &str) -> String {
        format!("switchyard-peer\n{node}\n{time}\n{path}")
    }

    /// The request MAC (hex) of `node` asking for `path` (with its query) at `time`.
    pub fn sign_request(&self, node: &str, time: u64, path: &str) -> String {
        data_encoding::HEXLOWER.encode(hmac::sign(&self.0, Self::request_text(node, time, path).as_bytes()).as_ref())
    }

    /// Checks a request's headers: a known secret, the same node, time and path, a recent time.
    pub fn verify_request(&self, node: &str, time: &str, path: &str, mac: &str) -> Result<(), &'static str> {
        let time: u64 = time.parse().map_err(|_| "bad x-switchyard-time")?;
        let now = crate::unix_time::now() as u64;
        if now.abs_diff(time) > MAX_SKEW.as_secs() {
            return Err("request time too far from ours (clocks out of sync, or a replay)");
        }
        let mac = data_encoding::HEXLOWER_PERMISSIVE.decode(mac.as_bytes()).map_err(|_| "bad signature")?;
        hmac::verify(&self.0, Self::request_text(node, time, path).as_bytes(), &mac).map_err(|_| "bad signature")
    }

    /// The answer MAC (hex) for `body`, sent to the request whose MAC was `request`.
    pub fn sign_answer(&self, request: &str, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(request.as_bytes());
        context.update(body);
        data_encoding::HEXLOWER.encode(context.sign().as_ref())
    }

    pub fn verify_answer(&self, request: &str, body: &[u8], mac: &str) -> bool {
        let Ok(mac) = data_encoding::HEXLOWER_PERMISSIVE.decode(mac.as_bytes()) else { return false };
        hmac::verify(&self.0, &[request.as_bytes(), body].concat(), &mac).is_ok()
    }
}

/// Seconds since the epoch, for a request's time header.
pub fn time_header(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_bound_to_the_secret_the_path_and_each_other() {
        let secret = Secret::new(b"0123456789abcdef");
        let now = time_header(SystemTime::now());
        let mac = secret.sign_request("ns1", now, "/fleet/exchange?since=0");
        assert_eq!(secret.verify_request("ns1", &now.to_string(), "/fleet/exchange?since=0", &mac), Ok(()));
        assert!(secret.verify_request("ns2", &now.to_string(), "/fleet/exchange?since=0", &mac).is_err());
        assert!(secret.verify_request("ns1", &now.to_string(), "/fleet/exchange?since=9", &mac).is_err());
        let other = Secret::new(b"fedcba9876543210");
        assert!(other.verify_request("ns1", &now.to_string(), "/fleet/exchange?since=0", &mac).is_err());
        let old = now - 60;
        let stale = secret.sign_request("ns1", old, "/p");
        assert!(secret.verify_request("ns1", &old.to_string(), "/p", &stale).is_err(), "outside the replay window");
        let answer = secret.sign_answer(&mac, b"{}");
        assert!(secret.verify_answer(&mac, b"{}", &answer));
        assert!(!secret.verify_answer(&mac, b"{ }", &answer));
        assert!(!secret.verify_answer(&stale, b"{}", &answer), "an answer to another request");
    }
}
