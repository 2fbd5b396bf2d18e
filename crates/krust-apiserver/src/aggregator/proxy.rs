//! The connection to an aggregated API server: HTTPS to a ready endpoint of its Service,
//! verified against the APIService's caBundle under the name `<service>.<namespace>.svc`
//! (or not at all with `insecureSkipTLSVerify`), carrying the caller's identity in the
//! `X-Remote-*` headers as upstream's front proxy does.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use krust_api::ApiError;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::Value;

use super::Remote;
use crate::authn::User;
use crate::resolve::{self, Unresolved};
use crate::respond::Resp;
use crate::state::State;

/// How long connecting and the discovery check may take (upstream: 5 s).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest discovery document read from an extension server: it is kept in memory
/// for every registered group/version, so a misbehaving server must not make it grow.
const MAX_DISCOVERY: usize = 4 << 20;

/// Headers that describe one hop, or carry this server's credentials, and are not passed on.
const DROPPED: &[&str] = &[
    "authorization",
    "connection",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn tls_config(state: &State, remote: &Remote) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if remote.insecure {
        Arc::new(krust_pki::NoVerification(provider.clone()))
    } else {
        crate::webhooks::client::bundle_verifier(&remote.ca_bundle, provider.clone())
            .map_err(|e| e.to_string())?
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &state.front_proxy {
        Some(fp) => {
            let certs = CertificateDer::pem_slice_iter(fp.client_cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("front proxy certificate: {e}"))?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(fp.client_key_pem.as_bytes())
                .map_err(|e| format!("front proxy key: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("front proxy certificate: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn failed(message: String) -> Unresolved {
    Unresolved {
        reason: "FailedDiscoveryCheck",
        message,
    }
}

/// Opens an HTTP/1.1 connection to the remote. Returns it and the URL base for messages.
async fn connect(state: &State, remote: &Remote) -> Result<(SendRequest<Full<Bytes>>, String), Unresolved> {
    let (host, port) = resolve::service_endpoint(state, &remote.namespace, &remote.service, remote.port)?;
    let base = format!("https://{host}:{port}");
    let tcp = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| {
            failed(format!(
                "failing or missing response from {base}: dial tcp {host}:{port}: i/o timeout"
            ))
        })?
        .map_err(|e| {
            failed(format!(
                "failing or missing response from {base}: dial tcp {host}:{port}: {e}"
            ))
        })?;
    let name = ServerName::try_from(format!("{}.{}.svc", remote.service, remote.namespace))
        .map_err(|e| failed(e.to_string()))?;
    let config = tls_config(state, remote).map_err(failed)?;
    let tls = tokio::time::timeout(
        TIMEOUT,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| {
        failed(format!(
            "failing or missing response from {base}: TLS handshake timeout"
        ))
    })?
    .map_err(|e| failed(format!("failing or missing response from {base}: tls: {e}")))?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| failed(format!("failing or missing response from {base}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((send, base))
}

/// Fetches `/apis/<group>/<version>` from the remote: its `APIResourceList`.
pub async fn discover(state: &State, remote: &Remote) -> Result<Value, Unresolved> {
    let (mut send, base) = connect(state, remote).await?;
    let path = format!("/apis/{}/{}", remote.group, remote.version);
    let url = format!("{base}{path}");
    let req = Request::get(&path)
        .header(
            header::HOST,
            format!("{}.{}.svc", remote.service, remote.namespace),
        )
        .header(header::ACCEPT, "application/json")
        .header("X-Remote-User", "system:kube-aggregator")
        .header("X-Remote-Group", "system:masters")
        .body(Full::new(Bytes::new()))
        .map_err(|e| failed(e.to_string()))?;
    let resp = tokio::time::timeout(TIMEOUT, send.send_request(req))
        .await
        .map_err(|_| failed(format!("failing or missing response from {url}: timeout")))?
        .map_err(|e| failed(format!("failing or missing response from {url}: {e}")))?;
    let status = resp.status();
    let body = tokio::time::timeout(
        TIMEOUT,
        http_body_util::Limited::new(resp.into_body(), MAX_DISCOVERY).collect(),
    )
    .await
    .map_err(|_| failed(format!("failing or missing response from {url}: timeout")))?
    .map_err(|e| failed(format!("failing or missing response from {url}: {e}")))?
    .to_bytes();
    if !status.is_success() {
        return Err(failed(format!(
            "failing or missing response from {url}: bad status from {url}: {}",
            status.as_u16()
        )));
    }
    let list: Value = serde_json::from_slice(&body).map_err(|e| {
        failed(format!(
            "failing or missing response from {url}: decoding the discovery document: {e}"
        ))
    })?;
    if list.get("resources").and_then(Value::as_array).is_none() {
        return Err(failed(format!(
            "failing or missing response from {url}: not an APIResourceList"
        )));
    }
    Ok(list)
}

/// The headers passed to the remote: the client's, minus hop-by-hop and credential ones,
/// plus who the caller is.
fn forwarded_headers(incoming: &HeaderMap, user: &User) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in incoming {
        let n = name.as_str();
        if DROPPED.contains(&n) || n.starts_with("x-remote-") || n.starts_with("impersonate-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&user.name) {
        out.insert("X-Remote-User", v);
    }
    for g in &user.groups {
        if let Ok(v) = HeaderValue::from_str(g) {
            out.append("X-Remote-Group", v);
        }
    }
    out
}

/// Sends one request to the remote and streams its answer back (watches included).
pub async fn forward(
    state: &State,
    remote: &Remote,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
    user: &User,
) -> Result<Resp, ApiError> {
    let unavailable = |message: String| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("the server is currently unable to handle the request ({message})"),
        )
    };
    let (mut send, _) = connect(state, remote).await.map_err(|e| unavailable(e.message))?;
    let mut req = Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    *req.headers_mut() = forwarded_headers(headers, user);
    if let Ok(v) = HeaderValue::from_str(&format!("{}.{}.svc", remote.service, remote.namespace)) {
        req.headers_mut().insert(header::HOST, v);
    }
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let (parts, incoming) = resp.into_parts();
    let mut out = http::Response::new(crate::respond::relayed(incoming));
    *out.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !DROPPED.contains(&name.as_str()) && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(out)
}
