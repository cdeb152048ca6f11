//! TLS set-up shared by the HTTPS probes and the CLI's HTTP client.

/// Installs ring as the process-wide rustls provider (once; later calls do nothing).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
