//! CSR approving, as upstream's `csrapproving` controller: approves kubelet client
//! certificate requests (signer `kubernetes.io/kube-apiserver-client-kubelet`) that a
//! bootstrap token user made (a joining node, `system:bootstrappers`) or that a node made
//! for itself (a renewal: the requester is the subject). Kubelet serving certificate
//! requests (`kubernetes.io/kubelet-serving`), which upstream leaves to an administrator
//! or an add-on approver, are approved as k3s effectively does when a node asks for
//! itself and names only its own Node's addresses and host names.
//!
//! Upstream asks a SubjectAccessReview whether the requester may create `nodeclient` /
//! `selfnodeclient` CSRs; krust has no authorization yet, so group membership and identity
//! decide. A request for this signer whose PEM or subject is wrong is Denied with the
//! reason (the signer would refuse it anyway); a well-formed one from anybody else stays
//! pending for an administrator (`kubectl certificate approve`). Other signers are left
//! alone.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use krust_pki::CsrContents;
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{Controller, controller::Action},
};
use tokio_util::sync::CancellationToken;

use crate::csr::{self, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "certificatesigningrequest-approving-controller";

/// Group of bootstrap token users.
const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// What to do with a CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not ours to decide (another signer, already decided, or an unknown requester).
    Leave,
    /// Approve, with this message.
    Approve(&'static str),
    /// Deny, with this message.
    Deny(String),
}

/// The parsed request of an undecided CSR for `signer` that has the shape `problem`
/// checks, or the decision already due: leave it (another signer, decided already) or
/// deny it (unparsable, wrong shape; `kind` names the certificate in the message).
fn well_formed<'a>(
    csr: &CertificateSigningRequest,
    request: Result<&'a CsrContents, &str>,
    signer: &str,
    kind: &str,
    problem: fn(&CsrContents, &[String]) -> Option<String>,
) -> Result<&'a CsrContents, Decision> {
    if csr.spec.signer_name != signer
        || csr::has_condition(csr, "Approved")
        || csr::has_condition(csr, "Denied")
    {
        return Err(Decision::Leave);
    }
    let contents = request
        .map_err(|e| Decision::Deny(format!("spec.request is not a valid certificate request: {e}")))?;
    match problem(contents, &csr::usages(csr)) {
        Some(p) => Err(Decision::Deny(format!(
            "not a valid kubelet {kind} certificate request: {p}"
        ))),
        None => Ok(contents),
    }
}

/// Decides about one CSR given its parsed request (or why it does not parse).
pub fn decide(csr: &CertificateSigningRequest, request: Result<&CsrContents, &str>) -> Decision {
    let contents = match well_formed(
        csr,
        request,
        KUBELET_CLIENT_SIGNER,
        "client",
        csr::node_client_problem,
    ) {
        Ok(c) => c,
        Err(d) => return d,
    };
    let username = csr.spec.username.as_deref().unwrap_or_default();
    let groups = csr.spec.groups.as_deref().unwrap_or_default();
    if username == contents.common_name {
        return Decision::Approve(
            "Auto approving self kubelet client certificate after SubjectAccessReview.",
        );
    }
    if groups.iter().any(|g| g == BOOTSTRAPPERS_GROUP) {
        return Decision::Approve("Auto approving kubelet client certificate after SubjectAccessReview.");
    }
    Decision::Leave
}

/// Decides about a kubelet serving CSR, given the Node it names (`None`: not registered
/// yet). Approved when the node asks for itself and every name it wants is one of that
/// Node's addresses or its name; a request of the wrong shape is denied; anything else is
/// left to an administrator.
pub fn decide_serving(
    csr: &CertificateSigningRequest,
    request: Result<&CsrContents, &str>,
    node: Option<&Node>,
) -> Decision {
    let contents = match well_formed(
        csr,
        request,
        KUBELET_SERVING_SIGNER,
        "serving",
        csr::node_serving_problem,
    ) {
        Ok(c) => c,
        Err(d) => return d,
    };
    let username = csr.spec.username.as_deref().unwrap_or_default();
    let in_nodes = csr
        .spec
        .groups
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|g| g == csr::NODES_GROUP);
    let Some(node) = node else { return Decision::Leave };
    if username != contents.common_name || !in_nodes {
        return Decision::Leave;
    }
    let addresses: Vec<&str> = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .map(|a| a.address.as_str())
        .collect();
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let known = |n: &String| n == name || addresses.contains(&n.as_str());
    if contents.ip_addresses.iter().chain(&contents.dns_names).all(known) {
        Decision::Approve("Auto approving kubelet serving certificate for the node's own addresses.")
    } else {
        Decision::Leave
    }
}

/// Registers the controller on the shared CSR informer.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let store = informers.store::<CertificateSigningRequest>();
    let changes = informers.subscribe::<CertificateSigningRequest>();
    let concurrency = ctx.config.workers;
    Box::pin(async move {
        Controller::for_shared_stream(nudged(changes), store)
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, ctx)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(csr: Arc<CertificateSigningRequest>, e: &Error, _: Arc<Context>) -> Action {
    tracing::debug!(csr = %csr.name_any(), error = %e, "csrapproving: will retry");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(csr: Arc<CertificateSigningRequest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let serving = csr.spec.signer_name == KUBELET_SERVING_SIGNER;
    if csr.spec.signer_name != KUBELET_CLIENT_SIGNER && !serving {
        return Ok(Action::await_change());
    }
    let parsed = csr::request_pem(&csr).and_then(|pem| krust_pki::read_csr(&pem).map_err(|e| e.to_string()));
    let request = parsed.as_ref().map_err(String::as_str);
    let decision = if serving {
        let node_name = request
            .ok()
            .and_then(|c| c.common_name.strip_prefix(csr::NODE_USER_PREFIX))
            .unwrap_or_default();
        let node = if node_name.is_empty() {
            None
        } else {
            Api::<Node>::all(ctx.client.clone()).get_opt(node_name).await?
        };
        let decision = decide_serving(&csr, request, node.as_ref());
        if node.is_none() && decision == Decision::Leave && !node_name.is_empty() {
            // The node registers right after asking: look again shortly.
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
        decision
    } else {
        decide(&csr, request)
    };
    let (type_, reason, message) = match decision {
        Decision::Leave => return Ok(Action::await_change()),
        Decision::Approve(m) => ("Approved", "AutoApproved", m.to_string()),
        Decision::Deny(m) => ("Denied", "InvalidRequest", m),
    };
    let mut updated = (*csr).clone();
    updated
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new)
        .push(csr::condition(type_, reason, &message));
    let api: Api<CertificateSigningRequest> = Api::all(ctx.client.clone());
    // Carries the cached resourceVersion: a CSR decided meanwhile is not decided twice.
    api.replace_subresource("approval", &csr.name_any(), &PostParams::default(), &updated)
        .await?;
    tracing::info!(csr = %csr.name_any(), decision = type_, %message, "csrapproving");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::tests::node_contents;
    use k8s_openapi::api::certificates::v1::{
        CertificateSigningRequestSpec, CertificateSigningRequestStatus,
    };

    fn csr(signer: &str, user: &str, groups: &[&str]) -> CertificateSigningRequest {
        CertificateSigningRequest {
            spec: CertificateSigningRequestSpec {
                signer_name: signer.into(),
                username: Some(user.into()),
                groups: Some(groups.iter().map(|g| g.to_string()).collect()),
                usages: Some(vec!["digital signature".into(), "client auth".into()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn bootstrapper_and_self_renewal_are_approved() {
        let node = node_contents("system:node:n1");
        let joining = csr(
            KUBELET_CLIENT_SIGNER,
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
        );
        assert!(matches!(decide(&joining, Ok(&node)), Decision::Approve(_)));
        let renewal = csr(KUBELET_CLIENT_SIGNER, "system:node:n1", &["system:nodes"]);
        assert!(matches!(decide(&renewal, Ok(&node)), Decision::Approve(m) if m.contains("self")));
    }

    #[test]
    fn serving_requests_for_the_nodes_own_addresses_are_approved() {
        let mut req = csr(KUBELET_SERVING_SIGNER, "system:node:n1", &["system:nodes"]);
        req.spec.usages = Some(vec![
            "digital signature".into(),
            "key encipherment".into(),
            "server auth".into(),
        ]);
        let mut contents = node_contents("system:node:n1");
        contents.ip_addresses = vec!["10.0.0.5".into()];
        contents.dns_names = vec!["n1".into(), "host-1".into()];
        let mut node = Node::default();
        node.metadata.name = Some("n1".into());
        node.status = Some(k8s_openapi::api::core::v1::NodeStatus {
            addresses: Some(vec![
                k8s_openapi::api::core::v1::NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.0.0.5".into(),
                },
                k8s_openapi::api::core::v1::NodeAddress {
                    type_: "Hostname".into(),
                    address: "host-1".into(),
                },
            ]),
            ..Default::default()
        });
        assert!(matches!(
            decide_serving(&req, Ok(&contents), Some(&node)),
            Decision::Approve(_)
        ));
        // Not registered yet, another node asking, or a name the node does not have: left
        // to an administrator.
        assert_eq!(decide_serving(&req, Ok(&contents), None), Decision::Leave);
        let other = CertificateSigningRequest {
            spec: CertificateSigningRequestSpec {
                username: Some("system:node:n2".into()),
                ..req.spec.clone()
            },
            ..Default::default()
        };
        assert_eq!(
            decide_serving(&other, Ok(&contents), Some(&node)),
            Decision::Leave
        );
        let mut wider = contents.clone();
        wider.dns_names.push("api.example.com".into());
        assert_eq!(decide_serving(&req, Ok(&wider), Some(&node)), Decision::Leave);
        // Client usages on the serving signer are refused outright.
        let mut client_usages = req.clone();
        client_usages.spec.usages = Some(vec!["digital signature".into(), "client auth".into()]);
        assert!(matches!(
            decide_serving(&client_usages, Ok(&contents), Some(&node)),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn others_are_left_pending() {
        let node = node_contents("system:node:n1");
        // Another node asking for n1's certificate.
        let other_node = csr(KUBELET_CLIENT_SIGNER, "system:node:n2", &["system:nodes"]);
        assert_eq!(decide(&other_node, Ok(&node)), Decision::Leave);
        let someone = csr(KUBELET_CLIENT_SIGNER, "alice", &["dev"]);
        assert_eq!(decide(&someone, Ok(&node)), Decision::Leave);
        let other_signer = csr(
            "example.com/signer",
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
        );
        assert_eq!(decide(&other_signer, Ok(&node)), Decision::Leave);
        let mut decided = csr(
            KUBELET_CLIENT_SIGNER,
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
        );
        decided.status = Some(CertificateSigningRequestStatus {
            conditions: Some(vec![csr::condition("Denied", "x", "y")]),
            ..Default::default()
        });
        assert_eq!(decide(&decided, Ok(&node)), Decision::Leave);
    }

    #[test]
    fn malformed_requests_are_denied_with_the_reason() {
        let joining = csr(
            KUBELET_CLIENT_SIGNER,
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
        );
        assert!(matches!(decide(&joining, Err("bad pem")), Decision::Deny(m) if m.contains("bad pem")));
        let mut admin = node_contents("system:node:n1");
        admin.organizations = vec!["system:masters".into()];
        assert!(matches!(decide(&joining, Ok(&admin)), Decision::Deny(m) if m.contains("organizations")));
        let mut server = joining.clone();
        server.spec.usages = Some(vec!["digital signature".into(), "server auth".into()]);
        let node = node_contents("system:node:n1");
        assert!(matches!(decide(&server, Ok(&node)), Decision::Deny(m) if m.contains("server auth")));
    }
}
