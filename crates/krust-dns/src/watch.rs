//! Keeping the records current: watch caches of Services and EndpointSlices across the
//! cluster, rebuilt into fresh [`Records`] after each burst of changes and handed to the
//! server, which keeps answering from the previous ones meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::DnsError;
use crate::config::DnsConfig;
use crate::records::Records;
use crate::server::Server;

/// A burst of changes within this becomes one rebuild.
const DEBOUNCE: Duration = Duration::from_millis(10);

/// Serves the cluster DNS for `config` from the API behind `client` until `cancel`.
/// Serves at once, forwarding names outside the zone; names in the zone get SERVFAIL
/// until Services and EndpointSlices have been listed once (see [`Records::pending`]),
/// so no client is told NXDOMAIN for a service that exists. Fails only when the listen
/// addresses cannot be bound.
pub async fn run(client: kube::Client, config: DnsConfig, cancel: CancellationToken) -> Result<(), DnsError> {
    let server = Server::bind(config.clone()).await?;
    let (svc_store, svc_writer) = reflector::store::<Service>();
    let (eps_store, eps_writer) = reflector::store::<EndpointSlice>();
    let (changed_tx, changed) = mpsc::channel::<()>(1);
    let services = watcher(Api::<Service>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(svc_writer);
    let slices = watcher(Api::<EndpointSlice>::all(client), watcher::Config::default())
        .default_backoff()
        .reflect(eps_writer);
    tokio::spawn(signal_changes(services, changed_tx.clone(), cancel.clone()));
    tokio::spawn(signal_changes(slices, changed_tx, cancel.clone()));

    let (records_tx, records_rx) = watch::channel(Arc::new(Records::pending(&config.domain)));
    tokio::spawn(keep_current(
        config.domain.clone(),
        svc_store,
        eps_store,
        changed,
        records_tx,
        cancel.clone(),
    ));
    tracing::info!(addrs = ?server.local_addrs(), "cluster DNS serving");
    server.run(records_rx, cancel).await;
    Ok(())
}

/// Drives a reflector's stream (which keeps its store filled) and signals every event:
/// changes, deletions and relists alike, since a relist can drop objects silently.
async fn signal_changes<S, K, E>(stream: S, changed: mpsc::Sender<()>, cancel: CancellationToken)
where
    S: Stream<Item = Result<watcher::Event<K>, E>> + Send,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            next = stream.next() => next,
        };
        match next {
            // A pending signal already covers this one.
            Some(Ok(_)) => {
                let _ = changed.try_send(());
            }
            Some(Err(e)) => tracing::warn!(error = %e, "cluster DNS: watch failed, retrying"),
            None => return,
        }
    }
}

/// Builds the records once both caches are filled, then again after each burst of
/// changes, until `cancel`.
async fn keep_current(
    domain: String,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    mut changed: mpsc::Receiver<()>,
    records: watch::Sender<Arc<Records>>,
    cancel: CancellationToken,
) {
    // Waiting fails only when a watch task has ended, i.e. on shutdown.
    let ready =
        async { services.wait_until_ready().await.is_ok() && slices.wait_until_ready().await.is_ok() };
    let synced = tokio::select! {
        _ = cancel.cancelled() => false,
        ok = ready => ok,
    };
    if !synced {
        return;
    }
    records.send_replace(Arc::new(build(&domain, &services, &slices)));
    tracing::info!(services = services.state().len(), "cluster DNS: records synced");
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            got = changed.recv() => if got.is_none() { return },
        }
        tokio::time::sleep(DEBOUNCE).await;
        // Changes during the pause are in this build.
        while changed.try_recv().is_ok() {}
        records.send_replace(Arc::new(build(&domain, &services, &slices)));
    }
}

fn build(domain: &str, services: &Store<Service>, slices: &Store<EndpointSlice>) -> Records {
    Records::build_from(domain, &services.state(), &slices.state())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use k8s_openapi::api::core::v1::ServiceSpec;
    use kube::runtime::watcher::Event;

    fn web(ip: &str) -> Service {
        let mut s = Service::default();
        s.metadata.name = Some("web".into());
        s.metadata.namespace = Some("default".into());
        s.spec = Some(ServiceSpec {
            cluster_ip: Some(ip.into()),
            ..Default::default()
        });
        s
    }

    const WEB: &str = "web.default.svc.cluster.local";

    /// A watch stream fed by hand.
    fn fed<K: Send + 'static>() -> (
        mpsc::UnboundedSender<Event<K>>,
        impl Stream<Item = Result<Event<K>, watcher::Error>> + Send,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        (tx, stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok))))
    }

    #[tokio::test]
    async fn records_follow_the_caches_once_both_are_listed() {
        let cancel = CancellationToken::new();
        let (svc_store, svc_writer) = reflector::store::<Service>();
        let (eps_store, eps_writer) = reflector::store::<EndpointSlice>();
        let (changed_tx, changed) = mpsc::channel(1);
        let (svc_tx, svc_events) = fed::<Service>();
        let (eps_tx, eps_events) = fed::<EndpointSlice>();
        tokio::spawn(signal_changes(
            svc_events.reflect(svc_writer),
            changed_tx.clone(),
            cancel.clone(),
        ));
        tokio::spawn(signal_changes(
            eps_events.reflect(eps_writer),
            changed_tx,
            cancel.clone(),
        ));
        let (records_tx, mut records) = watch::channel(Arc::new(Records::pending("cluster.local")));
        tokio::spawn(keep_current(
            "cluster.local".into(),
            svc_store,
            eps_store,
            changed,
            records_tx,
            cancel.clone(),
        ));

        svc_tx.send(Event::Init).unwrap();
        svc_tx.send(Event::InitApply(web("10.43.0.20"))).unwrap();
        svc_tx.send(Event::InitDone).unwrap();
        // Services are listed, slices not yet: still pending.
        assert!(!records.borrow().synced);
        eps_tx.send(Event::Init).unwrap();
        eps_tx.send(Event::InitDone).unwrap();
        let r = records.wait_for(|r| r.synced).await.unwrap().clone();
        assert_eq!(r.addrs[WEB], ["10.43.0.20".parse::<std::net::IpAddr>().unwrap()]);

        svc_tx.send(Event::Apply(web("10.43.0.21"))).unwrap();
        let want = ["10.43.0.21".parse::<std::net::IpAddr>().unwrap()];
        records
            .wait_for(|r| r.addrs.get(WEB).is_some_and(|a| a == &want))
            .await
            .unwrap();
        svc_tx.send(Event::Delete(web("10.43.0.21"))).unwrap();
        records.wait_for(|r| !r.addrs.contains_key(WEB)).await.unwrap();
        // A relist without the service drops it too (no delete event is seen then).
        svc_tx.send(Event::Apply(web("10.43.0.22"))).unwrap();
        records.wait_for(|r| r.addrs.contains_key(WEB)).await.unwrap();
        svc_tx.send(Event::Init).unwrap();
        svc_tx.send(Event::InitDone).unwrap();
        records.wait_for(|r| !r.addrs.contains_key(WEB)).await.unwrap();
        cancel.cancel();
    }
}
