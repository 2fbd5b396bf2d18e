//! DefaultBinder: binds the pod through the `pods/<name>/binding` subresource.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::api::ClusterApi;
use crate::framework::{BindPlugin, CycleState, Plugin, PodInfo, Status};

/// Registered name.
pub const NAME: &str = "DefaultBinder";

/// The plugin.
pub struct DefaultBinder {
    api: Arc<dyn ClusterApi>,
}

impl DefaultBinder {
    /// A binder using `api`.
    pub fn new(api: Arc<dyn ClusterApi>) -> Self {
        Self { api }
    }
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        Some(self)
    }
}

impl BindPlugin for DefaultBinder {
    fn bind<'a>(&'a self, _state: &'a CycleState, pod: &'a PodInfo, node: &'a str) -> BoxFuture<'a, Status> {
        async move {
            match self
                .api
                .bind_pod(pod.namespace(), pod.name(), pod.uid(), node)
                .await
            {
                Ok(()) => Status::success(),
                Err(e) => Status::error(format!("binding pod {} to {node}: {e}", pod.key)),
            }
        }
        .boxed()
    }
}
