//! Certificates and TLS of the node agent's HTTPS endpoint (the kubelet port, 10250).
//!
//! The API server is the only client of that endpoint: it connects to the node's
//! InternalIP and presents a client certificate issued by the cluster CA, and it trusts the
//! agent's serving certificate only because the same CA signed it. So the agent needs a
//! serving certificate for its addresses and a TLS config that *requires* a client
//! certificate (unlike the API server's, where a bearer token may stand in for one).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use time::OffsetDateTime;

use crate::ca::CertificateAuthority;
use crate::sans::San;
use crate::{PkiError, certs, tls};

/// User name of the client certificate the API server presents to node agents (as
/// kubeadm's `apiserver-kubelet-client`).
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// Its group: upstream kubelets authorize `system:masters` for everything.
pub const KUBELET_CLIENT_GROUP: &str = "system:masters";

/// Issues a serving certificate for a node agent, signed by the CA given as PEM, valid for
/// `names` (IP addresses or DNS names; empty and invalid DNS names are skipped, since a
/// host name the certificate cannot carry must not stop the node). Returns (certificate
/// PEM, key PEM).
pub fn issue_kubelet_serving_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    names: &[String],
) -> Result<(String, String), PkiError> {
    let where_ = Path::new("<node agent configuration>");
    let ca = CertificateAuthority::load(ca_cert_pem.to_string(), ca_key_pem.to_string(), where_, where_)?;
    let wanted: BTreeSet<San> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .filter_map(|n| San::parse(n).ok())
        .collect();
    if wanted.is_empty() {
        return Err(PkiError::InvalidRequest(
            "a kubelet serving certificate needs at least one valid name or address".into(),
        ));
    }
    let cert = certs::issue_serving(&ca, &wanted, OffsetDateTime::now_utc())?;
    Ok((cert.cert_pem, cert.key_pem))
}

/// The node agent's TLS config: `cert_pem`/`key_pem` as serving certificate, client
/// certificates required and verified against `ca_pem`, HTTP/1.1 only (the endpoint
/// streams plain responses; HTTP/2 buys nothing for one request per connection).
pub fn kubelet_server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ServerConfig>, PkiError> {
    let ca_der = crate::pem::cert_der(ca_pem).map_err(PkiError::ParseCert)?;
    let provider = tls::ring_provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(tls::roots(&ca_der)?), provider.clone())
            .build()?;
    let (chain, key) = tls::chain_and_key(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_cert_carries_the_names_and_the_config_builds() {
        let ca = CertificateAuthority::generate("test-ca", OffsetDateTime::now_utc()).unwrap();
        let names = vec![
            "10.0.0.5".to_string(),
            "node-a".into(),
            "bad name!".into(),
            String::new(),
        ];
        let (cert, key) = issue_kubelet_serving_cert(ca.cert_pem(), ca.key_pem(), &names).unwrap();
        let der = crate::pem::cert_der(&cert).unwrap();
        let (_, x509) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = crate::sans::cert_sans(&x509);
        assert!(sans.contains(&San::parse("10.0.0.5").unwrap()));
        assert!(sans.contains(&San::parse("node-a").unwrap()));
        assert_eq!(sans.len(), 2);
        assert!(ca.signed(&x509));
        kubelet_server_config(ca.cert_pem(), &cert, &key).unwrap();
    }

    #[test]
    fn no_usable_name_is_an_error() {
        let ca = CertificateAuthority::generate("test-ca", OffsetDateTime::now_utc()).unwrap();
        let err = issue_kubelet_serving_cert(ca.cert_pem(), ca.key_pem(), &["!".into()]).unwrap_err();
        assert!(err.to_string().contains("at least one"), "{err}");
    }
}
