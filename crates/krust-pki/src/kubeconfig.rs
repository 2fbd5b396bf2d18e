//! kubeconfig files, as kubectl and the client libraries read them.
//!
//! Credentials are embedded (`*-data` fields) rather than referenced by path, so the file keeps
//! working when copied to another machine.

use std::path::Path;

use base64::Engine as _;

use crate::PkiError;
use crate::fsutil::{self, SECRET_MODE};

/// Name of the one cluster, user and context in the generated files (k3s uses the same).
const NAME: &str = "default";

/// A kubeconfig with one cluster at `server_url` trusting `ca_pem`, one user authenticating
/// with the client certificate `cert_pem` / `key_pem`, and a context joining them that is
/// also the current one.
pub fn kubeconfig(server_url: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {NAME}\n  \
           cluster:\n    \
             certificate-authority-data: {ca}\n    \
             server: {server}\n\
         contexts:\n\
         - name: {NAME}\n  \
           context:\n    \
             cluster: {NAME}\n    \
             user: {NAME}\n\
         current-context: {NAME}\n\
         preferences: {{}}\n\
         users:\n\
         - name: {NAME}\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n",
        ca = b64(ca_pem),
        server = yaml_quote(server_url),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}

/// A kubeconfig authenticating with a bearer token (none when empty), trusting `ca_pem`, or,
/// without one, trusting any server (`insecure-skip-tls-verify`). A joining agent uses the
/// insecure form only to download the CA, which it then checks against its join token's
/// hash, and the token form until it has a certificate.
pub fn token_kubeconfig(server_url: &str, ca_pem: Option<&str>, token: &str) -> String {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
    let trust = match ca_pem {
        Some(ca) => format!("certificate-authority-data: {}", b64(ca)),
        None => "insecure-skip-tls-verify: true".to_string(),
    };
    let user = if token.is_empty() {
        "{}".to_string()
    } else {
        format!("\n    token: {}", yaml_quote(token))
    };
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {NAME}\n  \
           cluster:\n    \
             {trust}\n    \
             server: {server}\n\
         contexts:\n\
         - name: {NAME}\n  \
           context:\n    \
             cluster: {NAME}\n    \
             user: {NAME}\n\
         current-context: {NAME}\n\
         preferences: {{}}\n\
         users:\n\
         - name: {NAME}\n  \
           user: {user}\n",
        server = yaml_quote(server_url),
    )
}

/// A YAML double-quoted scalar, so any URL (with `:`, `#`, `[`...) stays one string.
fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes a kubeconfig (it holds a private key) atomically with mode 0600, creating missing
/// parent directories.
pub fn write_kubeconfig(path: &Path, contents: &str) -> Result<(), PkiError> {
    fsutil::write_atomic(path, contents.as_bytes(), SECRET_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_odd_urls_intact() {
        assert_eq!(yaml_quote("https://[::1]:6443"), r#""https://[::1]:6443""#);
        assert_eq!(yaml_quote("a\"b\\c\u{1}"), r#""a\"b\\c\u0001""#);
    }

    #[test]
    fn parses_back_as_yaml() {
        let text = kubeconfig("https://[::1]:6443/#x", "CA PEM", "CERT PEM", "KEY PEM");
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://[::1]:6443/#x");
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"],
            b64("CA PEM")
        );
        assert_eq!(
            doc["users"][0]["user"]["client-certificate-data"],
            b64("CERT PEM")
        );
        assert_eq!(doc["users"][0]["user"]["client-key-data"], b64("KEY PEM"));
        assert_eq!(doc["contexts"][0]["context"]["cluster"], "default");
        assert_eq!(doc["contexts"][0]["context"]["user"], "default");
        assert_eq!(doc["current-context"], "default");
    }
}
