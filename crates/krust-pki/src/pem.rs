//! Small PEM and X.509 helpers shared by the loaders.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

/// The first certificate in a PEM text, as DER.
pub(crate) fn cert_der(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| format!("no PEM certificate found: {e}"))
}

/// The certificate's `notAfter` as a date-time.
pub(crate) fn not_after(cert: &X509Certificate<'_>) -> Result<OffsetDateTime, String> {
    let ts = cert.validity().not_after.timestamp();
    OffsetDateTime::from_unix_timestamp(ts).map_err(|e| format!("notAfter out of range: {e}"))
}

/// Encodes DER as a PEM block with the given label, in 64-column lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_round_trips_through_the_decoder() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = encode("CERTIFICATE", &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(cert_der(&pem).unwrap().as_ref(), der.as_slice());
    }
}
