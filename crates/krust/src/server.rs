//! `krust server`: the datastore, certificates, admin kubeconfig and API server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use krust_apiserver::{ApiServer, BuildInfo, Config};
use krust_pki::{Pki, PkiOptions, TokenFile, write_kubeconfig};
use krust_store::{CompactionPolicy, EmbeddedConfig, EmbeddedStore, Store};
use tokio_util::sync::CancellationToken;

use crate::auth::ClusterAuthenticator;

/// Flags of `krust server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Where the datastore, certificates and kubeconfig live.
    #[arg(long, default_value = "/var/lib/krust")]
    pub data_dir: PathBuf,
    /// Address the API server listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    pub https_listen_port: u16,
    /// Extra host name or IP for the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    pub tls_san: Vec<String>,
    /// Also write the admin kubeconfig here.
    #[arg(long)]
    pub write_kubeconfig: Option<PathBuf>,
    /// Static bearer tokens (CSV: token,user,uid,"group1,group2").
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Do not run the node agent in this process.
    #[arg(long)]
    pub disable_agent: bool,
    /// How often the embedded datastore discards history older than this interval
    /// (as kube-apiserver's --etcd-compaction-interval). 0 turns it off.
    #[arg(long, default_value = "5m", value_parser = crate::duration::parse)]
    pub datastore_compaction_interval: std::time::Duration,
    /// Memory (MiB) the embedded datastore may use to cache pages.
    #[arg(long, default_value_t = 32)]
    pub datastore_cache_mb: usize,
    /// IP address Services get their cluster IPs from.
    #[arg(long, default_value = "10.43.0.0/16")]
    pub service_cidr: String,
    /// Port range of NodePort Services (`min-max`).
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// Address other members of the cluster reach this API server at (the `kubernetes`
    /// Service's endpoint); default: the bind address, else this host's primary address.
    #[arg(long)]
    pub advertise_address: Option<IpAddr>,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    pub disable_scheduler: bool,
    /// Do not run the controller manager in this process.
    #[arg(long)]
    pub disable_controller_manager: bool,
    /// Controllers to run: `*` for all, `name` to add one, `-name` to leave one out.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    /// Name of this machine's Node (the embedded agent's); default: the host name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// InternalIP of this machine's Node; default: the address of the default route.
    #[arg(long)]
    pub node_ip: Option<std::net::Ipv4Addr>,
    /// CRI socket of a container runtime to use instead of starting containerd.
    #[arg(long)]
    pub container_runtime_endpoint: Option<PathBuf>,
    /// How often the node agent syncs each pod when nothing else wakes it; ConfigMap and
    /// Secret volume edits reach running pods within this (kubelet's --sync-frequency).
    #[arg(long, default_value = "1m", value_parser = crate::duration::parse)]
    pub node_sync_frequency: std::time::Duration,
    /// Port of the embedded node agent's HTTPS endpoint (logs), as kubelet's --port.
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// Run this many simulated nodes (named sim-0, sim-1, ...) in this process: they
    /// register, heartbeat and run their pods at once without containers.
    #[arg(long, default_value_t = 0)]
    pub simulated_nodes: usize,
    /// Capacity of each simulated node, as name=quantity pairs.
    #[arg(long, default_value = "cpu=32,memory=256Gi,pods=110")]
    pub simulated_node_capacity: String,
    /// Extra labels of each simulated node (k=v,...).
    #[arg(long, default_value = "")]
    pub simulated_node_labels: String,
    /// Taints of each simulated node (key=value:Effect,...).
    #[arg(long, default_value = "")]
    pub simulated_node_taints: String,
    /// How long a simulated pod with restartPolicy OnFailure or Never runs before it succeeds.
    #[arg(long, default_value = "1s", value_parser = crate::duration::parse)]
    pub simulated_pod_duration: std::time::Duration,
    /// How often a simulated node renews its Lease (its heartbeat).
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse)]
    pub simulated_node_heartbeat_interval: std::time::Duration,
    /// How long a node may go without a heartbeat before the node lifecycle controller
    /// marks it Unknown and taints it, as upstream's flag.
    #[arg(long, default_value = "50s", value_parser = crate::duration::parse)]
    pub node_monitor_grace_period: std::time::Duration,
    /// How often the node lifecycle controller checks every node.
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse)]
    pub node_monitor_period: std::time::Duration,
    /// Finished pods kept before the pod garbage collector deletes the oldest (0: keep all).
    #[arg(long, default_value_t = 12500)]
    pub terminated_pod_gc_threshold: u32,
    /// IPv4 range of pod addresses; each node gets a subnet of it as its podCIDR.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// Prefix length of each node's podCIDR within --cluster-cidr.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// IPv4 range (CIDR) LoadBalancer Services get their addresses from, one each;
    /// without it they get the addresses of the Ready nodes.
    #[arg(long)]
    pub service_lb_pool: Option<String>,
    /// The cluster DNS address pods are given, answered by every node agent; default:
    /// the tenth address of --service-cidr (10.43.0.10).
    #[arg(long)]
    pub cluster_dns: Option<Ipv4Addr>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The host's resolver configuration: what dnsPolicy Default pods get, and where the
    /// cluster DNS forwards names outside the cluster.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
}

/// Parses `--service-cidr` and `--service-node-port-range`.
fn service_ranges(args: &ServerArgs) -> anyhow::Result<krust_apiserver::services::ServiceRanges> {
    let (net, prefix) = args.service_cidr.split_once('/').ok_or_else(|| {
        anyhow::anyhow!(
            "invalid --service-cidr {:?}: expected an IPv4 CIDR such as 10.43.0.0/16",
            args.service_cidr
        )
    })?;
    let network: Ipv4Addr = net.parse().map_err(|_| {
        anyhow::anyhow!(
            "invalid --service-cidr {:?}: {net:?} is not an IPv4 address",
            args.service_cidr
        )
    })?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid --service-cidr {:?}: the prefix must be between 8 and 30",
                args.service_cidr
            )
        })?;
    let (lo, hi) = args
        .service_node_port_range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
        .filter(|(a, b)| a < b)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid --service-node-port-range {:?}: expected min-max, e.g. 30000-32767",
                args.service_node_port_range
            )
        })?;
    Ok(krust_apiserver::services::ServiceRanges {
        network,
        prefix,
        node_port_min: lo,
        node_port_max: hi,
    })
}

/// The address to advertise: the flag, the bind address, or the address this host would
/// use to reach other networks (found by routing a UDP socket; nothing is sent).
fn advertise_ip(args: &ServerArgs) -> IpAddr {
    if let Some(ip) = args.advertise_address {
        return ip;
    }
    if !args.bind_address.is_unspecified() {
        return args.bind_address;
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Parses `k=v,k2=v2` into pairs; the error names the bad item.
fn pairs(s: &str, what: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| anyhow::anyhow!("invalid {what} {p:?}: expected name=value"))
        })
        .collect()
}

fn simulated_config(args: &ServerArgs) -> anyhow::Result<krust_kubelet::SimulatedConfig> {
    let mut config = krust_kubelet::SimulatedConfig {
        count: args.simulated_nodes,
        ..Default::default()
    };
    config
        .capacity
        .extend(pairs(&args.simulated_node_capacity, "--simulated-node-capacity")?);
    config.labels = pairs(&args.simulated_node_labels, "--simulated-node-labels")?;
    config.taints = args
        .simulated_node_taints
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    config.pod_duration = args.simulated_pod_duration;
    config.heartbeat_interval = args.simulated_node_heartbeat_interval;
    Ok(config)
}

/// Waits until the API server answers `/readyz` through `client`.
async fn wait_until_ready(client: &kube::Client, shutdown: &CancellationToken) -> bool {
    loop {
        let req = http::Request::get("/readyz").body(Vec::new());
        if let Ok(req) = req
            && let Ok(text) = client.request_text(req).await
            && text.trim() == "ok"
        {
            return true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
    }
}

/// Starts the in-process components (scheduler, simulated nodes) once the API is ready.
/// They reach the API server over HTTPS like any other client.
async fn run_components(
    args: &ServerArgs,
    kubeconfig: String,
    root_ca_pem: String,
    ca_key_pem: String,
    shutdown: CancellationToken,
    agent_stopped: Arc<tokio::sync::Mutex<()>>,
) -> anyhow::Result<()> {
    let want_scheduler = !args.disable_scheduler;
    let want_controllers = !args.disable_controller_manager;
    let agent = (!args.disable_agent).then(|| agent_config(args));
    if !want_scheduler && !want_controllers && args.simulated_nodes == 0 && agent.is_none() {
        return Ok(());
    }
    let controller_config = krust_controllers::ControllerConfig {
        controllers: args.controllers.clone(),
        root_ca_pem,
        node_monitor_grace_period: args.node_monitor_grace_period,
        node_monitor_period: args.node_monitor_period,
        terminated_pod_gc_threshold: args.terminated_pod_gc_threshold,
        // As k3s's /var/lib/rancher/k3s/storage: local-path volumes live with the data.
        local_path_dir: std::path::absolute(args.data_dir.join("storage"))
            .unwrap_or_else(|_| args.data_dir.join("storage")),
        cluster_cidr: args.cluster_cidr.clone(),
        node_cidr_mask_size: args.node_cidr_mask_size,
        service_lb_pool: args.service_lb_pool.clone(),
        ca_key_pem: krust_controllers::Sensitive(ca_key_pem),
        ..Default::default()
    };
    let unknown = controller_config.unknown();
    if !unknown.is_empty() {
        anyhow::bail!("unknown controller(s) in --controllers: {}", unknown.join(", "));
    }
    controller_config.validate()?;
    let sim = simulated_config(args)?;
    // One client per component, each named in its User-Agent so that its writes carry
    // its own field manager, as upstream's components do.
    let component = |name: &'static str| {
        let kubeconfig = kubeconfig.clone();
        async move {
            krust_runtime::component_client(&kubeconfig, name)
                .await
                .with_context(|| format!("building the {name} client"))
        }
    };
    let client = component("kube-scheduler").await?;
    let controllers_client = component("kube-controller-manager").await?;
    let kubelet_client = component("kubelet").await?;
    let agent_client = kubelet_client.clone();
    let agent_guard = agent_stopped.try_lock_owned().ok();
    tokio::spawn(async move {
        if !wait_until_ready(&client, &shutdown).await {
            return;
        }
        let identity = format!("{}_{}", hostname(), std::process::id());
        if want_scheduler {
            let config = krust_scheduler::SchedulerConfig {
                identity: identity.clone(),
                ..Default::default()
            };
            let scheduler = krust_scheduler::Scheduler::new(config, client.clone());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(e) = scheduler.run(stop).await {
                    tracing::error!(error = %e, "scheduler stopped");
                }
            });
        }
        if want_controllers {
            let config = krust_controllers::ControllerConfig {
                identity: identity.clone(),
                ..controller_config
            };
            let manager = krust_controllers::ControllerManager::new(config, controllers_client);
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(e) = manager.run(stop).await {
                    tracing::error!(error = %e, "controller manager stopped");
                }
            });
        }
        if let Some(config) = agent {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                // Held until the agent has stopped its containerd, so the process waits.
                let _running = agent_guard;
                if let Err(e) = krust_kubelet::Agent::new(config, agent_client).run(stop).await {
                    tracing::error!(error = %e, "node agent stopped; this server runs the control plane only");
                }
            });
        }
        if sim.count > 0 {
            tracing::info!(count = sim.count, "starting simulated nodes");
            let nodes = krust_kubelet::SimulatedNodes::new(sim, kubelet_client);
            if let Err(e) = nodes.run(shutdown).await {
                tracing::error!(error = %e, "simulated nodes stopped");
            }
        }
    });
    Ok(())
}

/// The embedded agent's settings: this machine as a control-plane node.
fn agent_config(args: &ServerArgs) -> krust_kubelet::AgentConfig {
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let name = args.node_name.clone().unwrap_or_else(hostname);
    let mut config = krust_kubelet::AgentConfig::new(name, data_dir);
    config.node_ip = args.node_ip;
    config.runtime_endpoint = args.container_runtime_endpoint.clone();
    config.sync_frequency = args.node_sync_frequency;
    config.kubelet_port = args.kubelet_port;
    config.cluster_dns = args
        .cluster_dns
        .or_else(|| service_ranges(args).ok().map(|r| r.dns_ip()));
    config.cluster_domain = args.cluster_domain.clone();
    config.cluster_cidr = args.cluster_cidr.clone();
    config.resolv_conf = args.resolv_conf.clone();
    config
        .labels
        .insert("node-role.kubernetes.io/control-plane".into(), "true".into());
    config
}

/// The TLS client the API server reads logs from node agents with: a fresh client
/// certificate (kept in memory only, re-issued at every start) for the identity agents
/// accept, and the cluster CA as the only trusted root for their serving certificates.
fn kubelet_client(pki: &Pki) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let (cert, key) = pki
        .issue_client_cert(
            krust_pki::KUBELET_CLIENT_USER,
            &[krust_pki::KUBELET_CLIENT_GROUP],
            365,
        )
        .context("issuing the API server's kubelet client certificate")?;
    pki.client_config(Some((&cert, &key)))
        .context("building the kubelet client TLS configuration")
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "krust".into())
}

fn store_config(args: &ServerArgs) -> EmbeddedConfig {
    let mut config = EmbeddedConfig {
        cache_size: args.datastore_cache_mb.max(1) * 1024 * 1024,
        ..Default::default()
    };
    if args.datastore_compaction_interval.is_zero() {
        config.compaction = CompactionPolicy::manual();
    } else {
        config.compaction.interval = Some(args.datastore_compaction_interval);
        config.compaction.retain_for = Some(args.datastore_compaction_interval);
    }
    config
}

fn server_url(bind: IpAddr, port: u16) -> String {
    let host = match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other,
    };
    match host {
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("https://{v4}:{port}"),
    }
}

/// Creates `dir` (and parents) readable only by the owner, and tightens it if it exists:
/// the data dir holds keys and every Secret.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory was readable by others; setting it to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Holds an exclusive lock on `<data-dir>/krust.lock` for the life of the server, so a
/// second server on the same directory stops before it touches anything.
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
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another krust server is already using the data directory {} (stop it first, or choose another --data-dir)",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    private_dir(&args.data_dir)?;
    let _lock = lock_data_dir(&args.data_dir)?;
    let mut sans = args.tls_san.clone();
    if !args.bind_address.is_unspecified() {
        sans.push(args.bind_address.to_string());
    }
    let pki = Pki::load_or_create(&args.data_dir.join("tls"), &PkiOptions { sans, hostname: None })
        .context("loading or creating certificates")?;
    let tokens = match &args.token_auth_file {
        Some(p) => Some(TokenFile::load(p).with_context(|| format!("reading token file {}", p.display()))?),
        None => None,
    };
    let db_dir = args.data_dir.join("db");
    private_dir(&db_dir)?;
    let store_path = db_dir.join("state.redb");
    let store: Arc<dyn Store> = Arc::new(
        EmbeddedStore::open(&store_path, store_config(&args))
            .with_context(|| format!("opening datastore {}", store_path.display()))?,
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&store_path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", store_path.display()))?;
    }
    // Bootstrap tokens are Secrets: read from the API server's cache once it exists.
    let bootstrap_secrets = crate::auth::LateSecrets::default();
    let config = Config {
        listen: SocketAddr::new(args.bind_address, args.https_listen_port),
        tls: Some(pki.server_config().context("building TLS configuration")?),
        authenticator: Arc::new(
            ClusterAuthenticator::new(tokens).with_bootstrap_tokens(bootstrap_secrets.clone()),
        ),
        advertise_address: None,
        service_ranges: service_ranges(&args)?,
        advertise_ip: advertise_ip(&args),
        front_proxy: Some(krust_apiserver::FrontProxy {
            client_cert_pem: pki.proxy_client_pem().0.to_string(),
            client_key_pem: pki.proxy_client_pem().1.to_string(),
            client_name: krust_pki::PROXY_CLIENT_USER.to_string(),
            request_header_ca_pem: pki.request_header_ca_pem().to_string(),
            client_ca_pem: pki.ca_pem().to_string(),
        }),
        cacerts_pem: Some(pki.ca_pem().to_string()),
        kubelet_client: Some(kubelet_client(&pki)?),
        build: BuildInfo {
            git_commit: env!("KRUST_GIT_COMMIT").to_string(),
            build_date: env!("KRUST_BUILD_DATE").to_string(),
        },
    };
    let server = ApiServer::new(config, store)
        .await
        .context("starting the API server")?;
    bootstrap_secrets.connect(server.objects());
    // The kubeconfig exists before /readyz answers 200 (that happens in `run`).
    let url = server_url(args.bind_address, args.https_listen_port);
    let kubeconfig = pki.admin_kubeconfig(&url);
    let kubeconfig_path = args.data_dir.join("kubeconfig.yaml");
    write_kubeconfig(&kubeconfig_path, &kubeconfig).context("writing admin kubeconfig")?;
    if let Some(extra) = &args.write_kubeconfig {
        write_kubeconfig(extra, &kubeconfig)
            .with_context(|| format!("writing kubeconfig to {}", extra.display()))?;
    }
    tracing::info!(
        kubeconfig = %kubeconfig_path.display(),
        url = %url,
        load_ms = started.elapsed().as_millis() as u64,
        "krust server starting; use: kubectl --kubeconfig {}",
        kubeconfig_path.display()
    );
    let shutdown = CancellationToken::new();
    let agent_stopped = Arc::new(tokio::sync::Mutex::new(()));
    run_components(
        &args,
        kubeconfig,
        pki.ca_pem().to_string(),
        pki.ca_key_pem().to_string(),
        shutdown.clone(),
        agent_stopped.clone(),
    )
    .await?;
    let signals = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        signals.cancel();
    });
    server.run(shutdown).await.context("API server")?;
    // The node agent stops its containerd on the same signal; give it time to.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), agent_stopped.lock()).await;
    tracing::info!("stopped");
    Ok(())
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
