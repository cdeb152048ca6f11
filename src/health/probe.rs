//! Probes: one HTTP(S) request or TCP connect against an endpoint, bounded in time and in
//! what it reads. Plain HTTP is one HTTP/1 exchange on a fresh connection (hyper's connection
//! API, nothing else); HTTPS goes through a client shared per TLS setting ([`super::clients`]).
//! Probes only report results; [`super::state`] decides up or down.

use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes};
use hyper_util::rt::TokioIo;

use super::clients::{Clients, Request};
use super::state::{CheckResult, Failure};
use crate::model::{Check, HttpCheck, Probe};

/// Most of a response body read when looking for `expect_body`.
const BODY_LIMIT: usize = 64 * 1024;

pub struct Prober {
    probe: Probe,
    /// The shared client for HTTPS checks.
    https: Option<Request>,
}

impl Prober {
    pub fn new(probe: Probe, clients: &Clients) -> Result<Prober, String> {
        let https = match &probe.check {
            Check::Http(check) if check.tls => Some(clients.request(&probe, check)?),
            _ => None,
        };
        Ok(Prober { probe, https })
    }

    pub async fn check(&self) -> CheckResult {
        let started = Instant::now();
        // The outer bound covers everything (connect, TLS, headers, body).
        let outcome = tokio::time::timeout(self.probe.timeout, async {
            match (&self.probe.check, &self.https) {
                (Check::Http(check), Some(request)) => https_check(check, request).await,
                (Check::Http(check), None) => http_check(&self.probe, check).await,
                (Check::Tcp, _) => tcp_check(&self.probe).await,
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

/// One plain HTTP/1.1 exchange on a fresh connection (`Connection: close`).
async fn http_check(probe: &Probe, check: &HttpCheck) -> Result<String, Failure> {
    let stream = tokio::net::TcpStream::connect(probe.target).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        _ => Failure::Other(format!("connect: {e}")),
    })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| hyper_failure(&e))?;
    // The connection is driven beside the request; it ends with the probe.
    let connection = tokio::spawn(connection);
    let _abort = AbortOnDrop(connection.abort_handle());
    let host = check.host.clone().unwrap_or_else(|| match probe.target.ip() {
        ip if ip.is_ipv6() => format!("[{ip}]:{}", probe.target.port()),
        ip => format!("{ip}:{}", probe.target.port()),
    });
    let mut request = hyper::Request::get(&check.path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, concat!("switchyard/", env!("CARGO_PKG_VERSION"), " health-check"))
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| Failure::Other(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| hyper_failure(&e))?;
    let status = response.status().as_u16();
    accepted(check, status)?;
    if let Some(expected) = &check.expect_body {
        let mut body = response.into_body();
        let mut scan = BodyScan::new(expected);
        while scan.wants_more() && !body.is_end_stream() {
            match body.frame().await {
                Some(Ok(frame)) => scan.feed(&frame.into_data().unwrap_or_default()),
                Some(Err(e)) => return Err(hyper_failure(&e)),
                None => break,
            }
        }
        scan.verdict()?;
    }
    Ok(format!("HTTP {status}"))
}

/// Looks for `expect_body` in at most [`BODY_LIMIT`] bytes of a body read chunk by chunk.
struct BodyScan<'a> {
    expected: &'a [u8],
    seen: Vec<u8>,
    found: bool,
}

impl<'a> BodyScan<'a> {
    fn new(expected: &'a str) -> BodyScan<'a> {
        BodyScan { expected: expected.as_bytes(), seen: Vec::new(), found: expected.is_empty() }
    }

    fn wants_more(&self) -> bool {
        !self.found && self.seen.len() < BODY_LIMIT
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.seen.extend_from_slice(chunk);
        self.found = self.found || self.seen.windows(self.expected.len()).any(|w| w == self.expected);
    }

    fn verdict(&self) -> Result<(), Failure> {
        if self.found { Ok(()) } else { Err(Failure::BodyMismatch) }
    }
}

/// Aborts the connection task when the probe ends (done or timed out).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn hyper_failure(e: &hyper::Error) -> Failure {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        Failure::ConnectionClosed
    } else {
        Failure::Other(e.to_string())
    }
}

/// Whether the status is one the check accepts (2xx unless `expect_status` lists others).
fn accepted(check: &HttpCheck, status: u16) -> Result<(), Failure> {
    let ok = match check.expect_status.is_empty() {
        true => (200..300).contains(&status),
        false => check.expect_status.contains(&status),
    };
    if ok { Ok(()) } else { Err(Failure::BadStatus(status)) }
}

/// An HTTPS request through the shared client.
async fn https_check(check: &HttpCheck, request: &Request) -> Result<String, Failure> {
    let mut request = request.client.get(&request.url);
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    accepted(check, status)?;
    if let Some(expected) = &check.expect_body {
        let mut scan = BodyScan::new(expected);
        while scan.wants_more() {
            match response.chunk().await.map_err(|e| describe(&e))? {
                Some(chunk) => scan.feed(&chunk),
                None => break,
            }
        }
        scan.verdict()?;
    }
    Ok(format!("HTTP {status}"))
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
