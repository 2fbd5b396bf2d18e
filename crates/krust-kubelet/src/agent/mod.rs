//! The node agent of a real machine: a pool of one node whose runtime is containerd.
//!
//! Start-up: check root, start the supervised containerd (unless a runtime endpoint is
//! given), import the air-gap images and make sure the sandbox image exists, register
//! the node with this machine's facts, and write the CNI configuration once the node has
//! a pod CIDR. From then on the same pod manager and workers as simulated nodes drive
//! [`CriRuntime`](crate::CriRuntime).

mod cni;
mod containerd;
mod host;
mod images;
mod log_files;
mod log_rotation;
mod logs;
mod masquerade;
mod routes;
mod server;
mod services;
mod static_pods;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::{Clock, SystemClock};
use crate::config::{HostNode, PoolSpec, parse_taint};
use crate::names::NodeNames;
use crate::pod::admission;
use crate::runtime::CriRuntime;
use crate::runtime::cri::dns::{ClusterDns, ResolvConf};

/// Settings of a real node agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The Node's name (default: the host name).
    pub node_name: String,
    /// The InternalIP (default: the address of the default route's interface).
    pub node_ip: Option<Ipv4Addr>,
    /// Where containerd, pod volumes, logs and images live (`<data-dir>/agent/...`).
    pub data_dir: PathBuf,
    /// A CRI socket to use instead of starting containerd.
    pub runtime_endpoint: Option<PathBuf>,
    /// The containerd binary to start.
    pub containerd: PathBuf,
    /// Where the CNI plugins are.
    pub cni_bin_dir: PathBuf,
    /// A static busybox, for the pod sandbox image.
    pub busybox: PathBuf,
    /// Extra labels (the control-plane role on servers).
    pub labels: BTreeMap<String, String>,
    /// Taints, as `key=value:Effect`.
    pub taints: Vec<String>,
    /// How often each pod is synced when nothing else wakes it (ConfigMap and Secret
    /// volume updates land within this), as kubelet's `--sync-frequency`.
    pub sync_frequency: Duration,
    /// Port of the HTTPS endpoint the API server reads container logs from (kubelet's
    /// `--port`); several agents on one machine need different ones.
    pub kubelet_port: u16,
    /// The cluster DNS address pods ask (kubelet's `--cluster-dns`); served by this agent.
    pub cluster_dns: Option<Ipv4Addr>,
    /// The cluster's DNS domain (`--cluster-domain`).
    pub cluster_domain: String,
    /// The cluster's pod range: service traffic from outside it is masqueraded.
    pub cluster_cidr: String,
    /// The host's resolver configuration (kubelet's `--resolv-conf`): what `Default` pods
    /// get, the search domains cluster-first pods inherit, and where the cluster DNS
    /// sends names outside the cluster.
    pub resolv_conf: PathBuf,
}

impl AgentConfig {
    /// Defaults for a node called `node_name` keeping its state under `data_dir`.
    pub fn new(node_name: String, data_dir: PathBuf) -> Self {
        Self {
            node_name,
            node_ip: None,
            data_dir,
            runtime_endpoint: None,
            containerd: "containerd".into(),
            cni_bin_dir: "/usr/lib/cni".into(),
            busybox: "/bin/busybox".into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            sync_frequency: Duration::from_secs(60),
            kubelet_port: 10250,
            cluster_dns: Some(Ipv4Addr::new(10, 43, 0, 10)),
            cluster_domain: "cluster.local".into(),
            cluster_cidr: "10.42.0.0/16".into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    }
}

/// A real node agent.
pub struct Agent {
    config: AgentConfig,
    client: kube::Client,
}

impl Agent {
    /// An agent reaching the API server through `client`.
    pub fn new(config: AgentConfig, client: kube::Client) -> Self {
        Self { config, client }
    }

    /// Runs the node until `shutdown`, then stops the containerd it started (the pods'
    /// containers keep running and are adopted at the next start).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let c = &self.config;
        if !rustix::process::geteuid().is_root() {
            return Err(Error::Config(
                "the node agent must run as root (it runs containers and sets up their network); \
                 run as root or pass --disable-agent"
                    .into(),
            ));
        }
        let layout = containerd::Layout::under(&c.data_dir, c.cni_bin_dir.clone());
        let (daemon, socket, snapshotter) = match &c.runtime_endpoint {
            Some(endpoint) => (None, endpoint.clone(), "overlayfs".to_string()),
            None => {
                let d = containerd::Containerd::start(&c.containerd, &layout).await?;
                let snap = d.snapshotter.to_string();
                (Some(d), layout.socket.clone(), snap)
            }
        };
        let result = self.serve(&layout, socket, snapshotter, shutdown).await;
        if let Some(d) = daemon {
            d.stop().await;
        }
        result
    }

    async fn serve(
        &self,
        layout: &containerd::Layout,
        socket: PathBuf,
        snapshotter: String,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let c = &self.config;
        let cri = krust_cri::Cri::connect(&socket);
        let (name, version) = cri
            .version()
            .await
            .map_err(|e| Error::Config(format!("container runtime at {}: {e}", socket.display())))?;
        let agent_dir = c.data_dir.join("agent");
        let importer = images::Importer {
            socket: socket.clone(),
            snapshotter,
        };
        images::prepare(
            &cri,
            &importer,
            &agent_dir.join("images"),
            &c.busybox,
            &agent_dir.join("tmp"),
        )
        .await?;
        let node_ip = c.node_ip.unwrap_or_else(host::default_ip);
        let capacity = host::capacity(&c.data_dir);
        let spec = PoolSpec {
            names: NodeNames::single(&c.node_name),
            allocatable: admission::allocatable(&capacity).map_err(Error::Config)?,
            capacity: capacity
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.clone()),
                    )
                })
                .collect(),
            labels: c.labels.clone(),
            taints: c
                .taints
                .iter()
                .map(|t| parse_taint(t))
                .collect::<Result<_, _>>()?,
            pod_duration: Duration::ZERO,
            heartbeat_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(300),
            host: Some(HostNode {
                ip: node_ip,
                hostname: hostname(),
                info: host::system_info(format!("{name}://{version}")),
                sync_frequency: c.sync_frequency,
                kubelet_port: c.kubelet_port,
            }),
        };
        let endpoint = server::Endpoint {
            pki_dir: c.data_dir.join("tls"),
            agent_dir: agent_dir.clone(),
            node_name: c.node_name.clone(),
            port: c.kubelet_port,
            names: vec![node_ip.to_string(), hostname(), c.node_name.clone()],
            logs_root: agent_dir.join("pod-logs"),
        };
        server::start(endpoint, self.client.clone(), cri.clone(), shutdown.clone());
        tokio::spawn(log_rotation::run(
            log_rotation::CriLogs {
                cri: cri.clone(),
                root: agent_dir.join("pod-logs"),
            },
            log_rotation::Limits::default(),
            shutdown.clone(),
        ));
        let dns_served = services::start(self.client.clone(), c, shutdown.clone());
        let runtime = Arc::new(
            CriRuntime::new(
                cri,
                crate::volumes::KubeObjects::new(self.client.clone()),
                agent_dir.join("pod-logs"),
                agent_dir.join("pods"),
                node_ip.to_string(),
            )
            .with_dns(ClusterDns {
                server: c.cluster_dns.filter(|_| dns_served),
                domain: c.cluster_domain.clone(),
                host: ResolvConf::parse(&std::fs::read_to_string(&c.resolv_conf).unwrap_or_default()),
            }),
        );
        tokio::spawn(network_when_cidr_known(
            self.client.clone(),
            c.node_name.clone(),
            layout.cni_conf_dir.clone(),
            agent_dir.join("cni/networks"),
            c.cluster_cidr.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(routes::run(
            self.client.clone(),
            c.node_name.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(static_pods::run(
            self.client.clone(),
            c.node_name.clone(),
            agent_dir.join("pod-manifests"),
            shutdown.clone(),
        ));
        tracing::info!(node = %c.node_name, ip = %node_ip, runtime = %format!("{name} {version}"), "node agent starting");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        crate::pool::run(Arc::new(spec), self.client.clone(), runtime, clock, shutdown).await
    }
}

/// Imports the image tarball `file` into the containerd of the agent whose data directory
/// is `data_dir` (which must be running), for `krust images import`.
pub async fn import_image(data_dir: &std::path::Path, file: &std::path::Path) -> Result<(), Error> {
    let layout = containerd::Layout::under(data_dir, PathBuf::new());
    let config = std::fs::read_to_string(&layout.config).map_err(|e| {
        Error::Config(format!(
            "no node agent has run with data directory {} ({}: {e})",
            data_dir.display(),
            layout.config.display()
        ))
    })?;
    let importer = images::Importer {
        socket: layout.socket,
        snapshotter: images::configured_snapshotter(&config).unwrap_or_else(|| "overlayfs".into()),
    };
    importer.import(file).await
}

fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// Waits for the node's pod CIDR (given by the node IPAM controller) and writes the CNI
/// configuration for it; until then sandboxes cannot start and their pods wait.
async fn network_when_cidr_known(
    client: kube::Client,
    node: String,
    conf_dir: PathBuf,
    ipam_dir: PathBuf,
    cluster_cidr: String,
    shutdown: CancellationToken,
) {
    let nodes: Api<Node> = Api::all(client);
    let mut logged = false;
    loop {
        if let Ok(n) = nodes.get(&node).await {
            let cidr = n.spec.and_then(|s| s.pod_cidr).and_then(|c| cni::Cidr::parse(&c));
            if let Some(cidr) = cidr {
                if let Err(e) = masquerade::apply(cidr, &cluster_cidr) {
                    tracing::error!(error = %e, "installing the pods' outbound NAT failed; pods cannot reach other networks");
                }
                match cni::write(&conf_dir, cidr, &ipam_dir) {
                    Ok(()) => tracing::info!(%cidr, "pod network configured"),
                    Err(e) => {
                        tracing::error!(error = %e, "writing the CNI configuration failed");
                        return;
                    }
                }
                // containerd reloads the directory on its own; then pods may come.
                tokio::time::sleep(Duration::from_millis(500)).await;
                let condition = crate::node::object::network_condition(true, jiff::Timestamp::now());
                let patch = serde_json::json!({"status": {"conditions": [condition]}});
                let params = kube::api::PatchParams::default();
                for _ in 0..30 {
                    match nodes
                        .patch_status(&node, &params, &kube::api::Patch::Strategic(&patch))
                        .await
                    {
                        Ok(_) => return,
                        Err(e) => tracing::debug!(error = %e, "reporting the network as ready failed"),
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                return;
            }
        }
        if !logged {
            tracing::info!(node = %node, "waiting for the node's pod CIDR");
            logged = true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
