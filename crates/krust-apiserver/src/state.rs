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

use crate::{authn::Authenticator, cache::WatchCache, convert, openapi::OpenApi, stored};

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

    /// The schema of a served kind, if known.
    pub fn schema_of(&self, def: &ResourceDef) -> Option<SchemaNode<'_>> {
        let name = self
            .gvk_schema
            .get(&(def.group.clone(), def.version.clone(), def.kind.clone()))?;
        self.schemas.named(name)
    }

    /// Reads one object from the store (not the cache: writers need the latest).
    pub async fn read(&self, key: &str) -> Result<Option<Current>, ApiError> {
        let kv = self.store.get(key).await.map_err(store_error)?;
        kv.map(|kv| decode_kv(&kv)).transpose()
    }

    /// Creates a key if absent. `Ok(None)` when it already exists.
    pub async fn create(&self, key: &str, obj: &Value) -> Result<Option<u64>, ApiError> {
        let txn = Txn {
            compares: vec![Compare::ModRevision(key.to_string(), 0)],
            success: vec![Op::Put(key.to_string(), Bytes::from(stored::encode(obj)))],
            failure: vec![],
        };
        let r = self.store.txn(txn).await.map_err(store_error)?;
        Ok(r.succeeded.then_some(r.revision))
    }

    /// Replaces a key if its mod revision is still `expected`.
    pub async fn replace(&self, key: &str, expected: u64, obj: &Value) -> Result<Written, ApiError> {
        let txn = Txn {
            compares: vec![Compare::ModRevision(key.to_string(), expected)],
            success: vec![Op::Put(key.to_string(), Bytes::from(stored::encode(obj)))],
            failure: vec![],
        };
        let r = self.store.txn(txn).await.map_err(store_error)?;
        Ok(if r.succeeded {
            Written::Ok(r.revision)
        } else {
            Written::Conflict
        })
    }

    /// Deletes a key if its mod revision is still `expected`.
    pub async fn remove(&self, key: &str, expected: u64) -> Result<Written, ApiError> {
        let txn = Txn {
            compares: vec![Compare::ModRevision(key.to_string(), expected)],
            success: vec![Op::Delete(key.to_string())],
            failure: vec![],
        };
        let r = self.store.txn(txn).await.map_err(store_error)?;
        if r.succeeded {
            let deleted = r
                .results
                .iter()
                .any(|x| matches!(x, OpResult::Delete { prev: Some(_) }));
            if deleted {
                return Ok(Written::Ok(r.revision));
            }
        }
        Ok(Written::Conflict)
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

    /// Renders stored bytes as the served version's JSON.
    pub fn render_served(&self, def: &ResourceDef, stored_bytes: &[u8], rv: u64) -> Result<Bytes, ApiError> {
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
        Ok(self.to_served(def, v))
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
