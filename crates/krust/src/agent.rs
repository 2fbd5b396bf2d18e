//! `krust agent`: a machine joins the cluster and runs its node agent.
//!
//! Joining is upstream's TLS bootstrap, with k3s's CA discovery:
//! 1. download the CA bundle from `GET /cacerts` without verifying the server, and accept
//!    it only if it holds the certificate whose SHA-256 the join token carries;
//! 2. with the bootstrap token (now over verified TLS), create a CertificateSigningRequest
//!    for `CN=system:node:<name>, O=system:nodes`, signer
//!    `kubernetes.io/kube-apiserver-client-kubelet`, and wait until the controller manager
//!    approves and signs it;
//! 3. keep key, certificate, CA and a kubeconfig under `<data-dir>/agent/` and run the node
//!    agent with them. Later starts reuse them while the certificate is valid: the token
//!    is needed only to join.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::bootstrap::JoinToken;

/// Saved credentials are replaced when they expire within this.
const RENEW_MARGIN: Duration = Duration::from_secs(600);

/// Flags of `krust agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// URL of the API server to join, e.g. https://10.0.0.1:6443.
    #[arg(long, env = "KRUST_URL")]
    pub server: String,
    /// Join token from `krust token create` (K10<ca-hash>::<id>.<secret>); needed only
    /// until this machine has its own certificate.
    #[arg(long, env = "KRUST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Name of this machine's Node; default: the host name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// InternalIP of this machine's Node; default: the address of the default route.
    #[arg(long)]
    pub node_ip: Option<Ipv4Addr>,
    /// Where credentials, containerd and pod data live (`<data-dir>/agent/`). An agent on
    /// a machine that also runs `krust server` needs a data dir of its own.
    #[arg(long, default_value = "/var/lib/krust")]
    pub data_dir: PathBuf,
    /// CRI socket of a container runtime to use instead of starting containerd
    /// (`unix:///path` or a path).
    #[arg(long)]
    pub container_runtime_endpoint: Option<String>,
    /// How often the node agent syncs each pod when nothing else wakes it.
    #[arg(long, default_value = "1m", value_parser = crate::duration::parse)]
    pub node_sync_frequency: Duration,
    /// The cluster DNS address pods are given (the server's --cluster-dns).
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: Ipv4Addr,
    /// The cluster's DNS domain (the server's --cluster-domain).
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The cluster's pod range (the server's --cluster-cidr).
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// The host's resolver configuration: what dnsPolicy Default pods get, and where the
    /// cluster DNS forwards names outside the cluster.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
}

/// Where the agent keeps its credentials (k3s's names).
struct Paths {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    kubeconfig: PathBuf,
}

impl Paths {
    fn under(agent_dir: &Path) -> Self {
        Self {
            ca: agent_dir.join("server-ca.crt"),
            cert: agent_dir.join("client-kubelet.crt"),
            key: agent_dir.join("client-kubelet.key"),
            kubeconfig: agent_dir.join("kubelet.kubeconfig"),
        }
    }
}

/// Joins (or reuses saved credentials) and runs the node agent until SIGTERM or SIGINT.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let agent_dir = data_dir.join("agent");
    private_dir(&agent_dir)?;
    let _lock = lock_data_dir(&data_dir)?;
    let node_name = args.node_name.clone().unwrap_or_else(crate::server::hostname);
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        crate::server::wait_for_signal().await;
        tracing::info!("shutting down");
        signals.cancel();
    });
    let server = args.server.trim_end_matches('/').to_string();
    let kubeconfig = credentials(&args, &server, &node_name, &Paths::under(&agent_dir), &shutdown).await?;
    let client = krust_runtime::component_client(&kubeconfig, "kubelet")
        .await
        .context("building the node agent's client")?;
    let mut config = krust_kubelet::AgentConfig::new(node_name, data_dir);
    config.node_ip = args.node_ip;
    config.runtime_endpoint = args
        .container_runtime_endpoint
        .as_deref()
        .map(|e| PathBuf::from(e.strip_prefix("unix://").unwrap_or(e)));
    config.sync_frequency = args.node_sync_frequency;
    config.cluster_dns = Some(args.cluster_dns);
    config.cluster_domain = args.cluster_domain.clone();
    config.cluster_cidr = args.cluster_cidr.clone();
    config.resolv_conf = args.resolv_conf.clone();
    krust_kubelet::Agent::new(config, client)
        .run(shutdown)
        .await
        .context("node agent")
}

/// The kubeconfig to run with: the saved one while its certificate is good (and belongs
/// to the cluster the token names, when one is given), else a new certificate by TLS
/// bootstrap.
async fn credentials(
    args: &AgentArgs,
    server: &str,
    node_name: &str,
    paths: &Paths,
    shutdown: &CancellationToken,
) -> anyhow::Result<String> {
    let join = args
        .token
        .as_deref()
        .map(JoinToken::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid --token: {e}"))?;
    match saved(paths, server, join.as_ref()) {
        Ok(kubeconfig) => {
            tracing::info!(path = %paths.kubeconfig.display(), "using the saved node credentials");
            return Ok(kubeconfig);
        }
        Err(why) if join.is_none() => bail!(
            "this machine has not joined a cluster yet, or cannot use its saved credentials ({why}); \
             pass --token (from `krust token create` on a server)"
        ),
        Err(why) => tracing::info!(reason = %why, "joining the cluster"),
    }
    let Some(join) = join else {
        bail!("--token is required to join");
    };
    let ca_pem = discover_ca(server, &join.ca_hash).await?;
    let bootstrap = krust_pki::token_kubeconfig(server, Some(&ca_pem), &join.token.bearer());
    let client = krust_runtime::component_client(&bootstrap, "kubelet")
        .await
        .context("building the bootstrap client")?;
    let user = format!("system:node:{node_name}");
    let request = krust_pki::generate_client_csr(&user, "system:nodes")?;
    let cert_pem = request_certificate(&client, &request.csr_pem, shutdown).await?;
    // Key first: a crash in between leaves no certificate without its key.
    write_file(&paths.key, &request.key_pem, 0o600)?;
    write_file(&paths.cert, &cert_pem, 0o644)?;
    write_file(&paths.ca, &ca_pem, 0o644)?;
    let kubeconfig = krust_pki::kubeconfig(server, &ca_pem, &cert_pem, &request.key_pem);
    krust_pki::write_kubeconfig(&paths.kubeconfig, &kubeconfig)?;
    tracing::info!(user = %user, path = %paths.kubeconfig.display(), "joined the cluster");
    Ok(kubeconfig)
}

/// The saved credentials as a kubeconfig for `server`, or why they cannot be used.
fn saved(paths: &Paths, server: &str, join: Option<&JoinToken>) -> Result<String, String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let (ca, cert, key) = (read(&paths.ca)?, read(&paths.cert)?, read(&paths.key)?);
    let until = krust_pki::client_cert_valid_until(&cert, &key, Some(&ca)).map_err(|e| e.to_string())?;
    if until < SystemTime::now() + RENEW_MARGIN {
        return Err(format!(
            "the saved certificate {} expires at {}",
            paths.cert.display(),
            crate::bootstrap::rfc3339(until)
        ));
    }
    if let Some(join) = join {
        let ders = krust_pki::pem_certificates(&ca).map_err(|e| e.to_string())?;
        if !ders.iter().any(|d| krust_pki::ca_cert_hash(d) == join.ca_hash) {
            return Err("the saved credentials belong to another cluster than the token's".into());
        }
    }
    Ok(krust_pki::kubeconfig(server, &ca, &cert, &key))
}

/// What to do with a downloaded CA bundle: the certificate (PEM) whose hash is `want`, or
/// an error that says the server is not the one the token was made for.
fn verified_ca(bundle: &str, want: &str, server: &str) -> anyhow::Result<String> {
    let ders = krust_pki::pem_certificates(bundle)
        .with_context(|| format!("{server}/cacerts did not return a CA certificate"))?;
    match ders.iter().find(|d| krust_pki::ca_cert_hash(d) == want) {
        Some(der) => Ok(krust_pki::certificate_pem(der)),
        None => {
            let got: Vec<String> = ders.iter().map(|d| krust_pki::ca_cert_hash(d)).collect();
            bail!(
                "refusing to join: the CA served by {server} has SHA-256 {}, but the token expects {want}. \
                 The token belongs to another cluster, or something between here and the server is \
                 impersonating it",
                got.join(", ")
            )
        }
    }
}

/// Downloads `/cacerts` without verifying the server and checks it against the hash.
async fn discover_ca(server: &str, want: &str) -> anyhow::Result<String> {
    let insecure = krust_pki::token_kubeconfig(server, None, "");
    let client = krust_runtime::component_client(&insecure, "kubelet")
        .await
        .context("building the CA discovery client")?;
    let req = http::Request::get("/cacerts").body(Vec::new())?;
    let bundle = client
        .request_text(req)
        .await
        .with_context(|| format!("fetching the cluster CA from {server}/cacerts"))?;
    verified_ca(&bundle, want, server)
}

/// The node's client certificate through a CSR, with the messages a joining user needs.
async fn request_certificate(
    client: &kube::Client,
    csr_pem: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<String> {
    use krust_kubelet::csr::{CsrError, KUBELET_CLIENT_SIGNER, request_certificate};
    let usages = ["digital signature", "client auth"];
    match request_certificate(client, csr_pem, KUBELET_CLIENT_SIGNER, &usages, shutdown).await {
        Ok(pem) => Ok(pem),
        Err(CsrError::Unauthorized { waiting: None }) => bail!(
            "the server refused the join token (401 Unauthorized): it is wrong, expired or deleted; \
             create a new one with `krust token create` on a server"
        ),
        Err(CsrError::Unauthorized { waiting: Some(name) }) => bail!(
            "the join token stopped working (401 Unauthorized) while waiting for {name}: it expired or was deleted"
        ),
        Err(e) => Err(e.into()),
    }
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Creates `dir` (and parents) readable only by the owner: it holds the node's key.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

/// The same lock a server takes on its data dir: an agent sharing a server's data dir
/// (whose embedded agent uses `<data-dir>/agent/`) stops before touching anything.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("krust.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "a krust server or agent is already using the data directory {} (an agent on a server's \
             machine needs its own --data-dir)",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let dir = tempfile::tempdir().unwrap();
        let pki = krust_pki::Pki::load_or_create(dir.path(), &Default::default()).unwrap();
        pki.ca_pem().to_string()
    }

    #[test]
    fn downloaded_ca_must_match_the_token_hash() {
        let ca = ca_pem();
        let der = krust_pki::pem_certificates(&ca).unwrap().remove(0);
        let hash = krust_pki::ca_cert_hash(&der);
        assert_eq!(verified_ca(&ca, &hash, "https://s").unwrap(), ca);
        let other = ca_pem();
        let bundle = format!("{other}{ca}");
        // The matching certificate alone is trusted, not the rest of the bundle.
        assert_eq!(verified_ca(&bundle, &hash, "https://s").unwrap(), ca);
        let err = verified_ca(&other, &hash, "https://s").unwrap_err().to_string();
        assert!(err.contains("refusing to join") && err.contains(&hash), "{err}");
        assert!(verified_ca("<html>", &hash, "https://s").is_err());
    }
}
