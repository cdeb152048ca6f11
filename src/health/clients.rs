//! HTTPS clients for the probes, built once per distinct TLS setting rather than once per
//! endpoint: building a client loads and parses the system's CA store (milliseconds of CPU
//! and ~90 KiB each), which for thousands of endpoints dominated the cost of probing. (Plain
//! HTTP probes need no client at all: see [`super::probe`].)
//!
//! - HTTPS probes without a `host` share one client per (`insecure`, `ca_file`).
//! - HTTPS probes with a `host` must connect to their endpoint while SNI and certificate
//!   checks use the name, so each gets its own client, built on a TLS configuration shared
//!   per `ca_file` (the CA store is parsed once).
//!
//! No client keeps idle connections: every probe opens a fresh one, as a new client would.
//! Probes leave from `probe_source` ([`Source`]) when the server config sets one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::redirect::Policy;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::model::{HttpCheck, Probe};

/// Which shared client a probe uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TlsSetting {
    insecure: bool,
    ca_file: Option<PathBuf>,
    source: Option<IpAddr>,
}

/// The local address probes are sent from (`probe_source`), for targets of its family;
/// others, and every probe without one, leave from the address the kernel picks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Source(pub Option<IpAddr>);

impl Source {
    /// The address to bind for a probe of `target`.
    pub fn for_target(self, target: SocketAddr) -> Option<IpAddr> {
        self.0.filter(|ip| ip.is_ipv4() == target.is_ipv4())
    }

    /// A TCP connection to `target`, from the source address.
    pub async fn connect(self, target: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
        let socket = match target {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        if let Some(ip) = self.for_target(target) {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        socket.connect(target).await
    }

    /// A UDP socket connected to `target`, from the source address.
    pub async fn udp(self, target: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
        let any = if target.is_ipv6() { IpAddr::from([0u16; 8]) } else { IpAddr::from([0u8; 4]) };
        let socket = tokio::net::UdpSocket::bind(SocketAddr::new(self.for_target(target).unwrap_or(any), 0)).await?;
        socket.connect(target).await?;
        Ok(socket)
    }
}

/// The clients and TLS configurations built so far.
#[derive(Default)]
pub struct Clients {
    pub source: Source,
    shared: Mutex<HashMap<TlsSetting, reqwest::Client>>,
    tls_configs: Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>,
}

/// What an HTTPS probe sends: with which client, to which URL.
pub struct Request {
    pub client: reqwest::Client,
    pub url: String,
}

impl Clients {
    pub fn new(source: Source) -> Clients {
        Clients { source, ..Clients::default() }
    }

    /// The client and URL for one HTTPS probe.
    pub fn request(&self, probe: &Probe, check: &HttpCheck) -> Result<Request, String> {
        let target = probe.target;
        match &check.host {
            Some(host) => {
                let url = format!("https://{host}:{}{}", target.port(), check.path);
                let builder = base(self.source.for_target(target)).resolve(host, target);
                let builder = match check.insecure {
                    true => builder.tls_danger_accept_invalid_certs(true),
                    false => builder.use_preconfigured_tls((*self.tls_config(&check.ca_file)?).clone()),
                };
                let client = builder.build().map_err(|e| format!("cannot build HTTP client: {e}"))?;
                Ok(Request { client, url })
            }
            None => {
                let source = self.source.for_target(target);
                let setting = TlsSetting { insecure: check.insecure, ca_file: check.ca_file.clone(), source };
                let ip = target.ip();
                let address = if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() };
                let url = format!("https://{address}:{}{}", target.port(), check.path);
                Ok(Request { client: self.shared(setting)?, url })
            }
        }
    }

    /// The client shared by requests with these TLS settings (Prometheus queries, which ask
    /// a metrics system rather than the endpoint: they leave from any address).
    pub fn client(&self, insecure: bool, ca_file: Option<PathBuf>) -> Result<reqwest::Client, String> {
        self.shared(TlsSetting { insecure, ca_file, source: None })
    }

    fn shared(&self, setting: TlsSetting) -> Result<reqwest::Client, String> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = shared.get(&setting) {
            return Ok(client.clone());
        }
        let mut builder = base(setting.source).tls_danger_accept_invalid_certs(setting.insecure);
        if let Some(path) = &setting.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
            let cert =
                reqwest::Certificate::from_pem(&pem).map_err(|e| format!("bad ca_file {}: {e}", path.display()))?;
            builder = builder.tls_certs_merge([cert]);
        }
        let client = builder.build().map_err(|e| format!("cannot build HTTP client: {e}"))?;
        shared.insert(setting, client.clone());
        Ok(client)
    }

    /// The TLS configuration that verifies against the system's roots plus `ca_file`.
    fn tls_config(&self, ca_file: &Option<PathBuf>) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut configs = self.tls_configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = configs.get(ca_file) {
            return Ok(config.clone());
        }
        let extra: Vec<CertificateDer<'static>> = match ca_file {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect())
                .map_err(|e| format!("bad ca_file {}: {e}", path.display()))?,
            None => Vec::new(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| format!("cannot load the system's CA certificates: {e}"))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let config = Arc::new(config);
        configs.insert(ca_file.clone(), config.clone());
        Ok(config)
    }
}

/// What every probe client has in common. Time limits are per request (each probe's own).
fn base(source: Option<IpAddr>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .local_address(source)
        .no_proxy()
        .redirect(Policy::none())
        // A fresh connection each time: a reused one would hide a listener that stopped accepting.
        .pool_max_idle_per_host(0)
        .pool_idle_timeout(Duration::ZERO)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION"), " health-check"))
}
