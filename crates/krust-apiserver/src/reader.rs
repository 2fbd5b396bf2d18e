//! Synchronous, read-only lookups in the watch cache for code wired into the same process
//! as the API server, such as an authenticator that must read a Secret while it decides
//! about a request: going through HTTP from there would re-enter the server it serves.

use std::sync::Arc;

use serde_json::Value;

use crate::cache::WatchCache;
use crate::stored;

/// A handle on the watch cache (cheap to clone). Reads see what the cache has, which
/// trails a committed write by the time the store's watch takes to deliver it.
#[derive(Clone)]
pub struct ObjectReader {
    cache: Arc<WatchCache>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").finish_non_exhaustive()
    }
}

impl ObjectReader {
    pub(crate) fn new(cache: Arc<WatchCache>) -> Self {
        Self { cache }
    }

    /// One object of a built-in resource, by its storage location (`""` for the core
    /// group, the plural) and name, as stored (JSON, with its resourceVersion).
    pub fn get(&self, group: &str, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let prefix = krust_api::registry::storage_prefix(group, plural);
        let key = match namespace {
            Some(ns) => format!("{prefix}{ns}/{name}"),
            None => format!("{prefix}{name}"),
        };
        let (obj, _) = self.cache.resource(&prefix)?.get(&key);
        let obj = obj?;
        stored::decode(&obj.stored, obj.rv).ok()
    }
}
