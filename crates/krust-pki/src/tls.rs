//! rustls configurations for the API server and for clients of it.
//!
//! Everything is built on the `ring` provider explicitly. Relying on a process-wide default
//! provider would panic at run time if another crate ever pulled aws-lc-rs in as well.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::PkiError;

/// ALPN protocols, most preferred first: HTTP/2 for client libraries and watches, HTTP/1.1
/// for WebSocket upgrades (exec, attach, port-forward) and old clients.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Accepts any server certificate while still checking the handshake's signatures: for
/// `insecureSkipTLSVerify: true` API services and for HTTPS probes, which upstream's
/// kubelet sends without verifying (a pod's certificate names nothing it could check).
#[derive(Debug)]
pub struct NoVerification(pub Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that trusts any server (see [`NoVerification`]).
pub fn insecure_client_config() -> Result<Arc<ClientConfig>, PkiError> {
    let provider = ring_provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The crypto provider used everywhere in krust.
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn roots(ca_der: &CertificateDer<'static>) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca_der.clone())?;
    Ok(roots)
}

pub(crate) fn chain_and_key(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PkiError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::ParseCert(e.to_string()))?;
    if chain.is_empty() {
        return Err(PkiError::ParseCert("no certificate in PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| PkiError::ParseCert(format!("private key: {e}")))?;
    Ok((chain, key))
}

/// A server config presenting `cert_pem`, asking clients for a certificate issued by the CA
/// but also letting clients without one through (they may send a bearer token instead).
pub(crate) fn server_config(
    ca_der: &CertificateDer<'static>,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = ring_provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_der)?), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let (chain, key) = chain_and_key(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client config trusting only the CA, presenting `client` (certificate PEM, key PEM) if given.
pub(crate) fn client_config(
    ca_der: &CertificateDer<'static>,
    client: Option<(&str, &str)>,
) -> Result<Arc<ClientConfig>, PkiError> {
    let builder = ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_der)?);
    let mut config = match client {
        Some((cert_pem, key_pem)) => {
            let (chain, key) = chain_and_key(cert_pem, key_pem)?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
