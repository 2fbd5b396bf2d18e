//! One check of one probe: a command in the container through the runtime, or an HTTP
//! GET, TCP connection or gRPC health call to the pod's address, bounded by the probe's
//! timeout. What failed is said the way upstream's kubelet says it, since users read it
//! in events and `describe`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spec::Action;
use crate::runtime::Runtime;

/// Where a probe goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The container's runtime id (without the `<runtime>://` prefix).
    pub container_id: String,
    /// The pod's address.
    pub pod_ip: Option<IpAddr>,
}

/// The outcome of one check: `Ok` passes, `Err` says why not.
pub(crate) type Outcome = Result<(), String>;

/// Checks `action` against `target`.
pub(crate) async fn check<R: Runtime>(
    rt: &R,
    target: &Target,
    action: &Action,
    timeout: Duration,
) -> Outcome {
    match action {
        Action::Exec(cmd) => {
            let r = rt
                .exec_sync(&target.container_id, cmd, timeout)
                .await
                .map_err(|e| e.to_string())?;
            if r.exit_code == 0 {
                Ok(())
            } else {
                Err(format!(
                    "command {cmd:?} exited with {}: {}",
                    r.exit_code,
                    r.output.trim_end()
                ))
            }
        }
        Action::Tcp { host, port } => {
            let addr = address(host.as_deref(), target, *port).await?;
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("dial tcp {addr}: connect: {e}")),
                Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
            }
        }
        Action::Http {
            https,
            host,
            port,
            path,
            headers,
        } => {
            let addr = address(host.as_deref(), target, *port).await?;
            let scheme = if *https { "https" } else { "http" };
            match tokio::time::timeout(timeout, http_get(addr, *https, path, headers)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "Get \"{scheme}://{addr}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )),
            }
        }
        Action::Grpc { port, service } => {
            let ip = target.pod_ip.ok_or("the pod has no address yet")?;
            let status = krust_cri::health::check(SocketAddr::new(ip, *port), service, timeout).await?;
            if status == krust_cri::health::SERVING {
                Ok(())
            } else {
                Err(format!(
                    "service unhealthy (responded with {})",
                    serving_status(status)
                ))
            }
        }
    }
}

fn serving_status(n: i32) -> &'static str {
    match n {
        0 => "\"UNKNOWN\"",
        2 => "\"NOT_SERVING\"",
        3 => "\"SERVICE_UNKNOWN\"",
        _ => "an unknown status",
    }
}

/// The probe's host (the pod's address unless the probe names one) and port.
async fn address(host: Option<&str>, target: &Target, port: u16) -> Result<SocketAddr, String> {
    match host {
        None => target
            .pod_ip
            .map(|ip| SocketAddr::new(ip, port))
            .ok_or_else(|| "the pod has no address yet".to_string()),
        Some(h) => match h.parse::<IpAddr>() {
            Ok(ip) => Ok(SocketAddr::new(ip, port)),
            Err(_) => tokio::net::lookup_host((h, port))
                .await
                .map_err(|e| format!("cannot resolve {h}: {e}"))?
                .next()
                .ok_or_else(|| format!("{h} has no address")),
        },
    }
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK`).
pub(crate) fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// GETs `path` from `addr` as upstream's prober does (its User-Agent and Accept, then
/// the probe's headers) and passes on a 2xx or 3xx status. Over HTTPS the server's
/// certificate is not verified, as upstream's prober does not.
async fn http_get(addr: SocketAddr, https: bool, path: &str, headers: &[(String, String)]) -> Outcome {
    let url = format!("{}://{addr}{path}", if https { "https" } else { "http" });
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("Get \"{url}\": dial tcp {addr}: connect: {e}"))?;
    if !https {
        return exchange(tcp, &url, addr, path, headers).await;
    }
    let config = krust_pki::insecure_client_config().map_err(|e| format!("Get \"{url}\": {e}"))?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("Get \"{url}\": {e}"))?;
    exchange(tls, &url, addr, path, headers).await
}

/// Sends the GET over `stream` and judges the status line.
async fn exchange(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    url: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
) -> Outcome {
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has("user-agent") {
        req.push_str("User-Agent: kube-probe/1.33\r\n");
    }
    if !has("accept") {
        req.push_str("Accept: */*\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("Get \"{url}\": {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 8192 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    match status_code(line) {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(code) => Err(format!("HTTP probe failed with statuscode: {code}")),
        None => Err(format!("Get \"{url}\": malformed HTTP response {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_code("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code(""), None);
    }

    #[tokio::test]
    async fn http_and_tcp_checks_against_a_local_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for code in ["200 OK", "500 Internal Server Error", "200 OK"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(req.starts_with("GET /healthz HTTP/1.1\r\n"), "{req}");
                assert!(req.contains("User-Agent: kube-probe/1.33"), "{req}");
                s.write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
            }
        });
        let (target, rt) = local_target();
        let http = Action::Http {
            https: false,
            host: None,
            port,
            path: "/healthz".into(),
            headers: vec![],
        };
        let t = Duration::from_secs(2);
        assert_eq!(check(&rt, &target, &http, t).await, Ok(()));
        assert_eq!(
            check(&rt, &target, &http, t).await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
        let tcp = Action::Tcp { host: None, port };
        assert_eq!(check(&rt, &target, &tcp, t).await, Ok(()));
        let closed = free_port();
        let err = check(
            &rt,
            &target,
            &Action::Tcp {
                host: None,
                port: closed,
            },
            t,
        )
        .await
        .unwrap_err();
        assert!(
            err.starts_with(&format!("dial tcp 127.0.0.1:{closed}: connect:")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn https_checks_do_not_verify_the_certificate() {
        // A self-signed certificate for a name that is not the address: still accepted.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["pod.invalid".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let server = rustls::ServerConfig::builder_with_provider(krust_pki::ring_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for code in ["200 OK", "404 Not Found"] {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut s = acceptor.accept(tcp).await.unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                assert!(buf[..n].starts_with(b"GET /tls HTTP/1.1\r\n"));
                s.write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                s.shutdown().await.unwrap();
            }
        });
        let (target, rt) = local_target();
        let https = Action::Http {
            https: true,
            host: None,
            port,
            path: "/tls".into(),
            headers: vec![],
        };
        let t = Duration::from_secs(5);
        assert_eq!(check(&rt, &target, &https, t).await, Ok(()));
        assert_eq!(
            check(&rt, &target, &https, t).await,
            Err("HTTP probe failed with statuscode: 404".into())
        );
    }

    /// A target at 127.0.0.1 and a runtime for checks that do not exec.
    fn local_target() -> (Target, crate::runtime::SimulatedRuntime) {
        let target = Target {
            container_id: "x".into(),
            pod_ip: Some("127.0.0.1".parse().unwrap()),
        };
        let rt = crate::runtime::SimulatedRuntime::new(
            1,
            Duration::from_secs(1),
            std::sync::Arc::new(crate::clock::SystemClock),
        );
        (target, rt)
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}
