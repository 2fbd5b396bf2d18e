//! The node agent's HTTPS endpoint on the kubelet port (10250), which the API server calls
//! to serve `kubectl logs` (`GET /containerLogs/{namespace}/{pod}/{container}`).
//!
//! Containers' output can hold secrets, so the endpoint talks only to the API server: TLS
//! with a serving certificate from the cluster CA, a client certificate from the same CA
//! required at the handshake, and then only the API server's identity (user
//! [`KUBELET_CLIENT_USER`], or group `system:masters` as upstream's kubelet authorizes)
//! gets an answer; any other certificate gets 403.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use krust_api::ApiError;
use krust_api::podlogs::PodLogOptions;
use krust_pki::{Identity, KUBELET_CLIENT_GROUP, KUBELET_CLIENT_USER};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::log_files::{self, Liveness, LogError};

type Body = BoxBody<Bytes, Infallible>;

/// What a request may ask for.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    ContainerLogs {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    },
    Healthz,
    NotFound,
}

fn route(path: &str) -> Route<'_> {
    if path == "/healthz" {
        return Route::Healthz;
    }
    let Some(rest) = path.strip_prefix("/containerLogs/") else {
        return Route::NotFound;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [namespace, pod, container] if [namespace, pod, container].iter().all(|p| valid_name(p)) => {
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            }
        }
        _ => Route::NotFound,
    }
}

/// Names as the API allows them (DNS labels and subdomains): this also keeps `..` and
/// other path tricks out of the file lookup.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with('.')
}

/// Whether a verified client may read logs: the API server's kubelet client identity.
fn authorized(id: &Identity) -> bool {
    id.user == KUBELET_CLIENT_USER || id.groups.iter().any(|g| g == KUBELET_CLIENT_GROUP)
}

fn status(e: &ApiError) -> Response<Body> {
    let body = serde_json::to_vec(&e.to_status()).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Everything a request handler needs.
struct Handler<L> {
    logs_root: PathBuf,
    live: Arc<L>,
}

impl<L: Liveness> Handler<L> {
    fn handle(&self, req: &Request<Incoming>) -> Response<Body> {
        if req.method() != Method::GET {
            return status(&ApiError::method_not_allowed("only GET is served here"));
        }
        let (namespace, pod, container) = match route(req.uri().path()) {
            Route::Healthz => return Response::new(Full::new(Bytes::from_static(b"ok")).boxed()),
            Route::NotFound => {
                return status(&ApiError::new(
                    404,
                    "NotFound",
                    format!("no such endpoint: {}", req.uri().path()),
                ));
            }
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            } => (namespace, pod, container),
        };
        let pairs: Vec<(String, String)> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let opts =
            match PodLogOptions::parse(|k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())) {
                Ok(o) => o,
                Err(message) => return status(&ApiError::bad_request(message)),
            };
        let file = match log_files::locate(&self.logs_root, namespace, pod, container, opts.previous) {
            Ok(f) => f,
            Err(LogError::NotFound(m)) => return status(&ApiError::new(404, "NotFound", m)),
            Err(LogError::BadRequest(m)) => return status(&ApiError::bad_request(m)),
        };
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(log_files::stream(
            file,
            container.to_string(),
            opts,
            self.live.clone(),
            tx,
        ));
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        let mut r = Response::new(StreamBody::new(chunks).boxed());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    }
}

/// Where and as whom the endpoint serves.
pub(crate) struct Endpoint {
    /// Directory holding the cluster CA (`<data-dir>/tls`): present where the agent runs
    /// inside `krust server`, which then issues its own serving certificate.
    pub pki_dir: PathBuf,
    /// The agent's directory: a joined agent's CA (`server-ca.crt`) and its serving
    /// certificate and key, obtained through a CSR, live here.
    pub agent_dir: PathBuf,
    pub port: u16,
    /// Names for the serving certificate: node IP, host name, node name.
    pub names: Vec<String>,
    pub node_name: String,
    pub logs_root: PathBuf,
}

/// A saved serving certificate is replaced when it expires within this.
const RENEW_MARGIN: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The endpoint's TLS configuration: a certificate issued here with the cluster CA's key
/// (on a server), else the saved one, else one requested through the CSR API (signer
/// `kubernetes.io/kubelet-serving`, approved by the controller manager for the node's own
/// addresses) and saved.
async fn serving_tls(
    endpoint: &Endpoint,
    client: &kube::Client,
    shutdown: &CancellationToken,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let paths = krust_pki::PkiPaths::new(&endpoint.pki_dir);
    if let (Ok(ca_cert), Ok(ca_key)) = (
        std::fs::read_to_string(&paths.ca_cert),
        std::fs::read_to_string(&paths.ca_key),
    ) {
        let (cert, key) = krust_pki::issue_kubelet_serving_cert(&ca_cert, &ca_key, &endpoint.names)
            .map_err(|e| e.to_string())?;
        return krust_pki::kubelet_server_config(&ca_cert, &cert, &key).map_err(|e| e.to_string());
    }
    let ca_path = endpoint.agent_dir.join("server-ca.crt");
    let ca_cert = std::fs::read_to_string(&ca_path)
        .map_err(|e| format!("no cluster CA on this machine ({}: {e})", ca_path.display()))?;
    let cert_path = endpoint.agent_dir.join("serving-kubelet.crt");
    let key_path = endpoint.agent_dir.join("serving-kubelet.key");
    let saved = match (
        std::fs::read_to_string(&cert_path),
        std::fs::read_to_string(&key_path),
    ) {
        (Ok(cert), Ok(key)) => krust_pki::client_cert_valid_until(&cert, &key, Some(&ca_cert))
            .ok()
            .filter(|until| *until > std::time::SystemTime::now() + RENEW_MARGIN)
            .map(|_| (cert, key)),
        _ => None,
    };
    let (cert, key) = match saved {
        Some(pair) => pair,
        None => {
            let request = krust_pki::generate_serving_csr(&endpoint.node_name, &endpoint.names)
                .map_err(|e| e.to_string())?;
            let usages = ["digital signature", "key encipherment", "server auth"];
            let cert = crate::csr::request_certificate(
                client,
                &request.csr_pem,
                crate::csr::KUBELET_SERVING_SIGNER,
                &usages,
                shutdown,
            )
            .await
            .map_err(|e| e.to_string())?;
            // Key first: a crash in between leaves no certificate without its key.
            write_private(&key_path, &request.key_pem)?;
            std::fs::write(&cert_path, &cert).map_err(|e| format!("writing {}: {e}", cert_path.display()))?;
            (cert, request.key_pem)
        }
    };
    krust_pki::kubelet_server_config(&ca_cert, &cert, &key).map_err(|e| e.to_string())
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Starts serving in the background once the certificate is there. Failures are logged,
/// not returned: without the endpoint only `kubectl logs` is missing, and the node's pods
/// must run regardless.
pub(crate) fn start(
    endpoint: Endpoint,
    client: kube::Client,
    cri: krust_cri::Cri,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let tls = match serving_tls(&endpoint, &client, &shutdown).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "kubelet endpoint: no serving certificate; kubectl logs will not work for this node");
                return;
            }
        };
        let addr = SocketAddr::from(([0, 0, 0, 0], endpoint.port));
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%addr, error = %e, "kubelet endpoint: cannot listen; kubectl logs will not work");
                return;
            }
        };
        tracing::info!(%addr, "kubelet endpoint serving");
        let live = Arc::new(CriLiveness(cri));
        run(listener, tls, endpoint.logs_root, live, shutdown).await;
    });
}

/// Serves the endpoint on `listener` until `shutdown` (answers under way end when their
/// client goes away or their container stops).
pub(crate) async fn run<L: Liveness>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    logs_root: PathBuf,
    live: Arc<L>,
    shutdown: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(tls);
    let handler = Arc::new(Handler { logs_root, live });
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "kubelet endpoint: accept failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        tokio::spawn(async move { connection(acceptor, tcp, peer, handler).await });
    }
}

async fn connection<L: Liveness>(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    handler: Arc<Handler<L>>,
) {
    let tls = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "kubelet endpoint: TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    // The handshake required a certificate from the cluster CA; now: whose is it?
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| krust_pki::identity_from_cert(der).ok());
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        let identity = identity.clone();
        async move {
            let resp = match &identity {
                Some(id) if authorized(id) => handler.handle(&req),
                Some(id) => status(&ApiError::forbidden(format!(
                    "Forbidden (user={}, verb=get, resource=nodes, subresource=log)",
                    id.user
                ))),
                None => status(&ApiError::unauthorized()),
            };
            Ok::<_, Infallible>(resp)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .http1_only()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Asks containerd (CRI) whether a container runs, by the labels every container the agent
/// starts carries.
pub(crate) struct CriLiveness(pub krust_cri::Cri);

impl Liveness for CriLiveness {
    async fn running(&self, uid: &str, name: &str) -> bool {
        use krust_cri::v1;
        let labels = [
            ("io.kubernetes.pod.uid".to_string(), uid.to_string()),
            ("io.kubernetes.container.name".to_string(), name.to_string()),
        ];
        let request = v1::ListContainersRequest {
            filter: Some(v1::ContainerFilter {
                state: Some(v1::ContainerStateValue {
                    state: v1::ContainerState::ContainerRunning as i32,
                }),
                label_selector: labels.into_iter().collect(),
                ..Default::default()
            }),
        };
        match self.0.runtime.clone().list_containers(request).await {
            Ok(reply) => !reply.into_inner().containers.is_empty(),
            // Cannot tell: keep following; the client can always stop.
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_log_paths_with_valid_names_route() {
        assert_eq!(
            route("/containerLogs/default/web-1/main"),
            Route::ContainerLogs {
                namespace: "default",
                pod: "web-1",
                container: "main"
            }
        );
        assert_eq!(route("/healthz"), Route::Healthz);
        for bad in [
            "/containerLogs/default/web",
            "/containerLogs/default/web/main/x",
            "/containerLogs/default/../main",
            "/containerLogs//web/main",
            "/containerLogs/default/Web/main",
            "/logs/",
        ] {
            assert_eq!(route(bad), Route::NotFound, "{bad}");
        }
    }

    #[test]
    fn only_the_api_server_identity_is_authorized() {
        let id = |user: &str, groups: &[&str]| {
            Identity::authenticated(user, "", groups.iter().map(|g| g.to_string()).collect())
        };
        assert!(authorized(&id(KUBELET_CLIENT_USER, &[])));
        assert!(authorized(&id("admin", &["system:masters"])));
        assert!(!authorized(&id("system:node:n1", &["system:nodes"])));
        assert!(!authorized(&id("alice", &[])));
    }
}
