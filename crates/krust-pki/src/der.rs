//! Just enough DER to give a client certificate several Organization attributes.
//!
//! Kubernetes reads a client certificate's groups from its `O` attributes, and a user may be in
//! several groups. rcgen keeps at most one attribute of each type in a distinguished name, so
//! we let rcgen build and sign the certificate, then swap in a subject we encode ourselves and
//! sign the new to-be-signed part again with the same CA key. Only definite-length DER with
//! single-byte tags is handled, which is all rcgen ever writes.

use rcgen::SigningKey;

use crate::PkiError;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_BIT_STRING: u8 = 0x03;
/// `[0] EXPLICIT Version` at the start of a TBSCertificate.
const TAG_VERSION: u8 = 0xa0;

/// id-at-commonName, 2.5.4.3, encoded.
const OID_COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
/// id-at-organizationName, 2.5.4.10, encoded.
const OID_ORGANIZATION: [u8; 3] = [0x55, 0x04, 0x0a];

/// One parsed element: its tag, its content, and the whole encoding including the header.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

fn malformed(what: &str) -> PkiError {
    PkiError::Der(what.to_string())
}

/// Splits the first element off `input`.
fn next_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), PkiError> {
    let (&tag, rest) = input
        .split_first()
        .ok_or_else(|| malformed("unexpected end of data"))?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("multi-byte tags are not supported"));
    }
    let (&first, rest) = rest.split_first().ok_or_else(|| malformed("missing length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(malformed("unsupported or truncated length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(malformed("element longer than its container"));
    }
    let header = input.len() - rest.len();
    let whole = &input[..header + len];
    Ok((
        Tlv {
            tag,
            content: &rest[..len],
            whole,
        },
        &rest[len..],
    ))
}

/// All elements inside a constructed element's content.
fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, PkiError> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = next_tlv(content)?;
        out.push(tlv);
        content = rest;
    }
    Ok(out)
}

/// Encodes one element.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// One single-valued RDN: `SET { SEQUENCE { type, UTF8String value } }`.
fn rdn(oid: &[u8], value: &str) -> Vec<u8> {
    let mut atv = tlv(TAG_OID, oid);
    atv.extend(tlv(TAG_UTF8_STRING, value.as_bytes()));
    tlv(TAG_SET, &tlv(TAG_SEQUENCE, &atv))
}

/// The DER of the name `O=<org>, ..., CN=<cn>`, one RDN per attribute (the order Go and
/// OpenSSL print and write them in).
pub(crate) fn subject(cn: &str, orgs: &[&str]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for org in orgs {
        rdns.extend(rdn(&OID_ORGANIZATION, org));
    }
    rdns.extend(rdn(&OID_COMMON_NAME, cn));
    tlv(TAG_SEQUENCE, &rdns)
}

/// Returns `cert_der` with its subject replaced by `subject_der`, re-signed by `signer`
/// (which must be the key that signed it, so the signature algorithm stays right).
pub(crate) fn replace_subject(
    cert_der: &[u8],
    subject_der: &[u8],
    signer: &impl SigningKey,
) -> Result<Vec<u8>, PkiError> {
    let (cert, rest) = next_tlv(cert_der)?;
    if cert.tag != TAG_SEQUENCE || !rest.is_empty() {
        return Err(malformed("certificate is not a single SEQUENCE"));
    }
    let parts = children(cert.content)?;
    let [tbs, algorithm, _signature] = parts.as_slice() else {
        return Err(malformed("certificate does not have three parts"));
    };
    if tbs.tag != TAG_SEQUENCE {
        return Err(malformed("tbsCertificate is not a SEQUENCE"));
    }
    let fields = children(tbs.content)?;
    // version?, serialNumber, signature, issuer, validity, subject, ...
    let subject_at = if fields.first().map(|f| f.tag) == Some(TAG_VERSION) {
        5
    } else {
        4
    };
    match fields.get(subject_at) {
        Some(f) if f.tag == TAG_SEQUENCE => {}
        _ => return Err(malformed("tbsCertificate has no subject")),
    }

    let mut tbs_content = Vec::with_capacity(tbs.content.len() + subject_der.len());
    for (i, field) in fields.iter().enumerate() {
        tbs_content.extend_from_slice(if i == subject_at { subject_der } else { field.whole });
    }
    let new_tbs = tlv(TAG_SEQUENCE, &tbs_content);
    let signature = signer.sign(&new_tbs).map_err(|source| PkiError::Generate {
        context: "re-signing client certificate",
        source,
    })?;
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(signature);

    let mut out = new_tbs;
    out.extend_from_slice(algorithm.whole);
    out.extend(tlv(TAG_BIT_STRING, &bits));
    Ok(tlv(TAG_SEQUENCE, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(TAG_SEQUENCE, &content);
            let (parsed, rest) = next_tlv(&encoded).unwrap();
            assert!(rest.is_empty());
            assert_eq!(parsed.tag, TAG_SEQUENCE);
            assert_eq!(parsed.content.len(), len);
            assert_eq!(parsed.whole.len(), encoded.len());
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let encoded = tlv(TAG_SEQUENCE, &[1, 2, 3, 4]);
        for cut in 0..encoded.len() {
            assert!(next_tlv(&encoded[..cut]).is_err(), "cut at {cut}");
        }
        assert!(next_tlv(&[0x30, 0x80]).is_err(), "indefinite length");
        assert!(next_tlv(&[0x1f, 0x01, 0x00]).is_err(), "multi-byte tag");
    }

    #[test]
    fn subject_parses_with_every_org() {
        let der = subject("alice", &["dev", "ops,team"]);
        use x509_parser::prelude::FromDer;
        let (rest, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let orgs: Vec<&str> = name.iter_organization().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(orgs, ["dev", "ops,team"]);
        let cn: Vec<&str> = name.iter_common_name().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(cn, ["alice"]);
    }
}
