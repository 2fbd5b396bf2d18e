//! Shared state of the API server and the store operations every handler uses.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use krust_api::{
    ApiError,
    registry::{Registry, ResourceDef},
    schema::{SchemaNode, Schemas},
};
use krust_store::{Compare, KeyValue, Op, OpResult, Store, StoreError, Txn};
use parking_lot::RwLock;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{authn::Authenticator, cache::WatchCache, convert, openapi::OpenApi, reservations, stored};

/// How long a read waits for the watch cache to catch up before failing.
pub const CACHE_WAIT: Duration = Duration::from_secs(3);

/// Everything handlers share.
pub struct State {
    /// Served resources (grows with CRDs).
    pub registry: RwLock<Registry>,
    /// The datastore.
    pub store: Arc<dyn Store>,
    /// The watch cache.
    pub cache: Arc<WatchCache>,
    /// OpenAPI component schemas of the built-in kinds.
    pub schemas: Arc<Schemas>,
    /// (group, version, kind) → component schema name.
    pub gvk_schema: HashMap<(String, String, String), String>,
    /// OpenAPI documents, built on first use.
    pub openapi: OpenApi,
    /// Authentication.
    pub authn: Arc<dyn Authenticator>,
    /// True once the server serves the API.
    pub ready: AtomicBool,
    /// `host:port` clients should use (discovery's serverAddressByClientCIDRs).
    pub server_address: String,
    /// Cancelled at shutdown; long requests (watches) end with it.
    pub shutdown: CancellationToken,
    /// Commit and date of this build.
    pub build: crate::version::BuildInfo,
    /// Where Service cluster IPs and node ports come from.
    pub service_ranges: crate::services::ServiceRanges,
    /// Address and port the `kubernetes` Service's endpoints point at.
    pub advertise: (std::net::IpAddr, u16),
    /// Revision of the newest write, through this server, to what admission reads from
    /// the watch cache (webhook configurations, namespaces, service accounts): admission waits for the
    /// cache to reach it, so such a write is in force for the requests that follow it.
    pub admission_rv: std::sync::atomic::AtomicU64,
    /// Field sets of creations by shape, for the built-in kinds (whose schemas never
    /// change while the server runs).
    pub creations: krust_api::apply::CreationMemo,
    /// Schemas of custom kinds, by (group, version, kind).
    pub crd_schemas: RwLock<HashMap<(String, String, String), Arc<Value>>>,
    /// CRD name → (group, plural) it serves.
    pub crd_served: RwLock<HashMap<String, (String, String)>>,
    /// Compiled schemas of custom kinds (pruning, defaults, validation, CEL), by
    /// (group, version, kind).
    pub crd_compiled: RwLock<HashMap<(String, String, String), Arc<krust_api::crd::CompiledSchema>>>,
    /// Group/versions served by other servers (APIServices with a service).
    pub aggregator: crate::aggregator::Aggregator,
    /// Credentials presented to those servers.
    pub front_proxy: Option<crate::FrontProxy>,
    /// The CA bundle served at `/cacerts` (see `Config::cacerts_pem`).
    pub cacerts_pem: Option<String>,
    /// TLS client settings for node agents (see `Config::kubelet_client`).
    pub kubelet_client: Option<Arc<rustls::ClientConfig>>,
}

/// Maps a store failure onto a Status.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Compacted { requested, compacted } => ApiError::too_old(requested, compacted),
        StoreError::FutureRevision { requested, current } => ApiError::timeout(
            format!("Too large resource version: {requested}, current: {current}"),
            1,
        ),
        other => ApiError::internal(other.to_string()),
    }
}

/// An object read from the store, in its storage version.
#[derive(Debug, Clone)]
pub struct Current {
    /// The object with `resourceVersion` set.
    pub value: Value,
    /// Its mod revision.
    pub rv: u64,
}

/// The outcome of a conditional write.
pub enum Written {
    /// Committed at this revision.
    Ok(u64),
    /// The compare failed: someone else wrote first.
    Conflict,
    /// A value the new object reserves (a cluster IP, a node port) is held by another.
    Taken,
}

/// The outcome of a create.
pub enum Created {
    /// Committed at this revision.
    Ok(u64),
    /// The name exists.
    Exists,
    /// A value the object reserves (a cluster IP, a node port) is held by another object.
    Taken,
}

impl State {
    /// The resource served at a group/version/plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.registry.read().find(group, version, plural).cloned()
    }

    /// The storage variant of a resource.
    pub fn storage_def(&self, def: &ResourceDef) -> ResourceDef {
        self.registry
            .read()
            .storage_def(def)
            .cloned()
            .unwrap_or_else(|| def.clone())
    }

    /// The compiled schema of a custom kind's served version.
    pub fn crd_compiled(&self, def: &ResourceDef) -> Option<Arc<krust_api::crd::CompiledSchema>> {
        def.custom.as_ref()?;
        self.crd_compiled
            .read()
            .get(&(def.group.clone(), def.version.clone(), def.kind.clone()))
            .cloned()
    }

    /// The schema of a served built-in kind, if known.
    pub fn schema_of(&self, def: &ResourceDef) -> Option<SchemaNode<'_>> {
        let name = self
            .gvk_schema
            .get(&(def.group.clone(), def.version.clone(), def.kind.clone()))?;
        self.schemas.named(name)
    }

    /// Records a write to a key admission reads from the cache (see `admission_rv`).
    fn note_admission_input(&self, key: &str, revision: u64) {
        const INPUTS: [&str; 4] = [
            "/registry/admissionregistration.k8s.io/mutatingwebhookconfigurations/",
            "/registry/admissionregistration.k8s.io/validatingwebhookconfigurations/",
            "/registry/core/namespaces/",
            "/registry/core/serviceaccounts/",
        ];
        if INPUTS.iter().any(|p| key.starts_with(p)) {
            self.admission_rv
                .fetch_max(revision, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// Reads one object from the store (not the cache: writers need the latest).
    pub async fn read(&self, key: &str) -> Result<Option<Current>, ApiError> {
        let kv = self.store.get(key).await.map_err(store_error)?;
        kv.map(|kv| decode_kv(&kv)).transpose()
    }

    /// Creates a key if absent, together with the reservations the object holds.
    pub async fn create(&self, key: &str, obj: &Value) -> Result<Created, ApiError> {
        let reserve = reservations::of(obj);
        let mut compares = vec![Compare::ModRevision(key.to_string(), 0)];
        let mut success = vec![Op::Put(key.to_string(), Bytes::from(stored::encode(obj)))];
        for r in &reserve {
            compares.push(Compare::ModRevision(r.clone(), 0));
            success.push(Op::Put(r.clone(), Bytes::from(key.to_string())));
        }
        let failure = vec![Op::Get(key.to_string())];
        let r = self
            .store
            .txn(Txn {
                compares,
                success,
                failure,
            })
            .await
            .map_err(store_error)?;
        if r.succeeded {
            self.note_admission_input(key, r.revision);
            return Ok(Created::Ok(r.revision));
        }
        let exists = r.results.iter().any(|x| matches!(x, OpResult::Get(Some(_))));
        Ok(if exists { Created::Exists } else { Created::Taken })
    }

    /// Replaces a key if its mod revision is still `expected`, moving the object's
    /// reservations from what `old` held to what `new` holds.
    pub async fn replace(
        &self,
        key: &str,
        expected: u64,
        old: &Value,
        new: &Value,
    ) -> Result<Written, ApiError> {
        let (before, after) = (reservations::of(old), reservations::of(new));
        let mut compares = vec![Compare::ModRevision(key.to_string(), expected)];
        let mut success = vec![Op::Put(key.to_string(), Bytes::from(stored::encode(new)))];
        for r in after.difference(&before) {
            compares.push(Compare::ModRevision(r.clone(), 0));
            success.push(Op::Put(r.clone(), Bytes::from(key.to_string())));
        }
        for r in before.difference(&after) {
            success.push(Op::Delete(r.clone()));
        }
        let failure = vec![Op::Get(key.to_string())];
        let r = self
            .store
            .txn(Txn {
                compares,
                success,
                failure,
            })
            .await
            .map_err(store_error)?;
        if r.succeeded {
            self.note_admission_input(key, r.revision);
            return Ok(Written::Ok(r.revision));
        }
        let same = r
            .results
            .iter()
            .any(|x| matches!(x, OpResult::Get(Some(kv)) if kv.mod_revision == expected));
        Ok(if same { Written::Taken } else { Written::Conflict })
    }

    /// Deletes a key if its mod revision is still `expected`, releasing what `old` held.
    pub async fn remove(&self, key: &str, expected: u64, old: &Value) -> Result<Written, ApiError> {
        let mut success = vec![Op::Delete(key.to_string())];
        for r in reservations::of(old) {
            success.push(Op::Delete(r));
        }
        let txn = Txn {
            compares: vec![Compare::ModRevision(key.to_string(), expected)],
            success,
            failure: vec![],
        };
        let r = self.store.txn(txn).await.map_err(store_error)?;
        if r.succeeded && matches!(r.results.first(), Some(OpResult::Delete { prev: Some(_) })) {
            self.note_admission_input(key, r.revision);
            return Ok(Written::Ok(r.revision));
        }
        Ok(Written::Conflict)
    }

    /// The cluster IPs and node ports reserved in the store.
    pub async fn used_service_values(&self) -> Result<crate::services::Used, ApiError> {
        let mut used = crate::services::Used::default();
        for (prefix, ips) in [
            (reservations::IP_PREFIX, true),
            (reservations::PORT_PREFIX, false),
        ] {
            let resp = self
                .store
                .range(krust_store::RangeRequest {
                    start: prefix.to_string(),
                    end: krust_store::prefix_end(prefix),
                    revision: None,
                    limit: None,
                })
                .await
                .map_err(store_error)?;
            for kv in resp.kvs {
                let last = kv.key.rsplit('/').next().unwrap_or("");
                if ips {
                    if let Ok(ip) = last.parse() {
                        used.ips.insert(ip);
                    }
                } else if let Ok(p) = last.parse() {
                    used.ports.insert(p);
                }
            }
        }
        Ok(used)
    }

    /// Converts a stored object to the served version of `def`.
    pub fn to_served(&self, def: &ResourceDef, obj: Value) -> Value {
        if def.is_storage_version() {
            return obj;
        }
        let from = if def.storage_group.is_empty() {
            def.storage_version.clone()
        } else {
            format!("{}/{}", def.storage_group, def.storage_version)
        };
        convert::convert(obj, &def.kind, &from, &def.api_version())
    }

    /// Converts a served object to the storage version.
    pub fn to_storage(&self, def: &ResourceDef, obj: Value) -> Value {
        if def.is_storage_version() {
            return obj;
        }
        let to = if def.storage_group.is_empty() {
            def.storage_version.clone()
        } else {
            format!("{}/{}", def.storage_group, def.storage_version)
        };
        convert::convert(obj, &def.kind, &def.api_version(), &to)
    }

    /// Whether objects of `def` are served exactly as stored (plus their
    /// resourceVersion): the storage version, and no read-time defaults.
    pub fn serves_stored_form(&self, def: &ResourceDef) -> bool {
        def.is_storage_version() && !self.crd_compiled(def).is_some_and(|c| c.has_defaults())
    }

    /// Renders stored bytes as the served version's JSON.
    pub fn render_served(&self, def: &ResourceDef, stored_bytes: &[u8], rv: u64) -> Result<Bytes, ApiError> {
        if self.crd_compiled(def).is_some_and(|c| c.has_defaults()) {
            // Upstream defaults custom resources on read too (a default added to the schema
            // shows on old objects).
            let v = self.decode_served(def, stored_bytes, rv)?;
            return Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()));
        }
        if def.is_storage_version() {
            return Ok(stored::render(stored_bytes, rv));
        }
        let v = stored::decode(stored_bytes, rv)
            .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
        Ok(Bytes::from(
            serde_json::to_vec(&self.to_served(def, v)).unwrap_or_default(),
        ))
    }

    /// Parses stored bytes into the served version.
    pub fn decode_served(&self, def: &ResourceDef, stored_bytes: &[u8], rv: u64) -> Result<Value, ApiError> {
        let v = stored::decode(stored_bytes, rv)
            .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
        let mut v = self.to_served(def, v);
        if let Some(c) = self.crd_compiled(def).filter(|c| c.has_defaults()) {
            let _ = c.prune(&mut v);
            c.default(&mut v);
        }
        Ok(v)
    }
}

/// Decodes a key-value from the store.
pub fn decode_kv(kv: &KeyValue) -> Result<Current, ApiError> {
    let value = stored::decode(&kv.value, kv.mod_revision)
        .map_err(|e| ApiError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    Ok(Current {
        value,
        rv: kv.mod_revision,
    })
}
