//! Shared test harness: start the real server on loopback with given zone files, query it
//! over real UDP and TCP sockets with hickory's wire format, and run real HTTP/TCP backends
//! that health checks probe.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use switchyard::app::{self, Running};
use switchyard::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

pub struct Server {
    pub running: Running,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on 127.0.0.1 (free ports) serving the given `(file name, YAML)` zones.
    pub async fn start(zones: &[(&str, &str)]) -> Server {
        Server::start_with(zones, |_| {}).await
    }

    /// Like `start`, with settings adjusted by `customize` first.
    pub async fn start_with(zones: &[(&str, &str)], customize: impl FnOnce(&mut Settings)) -> Server {
        switchyard::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        for (file, yaml) in zones {
            std::fs::write(dir.path().join(file), yaml).unwrap();
        }
        let mut settings = Settings {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            http: "127.0.0.1:0".parse().unwrap(),
            zones: dir.path().to_path_buf(),
            udp_workers: 2,
            ..Settings::default()
        };
        customize(&mut settings);
        let running = app::start(&settings).await.expect("server starts");
        Server { running, dir }
    }

    pub fn dns(&self) -> SocketAddr {
        self.running.dns[0]
    }

    /// An EDNS query over UDP.
    pub async fn query(&self, name: &str, rtype: RecordType) -> Message {
        self.ask(&query(name, rtype, Some(1232))).await
    }

    pub async fn ask(&self, message: &Message) -> Message {
        let bytes = udp(self.dns(), &message.to_vec().unwrap()).await.expect("an answer over UDP");
        Message::from_vec(&bytes).unwrap()
    }

    pub async fn ask_tcp(&self, message: &Message) -> Message {
        let bytes = tcp(self.dns(), &[message.to_vec().unwrap()]).await.pop().unwrap();
        Message::from_vec(&bytes).unwrap()
    }

    /// Writes (or replaces) a zone file; call `reload` to apply it.
    pub fn write_zone(&self, file: &str, yaml: &str) {
        std::fs::write(self.dir.path().join(file), yaml).unwrap();
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http(self.running.http, "GET", path).await
    }

    /// `POST /reload`: the status code and the JSON reply.
    pub async fn reload(&self) -> (u16, serde_json::Value) {
        let (status, body) = http(self.running.http, "POST", "/reload").await;
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
    }

    /// `/metrics`, parsed as Prometheus parses it.
    pub async fn scrape(&self) -> prometheus_parse::Scrape {
        let (status, text) = self.http_get("/metrics").await;
        assert_eq!(status, 200);
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid exposition format")
    }

    /// The value of the sample of `name` whose labels include `labels`; for a histogram, its
    /// observation count. `None` when no such series exists.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        sample(&self.scrape().await, name, labels)
    }
}

/// See [`Server::metric`].
pub fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus_parse::Value;
    let found =
        scrape.samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    Some(match &found.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
        Value::Summary(_) => panic!("no summaries here"),
    })
}

pub fn query(name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// Sends one datagram and waits (at most 2 s) for the reply; `None` when none comes or
/// nothing listens there (ICMP port unreachable).
pub async fn udp(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let local = if server.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" };
    let socket = UdpSocket::bind(local).await.unwrap();
    // Connected, so the kernel drops datagrams from anyone else: a late reply from another
    // test's server to an earlier owner of this ephemeral port must not pass for ours.
    socket.connect(server).await.unwrap();
    socket.send(packet).await.ok()?;
    let mut buf = vec![0; 65535];
    let len = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf)).await.ok()?.ok()?;
    buf.truncate(len);
    Some(buf)
}

/// A port that is free for UDP and TCP on both loopback addresses right now (for tests that
/// must name one port for several listen addresses, or start a server that needs one).
///
/// Taken below the kernel's ephemeral range (32768 and up), so a server or client binding
/// port 0 meanwhile is never given it, and never twice in one test run.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id() as usize;
        let port = u16::try_from(20_000 + offset % 12_000).unwrap();
        // Dual-stack sockets: free on both families.
        if std::net::UdpSocket::bind(("::", port)).is_ok() && std::net::TcpListener::bind(("::", port)).is_ok() {
            return port;
        }
    }
}

/// Sends `q` on a connected socket and waits up to `limit` for the reply with its ID (late
/// replies to earlier queries are skipped); `None` when it never comes (a lost query).
pub async fn exchange(socket: &UdpSocket, q: &Message, limit: Duration) -> Option<Message> {
    socket.send(&q.to_vec().unwrap()).await.unwrap();
    let mut buf = vec![0; 4096];
    loop {
        let len = tokio::time::timeout(limit, socket.recv(&mut buf)).await.ok()?.unwrap();
        let m = Message::from_vec(&buf[..len]).unwrap();
        if m.metadata.id == q.metadata.id {
            return Some(m);
        }
    }
}

/// Sends several length-prefixed messages on one TCP connection (pipelined) and reads
/// as many replies.
pub async fn tcp(server: SocketAddr, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await.unwrap();
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    stream.write_all(&out).await.unwrap();
    let mut replies = Vec::new();
    for _ in packets {
        let len = tokio::time::timeout(Duration::from_secs(5), stream.read_u16()).await.unwrap().unwrap();
        let mut buf = vec![0; len as usize];
        stream.read_exact(&mut buf).await.unwrap();
        replies.push(buf);
    }
    replies
}

/// A section as `owner ttl TYPE rdata` lines, for exact comparisons.
pub fn rrs(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data)).collect()
}

pub fn rcode(m: &Message) -> ResponseCode {
    m.metadata.response_code
}

/// Minimal HTTP/1.1 client for the admin listener.
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// An HTTP request with a JSON body and optional bearer token; returns status and body.
pub async fn post(addr: SocketAddr, path: &str, body: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns the time it took.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "condition not met within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for S {}

/// How a test backend behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// `200 ok`
    Healthy,
    /// Answers with this status.
    Status(u16),
    /// Accepts connections, never answers.
    BlackHole,
    /// Answers `200 ok` after this delay.
    Slow(Duration),
    /// Answers 200 with a body announced as 1 GiB and streamed until the client hangs up.
    Flood,
}

/// A real HTTP backend on loopback whose behaviour tests switch at will.
pub struct Backend {
    pub addr: SocketAddr,
    /// Serve HTTPS with this self-signed certificate (for `localhost`) instead of HTTP.
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    mode: Arc<Mutex<Mode>>,
    /// Connections from these addresses are reset at once (a path broken from some vantage points).
    refused: Arc<Mutex<Vec<std::net::IpAddr>>>,
    pub requests: Arc<AtomicUsize>,
    /// Body bytes a `Flood` backend managed to write.
    pub flooded: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl Backend {
    pub async fn start() -> Backend {
        Backend::with_tls(None).await
    }

    /// A plain HTTP backend on a given loopback address and port.
    pub async fn start_at(addr: SocketAddr) -> Backend {
        Backend::listening(addr, None).await
    }

    /// An HTTPS backend with a fresh self-signed certificate for `localhost`.
    pub async fn start_tls() -> Backend {
        switchyard::tls::install_crypto_provider();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        Backend::with_tls(Some(Arc::new(config))).await
    }

    async fn with_tls(tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> Backend {
        Backend::listening("127.0.0.1:0".parse().unwrap(), tls).await
    }

    async fn listening(addr: SocketAddr, tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> Backend {
        let mut backend = Backend {
            addr,
            tls,
            mode: Arc::new(Mutex::new(Mode::Healthy)),
            refused: Arc::default(),
            requests: Arc::default(),
            flooded: Arc::default(),
            task: None,
        };
        backend.listen().await;
        backend
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (mode, requests, tls) = (self.mode.clone(), self.requests.clone(), self.tls.clone());
        let (flooded, refused) = (self.flooded.clone(), self.refused.clone());
        self.task = Some(tokio::spawn(async move {
            loop {
                let Ok((stream, from)) = listener.accept().await else { continue };
                if refused.lock().unwrap().contains(&from.ip()) {
                    let _ = stream.set_zero_linger();
                    continue;
                }
                let (mode, requests, tls, flooded) = (mode.clone(), requests.clone(), tls.clone(), flooded.clone());
                tokio::spawn(async move {
                    let mut stream: Box<dyn Stream> = match tls {
                        None => Box::new(stream),
                        Some(config) => match tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                            Ok(stream) => Box::new(stream),
                            Err(_) => return,
                        },
                    };
                    let mut buf = vec![0; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    let mode = *mode.lock().unwrap();
                    let status = match mode {
                        Mode::Healthy => 200,
                        Mode::Status(code) => code,
                        Mode::BlackHole => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Mode::Slow(delay) => {
                            tokio::time::sleep(delay).await;
                            200
                        }
                        Mode::Flood => {
                            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
                            if stream.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = vec![b'x'; 64 * 1024];
                            while stream.write_all(&chunk).await.is_ok() {
                                flooded.fetch_add(chunk.len(), Ordering::SeqCst);
                            }
                            return;
                        }
                    };
                    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        }));
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Resets connections from `sources` (and serves everyone else).
    pub fn refuse_from(&self, sources: &[&str]) {
        *self.refused.lock().unwrap() = sources.iter().map(|s| s.parse().unwrap()).collect();
    }

    /// Closes the listener: connections are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.listen().await;
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A new signing key (ECDSA P-256) for `origin` in `dir`, as `switchyard dnssec keygen`
/// writes it; the private key file's path.
pub fn keygen(dir: &std::path::Path, origin: &str, role: switchyard::dnssec::Role) -> std::path::PathBuf {
    let origin = Name::from_ascii(origin).unwrap();
    switchyard::dnssec::key::generate(&origin, dir, switchyard::dnssec::Algorithm::EcdsaP256Sha256, role).unwrap()
}

/// Whether `program` is on the PATH; when not, says loudly that the test calling it is skipped
/// (CI installs every tool a test needs: see `.ci/run`).
pub fn installed(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: {program} is not installed (.ci/run installs it from Debian's packages)");
    }
    found
}

/// A reference server (knotd, nsd) run with `config`, written to `dir/file`; its output is
/// discarded. `flags` come before `-c FILE`.
pub fn reference_server(
    program: &str,
    flags: &[&str],
    dir: &std::path::Path,
    file: &str,
    config: &str,
) -> std::process::Child {
    std::fs::write(dir.join(file), config).unwrap();
    std::process::Command::new(program)
        .args(flags)
        .arg("-c")
        .arg(dir.join(file))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} starts: {e}"))
}
