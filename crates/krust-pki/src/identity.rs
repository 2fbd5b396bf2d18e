//! Who a request comes from, as the authorizer sees it.
//!
//! Kubernetes maps a client certificate's CN to the user name and its O attributes to groups,
//! and a static token to the user, uid and groups written next to it. Either way the user also
//! belongs to `system:authenticated`, which RBAC's default bindings refer to.

use x509_parser::certificate::X509Certificate;

use crate::PkiError;

/// The group every authenticated user is in.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// An authenticated user: the input to authorization and to audit logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user name (`kubectl auth whoami` shows it).
    pub user: String,
    /// A stable id, when the authenticator has one (tokens do, certificates don't).
    pub uid: String,
    /// Groups, ending with [`AUTHENTICATED_GROUP`].
    pub groups: Vec<String>,
}

impl Identity {
    /// The identity of an authenticated user: `groups` plus [`AUTHENTICATED_GROUP`] (once).
    pub fn authenticated(user: impl Into<String>, uid: impl Into<String>, mut groups: Vec<String>) -> Self {
        if !groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
            groups.push(AUTHENTICATED_GROUP.to_string());
        }
        Identity {
            user: user.into(),
            uid: uid.into(),
            groups,
        }
    }
}

/// The identity a client certificate (DER) asserts: CN → user, each O → a group.
///
/// This only reads the subject. The TLS layer must already have verified the certificate
/// against the CA (the config from `Pki::server_config` does); never call it on an unverified
/// certificate. When the subject has several CNs the last one counts, as in Go's reading.
pub fn identity_from_cert(der: &[u8]) -> Result<Identity, PkiError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::ParseCert(e.to_string()))?;
    identity_from_x509(&cert)
}

fn identity_from_x509(cert: &X509Certificate<'_>) -> Result<Identity, PkiError> {
    let subject = cert.subject();
    let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
        attr.as_str()
            .map(str::to_string)
            .map_err(|e| PkiError::ParseCert(format!("subject {subject}: {e}")))
    };
    let user = match subject.iter_common_name().last() {
        Some(cn) => text(cn)?,
        None => String::new(),
    };
    if user.is_empty() {
        return Err(PkiError::ParseCert(format!(
            "subject {subject} has no common name (user name)"
        )));
    }
    let groups = subject
        .iter_organization()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Identity::authenticated(user, "", groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_group_is_added_once() {
        let id = Identity::authenticated("u", "1", vec!["a".into()]);
        assert_eq!(id.groups, ["a", AUTHENTICATED_GROUP]);
        let id = Identity::authenticated("u", "1", vec![AUTHENTICATED_GROUP.into(), "b".into()]);
        assert_eq!(id.groups, [AUTHENTICATED_GROUP, "b"]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            identity_from_cert(b"not a certificate"),
            Err(PkiError::ParseCert(_))
        ));
    }

    #[test]
    fn cert_without_cn_is_rejected() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "only-org");
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).unwrap();
        let err = identity_from_cert(cert.der()).unwrap_err();
        assert!(err.to_string().contains("no common name"), "{err}");
    }
}
