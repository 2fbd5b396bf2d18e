//! Calling a webhook: one HTTPS POST of JSON, trusting only the configuration's caBundle
//! (or the system roots when none is given), within the configured timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::Value;

/// Why a call failed (turned into upstream's "failed calling webhook" message).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The URL or CA bundle is unusable.
    #[error("{0}")]
    Config(String),
    /// Connecting, TLS or HTTP failed.
    #[error("{0}")]
    Transport(String),
    /// No answer within the timeout.
    #[error("context deadline exceeded")]
    Timeout,
    /// The answer was not an AdmissionReview.
    #[error("{0}")]
    Response(String),
}

/// Verifies against the caBundle, and also accepts a server certificate that is itself in
/// the bundle: Go (and so upstream) trusts a self-signed certificate given as its own CA,
/// which is how many webhook set-ups are made, while webpki refuses a CA as end entity.
#[derive(Debug)]
struct BundleVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    bundle: Vec<CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for BundleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Ok(v) => Ok(v),
            Err(e) if self.bundle.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                tracing::debug!(error = %e, "webhook certificate is itself in the caBundle; trusted as given");
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A verifier trusting the PEM CA bundle (and certificates given in it as their own CA).
pub(crate) fn bundle_verifier(
    ca_pem: &[u8],
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, CallError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut bundle = Vec::new();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| CallError::Config(format!("invalid caBundle: {e}")))?;
        roots
            .add(cert.clone())
            .map_err(|e| CallError::Config(format!("invalid caBundle: {e}")))?;
        bundle.push(cert);
    }
    if roots.is_empty() {
        return Err(CallError::Config("caBundle holds no certificate".into()));
    }
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| CallError::Config(e.to_string()))?;
    Ok(Arc::new(BundleVerifier { inner, bundle }))
}

fn tls_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, CallError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = bundle_verifier(ca_pem, provider.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CallError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn post_inner(url: &Uri, ca_pem: &[u8], body: Bytes) -> Result<Value, CallError> {
    if url.scheme_str() != Some("https") {
        return Err(CallError::Config(format!("webhook URL {url} must use https")));
    }
    let host = url
        .host()
        .ok_or_else(|| CallError::Config(format!("webhook URL {url} has no host")))?;
    let port = url.port_u16().unwrap_or(443);
    let host_for_tls = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let tcp = tokio::net::TcpStream::connect((host_for_tls.as_str(), port))
        .await
        .map_err(|e| CallError::Transport(format!("dial tcp {host}:{port}: {e}")))?;
    let name = ServerName::try_from(host_for_tls.clone()).map_err(|e| CallError::Config(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config(ca_pem)?)
        .connect(name, tcp)
        .await
        .map_err(|e| CallError::Transport(format!("tls: {e}")))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| CallError::Transport(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = url.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = Request::post(path)
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(body))
        .map_err(|e| CallError::Config(e.to_string()))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| CallError::Transport(e.to_string()))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| CallError::Transport(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        return Err(CallError::Response(format!(
            "the server responded with the status code {}",
            status.as_u16()
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| CallError::Response(format!("decoding the response: {e}")))
}

/// POSTs `body` to `url` and parses the JSON answer.
pub async fn post(url: &str, ca_pem: &[u8], body: Bytes, timeout: Duration) -> Result<Value, CallError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| CallError::Config(format!("invalid webhook URL {url:?}: {e}")))?;
    match tokio::time::timeout(timeout, post_inner(&uri, ca_pem, body)).await {
        Ok(r) => r,
        Err(_) => Err(CallError::Timeout),
    }
}
