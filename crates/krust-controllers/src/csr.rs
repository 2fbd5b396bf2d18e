//! What the CertificateSigningRequest controllers share: the signers krust implements, the
//! shape of a kubelet client certificate request, and reading a CSR's conditions.
//!
//! The CSR's PEM is parsed (and its signature checked) by `krust-pki`; the decisions here
//! take the parsed subject, so they are pure and tested as such.

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use krust_pki::CsrContents;

/// Signer of kubelets' client certificates (upstream's name).
pub const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// Signer of kubelets' serving certificates (upstream's name).
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
/// Signer of other API client certificates (upstream's name).
pub const API_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";
/// The group of every node's certificate.
pub const NODES_GROUP: &str = "system:nodes";
/// Prefix of a node's user name.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// Usages a client certificate may ask for (as the CSR API spells them).
const CLIENT_USAGES: [&str; 3] = ["digital signature", "key encipherment", "client auth"];

/// Whether the CSR carries a condition of this type with status True.
pub fn has_condition(csr: &CertificateSigningRequest, type_: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// A True condition as the controllers write it.
pub fn condition(type_: &str, reason: &str, message: &str) -> CertificateSigningRequestCondition {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    CertificateSigningRequestCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// The requested usages.
pub fn usages(csr: &CertificateSigningRequest) -> Vec<String> {
    csr.spec.usages.clone().unwrap_or_default()
}

/// Why requested usages do not fit a `kind` certificate, if they do not: one outside
/// `allowed`, or one of `required` missing.
fn usage_problem(usages: &[String], allowed: &[&str], required: &[&str], kind: &str) -> Option<String> {
    if let Some(bad) = usages.iter().find(|u| !allowed.contains(&u.as_str())) {
        return Some(format!(
            "usage {bad:?} is not allowed for a {kind} certificate (allowed: {})",
            allowed.join(", ")
        ));
    }
    required
        .iter()
        .find(|needed| !usages.iter().any(|u| u == *needed))
        .map(|needed| format!("usage {needed:?} is required for a {kind} certificate"))
}

/// Why requested usages do not fit a client certificate, if they do not: only digital
/// signature, key encipherment and client auth, with client auth and digital signature
/// required (upstream's kubelet client usage sets).
pub fn client_usage_problem(usages: &[String]) -> Option<String> {
    usage_problem(
        usages,
        &CLIENT_USAGES,
        &["digital signature", "client auth"],
        "client",
    )
}

/// Why a subject is not a node's, `CN=system:node:<name>, O=system:nodes` and nothing
/// else, if it is not.
fn node_subject_problem(contents: &CsrContents) -> Option<String> {
    let node = contents
        .common_name
        .strip_prefix(NODE_USER_PREFIX)
        .unwrap_or_default();
    if node.is_empty() {
        return Some(format!(
            "the subject's common name {:?} is not system:node:<node name>",
            contents.common_name
        ));
    }
    if contents.organizations != [NODES_GROUP] {
        return Some(format!(
            "the subject's organizations {:?} are not exactly [\"{NODES_GROUP}\"]",
            contents.organizations
        ));
    }
    None
}

/// Why a request does not have the shape of a kubelet client certificate, if it does not:
/// a node's subject, no SANs, client usages.
pub fn node_client_problem(contents: &CsrContents, usages: &[String]) -> Option<String> {
    if let Some(p) = node_subject_problem(contents) {
        return Some(p);
    }
    if contents.has_sans() {
        return Some("a kubelet client certificate may not carry subject alternative names".into());
    }
    client_usage_problem(usages)
}

/// Usages a kubelet serving certificate may ask for.
const SERVING_USAGES: [&str; 3] = ["digital signature", "key encipherment", "server auth"];

/// Why a request does not have the shape of a kubelet serving certificate, if it does
/// not: a node's subject, at least one DNS or IP SAN and no others, server usages
/// (digital signature and server auth required), as upstream's kubelet-serving signer
/// demands.
pub fn node_serving_problem(contents: &CsrContents, usages: &[String]) -> Option<String> {
    if let Some(p) = node_subject_problem(contents) {
        return Some(p);
    }
    if contents.dns_names.is_empty() && contents.ip_addresses.is_empty() {
        return Some("a kubelet serving certificate needs at least one DNS name or IP address".into());
    }
    if !contents.emails.is_empty() || !contents.uris.is_empty() {
        return Some("a kubelet serving certificate may not carry e-mail or URI names".into());
    }
    usage_problem(
        usages,
        &SERVING_USAGES,
        &["digital signature", "server auth"],
        "serving",
    )
}

/// The CSR's PEM request as text.
pub fn request_pem(csr: &CertificateSigningRequest) -> Result<String, String> {
    String::from_utf8(csr.spec.request.0.clone()).map_err(|_| "spec.request is not PEM text".to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn node_contents(cn: &str) -> CsrContents {
        CsrContents {
            common_name: cn.into(),
            organizations: vec![NODES_GROUP.into()],
            ..Default::default()
        }
    }

    #[test]
    fn client_usages() {
        assert_eq!(
            client_usage_problem(&strings(&["digital signature", "client auth"])),
            None
        );
        assert_eq!(
            client_usage_problem(&strings(&[
                "digital signature",
                "key encipherment",
                "client auth"
            ])),
            None
        );
        assert!(
            client_usage_problem(&strings(&["digital signature", "client auth", "server auth"])).is_some()
        );
        assert!(client_usage_problem(&strings(&["client auth"])).is_some());
        assert!(client_usage_problem(&[]).is_some());
    }

    #[test]
    fn node_serving_shape() {
        let ok = strings(&["digital signature", "key encipherment", "server auth"]);
        let mut c = node_contents("system:node:n1");
        assert!(node_serving_problem(&c, &ok).unwrap().contains("at least one"));
        c.ip_addresses = strings(&["10.0.0.5"]);
        assert_eq!(node_serving_problem(&c, &ok), None);
        assert!(node_serving_problem(&c, &strings(&["digital signature", "client auth"])).is_some());
        assert!(
            node_serving_problem(&c, &strings(&["digital signature"]))
                .unwrap()
                .contains("server auth")
        );
        c.emails = strings(&["a@b.c"]);
        assert!(node_serving_problem(&c, &ok).is_some());
        assert!(node_serving_problem(&node_contents("admin"), &ok).is_some());
    }

    #[test]
    fn node_client_shape() {
        let ok = strings(&["digital signature", "client auth"]);
        assert_eq!(node_client_problem(&node_contents("system:node:n1"), &ok), None);
        assert!(node_client_problem(&node_contents("system:node:"), &ok).is_some());
        assert!(node_client_problem(&node_contents("admin"), &ok).is_some());
        let mut masters = node_contents("system:node:n1");
        masters.organizations.push("system:masters".into());
        assert!(
            node_client_problem(&masters, &ok)
                .unwrap()
                .contains("organizations")
        );
        let mut sans = node_contents("system:node:n1");
        sans.dns_names.push("n1".into());
        assert!(node_client_problem(&sans, &ok).unwrap().contains("alternative"));
    }
}
