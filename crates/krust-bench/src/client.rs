//! A small HTTPS client (rustls + hyper) authenticating as the cluster admin, with one
//! connection per simulated client, as load generators do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;

use crate::BenchError;

/// Builds TLS client settings from the server's certificates directory.
pub fn tls_config(tls_dir: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, BenchError> {
    let pki = krust_pki::Pki::load_or_create(tls_dir, &krust_pki::PkiOptions::default())
        .map_err(|e| BenchError::Server(format!("reading certificates: {e}")))?;
    pki.client_config(Some((pki.admin_cert_pem(), pki.admin_key_pem())))
        .map_err(|e| BenchError::Server(format!("client TLS: {e}")))
}

/// One HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub async fn connect(port: u16, tls: Arc<rustls::ClientConfig>) -> Result<Self, BenchError> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let _ = tcp.set_nodelay(true);
        let mut config = (*tls).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1")
            .map_err(|e| BenchError::Request(e.to_string()))?;
        let stream = TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| BenchError::Request(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { send })
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), BenchError> {
        self.request_with(method, path, body, "application/json").await
    }

    /// [`Conn::request`] with another body content type (patches).
    pub async fn request_with(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<(StatusCode, Bytes), BenchError> {
        let resp = self.send_typed(method, path, body, content_type).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BenchError::Request(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn start(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<http::Response<hyper::body::Incoming>, BenchError> {
        self.send_typed(method, path, body, "application/json").await
    }

    async fn send_typed(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, BenchError> {
        self.send
            .ready()
            .await
            .map_err(|e| BenchError::Request(e.to_string()))?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| BenchError::Request(e.to_string()))?;
        self.send
            .send_request(req)
            .await
            .map_err(|e| BenchError::Request(e.to_string()))
    }
}

/// Polls `/readyz` until it answers ok; returns how long that took.
pub async fn wait_ready(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    started: Instant,
    limit: Duration,
) -> Result<Duration, BenchError> {
    loop {
        if let Ok(mut c) = Conn::connect(port, tls.clone()).await
            && let Ok((StatusCode::OK, _)) = c.request(Method::GET, "/readyz", None).await
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(BenchError::Server(format!("not ready after {limit:?}")));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
