//! Getting a certificate through the CertificateSigningRequest API, as a kubelet does:
//! create the request, wait until the controller manager approves and signs it (or an
//! administrator does: `kubectl certificate approve`), take the certificate. Used for the
//! node's client certificate when joining and for its serving certificate.

use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;

/// Signer of kubelet client certificates (upstream's name).
pub const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// Signer of kubelet serving certificates (upstream's name).
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";

/// Why no certificate came.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// The server refused our credentials (401) creating the request, or while waiting.
    #[error("unauthorized{}", .waiting.as_deref().map(|n| format!(" while waiting for {n}")).unwrap_or_default())]
    Unauthorized {
        /// The request's name when it had been created already.
        waiting: Option<String>,
    },
    /// The request was denied or failed.
    #[error("certificate signing request {name} was {outcome}: {message}")]
    Refused {
        name: String,
        outcome: String,
        message: String,
    },
    /// The certificate is not PEM text.
    #[error("the certificate of {0} is not PEM text")]
    NotPem(String),
    /// Creating the request failed.
    #[error("creating the certificate signing request: {0}")]
    Create(kube::Error),
    /// Asked to stop first.
    #[error("stopped while waiting for certificate signing request {0}")]
    Stopped(String),
}

fn unauthorized(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 401)
}

/// Requests a certificate for `csr_pem` from `signer` with `usages` (as the CSR API
/// spells them) and waits for it; returns its PEM.
pub async fn request_certificate(
    client: &kube::Client,
    csr_pem: &str,
    signer: &str,
    usages: &[&str],
    shutdown: &CancellationToken,
) -> Result<String, CsrError> {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            generate_name: Some(
                if signer == KUBELET_SERVING_SIGNER {
                    "csr-"
                } else {
                    "node-csr-"
                }
                .into(),
            ),
            ..Default::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(csr_pem.as_bytes().to_vec()),
            signer_name: signer.into(),
            usages: Some(usages.iter().map(|u| u.to_string()).collect()),
            ..Default::default()
        },
        ..Default::default()
    };
    let created = match api.create(&PostParams::default(), &csr).await {
        Ok(c) => c,
        Err(e) if unauthorized(&e) => return Err(CsrError::Unauthorized { waiting: None }),
        Err(e) => return Err(CsrError::Create(e)),
    };
    let name = created.name_any();
    tracing::info!(csr = %name, signer, "waiting for the certificate signing request to be approved and signed");
    let mut waited = Duration::ZERO;
    let step = Duration::from_millis(500);
    loop {
        let current = match api.get(&name).await {
            Ok(c) => Some(c),
            Err(e) if unauthorized(&e) => {
                return Err(CsrError::Unauthorized { waiting: Some(name) });
            }
            Err(e) => {
                tracing::debug!(csr = %name, error = %e, "reading the certificate signing request");
                None
            }
        };
        if let Some(status) = current.and_then(|c| c.status) {
            for c in status.conditions.iter().flatten() {
                if (c.type_ == "Denied" || c.type_ == "Failed") && c.status == "True" {
                    return Err(CsrError::Refused {
                        name,
                        outcome: c.type_.to_lowercase(),
                        message: c.message.clone().unwrap_or_else(|| "no reason given".into()),
                    });
                }
            }
            if let Some(cert) = status.certificate.filter(|c| !c.0.is_empty()) {
                return String::from_utf8(cert.0).map_err(|_| CsrError::NotPem(name));
            }
        }
        if !waited.is_zero() && waited.as_millis().is_multiple_of(30_000) {
            tracing::info!(csr = %name, "still waiting for approval (kubectl certificate approve {name})");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Err(CsrError::Stopped(name)),
            _ = tokio::time::sleep(step) => waited += step,
        }
    }
}
