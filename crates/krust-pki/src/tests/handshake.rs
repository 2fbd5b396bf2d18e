//! Real TLS handshakes against `Pki::server_config` on 127.0.0.1: rustls clients with and
//! without certificates, and, when installed, kubectl (Go's TLS) and Python's ssl (OpenSSL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::*;

/// What the server saw of one connection.
#[derive(Debug)]
struct Seen {
    alpn: Option<Vec<u8>>,
    peer: Option<Vec<CertificateDer<'static>>>,
}

/// Accepts one TLS connection, answers "ok" and reports what it saw (or the handshake error).
async fn serve_one(config: Arc<rustls::ServerConfig>) -> (SocketAddr, JoinHandle<Result<Seen, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let accept = async {
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = TlsAcceptor::from(config)
                .accept(tcp)
                .await
                .map_err(|e| e.to_string())?;
            let (_, conn) = tls.get_ref();
            let seen = Seen {
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                peer: conn
                    .peer_certificates()
                    .map(|c| c.iter().map(|d| d.clone().into_owned()).collect()),
            };
            // Foreign clients (kubectl, Python) may already be gone.
            let _ = tls.write_all(b"ok").await;
            let _ = tls.shutdown().await;
            Ok(seen)
        };
        tokio::time::timeout(Duration::from_secs(30), accept)
            .await
            .map_err(|_| "timed out".to_string())?
    });
    (addr, task)
}

/// Connects with a rustls client and reads the server's "ok".
async fn connect(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    name: &str,
) -> Result<(Option<Vec<u8>>, String), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let server_name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let mut reply = String::new();
    tls.read_to_string(&mut reply).await.map_err(|e| e.to_string())?;
    Ok((alpn, reply))
}

fn new_pki() -> (tempfile::TempDir, Pki) {
    let tmp = tempfile::tempdir().unwrap();
    let opts = PkiOptions {
        sans: vec![],
        hostname: Some("test-host".into()),
    };
    let pki = Pki::load_or_create(tmp.path(), &opts).unwrap();
    (tmp, pki)
}

#[tokio::test]
async fn admin_cert_authenticates_and_h2_is_negotiated() {
    let (_tmp, pki) = new_pki();
    let (addr, server) = serve_one(pki.server_config().unwrap()).await;
    let client = pki
        .client_config(Some((pki.admin_cert_pem(), pki.admin_key_pem())))
        .unwrap();
    let (alpn, reply) = connect(client, addr, "localhost").await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(reply, "ok");

    let seen = server.await.unwrap().unwrap();
    assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
    let peer = seen.peer.expect("server saw no client certificate");
    let id = identity_from_cert(&peer[0]).unwrap();
    assert_eq!(id.user, ADMIN_USER);
    assert_eq!(id.groups, [ADMIN_GROUP, AUTHENTICATED_GROUP]);
}

#[tokio::test]
async fn client_without_cert_connects_unauthenticated() {
    let (_tmp, pki) = new_pki();
    for name in ["127.0.0.1", "kubernetes.default.svc", "test-host"] {
        let (addr, server) = serve_one(pki.server_config().unwrap()).await;
        let (_, reply) = connect(pki.client_config(None).unwrap(), addr, name)
            .await
            .unwrap();
        assert_eq!(reply, "ok", "{name}");
        assert!(server.await.unwrap().unwrap().peer.is_none(), "{name}");
    }
}

#[tokio::test]
async fn http1_only_client_gets_http1() {
    let (_tmp, pki) = new_pki();
    let (addr, server) = serve_one(pki.server_config().unwrap()).await;
    let mut client = (*pki.client_config(None).unwrap()).clone();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (alpn, _) = connect(Arc::new(client), addr, "localhost").await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(
        server.await.unwrap().unwrap().alpn.as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[tokio::test]
async fn issued_multi_group_cert_is_accepted() {
    let (_tmp, pki) = new_pki();
    let (cert, key) = pki
        .issue_client_cert("system:node:n1", &["system:nodes", "extra"], 1)
        .unwrap();
    let (addr, server) = serve_one(pki.server_config().unwrap()).await;
    connect(pki.client_config(Some((&cert, &key))).unwrap(), addr, "localhost")
        .await
        .unwrap();
    let peer = server.await.unwrap().unwrap().peer.unwrap();
    assert_eq!(
        identity_from_cert(&peer[0]).unwrap().groups,
        ["system:nodes", "extra", AUTHENTICATED_GROUP]
    );
}

#[tokio::test]
async fn cert_from_another_ca_is_rejected() {
    let (_tmp, pki) = new_pki();
    let (_other_tmp, other) = new_pki();
    let (addr, server) = serve_one(pki.server_config().unwrap()).await;
    // Trusts our server, but presents a certificate our CA never signed.
    let client = pki
        .client_config(Some((other.admin_cert_pem(), other.admin_key_pem())))
        .unwrap();
    let client_result = connect(client, addr, "localhost").await;
    assert!(client_result.is_err(), "client got through: {client_result:?}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn client_rejects_a_server_from_another_ca_and_unknown_names() {
    let (_tmp, pki) = new_pki();
    let (_other_tmp, other) = new_pki();
    let (addr, _server) = serve_one(other.server_config().unwrap()).await;
    assert!(
        connect(pki.client_config(None).unwrap(), addr, "localhost")
            .await
            .is_err()
    );

    let (addr, _server) = serve_one(pki.server_config().unwrap()).await;
    let err = connect(pki.client_config(None).unwrap(), addr, "elsewhere.example")
        .await
        .unwrap_err();
    assert!(
        err.contains("NotValidForName") || err.contains("not valid for name"),
        "{err}"
    );
}

/// kubectl (Go's crypto/tls) loads the kubeconfig's key pair, verifies our serving certificate
/// and presents the admin certificate, which the server verifies. The request itself fails
/// afterwards (the test server speaks no HTTP); only the handshake matters.
#[tokio::test]
async fn kubectl_completes_a_handshake_with_the_admin_kubeconfig() {
    let (tmp, pki) = new_pki();
    for kubectl in crate::tests::kubectl_binaries() {
        let (addr, server) = serve_one(pki.server_config().unwrap()).await;
        let path = tmp.path().join("kubeconfig.yaml");
        write_kubeconfig(&path, &pki.admin_kubeconfig(&format!("https://{addr}"))).unwrap();
        let output = tokio::process::Command::new(&kubectl)
            .env("HOME", tmp.path())
            .env_remove("KUBECONFIG")
            .args([
                "get",
                "--raw",
                "/version",
                "--request-timeout=10s",
                "--kubeconfig",
            ])
            .arg(&path)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), output)
            .await
            .unwrap()
            .unwrap();
        let seen = server.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "{}: handshake failed: {e}; stderr: {}",
                kubectl.display(),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]), "{}", kubectl.display());
        let peer = seen
            .peer
            .unwrap_or_else(|| panic!("{}: sent no client certificate", kubectl.display()));
        assert_eq!(identity_from_cert(&peer[0]).unwrap().user, ADMIN_USER);
    }
}

/// Python's ssl module (OpenSSL, which the official Python client uses underneath) trusts the
/// CA, checks the host name and presents the admin certificate from files.
#[tokio::test]
async fn python_ssl_completes_a_handshake() {
    let Ok(python) = which("python3") else {
        eprintln!("python3 not found; skipping");
        return;
    };
    let (_tmp, pki) = new_pki();
    let paths = pki.paths().clone();
    let (addr, server) = serve_one(pki.server_config().unwrap()).await;
    let script = r#"
import socket, ssl, sys
ca, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["h2", "http/1.1"])
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        print(tls.selected_alpn_protocol(), tls.recv(2).decode())
"#;
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&paths.ca_cert)
        .arg(&paths.admin_cert)
        .arg(&paths.admin_key)
        .arg(addr.port().to_string())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "h2 ok");
    let peer = server.await.unwrap().unwrap().peer.unwrap();
    assert_eq!(identity_from_cert(&peer[0]).unwrap().user, ADMIN_USER);
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
