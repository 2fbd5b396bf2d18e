//! The cluster certificate authority: created once, then kept for the life of the cluster.
//!
//! Every serving and client certificate (and so every kubeconfig) chains to this CA, so losing
//! or replacing it invalidates all of them. That is why loading never falls back to creating a
//! new one: a damaged CA is an error the operator must look at.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use crate::PkiError;
use crate::pem;

/// How long a new CA is valid.
pub(crate) const CA_VALIDITY: Duration = Duration::days(3650);
/// How far `not_before` is moved into the past, so a machine whose clock lags a little still
/// accepts a certificate minted a moment ago elsewhere.
pub(crate) const BACKDATE: Duration = Duration::hours(1);

/// The CA certificate and key, ready to sign.
pub(crate) struct CertificateAuthority {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("CertificateAuthority")
            .field("fingerprint", &self.fingerprint())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Creates a new self-signed ECDSA P-256 CA valid for ten years from `now`.
    pub(crate) fn generate(name: &str, now: OffsetDateTime) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(PkiError::generate("generating CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("{name}@{}", now.unix_timestamp()));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        let cert = params
            .self_signed(&key)
            .map_err(PkiError::generate("self-signing CA certificate"))?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        let cert_der = cert.der().clone();
        let not_after = params.not_after;
        Ok(Self {
            cert_pem,
            key_pem,
            cert_der,
            not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA written earlier, checking that the key belongs to the certificate.
    pub(crate) fn load(
        cert_pem: String,
        key_pem: String,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Self, PkiError> {
        let invalid_cert = |reason: String| PkiError::InvalidFile {
            what: "CA certificate",
            path: cert_path.into(),
            reason,
        };
        let cert_der = pem::cert_der(&cert_pem).map_err(invalid_cert)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::InvalidFile {
            what: "CA private key",
            path: key_path.into(),
            reason: e.to_string(),
        })?;
        let (_, x509) =
            x509_parser::parse_x509_certificate(&cert_der).map_err(|e| invalid_cert(e.to_string()))?;
        if !x509.is_ca() {
            return Err(invalid_cert(
                "not a CA certificate (basicConstraints CA:TRUE missing)".into(),
            ));
        }
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::InvalidFile {
                what: "CA private key",
                path: key_path.into(),
                reason: format!("it does not belong to the certificate in {}", cert_path.display()),
            });
        }
        let not_after = pem::not_after(&x509).map_err(invalid_cert)?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| invalid_cert(e.to_string()))?;
        Ok(Self {
            cert_pem,
            key_pem,
            cert_der,
            not_after,
            issuer,
        })
    }

    /// The CA certificate in PEM.
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key in PEM (PKCS#8).
    pub(crate) fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CA certificate in DER.
    pub(crate) fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// When the CA stops being valid; no certificate it signs should outlive it.
    pub(crate) fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The signer, for [`CertificateParams::signed_by`].
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Whether `cert` carries a valid signature by this CA.
    pub(crate) fn signed(&self, cert: &X509Certificate<'_>) -> bool {
        match x509_parser::parse_x509_certificate(&self.cert_der) {
            Ok((_, ca)) => {
                cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
            }
            Err(_) => false,
        }
    }

    /// SHA-256 over the CA certificate's DER, as colon-separated upper-case hex.
    ///
    /// The same text `openssl x509 -noout -fingerprint -sha256` prints, so an operator can
    /// compare what the server logs with a kubeconfig or a file on another machine.
    pub(crate) fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.cert_der);
        let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }
}
