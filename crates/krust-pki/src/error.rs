//! The one error type this crate returns.
//!
//! Every variant says what was being done and, where a file is involved, which file, so that
//! the server's start-up failure message tells an operator what to fix.

use std::path::PathBuf;

/// Everything that can go wrong while creating, loading or using the cluster's certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading, writing or inspecting a file or directory failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What we were doing, e.g. "writing".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A file holds something that is not a usable certificate or key.
    #[error("invalid {what} in {}: {reason}", path.display())]
    InvalidFile {
        /// What the file should hold, e.g. "CA certificate".
        what: &'static str,
        /// The file involved.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// Only one half of the CA (certificate or key) exists on disk.
    ///
    /// We refuse to guess: silently replacing a CA would invalidate every certificate and
    /// kubeconfig handed out so far.
    #[error(
        "found {} but not {}: restore the missing file, or remove the other one to create a new CA \
         (this invalidates every certificate and kubeconfig issued so far)",
        present.display(),
        missing.display()
    )]
    IncompleteCa {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },

    /// A subject alternative name given by the user is neither an IP address nor a DNS name.
    #[error("invalid subject alternative name {0:?}: expected an IP address or a DNS name")]
    InvalidSan(String),

    /// A certificate request was malformed (empty common name, zero days, ...).
    #[error("invalid certificate request: {0}")]
    InvalidRequest(String),

    /// Certificate generation or signing failed.
    #[error("{context}: {source}")]
    Generate {
        /// Which certificate or step.
        context: &'static str,
        /// The underlying error.
        source: rcgen::Error,
    },

    /// A DER structure could not be parsed or rebuilt.
    #[error("malformed certificate: {0}")]
    Der(String),

    /// A certificate passed in (e.g. a peer's) could not be parsed.
    #[error("cannot parse certificate: {0}")]
    ParseCert(String),

    /// Building the TLS configuration failed.
    #[error("building TLS configuration: {0}")]
    Tls(#[from] rustls::Error),

    /// Building the client certificate verifier failed.
    #[error("building client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// A line of a static token file is invalid.
    #[error("token file {}, line {line}: {reason}", path.display())]
    TokenFile {
        /// The token file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl PkiError {
    /// Shorthand for [`PkiError::Io`].
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PkiError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`PkiError::Generate`].
    pub(crate) fn generate(context: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| PkiError::Generate { context, source }
    }
}
