//! One pod watch for the whole pool: every bound pod (`spec.nodeName!=`), kept only when
//! its node name is one of ours. A field selector per node would mean thousands of
//! watches; one watch filtered here costs one stream.

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::manager::Input;
use crate::names::NodeNames;

/// Whether `pod` is bound to one of the pool's nodes.
pub(crate) fn ours(names: &NodeNames, pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .and_then(|n| names.index(n))
        .is_some()
}

/// Feeds the pod manager until `shutdown`.
pub(crate) async fn run(
    client: kube::Client,
    names: NodeNames,
    tx: mpsc::Sender<Input>,
    shutdown: CancellationToken,
) {
    // A real node watches its own pods only; a simulated pool every bound pod.
    let selector = match names.single_name() {
        Some(name) => format!("spec.nodeName={name}"),
        None => "spec.nodeName!=".to_string(),
    };
    let config = watcher::Config::default().fields(&selector);
    let stream = watcher::watcher(Api::<Pod>::all(client), config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = stream.next() => e,
        };
        let input = match event {
            None => return,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "pod watch failed; retrying");
                continue;
            }
            Some(Ok(Event::Init)) => Input::Relist,
            Some(Ok(Event::InitDone)) => Input::RelistDone,
            Some(Ok(Event::InitApply(p) | Event::Apply(p))) if ours(&names, &p) => Input::Pod(Box::new(p)),
            Some(Ok(Event::Delete(p))) if ours(&names, &p) => Input::PodDeleted(Box::new(p)),
            Some(Ok(_)) => continue,
        };
        if tx.send(input).await.is_err() {
            return;
        }
    }
}
