//! The console's HTTP client: WHIP, the network probe, relay checks. HTTPS goes through
//! rustls with the `ring` provider (already in the build for DTLS) and the platform's
//! certificate store, so a relay behind a TLS proxy works on every OS.

use std::time::Duration;

/// An HTTP client with these time limits: `timeout` for a whole exchange, `connect` to
/// open the connection.
pub fn client(timeout: Duration, connect: Duration) -> reqwest::Client {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect)
        .build()
        .expect("an HTTP client with a crypto provider builds")
}

/// Installs `ring` as the process's rustls provider unless one is installed already.
pub fn ensure_crypto_provider() {
    // Fails only when another provider is installed first, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn clients_build_with_a_crypto_provider_any_number_of_times() {
        let a = super::client(Duration::from_secs(1), Duration::from_secs(1));
        let b = super::client(Duration::from_secs(1), Duration::from_secs(1));
        drop((a, b));
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
