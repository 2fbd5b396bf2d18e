//! Requests from the API server to node agents (the kubelet port): HTTPS to the node's
//! address, the agent's certificate verified against the cluster CA, this server's
//! kubelet-client certificate presented, and the answer streamed back as it comes, so that
//! `kubectl logs -f` sees each line when the container writes it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use krust_api::ApiError;
use rustls::pki_types::ServerName;

use crate::respond::Resp;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an error answer read from an agent.
const MAX_ERROR_BODY: usize = 64 << 10;

/// `GET https://host:port<path>` on a node agent, streamed. A connection failure is a 500
/// naming the URL and the cause (upstream's wording: `Get "<url>": dial tcp ...`); an
/// agent's error answer is passed on as a Status with its code.
pub async fn get_stream(
    tls: Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    path: &str,
) -> Result<Resp, ApiError> {
    let url = format!("https://{}{path}", host_port(host, port));
    let fail = |what: String| ApiError::internal(format!("Get \"{url}\": {what}"));
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| fail(format!("dial tcp {}: i/o timeout", host_port(host, port))))?
        .map_err(|e| fail(format!("dial tcp {}: {e}", host_port(host, port))))?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| fail(format!("invalid host: {e}")))?;
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(tls).connect(name, tcp),
    )
    .await
    .map_err(|_| fail("net/http: TLS handshake timeout".into()))?
    .map_err(|e| fail(format!("tls: {e}")))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(path)
        .header(header::HOST, host_port(host, port))
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail(e.to_string()))?;
    let resp = send.send_request(req).await.map_err(|e| fail(e.to_string()))?;
    let (parts, incoming) = resp.into_parts();
    if !parts.status.is_success() {
        let body = http_body_util::Limited::new(incoming, MAX_ERROR_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Err(agent_error(parts.status.as_u16(), &body));
    }
    let mut out = http::Response::new(crate::respond::relayed(incoming));
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(http::HeaderValue::from_static("text/plain"));
    out.headers_mut().insert(header::CONTENT_TYPE, content_type);
    Ok(out)
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An agent's error answer as a Status: its own Status when it sent one, else its text.
fn agent_error(code: u16, body: &[u8]) -> ApiError {
    let status: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = status
        .as_ref()
        .filter(|s| s.get("kind").and_then(|k| k.as_str()) == Some("Status"))
        .and_then(|s| s.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        _ => "InternalError",
    };
    ApiError::new(code, reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_errors_keep_their_code_and_message() {
        let e = agent_error(404, br#"{"kind":"Status","message":"no logs here","code":404}"#);
        assert_eq!(
            (e.code, e.reason, e.message.as_str()),
            (404, "NotFound", "no logs here")
        );
        let e = agent_error(502, b"plain text\n");
        assert_eq!((e.code, e.message.as_str()), (502, "plain text"));
        assert_eq!(host_port("fd00::1", 10250), "[fd00::1]:10250");
    }

    #[tokio::test]
    async fn an_unreachable_agent_is_a_clear_500() {
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
        // Port 9 of localhost: nothing listens there on a test machine.
        let e = get_stream(Arc::new(tls), "127.0.0.1", 9, "/containerLogs/a/b/c")
            .await
            .unwrap_err();
        assert_eq!(e.code, 500);
        assert!(
            e.message
                .contains("Get \"https://127.0.0.1:9/containerLogs/a/b/c\": dial tcp 127.0.0.1:9:"),
            "{}",
            e.message
        );
    }
}
