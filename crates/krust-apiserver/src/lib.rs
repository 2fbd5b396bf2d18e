//! The krust API server: serves the Kubernetes API over HTTPS (HTTP/1.1 and HTTP/2) from
//! the revisioned store, through a watch cache, to kubectl and every other client.
//!
//! Shape: `ApiServer::new(config, store)` binds and loads; `run(shutdown)` serves until the
//! token is cancelled. Authentication is supplied by the caller (`Authenticator`).

mod admission;
mod aggregator;
pub mod authn;
mod body;
mod bootstrap;
mod cache;
mod convert;
mod crds;
mod discovery;
mod dispatch;
mod handlers;
mod jsonpath;
mod kubelet_client;
mod meta;
mod negotiate;
mod openapi;
mod openapi_v2;
mod options;
pub mod reader;
mod render;
mod reservations;
mod resolve;
mod respond;
mod route;
mod schemacheck;
mod server;
pub mod services;
mod state;
mod stored;
mod version;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use krust_api::{
    registry::{Registry, built_in},
    schema::Schemas,
};
use krust_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use authn::{Authenticator, User};
pub use version::{BuildInfo, GIT_VERSION};

/// How to run the API server.
pub struct Config {
    /// Address to listen on (port 0 picks one).
    pub listen: SocketAddr,
    /// TLS settings; `None` serves plain HTTP (in-process tests only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Who is who.
    pub authenticator: Arc<dyn Authenticator>,
    /// `host:port` advertised to clients in discovery.
    pub advertise_address: Option<String>,
    /// Commit and date of this build, for `/version`.
    pub build: BuildInfo,
    /// Service CIDR and node port range.
    pub service_ranges: services::ServiceRanges,
    /// The address the `kubernetes` Service's endpoints point at.
    pub advertise_ip: std::net::IpAddr,
    /// How this server proves itself to aggregated API servers; `None`: it presents no
    /// client certificate (they must then trust it some other way).
    pub front_proxy: Option<FrontProxy>,
    /// The cluster CA bundle (PEM) served without authentication at `/cacerts`, as k3s
    /// does, so that a joining agent can fetch it and check it against the hash in its join
    /// token; `None`: `/cacerts` is not served.
    pub cacerts_pem: Option<String>,
    /// TLS client settings for calls to node agents (`pods/log`): the cluster CA as the
    /// only root and a client certificate the agents accept; `None`: logs cannot be read.
    pub kubelet_client: Option<Arc<rustls::ClientConfig>>,
}

/// The front proxy's credentials and the CAs aggregated API servers need to trust it,
/// published in `kube-system/extension-apiserver-authentication` as upstream does.
#[derive(Debug, Clone)]
pub struct FrontProxy {
    /// Client certificate presented when proxying (PEM).
    pub client_cert_pem: String,
    /// Its key (PEM).
    pub client_key_pem: String,
    /// The certificate's common name (`requestheader-allowed-names`).
    pub client_name: String,
    /// CA that signed it (`requestheader-client-ca-file`).
    pub request_header_ca_pem: String,
    /// CA of ordinary client certificates (`client-ca-file`).
    pub client_ca_pem: String,
}

/// Failures starting the API server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed while loading.
    #[error("datastore: {0}")]
    Store(#[from] StoreError),
    /// Creating the system objects failed.
    #[error("bootstrap: {0}")]
    Bootstrap(String),
}

/// A bound, loaded API server.
pub struct ApiServer {
    state: Arc<State>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    loaded_at: u64,
    local: SocketAddr,
}

use cache::{CacheSpec, WatchCache};
use state::State;

fn cache_specs(reg: &Registry) -> Vec<CacheSpec> {
    let mut out: Vec<CacheSpec> = Vec::new();
    for r in reg.all() {
        if r.ephemeral || !r.is_storage_version() {
            continue;
        }
        let prefix = r.storage_prefix();
        if out.iter().all(|s| s.prefix != prefix) {
            out.push(CacheSpec {
                prefix,
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespaced: r.namespaced,
            });
        }
    }
    out
}

impl ApiServer {
    /// Binds the listener and loads the watch cache from the store.
    pub async fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, Error> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let (components, kinds) = krust_schema::built_in();
        let mut gvk_schema = HashMap::new();
        for k in kinds {
            gvk_schema.insert(
                (k.group.to_string(), k.version.to_string(), k.kind.to_string()),
                k.schema,
            );
        }
        let mut resources = built_in();
        for r in &mut resources {
            r.schema = gvk_schema
                .get(&(r.group.clone(), r.version.clone(), r.kind.clone()))
                .cloned();
        }
        let registry = Registry::new(resources);
        let (cache, loaded_at) = WatchCache::load(
            store.as_ref(),
            &cache_specs(&registry),
            krust_api::fields::field_set,
        )
        .await?;
        let advertise = config.advertise_address.unwrap_or_else(|| local.to_string());
        let state = Arc::new(State {
            registry: parking_lot::RwLock::new(registry),
            store,
            cache,
            schemas: Arc::new(Schemas::new(components)),
            gvk_schema,
            openapi: Default::default(),
            authn: config.authenticator,
            ready: AtomicBool::new(false),
            server_address: advertise,
            shutdown: CancellationToken::new(),
            build: config.build,
            service_ranges: config.service_ranges,
            advertise: (config.advertise_ip, local.port()),
            admission_rv: Default::default(),
            creations: Default::default(),
            crd_schemas: Default::default(),
            crd_served: Default::default(),
            crd_compiled: Default::default(),
            aggregator: Default::default(),
            front_proxy: config.front_proxy,
            cacerts_pem: config.cacerts_pem,
            // Node agents speak HTTP/1.1 only (streamed answers, one request per connection).
            kubelet_client: config.kubelet_client.map(|c| {
                let mut c = (*c).clone();
                c.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(c)
            }),
        });
        Ok(Self {
            state,
            listener,
            tls: config.tls.map(TlsAcceptor::from),
            loaded_at,
            local,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A read-only view of the watch cache, for in-process wiring that must look objects
    /// up synchronously (the bootstrap token authenticator reads Secrets through it).
    pub fn objects(&self) -> reader::ObjectReader {
        reader::ObjectReader::new(self.state.cache.clone())
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let state = self.state.clone();
        let follow = tokio::spawn(state.cache.clone().follow(
            state.store.clone(),
            self.loaded_at,
            state.shutdown.clone(),
        ));
        bootstrap::ensure_system_objects(&state)
            .await
            .map_err(|e| Error::Bootstrap(e.message))?;
        crds::load(&state).await;
        aggregator::reconcile_locals(&state).await;
        let crd_task = tokio::spawn(crds::run(state.clone(), state.shutdown.clone()));
        let aggregator_task = tokio::spawn(aggregator::run(state.clone(), state.shutdown.clone()));
        let serve = tokio::spawn(server::accept_loop(
            self.listener,
            self.tls,
            state.clone(),
            shutdown.clone(),
        ));
        state.ready.store(true, Ordering::Release);
        tracing::info!(address = %self.local, "API server ready");
        shutdown.cancelled().await;
        state.ready.store(false, Ordering::Release);
        state.shutdown.cancel();
        let _ = serve.await;
        let _ = crd_task.await;
        let _ = aggregator_task.await;
        let _ = follow.await;
        Ok(())
    }
}
