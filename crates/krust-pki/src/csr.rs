//! TLS bootstrap: the certificate signing request a joining node agent sends, what an
//! approver reads from it, the cluster CA signing it (the `csrsigning` controller), and the
//! CA hash a join token carries so that the agent can trust the server it first talks to.
//!
//! Requests are read with their signature checked: a CSR whose signature does not match its
//! own public key proves nothing about who holds the key, so it is refused outright.

use std::time::SystemTime;

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::ca::{BACKDATE, CertificateAuthority};
use crate::{PkiError, der, pem};

/// The shortest certificate the signer issues (upstream's minimum `expirationSeconds`).
pub const MIN_SIGNED_VALIDITY: std::time::Duration = std::time::Duration::from_secs(600);

/// SHA-256 of a CA certificate's DER as lower-case hex: the value a `K10<hash>::id.secret`
/// join token carries, so a joining agent can check the CA it downloads without trusting
/// the network.
pub fn ca_cert_hash(ca_der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, ca_der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The DER of every certificate in a PEM bundle, in order.
pub fn pem_certificates(pem_text: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    let certs: Vec<Vec<u8>> = rustls_pki_types::CertificateDer::pem_slice_iter(pem_text.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| PkiError::ParseCert(format!("reading PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(PkiError::ParseCert("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// One certificate (DER) as PEM.
pub fn certificate_pem(der: &[u8]) -> String {
    pem::encode("CERTIFICATE", der)
}

/// A new private key and a CSR for it, both PEM.
#[derive(Clone)]
pub struct GeneratedCsr {
    /// The request (`CERTIFICATE REQUEST`).
    pub csr_pem: String,
    /// Its private key (PKCS#8); never leaves the machine that generated it.
    pub key_pem: String,
}

impl std::fmt::Debug for GeneratedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCsr")
            .field("csr_pem", &self.csr_pem)
            .finish_non_exhaustive()
    }
}

/// Generates an ECDSA P-256 key and a CSR for a client certificate of user `cn` in group
/// `org` (a kubelet asks for `system:node:<name>` in `system:nodes`).
pub fn generate_client_csr(cn: &str, org: &str) -> Result<GeneratedCsr, PkiError> {
    generate_csr(cn, org, &[])
}

/// Generates a key and a CSR for a kubelet serving certificate of node `node`: user
/// `system:node:<node>` in `system:nodes`, with the node's addresses and names (`sans`:
/// IP addresses or DNS names) as subject alternative names, as upstream's kubelet asks
/// signer `kubernetes.io/kubelet-serving`.
pub fn generate_serving_csr(node: &str, sans: &[String]) -> Result<GeneratedCsr, PkiError> {
    if sans.is_empty() {
        return Err(PkiError::InvalidRequest(
            "a serving certificate needs at least one address or name".into(),
        ));
    }
    generate_csr(&format!("system:node:{node}"), "system:nodes", sans)
}

fn generate_csr(cn: &str, org: &str, sans: &[String]) -> Result<GeneratedCsr, PkiError> {
    if cn.trim().is_empty() {
        return Err(PkiError::InvalidRequest(
            "the common name (user name) is empty".into(),
        ));
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(PkiError::generate("generating key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if !org.is_empty() {
        dn.push(DnType::OrganizationName, org);
    }
    params.distinguished_name = dn;
    params.subject_alt_names = sans
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(rcgen::SanType::IpAddress(ip)),
            Err(_) => rcgen::string::Ia5String::try_from(n.as_str())
                .map(rcgen::SanType::DnsName)
                .map_err(|e| PkiError::InvalidRequest(format!("invalid DNS name {n:?}: {e}"))),
        })
        .collect::<Result<_, _>>()?;
    let csr = params
        .serialize_request(&key)
        .map_err(PkiError::generate("creating the certificate signing request"))?;
    let csr_pem = csr
        .pem()
        .map_err(PkiError::generate("encoding the certificate signing request"))?;
    Ok(GeneratedCsr {
        csr_pem,
        key_pem: key.serialize_pem(),
    })
}

/// What a CSR asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrContents {
    /// Subject common name (the last one, as Go reads it).
    pub common_name: String,
    /// Subject organizations, in order.
    pub organizations: Vec<String>,
    /// Requested DNS SANs.
    pub dns_names: Vec<String>,
    /// Requested IP SANs (as text).
    pub ip_addresses: Vec<String>,
    /// Requested e-mail SANs.
    pub emails: Vec<String>,
    /// Requested URI SANs.
    pub uris: Vec<String>,
}

impl CsrContents {
    /// Whether any subject alternative name is requested.
    pub fn has_sans(&self) -> bool {
        !(self.dns_names.is_empty()
            && self.ip_addresses.is_empty()
            && self.emails.is_empty()
            && self.uris.is_empty())
    }
}

fn csr_der(csr_pem: &str) -> Result<CertificateSigningRequestDer<'static>, PkiError> {
    CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|e| PkiError::InvalidRequest(format!("no PEM CERTIFICATE REQUEST block found: {e}")))
}

/// Parses a PEM CSR and checks its signature; what it asks for.
pub fn read_csr(csr_pem: &str) -> Result<CsrContents, PkiError> {
    let der = csr_der(csr_pem)?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| PkiError::InvalidRequest(format!("unparsable certificate request: {e}")))?;
    csr.verify_signature().map_err(|_| {
        PkiError::InvalidRequest("the certificate request's signature does not match its public key".into())
    })?;
    let info = &csr.certification_request_info;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| {
        a.as_str()
            .map(str::to_string)
            .map_err(|e| PkiError::InvalidRequest(format!("subject {}: {e}", info.subject)))
    };
    let mut out = CsrContents {
        common_name: match info.subject.iter_common_name().last() {
            Some(cn) => text(cn)?,
            None => String::new(),
        },
        organizations: info
            .subject
            .iter_organization()
            .map(text)
            .collect::<Result<_, _>>()?,
        ..Default::default()
    };
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => out.dns_names.push(d.to_string()),
                        GeneralName::RFC822Name(e) => out.emails.push(e.to_string()),
                        GeneralName::URI(u) => out.uris.push(u.to_string()),
                        GeneralName::IPAddress(ip) => out.ip_addresses.push(ip_text(ip)),
                        other => out.uris.push(format!("{other:?}")),
                    }
                }
            }
        }
    }
    Ok(out)
}

fn ip_text(raw: &[u8]) -> String {
    match raw.len() {
        4 => std::net::Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]).to_string(),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(raw);
            std::net::Ipv6Addr::from(b).to_string()
        }
        _ => format!("{raw:?}"),
    }
}

/// Signs client certificate requests with the cluster CA, for the `csrsigning` controller.
/// Built from the CA's PEM files handed to the controller manager in its config.
pub struct CsrSigner {
    ca: CertificateAuthority,
}

impl std::fmt::Debug for CsrSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrSigner").field("ca", &self.ca).finish()
    }
}

impl CsrSigner {
    /// A signer from the CA certificate and key (PEM); fails when they do not belong together.
    pub fn from_pem(ca_cert_pem: &str, ca_key_pem: &str) -> Result<Self, PkiError> {
        let where_ = std::path::Path::new("<controller manager configuration>");
        let ca = CertificateAuthority::load(ca_cert_pem.to_string(), ca_key_pem.to_string(), where_, where_)?;
        Ok(Self { ca })
    }

    /// Issues a client certificate (client auth; digital signature, plus key encipherment
    /// when asked) for the request, valid for `validity` (at least
    /// [`MIN_SIGNED_VALIDITY`], never past the CA). The subject's CN and O are copied; the
    /// requested SANs too. Returns the certificate PEM.
    pub fn sign_client(
        &self,
        csr_pem: &str,
        validity: std::time::Duration,
        key_encipherment: bool,
    ) -> Result<String, PkiError> {
        self.sign_client_at(csr_pem, validity, key_encipherment, OffsetDateTime::now_utc())
    }

    /// Issues a serving certificate (server auth; digital signature, plus key
    /// encipherment when asked) for the request: as [`CsrSigner::sign_client`], for
    /// signer `kubernetes.io/kubelet-serving`.
    pub fn sign_serving(
        &self,
        csr_pem: &str,
        validity: std::time::Duration,
        key_encipherment: bool,
    ) -> Result<String, PkiError> {
        self.sign_at(
            csr_pem,
            validity,
            key_encipherment,
            ExtendedKeyUsagePurpose::ServerAuth,
            OffsetDateTime::now_utc(),
        )
    }

    pub(crate) fn sign_client_at(
        &self,
        csr_pem: &str,
        validity: std::time::Duration,
        key_encipherment: bool,
        now: OffsetDateTime,
    ) -> Result<String, PkiError> {
        self.sign_at(
            csr_pem,
            validity,
            key_encipherment,
            ExtendedKeyUsagePurpose::ClientAuth,
            now,
        )
    }

    fn sign_at(
        &self,
        csr_pem: &str,
        validity: std::time::Duration,
        key_encipherment: bool,
        usage: ExtendedKeyUsagePurpose,
        now: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let contents = read_csr(csr_pem)?;
        if contents.common_name.trim().is_empty() {
            return Err(PkiError::InvalidRequest(
                "the certificate request's subject has no common name (user name)".into(),
            ));
        }
        let requested = CertificateSigningRequestParams::from_der(&csr_der(csr_pem)?)
            .map_err(|e| PkiError::InvalidRequest(format!("unsupported certificate request: {e}")))?;
        let validity = Duration::try_from(validity.max(MIN_SIGNED_VALIDITY))
            .map_err(|e| PkiError::InvalidRequest(format!("validity out of range: {e}")))?;
        let mut params = CertificateParams::default();
        params.not_before = now - BACKDATE;
        params.not_after = (now + validity).min(self.ca.not_after());
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if key_encipherment {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![usage];
        params.subject_alt_names = requested.params.subject_alt_names.clone();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, contents.common_name.as_str());
        params.distinguished_name = dn;
        let to_sign = CertificateSigningRequestParams {
            params,
            public_key: requested.public_key,
        };
        let cert = to_sign
            .signed_by(self.ca.issuer())
            .map_err(PkiError::generate("signing the requested certificate"))?;
        // rcgen keeps one O per name; put in the full subject ourselves (see `der`).
        let orgs: Vec<&str> = contents.organizations.iter().map(String::as_str).collect();
        let der = der::replace_subject(
            cert.der(),
            &der::subject(&contents.common_name, &orgs),
            self.ca.issuer().key(),
        )?;
        Ok(pem::encode("CERTIFICATE", &der))
    }
}

/// Until when a client certificate is valid, after checking that `key_pem` is its key and,
/// when `ca_pem` is given, that this CA signed it. For an agent deciding whether the
/// credentials it saved earlier can still be used.
pub fn client_cert_valid_until(
    cert_pem: &str,
    key_pem: &str,
    ca_pem: Option<&str>,
) -> Result<SystemTime, PkiError> {
    let der = pem::cert_der(cert_pem).map_err(PkiError::ParseCert)?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::ParseCert(e.to_string()))?;
    let key = KeyPair::from_pem(key_pem)
        .map_err(|e| PkiError::InvalidRequest(format!("unreadable private key: {e}")))?;
    if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(PkiError::InvalidRequest(
            "the private key does not match the certificate".into(),
        ));
    }
    if let Some(ca_pem) = ca_pem {
        let ca_der = pem::cert_der(ca_pem).map_err(PkiError::ParseCert)?;
        let (_, ca) =
            x509_parser::parse_x509_certificate(&ca_der).map_err(|e| PkiError::ParseCert(e.to_string()))?;
        if cert.issuer() != ca.subject() || cert.verify_signature(Some(ca.public_key())).is_err() {
            return Err(PkiError::InvalidRequest(
                "the certificate was not signed by the cluster CA".into(),
            ));
        }
    }
    let not_after = pem::not_after(&cert).map_err(PkiError::ParseCert)?;
    let secs = u64::try_from(not_after.unix_timestamp()).unwrap_or(0);
    Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::ParsedExtension;

    fn ca() -> (CertificateAuthority, CsrSigner) {
        let ca = CertificateAuthority::generate("test-ca", OffsetDateTime::now_utc()).unwrap();
        let signer = CsrSigner::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        (ca, signer)
    }

    #[test]
    fn hash_is_sha256_hex_of_the_der() {
        let (ca, _) = ca();
        let hash = ca_cert_hash(ca.cert_der());
        assert_eq!(hash.len(), 64);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        // The same digest as the colon-separated fingerprint.
        assert_eq!(hash, ca.fingerprint().replace(':', "").to_lowercase());
        let certs = pem_certificates(ca.cert_pem()).unwrap();
        assert_eq!(certs, vec![ca.cert_der().to_vec()]);
        assert!(pem_certificates("not pem").is_err());
    }

    #[test]
    fn generated_csr_reads_back() {
        let req = generate_client_csr("system:node:n1", "system:nodes").unwrap();
        let c = read_csr(&req.csr_pem).unwrap();
        assert_eq!(c.common_name, "system:node:n1");
        assert_eq!(c.organizations, ["system:nodes"]);
        assert!(!c.has_sans());
        assert!(read_csr("garbage").is_err());
    }

    #[test]
    fn serving_requests_carry_the_node_addresses_and_sign_for_servers() {
        let sans = vec!["10.0.0.5".to_string(), "n1".to_string()];
        let req = generate_serving_csr("n1", &sans).unwrap();
        let c = read_csr(&req.csr_pem).unwrap();
        assert_eq!(c.common_name, "system:node:n1");
        assert_eq!(c.organizations, ["system:nodes"]);
        assert_eq!(c.ip_addresses, ["10.0.0.5"]);
        assert_eq!(c.dns_names, ["n1"]);
        assert!(generate_serving_csr("n1", &[]).is_err());
        let (_, signer) = ca();
        let pem_text = signer
            .sign_serving(&req.csr_pem, std::time::Duration::from_secs(86400), true)
            .unwrap();
        let der = pem::cert_der(&pem_text).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(san.general_names.len(), 2);
    }

    #[test]
    fn tampered_csr_is_refused() {
        let req = generate_client_csr("system:node:n1", "system:nodes").unwrap();
        let mut der = csr_der(&req.csr_pem).unwrap().to_vec();
        // Flip a byte of the subject's CN text ("n1" at the end of the name).
        let at = der.windows(2).position(|w| w == b"n1").unwrap();
        der[at + 1] = b'2';
        let tampered = pem::encode("CERTIFICATE REQUEST", &der);
        let err = read_csr(&tampered).unwrap_err().to_string();
        assert!(err.contains("signature"), "{err}");
        let (_, signer) = ca();
        assert!(
            signer
                .sign_client(&tampered, std::time::Duration::from_secs(3600), false)
                .is_err()
        );
    }

    #[test]
    fn signed_certificate_has_subject_usages_issuer_and_validity() {
        let (ca, signer) = ca();
        let req = generate_client_csr("system:node:n1", "system:nodes").unwrap();
        let now = OffsetDateTime::now_utc();
        let day = std::time::Duration::from_secs(86400);
        let pem_cert = signer.sign_client_at(&req.csr_pem, day, false, now).unwrap();
        let der = pem::cert_der(&pem_cert).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let (_, ca_x509) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
        assert_eq!(cert.issuer(), ca_x509.subject());
        cert.verify_signature(Some(ca_x509.public_key())).unwrap();
        let id = crate::identity_from_cert(&der).unwrap();
        assert_eq!(id.user, "system:node:n1");
        assert!(id.groups.iter().any(|g| g == "system:nodes"));
        let mut client_auth = false;
        let mut digital_signature = false;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::ExtendedKeyUsage(e) => client_auth = e.client_auth && !e.server_auth,
                ParsedExtension::KeyUsage(k) => {
                    digital_signature = k.digital_signature() && !k.key_cert_sign();
                }
                ParsedExtension::BasicConstraints(b) => assert!(!b.ca),
                _ => {}
            }
        }
        assert!(client_auth && digital_signature);
        let not_after = pem::not_after(&cert).unwrap();
        let expected = now + Duration::days(1);
        assert!(
            (not_after - expected).abs() <= Duration::seconds(1),
            "{not_after} vs {expected}"
        );
        // The key the agent kept matches; the CA signed it.
        let until = client_cert_valid_until(&pem_cert, &req.key_pem, Some(ca.cert_pem())).unwrap();
        assert!(until > SystemTime::now());
        let other = generate_client_csr("x", "").unwrap();
        assert!(client_cert_valid_until(&pem_cert, &other.key_pem, None).is_err());
        let (other_ca, _) = self::ca();
        assert!(client_cert_valid_until(&pem_cert, &req.key_pem, Some(other_ca.cert_pem())).is_err());
    }

    #[test]
    fn validity_has_a_floor_and_the_ca_as_ceiling() {
        let (ca, signer) = ca();
        let req = generate_client_csr("u", "").unwrap();
        let now = OffsetDateTime::now_utc();
        let short = signer
            .sign_client_at(&req.csr_pem, std::time::Duration::from_secs(1), true, now)
            .unwrap();
        let der = pem::cert_der(&short).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(pem::not_after(&cert).unwrap() >= now + Duration::seconds(599));
        let long = signer
            .sign_client_at(
                &req.csr_pem,
                std::time::Duration::from_secs(86400 * 365 * 50),
                false,
                now,
            )
            .unwrap();
        let der = pem::cert_der(&long).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(pem::not_after(&cert).unwrap() <= ca.not_after());
    }
}
