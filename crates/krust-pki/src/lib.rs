//! krust's public-key infrastructure: the cluster CA, the API server's serving certificate,
//! client certificates, the TLS configuration built from them, the authentication helpers that
//! turn a verified client certificate or a static token into an [`Identity`], and kubeconfigs.
//!
//! The server calls [`Pki::load_or_create`] on `<data-dir>/tls/` at every start. The first
//! start creates everything; later starts load it, keep the CA, and re-issue a leaf certificate
//! only when it must change (new `--tls-san`, close to expiry). All crypto uses `ring`.

// Tests may unwrap; the normal (non-test) build still rejects it in library code.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ca;
mod certs;
mod csr;
mod der;
mod error;
mod fsutil;
mod identity;
mod kubeconfig;
mod kubelet;
mod pem;
mod pki;
mod sans;
mod tls;
mod token_file;

#[cfg(test)]
mod tests;

pub use csr::{
    CsrContents, CsrSigner, GeneratedCsr, MIN_SIGNED_VALIDITY, ca_cert_hash, certificate_pem,
    client_cert_valid_until, generate_client_csr, generate_serving_csr, pem_certificates, read_csr,
};
pub use error::PkiError;
pub use identity::{AUTHENTICATED_GROUP, Identity, identity_from_cert};
pub use kubeconfig::{kubeconfig, token_kubeconfig, write_kubeconfig};
pub use kubelet::{
    KUBELET_CLIENT_GROUP, KUBELET_CLIENT_USER, issue_kubelet_serving_cert, kubelet_server_config,
};
pub use pki::{ADMIN_GROUP, ADMIN_USER, PROXY_CLIENT_USER, Pki, PkiOptions, PkiPaths};
pub use sans::DEFAULT_SERVICE_IP;
pub use tls::{ALPN_PROTOCOLS, NoVerification, insecure_client_config, ring_provider};
pub use token_file::TokenFile;
