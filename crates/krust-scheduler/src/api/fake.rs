//! A recording [`ClusterApi`] for unit tests: every call is appended to a log, binds
//! succeed unless a node name is listed as failing.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::events::v1::Event;
use parking_lot::Mutex;

use super::{ApiError, ClusterApi};

/// One recorded call.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Bind {
        pod: String,
        node: String,
    },
    PatchStatus {
        pod: String,
        patch: serde_json::Value,
    },
    Delete {
        pod: String,
    },
    CreateEvent {
        reason: String,
        note: String,
        regarding: String,
    },
    PatchEvent {
        name: String,
        patch: serde_json::Value,
    },
    BindVolume {
        pv: String,
        pvc: String,
    },
    ProvisionVolume {
        pvc: String,
        node: String,
    },
}

/// The fake.
#[derive(Default, Clone)]
pub struct FakeApi {
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub failing_nodes: Arc<Mutex<Vec<String>>>,
}

impl FakeApi {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }
}

impl ClusterApi for FakeApi {
    fn bind_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        _uid: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        let fail = self.failing_nodes.lock().iter().any(|n| n == node);
        self.calls.lock().push(Call::Bind {
            pod: format!("{ns}/{name}"),
            node: node.into(),
        });
        async move {
            if fail {
                Err(ApiError::Other("injected".into()))
            } else {
                Ok(())
            }
        }
        .boxed()
    }
    fn patch_pod_status<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.calls.lock().push(Call::PatchStatus {
            pod: format!("{ns}/{name}"),
            patch,
        });
        async { Ok(()) }.boxed()
    }
    fn delete_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        _uid: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.calls.lock().push(Call::Delete {
            pod: format!("{ns}/{name}"),
        });
        async { Ok(()) }.boxed()
    }
    fn create_event<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<(), ApiError>> {
        let regarding = event
            .regarding
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_default();
        self.calls.lock().push(Call::CreateEvent {
            reason: event.reason.clone().unwrap_or_default(),
            note: event.note.clone().unwrap_or_default(),
            regarding,
        });
        async { Ok(()) }.boxed()
    }
    fn patch_event<'a>(
        &'a self,
        _ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.calls.lock().push(Call::PatchEvent {
            name: name.into(),
            patch,
        });
        async { Ok(()) }.boxed()
    }
    fn bind_volume<'a>(
        &'a self,
        pv: &'a PersistentVolume,
        pvc: &'a PersistentVolumeClaim,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.calls.lock().push(Call::BindVolume {
            pv: pv.metadata.name.clone().unwrap_or_default(),
            pvc: pvc.metadata.name.clone().unwrap_or_default(),
        });
        async { Ok(()) }.boxed()
    }

    fn provision_volume<'a>(
        &'a self,
        pvc: &'a PersistentVolumeClaim,
        node: &'a str,
        _timeout: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.calls.lock().push(Call::ProvisionVolume {
            pvc: pvc.metadata.name.clone().unwrap_or_default(),
            node: node.into(),
        });
        async { Ok(()) }.boxed()
    }
}
