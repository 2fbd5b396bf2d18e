//! CSR signing, as upstream's `csrsigning` controller: issues the certificate of every
//! approved request for the signers krust implements (the client signers
//! `kubernetes.io/kube-apiserver-client-kubelet` and `kubernetes.io/kube-apiserver-client`,
//! and `kubernetes.io/kubelet-serving` for node agents' HTTPS endpoints) with the cluster
//! CA, into `status.certificate`.
//!
//! The CA comes from the controller manager's configuration (the server hands it over);
//! without a CA key the controller does not run. A request the signer cannot honour (bad
//! PEM, wrong subject for the kubelet signer, usages that are not a client's) gets a
//! `Failed` condition saying why, as upstream does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use krust_pki::{CsrContents, CsrSigner};
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{Controller, controller::Action},
};
use tokio_util::sync::CancellationToken;

use crate::csr::{self, API_CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "certificatesigningrequest-signing-controller";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// What to do with a CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing (not approved, denied, failed, signed already, or another signer).
    Skip,
    /// Issue a certificate valid this long.
    Sign {
        /// Validity.
        validity: Duration,
        /// Whether key encipherment was asked for.
        key_encipherment: bool,
    },
    /// Refuse, with this message.
    Fail(String),
}

/// Decides about one CSR given its parsed request and the longest validity allowed
/// (`--cluster-signing-duration`); `spec.expirationSeconds` may shorten it.
pub fn plan(
    csr: &CertificateSigningRequest,
    request: Result<&CsrContents, &str>,
    max_validity: Duration,
) -> Plan {
    let signer = csr.spec.signer_name.as_str();
    if ![KUBELET_CLIENT_SIGNER, API_CLIENT_SIGNER, KUBELET_SERVING_SIGNER].contains(&signer)
        || !csr::has_condition(csr, "Approved")
        || csr::has_condition(csr, "Denied")
        || csr::has_condition(csr, "Failed")
        || csr
            .status
            .as_ref()
            .is_some_and(|s| s.certificate.as_ref().is_some_and(|c| !c.0.is_empty()))
    {
        return Plan::Skip;
    }
    let contents = match request {
        Ok(c) => c,
        Err(e) => return Plan::Fail(format!("spec.request is not a valid certificate request: {e}")),
    };
    let usages = csr::usages(csr);
    let problem = if signer == KUBELET_CLIENT_SIGNER {
        csr::node_client_problem(contents, &usages)
    } else if signer == KUBELET_SERVING_SIGNER {
        csr::node_serving_problem(contents, &usages)
    } else if contents.common_name.trim().is_empty() {
        Some("the subject has no common name (user name)".into())
    } else {
        csr::client_usage_problem(&usages)
    };
    if let Some(p) = problem {
        return Plan::Fail(format!("{signer} cannot sign this request: {p}"));
    }
    let asked = csr
        .spec
        .expiration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs);
    let validity = asked.map_or(max_validity, |a| {
        a.clamp(krust_pki::MIN_SIGNED_VALIDITY, max_validity)
    });
    Plan::Sign {
        validity,
        key_encipherment: usages.iter().any(|u| u == "key encipherment"),
    }
}

struct State {
    ctx: Arc<Context>,
    signer: CsrSigner,
}

/// Registers the controller on the shared CSR informer (idle, with a warning, when the
/// manager has no CA key).
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let key = ctx.config.ca_key_pem.0.clone();
    if key.trim().is_empty() {
        tracing::warn!("csrsigning: no cluster CA key configured; not signing certificate requests");
        return Box::pin(async {});
    }
    let signer = match CsrSigner::from_pem(&ctx.config.root_ca_pem, &key) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "csrsigning: unusable cluster CA; not signing certificate requests");
            return Box::pin(async {});
        }
    };
    let store = informers.store::<CertificateSigningRequest>();
    let changes = informers.subscribe::<CertificateSigningRequest>();
    let concurrency = ctx.config.workers;
    let state = Arc::new(State { ctx, signer });
    Box::pin(async move {
        Controller::for_shared_stream(nudged(changes), store)
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, state)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(csr: Arc<CertificateSigningRequest>, e: &Error, _: Arc<State>) -> Action {
    tracing::debug!(csr = %csr.name_any(), error = %e, "csrsigning: will retry");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(csr: Arc<CertificateSigningRequest>, state: Arc<State>) -> Result<Action, Error> {
    let pem = csr::request_pem(&csr);
    let parsed = pem
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| krust_pki::read_csr(p).map_err(|e| e.to_string()));
    let max = state.ctx.config.cluster_signing_duration;
    let mut plan = plan(&csr, parsed.as_ref().map_err(String::as_str), max);
    let mut updated = (*csr).clone();
    if let (
        Plan::Sign {
            validity,
            key_encipherment,
        },
        Ok(pem),
    ) = (&plan, &pem)
    {
        let signed = if csr.spec.signer_name == KUBELET_SERVING_SIGNER {
            state.signer.sign_serving(pem, *validity, *key_encipherment)
        } else {
            state.signer.sign_client(pem, *validity, *key_encipherment)
        };
        match signed {
            Ok(cert) => {
                updated.status.get_or_insert_with(Default::default).certificate =
                    Some(ByteString(cert.into_bytes()));
            }
            Err(e) => plan = Plan::Fail(format!("signing failed: {e}")),
        }
    }
    let outcome = match &plan {
        Plan::Skip => return Ok(Action::await_change()),
        Plan::Sign { .. } => "signed".to_string(),
        Plan::Fail(message) => {
            updated
                .status
                .get_or_insert_with(Default::default)
                .conditions
                .get_or_insert_with(Vec::new)
                .push(csr::condition("Failed", "SignerValidationFailure", message));
            format!("failed: {message}")
        }
    };
    let api: Api<CertificateSigningRequest> = Api::all(state.ctx.client.clone());
    api.replace_subresource("status", &csr.name_any(), &PostParams::default(), &updated)
        .await?;
    tracing::info!(csr = %csr.name_any(), signer = %csr.spec.signer_name, %outcome, "csrsigning");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::tests::node_contents;
    use k8s_openapi::api::certificates::v1::{
        CertificateSigningRequestSpec, CertificateSigningRequestStatus,
    };

    const YEAR: Duration = Duration::from_secs(365 * 86400);

    fn approved(signer: &str, usages: &[&str]) -> CertificateSigningRequest {
        CertificateSigningRequest {
            spec: CertificateSigningRequestSpec {
                signer_name: signer.into(),
                usages: Some(usages.iter().map(|u| u.to_string()).collect()),
                ..Default::default()
            },
            status: Some(CertificateSigningRequestStatus {
                conditions: Some(vec![csr::condition("Approved", "AutoApproved", "ok")]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn approved_kubelet_request_is_signed() {
        let c = approved(KUBELET_CLIENT_SIGNER, &["digital signature", "client auth"]);
        assert_eq!(
            plan(&c, Ok(&node_contents("system:node:n1")), YEAR),
            Plan::Sign {
                validity: YEAR,
                key_encipherment: false
            }
        );
        let mut short = approved(
            API_CLIENT_SIGNER,
            &["digital signature", "key encipherment", "client auth"],
        );
        short.spec.expiration_seconds = Some(60);
        let alice = CsrContents {
            common_name: "alice".into(),
            ..Default::default()
        };
        assert_eq!(
            plan(&short, Ok(&alice), YEAR),
            Plan::Sign {
                validity: krust_pki::MIN_SIGNED_VALIDITY,
                key_encipherment: true
            }
        );
    }

    #[test]
    fn approved_serving_requests_are_signed_and_client_shaped_ones_fail() {
        let mut node = node_contents("system:node:n1");
        node.ip_addresses = vec!["10.0.0.5".into()];
        let serving = approved(
            KUBELET_SERVING_SIGNER,
            &["digital signature", "key encipherment", "server auth"],
        );
        assert_eq!(
            plan(&serving, Ok(&node), YEAR),
            Plan::Sign {
                validity: YEAR,
                key_encipherment: true
            }
        );
        let client_shaped = approved(KUBELET_SERVING_SIGNER, &["digital signature", "client auth"]);
        assert!(
            matches!(plan(&client_shaped, Ok(&node), YEAR), Plan::Fail(m) if m.contains("kubelet-serving"))
        );
    }

    #[test]
    fn unapproved_signed_or_foreign_requests_are_skipped() {
        let node = node_contents("system:node:n1");
        let mut pending = approved(KUBELET_CLIENT_SIGNER, &["digital signature", "client auth"]);
        pending.status = None;
        assert_eq!(plan(&pending, Ok(&node), YEAR), Plan::Skip);
        let mut signed = approved(KUBELET_CLIENT_SIGNER, &["digital signature", "client auth"]);
        if let Some(s) = signed.status.as_mut() {
            s.certificate = Some(ByteString(b"x".to_vec()));
        }
        assert_eq!(plan(&signed, Ok(&node), YEAR), Plan::Skip);
        let foreign = approved("example.com/x", &["digital signature", "client auth"]);
        assert_eq!(plan(&foreign, Ok(&node), YEAR), Plan::Skip);
    }

    #[test]
    fn invalid_requests_fail_with_the_reason() {
        let kubelet = approved(KUBELET_CLIENT_SIGNER, &["digital signature", "client auth"]);
        assert!(matches!(plan(&kubelet, Err("no PEM"), YEAR), Plan::Fail(m) if m.contains("no PEM")));
        let alice = CsrContents {
            common_name: "alice".into(),
            ..Default::default()
        };
        assert!(matches!(plan(&kubelet, Ok(&alice), YEAR), Plan::Fail(m) if m.contains("system:node")));
        let server = approved(API_CLIENT_SIGNER, &["digital signature", "server auth"]);
        assert!(matches!(plan(&server, Ok(&alice), YEAR), Plan::Fail(m) if m.contains("server auth")));
    }
}
