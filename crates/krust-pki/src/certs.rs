//! Leaf certificates signed by the cluster CA: the API server's serving certificate and client
//! certificates (the admin's, node agents', tests'), and the checks that decide when an
//! existing one must be replaced.

use std::collections::BTreeSet;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use crate::ca::{BACKDATE, CertificateAuthority};
use crate::sans::{self, San};
use crate::{PkiError, der, pem};

/// How long a serving or admin certificate is valid.
pub(crate) const LEAF_VALIDITY: Duration = Duration::days(365);
/// A certificate this close to expiry is replaced at start-up, so a server restarted now and
/// then never serves an expired one.
pub(crate) const RENEW_BEFORE: Duration = Duration::days(90);
/// Subject CN of the serving certificate.
pub(crate) const SERVING_CN: &str = "krust-apiserver";

/// A certificate with its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KeyedCert {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl std::fmt::Debug for KeyedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedCert")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(PkiError::generate("generating key"))
}

/// Validity for a leaf issued at `now`, never outliving the CA.
fn leaf_params(ca: &CertificateAuthority, now: OffsetDateTime, validity: Duration) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = now - BACKDATE;
    params.not_after = (now + validity).min(ca.not_after());
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params
}

/// Issues the API server's serving certificate for exactly `names`.
pub(crate) fn issue_serving(
    ca: &CertificateAuthority,
    names: &BTreeSet<San>,
    now: OffsetDateTime,
) -> Result<KeyedCert, PkiError> {
    let key = new_key()?;
    let mut params = leaf_params(ca, now, LEAF_VALIDITY);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, SERVING_CN);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.subject_alt_names = names.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
    let cert = params
        .signed_by(&key, ca.issuer())
        .map_err(PkiError::generate("signing serving certificate"))?;
    Ok(KeyedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a client certificate: `cn` becomes the user name, each of `orgs` a group.
pub(crate) fn issue_client(
    ca: &CertificateAuthority,
    cn: &str,
    orgs: &[&str],
    validity: Duration,
    now: OffsetDateTime,
) -> Result<KeyedCert, PkiError> {
    if cn.trim().is_empty() {
        return Err(PkiError::InvalidRequest(
            "the common name (user name) is empty".into(),
        ));
    }
    if orgs.iter().any(|o| o.trim().is_empty()) {
        return Err(PkiError::InvalidRequest(
            "an organization (group) is empty".into(),
        ));
    }
    if validity <= Duration::ZERO {
        return Err(PkiError::InvalidRequest(
            "validity must be at least one day".into(),
        ));
    }
    let key = new_key()?;
    let mut params = leaf_params(ca, now, validity);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params
        .signed_by(&key, ca.issuer())
        .map_err(PkiError::generate("signing client certificate"))?;
    // rcgen allows one O per name; put in the full subject ourselves (see `der`).
    let der = der::replace_subject(cert.der(), &der::subject(cn, orgs), ca.issuer().key())?;
    Ok(KeyedCert {
        cert_pem: pem::encode("CERTIFICATE", &der),
        key_pem: key.serialize_pem(),
    })
}

/// Why an existing leaf certificate must be replaced, or `None` when it is still good.
///
/// It must parse, match its key, be signed by `ca`, not expire within [`RENEW_BEFORE`], and pass
/// `expect`, which checks what is specific to the kind of certificate (SANs, subject, usage).
pub(crate) fn replacement_reason(
    ca: &CertificateAuthority,
    existing: &KeyedCert,
    now: OffsetDateTime,
    expect: impl Fn(&X509Certificate<'_>) -> Option<String>,
) -> Option<String> {
    let der = match pem::cert_der(&existing.cert_pem) {
        Ok(der) => der,
        Err(e) => return Some(format!("the certificate is unreadable: {e}")),
    };
    let cert = match x509_parser::parse_x509_certificate(&der) {
        Ok((_, cert)) => cert,
        Err(e) => return Some(format!("the certificate is unreadable: {e}")),
    };
    match KeyPair::from_pem(&existing.key_pem) {
        Ok(key) if key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref() => {}
        Ok(_) => return Some("the private key does not match the certificate".into()),
        Err(e) => return Some(format!("the private key is unreadable: {e}")),
    }
    if !ca.signed(&cert) {
        return Some("it was not signed by the current CA".into());
    }
    match pem::not_after(&cert) {
        Ok(not_after) if not_after - now < RENEW_BEFORE => {
            return Some(format!(
                "it expires at {not_after}, within {} days",
                RENEW_BEFORE.whole_days()
            ));
        }
        Ok(_) => {}
        Err(e) => return Some(e),
    }
    expect(&cert)
}

/// For the serving certificate: which wanted SANs it lacks.
pub(crate) fn missing_sans(wanted: &BTreeSet<San>) -> impl Fn(&X509Certificate<'_>) -> Option<String> + '_ {
    move |cert| {
        let have = sans::cert_sans(cert);
        let missing: Vec<String> = wanted.difference(&have).map(San::to_string).collect();
        (!missing.is_empty())
            .then(|| format!("it lacks the subject alternative names {}", missing.join(", ")))
    }
}

/// For a client certificate: that it names `cn` and `orgs` and allows client authentication.
pub(crate) fn client_subject<'a>(
    cn: &'a str,
    orgs: &'a [&'a str],
) -> impl Fn(&X509Certificate<'_>) -> Option<String> + 'a {
    move |cert| {
        let subject = cert.subject();
        let have_cn: Vec<&str> = subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .collect();
        let have_orgs: Vec<&str> = subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .collect();
        if have_cn != [cn] || have_orgs != orgs {
            return Some(format!(
                "its subject is {subject}, not CN={cn} O={}",
                orgs.join(",")
            ));
        }
        match cert.extended_key_usage() {
            Ok(Some(eku)) if eku.value.client_auth => None,
            _ => Some("it does not allow client authentication".into()),
        }
    }
}
