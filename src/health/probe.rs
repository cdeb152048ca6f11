//! Probes: one HTTP(S) request or TCP connect against an endpoint, bounded in time and in
//! what it reads. Plain HTTP works like gdnsd's `http_status`: a fresh connection, one
//! HTTP/1.0 request prepared once per probe (1.0, so a body is never chunked and ends at the
//! close), the response head parsed with `httparse`, the body read only for `expect_body`.
//! HTTPS goes through a client shared per TLS setting ([`super::clients`]). Probes only
//! report results; [`super::state`] decides up or down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::clients::{Clients, Request, Source};
use super::signals::{PromRequest, dns_check, unreadable};
use super::state::{CheckResult, Failure, Pass};
use crate::model::{Check, HttpCheck, Probe};

/// Most of a response body read when looking for `expect_body`.
const BODY_LIMIT: usize = 64 * 1024;
/// Most of a response head (status line and headers) read; a longer one is a failure.
const HEAD_LIMIT: usize = 4096;
/// Most response headers parsed.
const MAX_HEADERS: usize = 64;

pub struct Prober {
    probe: Arc<Probe>,
    how: How,
    source: Source,
}

enum How {
    Tcp,
    /// The request bytes, the same for every probe of this endpoint.
    Http(Box<[u8]>),
    /// The shared client and URL.
    Https(Request),
    Prometheus(PromRequest),
    Dns,
}

impl Prober {
    pub fn new(probe: Arc<Probe>, clients: &Clients) -> Result<Prober, String> {
        let how = match &probe.check {
            Check::Tcp => How::Tcp,
            Check::Http(check) if check.tls => How::Https(clients.request(&probe, check)?),
            Check::Http(check) => How::Http(http_request(&probe, check).into()),
            Check::Prometheus(check) => {
                How::Prometheus(PromRequest::new(check, clients.client(check.insecure, check.ca_file.clone())?)?)
            }
            Check::Dns(_) => How::Dns,
        };
        Ok(Prober { probe, how, source: clients.source })
    }

    pub async fn check(&self) -> CheckResult {
        let started = Instant::now();
        // The outer bound covers everything (connect, TLS, head, body).
        let outcome = tokio::time::timeout(self.probe.timeout, async {
            match (&self.how, &self.probe.check) {
                (How::Http(request), Check::Http(check)) => {
                    http_check(self.source, self.probe.target, request, check).await
                }
                (How::Https(request), Check::Http(check)) => https_check(check, request).await,
                (How::Prometheus(request), Check::Prometheus(check)) => request.check(check).await,
                (How::Dns, Check::Dns(check)) => dns_check(self.source, self.probe.target, check).await,
                _ => connect(self.source, self.probe.target).await.map(|_| Pass::Connected),
            }
        })
        .await
        .unwrap_or_else(|_| match &self.probe.check {
            // A metrics system too slow to answer is a query that failed, as `on_error` says.
            Check::Prometheus(check) => unreadable(check.on_error, "timeout".into()),
            _ => Err(Failure::Timeout),
        });
        CheckResult { outcome, latency: started.elapsed() }
    }
}

/// `GET path HTTP/1.0` with Host, User-Agent and the check's own headers.
fn http_request(probe: &Probe, check: &HttpCheck) -> Vec<u8> {
    let host = check.host.clone().unwrap_or_else(|| match probe.target.ip() {
        ip if ip.is_ipv6() => format!("[{ip}]:{}", probe.target.port()),
        ip => format!("{ip}:{}", probe.target.port()),
    });
    let mut request = format!(
        "GET {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: switchyard/{} health-check\r\n",
        check.path,
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in &check.headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    request.into_bytes()
}

/// A fresh connection that ends with a reset when dropped (as gdnsd's and HAProxy's checks
/// do): once the verdict is known nothing more is owed, and neither side keeps a TIME_WAIT
/// socket per probe.
async fn connect(source: Source, target: SocketAddr) -> Result<TcpStream, Failure> {
    let stream = source.connect(target).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        _ => Failure::Other(format!("connect: {e}")),
    })?;
    stream.set_zero_linger().map_err(|e| Failure::Other(format!("SO_LINGER: {e}")))?;
    Ok(stream)
}

fn io_failure(e: std::io::Error) -> Failure {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e.kind() {
        BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof => Failure::ConnectionClosed,
        _ => Failure::Other(e.to_string()),
    }
}

/// One plain HTTP exchange on a fresh connection, which is dropped once the verdict is known.
async fn http_check(source: Source, target: SocketAddr, request: &[u8], check: &HttpCheck) -> Result<Pass, Failure> {
    let mut stream = connect(source, target).await?;
    stream.write_all(request).await.map_err(io_failure)?;
    let mut buf = [0u8; HEAD_LIMIT];
    let mut len = 0;
    let (status, head, content_length) = loop {
        match stream.read(&mut buf[len..]).await.map_err(io_failure)? {
            0 => return Err(Failure::ConnectionClosed),
            n => len += n,
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(head)) => {
                let length = response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length"));
                let length = length.and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
                break (response.code.unwrap_or_default(), head, length);
            }
            Ok(httparse::Status::Partial) if len < buf.len() => {}
            Ok(httparse::Status::Partial) => {
                return Err(Failure::Other(format!("response head longer than {HEAD_LIMIT} bytes")));
            }
            Err(e) => return Err(Failure::Other(format!("invalid HTTP response: {e}"))),
        }
    };
    accepted(check, status)?;
    if let Some(expected) = &check.expect_body {
        let mut scan = BodyScan::new(expected, content_length);
        scan.feed(&buf[head..len]);
        while scan.wants_more() {
            match stream.read(&mut buf).await.map_err(io_failure)? {
                0 => break,
                n => scan.feed(&buf[..n]),
            }
        }
        scan.verdict()?;
    }
    Ok(Pass::Http(status))
}

/// Looks for `expect_body` in at most [`BODY_LIMIT`] bytes of a body read chunk by chunk
/// (and no further than its `Content-Length`, when known).
struct BodyScan<'a> {
    expected: &'a [u8],
    seen: Vec<u8>,
    found: bool,
    limit: usize,
}

impl<'a> BodyScan<'a> {
    fn new(expected: &'a str, content_length: Option<usize>) -> BodyScan<'a> {
        let limit = content_length.unwrap_or(BODY_LIMIT).min(BODY_LIMIT);
        BodyScan { expected: expected.as_bytes(), seen: Vec::new(), found: expected.is_empty(), limit }
    }

    fn wants_more(&self) -> bool {
        !self.found && self.seen.len() < self.limit
    }

    fn feed(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.found = self.found || self.seen.windows(self.expected.len()).any(|w| w == self.expected);
    }

    fn verdict(&self) -> Result<(), Failure> {
        if self.found { Ok(()) } else { Err(Failure::BodyMismatch) }
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
async fn https_check(check: &HttpCheck, request: &Request) -> Result<Pass, Failure> {
    let mut request = request.client.get(&request.url);
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    accepted(check, status)?;
    if let Some(expected) = &check.expect_body {
        let mut scan = BodyScan::new(expected, None);
        while scan.wants_more() {
            match response.chunk().await.map_err(|e| describe(&e))? {
                Some(chunk) => scan.feed(&chunk),
                None => break,
            }
        }
        scan.verdict()?;
    }
    Ok(Pass::Http(status))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_http_1_0_with_host_agent_and_headers() {
        let check = HttpCheck {
            tls: false,
            path: "/health?deep=1".into(),
            host: None,
            headers: vec![("X-Probe".into(), "yes".into())],
            expect_status: vec![],
            expect_body: None,
            insecure: false,
            ca_file: None,
        };
        let probe = |target: &str| Probe {
            target: target.parse().unwrap(),
            check: Check::Http(check.clone()),
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            rise: 1,
            fall: 1,
            flap_hold: std::time::Duration::ZERO,
            agreement: Default::default(),
        };
        let agent = concat!("User-Agent: switchyard/", env!("CARGO_PKG_VERSION"), " health-check\r\n");
        let expected = format!("GET /health?deep=1 HTTP/1.0\r\nHost: [::1]:8080\r\n{agent}X-Probe: yes\r\n\r\n");
        assert_eq!(String::from_utf8(http_request(&probe("[::1]:8080"), &check)).unwrap(), expected);
        let named = HttpCheck { host: Some("app.example".into()), ..check.clone() };
        let request = String::from_utf8(http_request(&probe("127.0.0.1:80"), &named)).unwrap();
        assert!(request.starts_with("GET /health?deep=1 HTTP/1.0\r\nHost: app.example\r\n"), "{request}");
    }

    #[test]
    fn the_body_is_scanned_up_to_its_length_and_across_reads() {
        let mut scan = BodyScan::new("needle", None);
        scan.feed(b"hay nee");
        assert!(scan.wants_more());
        scan.feed(b"dle hay");
        assert!(!scan.wants_more() && scan.verdict().is_ok());
        // Bytes past Content-Length are not the body.
        let mut scan = BodyScan::new("needle", Some(4));
        scan.feed(b"hay needle");
        assert!(!scan.wants_more());
        assert_eq!(scan.verdict(), Err(Failure::BodyMismatch));
    }
}
