//! Probes: one HTTP(S) request or TCP connect against an endpoint, bounded in time and in
//! what it reads. Probes only report results; [`super::state`] decides up or down.

use std::time::Instant;

use super::clients::{Clients, Request};
use super::state::{CheckResult, Failure};
use crate::model::{Check, HttpCheck, Probe};

/// Most of a response body read when looking for `expect_body`.
const BODY_LIMIT: usize = 64 * 1024;

pub struct Prober {
    probe: Probe,
    http: Option<Request>,
}

impl Prober {
    pub fn new(probe: Probe, clients: &Clients) -> Result<Prober, String> {
        let http = match &probe.check {
            Check::Tcp => None,
            Check::Http(check) => Some(clients.request(&probe, check)?),
        };
        Ok(Prober { probe, http })
    }

    pub async fn check(&self) -> CheckResult {
        let started = Instant::now();
        // The outer bound covers everything (connect, TLS, headers, body).
        let outcome = tokio::time::timeout(self.probe.timeout, async {
            match (&self.probe.check, &self.http) {
                (Check::Http(check), Some(request)) => http_check(check, request).await,
                _ => tcp_check(&self.probe).await,
            }
        })
        .await
        .unwrap_or(Err(Failure::Timeout));
        let latency = started.elapsed();
        match outcome {
            Ok(reason) => CheckResult::passed(reason, latency),
            Err(failure) => CheckResult::failed(failure, latency),
        }
    }
}

async fn tcp_check(probe: &Probe) -> Result<String, Failure> {
    match tokio::net::TcpStream::connect(probe.target).await {
        Ok(_) => Ok("connected".into()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Err(e) => Err(Failure::Other(format!("connect: {e}"))),
    }
}

async fn http_check(check: &HttpCheck, request: &Request) -> Result<String, Failure> {
    let mut request = match &request.host {
        Some(host) => request.client.get(&request.url).header(reqwest::header::HOST, host),
        None => request.client.get(&request.url),
    };
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let accepted = if check.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        check.expect_status.contains(&status)
    };
    if !accepted {
        return Err(Failure::BadStatus(status));
    }
    if let Some(expected) = &check.expect_body {
        let mut body = Vec::new();
        while body.len() < BODY_LIMIT {
            match response.chunk().await.map_err(|e| describe(&e))? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
            if contains(&body, expected.as_bytes()) {
                return Ok(format!("HTTP {status}"));
            }
        }
        if !contains(&body, expected.as_bytes()) {
            return Err(Failure::BodyMismatch);
        }
    }
    Ok(format!("HTTP {status}"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// What kind of failure a failed request is: timeout, refused, TLS error, ...
fn describe(e: &reqwest::Error) -> Failure {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        chain.push_str(&err.to_string().to_lowercase());
        chain.push(' ');
        source = err.source();
    }
    if e.is_timeout() || chain.contains("timed out") {
        Failure::Timeout
    } else if chain.contains("refused") {
        Failure::Refused
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake") {
        Failure::Tls(last_cause(e))
    } else if chain.contains("connection closed") || chain.contains("reset") || chain.contains("incomplete message") {
        Failure::ConnectionClosed
    } else {
        Failure::Other(last_cause(e))
    }
}

fn last_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
