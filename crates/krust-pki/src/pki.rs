//! The cluster's PKI on disk: created at first start, loaded and kept up to date afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::ca::CertificateAuthority;
use crate::certs::{self, KeyedCert};
use crate::fsutil::{self, PUBLIC_MODE, SECRET_MODE};
use crate::{PkiError, kubeconfig, sans, tls};

/// User name in the admin client certificate.
pub const ADMIN_USER: &str = "admin";
/// Group of the admin client certificate; RBAC's `cluster-admin` binding grants it everything.
pub const ADMIN_GROUP: &str = "system:masters";
/// Common name of the front proxy's client certificate, the one name aggregated API
/// servers accept (`requestheader-allowed-names`), as upstream's `front-proxy-client`.
pub const PROXY_CLIENT_USER: &str = "front-proxy-client";

/// What the operator can choose about the certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkiOptions {
    /// Extra subject alternative names for the serving certificate (`--tls-san`): IP addresses
    /// or DNS names, told apart automatically.
    pub sans: Vec<String>,
    /// The host name to put in the serving certificate; `None` means the system's.
    pub hostname: Option<String>,
}

/// Where each file lives, for logs, `krust check` and tools that want the raw files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    /// The directory holding everything below.
    pub dir: PathBuf,
    /// CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// CA private key (PEM, mode 0600).
    pub ca_key: PathBuf,
    /// API server serving certificate (PEM).
    pub serving_cert: PathBuf,
    /// API server serving key (PEM, mode 0600).
    pub serving_key: PathBuf,
    /// Admin client certificate (PEM).
    pub admin_cert: PathBuf,
    /// Admin client key (PEM, mode 0600).
    pub admin_key: PathBuf,
    /// CA of the front proxy's client certificate (PEM): aggregated API servers trust the
    /// `X-Remote-*` headers only from a client it signed. Separate from the cluster CA so
    /// that no user certificate can pass for the proxy.
    pub request_header_ca_cert: PathBuf,
    /// Its key (PEM, mode 0600).
    pub request_header_ca_key: PathBuf,
    /// The front proxy's client certificate (PEM), presented to aggregated API servers.
    pub proxy_client_cert: PathBuf,
    /// Its key (PEM, mode 0600).
    pub proxy_client_key: PathBuf,
}

impl PkiPaths {
    /// The file layout under `dir`.
    pub fn new(dir: &Path) -> Self {
        PkiPaths {
            dir: dir.to_path_buf(),
            ca_cert: dir.join("server-ca.crt"),
            ca_key: dir.join("server-ca.key"),
            serving_cert: dir.join("serving-kube-apiserver.crt"),
            serving_key: dir.join("serving-kube-apiserver.key"),
            admin_cert: dir.join("client-admin.crt"),
            admin_key: dir.join("client-admin.key"),
            request_header_ca_cert: dir.join("request-header-ca.crt"),
            request_header_ca_key: dir.join("request-header-ca.key"),
            proxy_client_cert: dir.join("client-auth-proxy.crt"),
            proxy_client_key: dir.join("client-auth-proxy.key"),
        }
    }
}

/// The loaded PKI: the CA (which can issue more certificates), the serving certificate and the
/// admin client certificate.
pub struct Pki {
    paths: PkiPaths,
    ca: CertificateAuthority,
    serving: KeyedCert,
    admin: KeyedCert,
    request_header_ca: CertificateAuthority,
    proxy_client: KeyedCert,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("paths", &self.paths)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI under `dir`, creating whatever is missing and renewing what must be.
    ///
    /// The CA is created once and then never replaced. The serving certificate is re-issued when
    /// it lacks a SAN now wanted, is within 90 days of expiry, or does not match the CA or its
    /// key; the admin certificate likewise (minus SANs). Nothing is rewritten when nothing
    /// changed, so certificates handed out earlier keep working.
    pub fn load_or_create(dir: &Path, opts: &PkiOptions) -> Result<Pki, PkiError> {
        Self::load_or_create_at(dir, opts, OffsetDateTime::now_utc())
    }

    /// [`Pki::load_or_create`] as if the time were `now` (tests use this to age certificates).
    pub(crate) fn load_or_create_at(
        dir: &Path,
        opts: &PkiOptions,
        now: OffsetDateTime,
    ) -> Result<Pki, PkiError> {
        let paths = PkiPaths::new(dir);
        fsutil::create_dir_all(dir)?;
        let ca = load_or_create_ca(
            "cluster CA",
            "krust-server-ca",
            (&paths.ca_cert, &paths.ca_key),
            now,
        )?;

        let hostname = opts.hostname.clone().or_else(system_hostname);
        let wanted = sans::wanted_sans(hostname.as_deref(), &opts.sans)?;
        let serving = ensure_leaf(
            &ca,
            "serving certificate",
            (&paths.serving_cert, &paths.serving_key),
            now,
            certs::missing_sans(&wanted),
            || certs::issue_serving(&ca, &wanted, now),
        )?;

        let admin_orgs = [ADMIN_GROUP];
        let admin = ensure_leaf(
            &ca,
            "admin client certificate",
            (&paths.admin_cert, &paths.admin_key),
            now,
            certs::client_subject(ADMIN_USER, &admin_orgs),
            || certs::issue_client(&ca, ADMIN_USER, &admin_orgs, certs::LEAF_VALIDITY, now),
        )?;

        let request_header_ca = load_or_create_ca(
            "request-header CA",
            "krust-request-header-ca",
            (&paths.request_header_ca_cert, &paths.request_header_ca_key),
            now,
        )?;
        let proxy_orgs: [&str; 0] = [];
        let proxy_client = ensure_leaf(
            &request_header_ca,
            "front proxy client certificate",
            (&paths.proxy_client_cert, &paths.proxy_client_key),
            now,
            certs::client_subject(PROXY_CLIENT_USER, &proxy_orgs),
            || {
                certs::issue_client(
                    &request_header_ca,
                    PROXY_CLIENT_USER,
                    &proxy_orgs,
                    certs::LEAF_VALIDITY,
                    now,
                )
            },
        )?;

        Ok(Pki {
            paths,
            ca,
            serving,
            admin,
            request_header_ca,
            proxy_client,
        })
    }

    /// Issues a client certificate for user `cn` in groups `orgs`, valid for `days` days (but
    /// never past the CA's own expiry). Returns (certificate PEM, private key PEM).
    ///
    /// Node agents and tests authenticate with these; nothing is written to disk.
    pub fn issue_client_cert(
        &self,
        cn: &str,
        orgs: &[&str],
        days: u32,
    ) -> Result<(String, String), PkiError> {
        let cert = certs::issue_client(
            &self.ca,
            cn,
            orgs,
            Duration::days(i64::from(days)),
            OffsetDateTime::now_utc(),
        )?;
        Ok((cert.cert_pem, cert.key_pem))
    }

    /// The API server's TLS config: serving certificate, ALPN `h2` then `http/1.1`, and client
    /// certificates optional but, when sent, verified against the CA. A client without one can
    /// still authenticate with a bearer token at the HTTP layer.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        tls::server_config(self.ca.cert_der(), &self.serving.cert_pem, &self.serving.key_pem)
    }

    /// The request-header CA (PEM) that signed the front proxy's client certificate:
    /// published for aggregated API servers as `requestheader-client-ca-file`.
    pub fn request_header_ca_pem(&self) -> &str {
        self.request_header_ca.cert_pem()
    }

    /// The front proxy's client certificate and key (PEM), with common name
    /// [`PROXY_CLIENT_USER`].
    pub fn proxy_client_pem(&self) -> (&str, &str) {
        (&self.proxy_client.cert_pem, &self.proxy_client.key_pem)
    }

    /// A client TLS config trusting only the cluster CA, presenting `client` (certificate PEM,
    /// key PEM) when given. For in-process clients and tests.
    pub fn client_config(&self, client: Option<(&str, &str)>) -> Result<Arc<rustls::ClientConfig>, PkiError> {
        tls::client_config(self.ca.cert_der(), client)
    }

    /// A kubeconfig for the admin user against `server_url` (e.g. `https://127.0.0.1:6443`).
    pub fn admin_kubeconfig(&self, server_url: &str) -> String {
        kubeconfig::kubeconfig(
            server_url,
            self.ca.cert_pem(),
            &self.admin.cert_pem,
            &self.admin.key_pem,
        )
    }

    /// The CA certificate (PEM), for clients that must trust the API server.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &[u8] {
        self.ca.cert_der()
    }

    /// The CA private key (PEM), for the in-process `csrsigning` controller, which signs
    /// nodes' client certificates. Never send it anywhere.
    pub fn ca_key_pem(&self) -> &str {
        self.ca.key_pem()
    }

    /// SHA-256 of the CA certificate's DER, lower-case hex: what a join token carries.
    pub fn ca_hash(&self) -> String {
        crate::ca_cert_hash(self.ca.cert_der())
    }

    /// The serving certificate (PEM).
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving.cert_pem
    }

    /// The admin client certificate (PEM).
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin.cert_pem
    }

    /// The admin client key (PEM).
    pub fn admin_key_pem(&self) -> &str {
        &self.admin.key_pem
    }

    /// Where the files are.
    pub fn paths(&self) -> &PkiPaths {
        &self.paths
    }

    /// The CA's SHA-256 fingerprint, colon-separated hex as `openssl x509 -fingerprint -sha256`
    /// prints it, to log and to compare with a copy elsewhere.
    pub fn fingerprint(&self) -> String {
        self.ca.fingerprint()
    }
}

fn system_hostname() -> Option<String> {
    match hostname::get().map(|h| h.into_string()) {
        Ok(Ok(name)) => Some(name),
        Ok(Err(raw)) => {
            tracing::warn!(hostname = ?raw, "system host name is not UTF-8; not adding it to the serving certificate");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the system host name; not adding it to the serving certificate");
            None
        }
    }
}

fn load_or_create_ca(
    what: &str,
    common_name: &str,
    (cert_path, key_path): (&Path, &Path),
    now: OffsetDateTime,
) -> Result<CertificateAuthority, PkiError> {
    let cert = fsutil::read_optional(cert_path)?;
    let key = fsutil::read_optional(key_path)?;
    match (cert, key) {
        (Some(cert), Some(key)) => {
            fsutil::tighten_secret_mode(key_path)?;
            let ca = CertificateAuthority::load(cert, key, cert_path, key_path)?;
            if ca.not_after() - now < Duration::days(365) {
                tracing::warn!(not_after = %ca.not_after(), path = %cert_path.display(),
                    "the {what} expires within a year; plan its rotation");
            }
            tracing::info!(fingerprint = %ca.fingerprint(), path = %cert_path.display(), "loaded {what}");
            Ok(ca)
        }
        (None, None) => {
            let ca = CertificateAuthority::generate(common_name, now)?;
            // Key first: a crash in between leaves a lone key, which the next start reports.
            fsutil::write_atomic(key_path, ca.key_pem().as_bytes(), SECRET_MODE)?;
            fsutil::write_atomic(cert_path, ca.cert_pem().as_bytes(), PUBLIC_MODE)?;
            tracing::info!(fingerprint = %ca.fingerprint(), path = %cert_path.display(), "created {what}");
            Ok(ca)
        }
        (Some(_), None) => Err(PkiError::IncompleteCa {
            present: cert_path.to_path_buf(),
            missing: key_path.to_path_buf(),
        }),
        (None, Some(_)) => Err(PkiError::IncompleteCa {
            present: key_path.to_path_buf(),
            missing: cert_path.to_path_buf(),
        }),
    }
}

/// Loads a leaf certificate and key, or issues and writes new ones when missing or unfit.
fn ensure_leaf(
    ca: &CertificateAuthority,
    what: &'static str,
    (cert_path, key_path): (&Path, &Path),
    now: OffsetDateTime,
    expect: impl Fn(&x509_parser::certificate::X509Certificate<'_>) -> Option<String>,
    issue: impl FnOnce() -> Result<KeyedCert, PkiError>,
) -> Result<KeyedCert, PkiError> {
    let cert = fsutil::read_optional(cert_path)?;
    let key = fsutil::read_optional(key_path)?;
    let reason = match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => {
            let existing = KeyedCert { cert_pem, key_pem };
            match certs::replacement_reason(ca, &existing, now, expect) {
                None => {
                    fsutil::tighten_secret_mode(key_path)?;
                    tracing::debug!(path = %cert_path.display(), "{what} is current");
                    return Ok(existing);
                }
                Some(reason) => reason,
            }
        }
        (None, None) => {
            let issued = issue()?;
            write_leaf(&issued, cert_path, key_path)?;
            tracing::info!(path = %cert_path.display(), "created {what}");
            return Ok(issued);
        }
        (None, Some(_)) => "its certificate file is missing".to_string(),
        (Some(_), None) => "its key file is missing".to_string(),
    };
    tracing::info!(path = %cert_path.display(), %reason, "regenerating {what}");
    let issued = issue()?;
    write_leaf(&issued, cert_path, key_path)?;
    Ok(issued)
}

/// Key first: after a crash in between, the next start sees a mismatched pair and re-issues.
fn write_leaf(cert: &KeyedCert, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
    fsutil::write_atomic(key_path, cert.key_pem.as_bytes(), SECRET_MODE)?;
    fsutil::write_atomic(cert_path, cert.cert_pem.as_bytes(), PUBLIC_MODE)
}
