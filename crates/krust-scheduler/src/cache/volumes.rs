//! PersistentVolumes, PersistentVolumeClaims and StorageClasses as the informers last saw
//! them, for the VolumeBinding plugin.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

/// Volume objects by name (claims by `namespace/name`).
#[derive(Debug, Clone, Default)]
pub struct VolumeState {
    /// PersistentVolumes by name.
    pub pvs: HashMap<String, Arc<PersistentVolume>>,
    /// PersistentVolumeClaims by `namespace/name`.
    pub pvcs: HashMap<String, Arc<PersistentVolumeClaim>>,
    /// StorageClasses by name.
    pub classes: HashMap<String, Arc<StorageClass>>,
}
