//! A CRI v1 client over a unix socket, for the node agent to drive containerd (or any
//! CRI runtime) with.
//!
//! The generated messages and clients live in [`v1`]; [`Cri::connect`] dials the socket
//! and hands out both services. Everything a pod worker decides stays in `krust-kubelet`:
//! this crate only carries calls, so that it (and tonic) rarely needs rebuilding.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

/// The generated CRI v1 messages and clients (`runtime.v1` in `proto/api.proto`).
#[allow(clippy::all, missing_docs, rust_2018_idioms)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}

pub mod health;

pub use tonic::{Code, Status};

/// The CRI API version this client speaks.
pub const API_VERSION: &str = "v1";

/// Failures to reach a runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be dialled.
    #[error("cannot connect to the container runtime at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The runtime answered with an error.
    #[error("container runtime: {0}")]
    Call(#[from] tonic::Status),
}

/// Both CRI services of one runtime, sharing one connection (cheap to clone).
#[derive(Debug, Clone)]
pub struct Cri {
    /// RunPodSandbox, CreateContainer, ... .
    pub runtime: v1::runtime_service_client::RuntimeServiceClient<Channel>,
    /// PullImage, ImageStatus, ... .
    pub images: v1::image_service_client::ImageServiceClient<Channel>,
}

impl Cri {
    /// Dials the runtime's unix socket (`unix://` prefix optional). The connection is
    /// made lazily on the first call and re-made after failures, so a runtime that
    /// restarts is picked up again.
    pub fn connect(socket: impl AsRef<Path>) -> Self {
        let path = strip_scheme(socket.as_ref());
        Self::over(endpoint().connect_with_connector_lazy(dialer(path)))
    }

    /// Dials the socket now, failing when nothing listens there.
    pub async fn connect_now(socket: impl AsRef<Path>) -> Result<Self, Error> {
        let path = strip_scheme(socket.as_ref());
        let channel = endpoint()
            .connect_with_connector(dialer(path.clone()))
            .await
            .map_err(|source| Error::Connect { path, source })?;
        Ok(Self::over(channel))
    }

    fn over(channel: Channel) -> Self {
        // Container lists and stats of a busy node exceed tonic's 4 MiB default.
        const MAX: usize = 64 << 20;
        Self {
            runtime: v1::runtime_service_client::RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX),
            images: v1::image_service_client::ImageServiceClient::new(channel).max_decoding_message_size(MAX),
        }
    }

    /// The runtime's name and version, as `(runtime_name, runtime_version)`.
    pub async fn version(&self) -> Result<(String, String), Error> {
        let reply = self
            .runtime
            .clone()
            .version(v1::VersionRequest {
                version: API_VERSION.into(),
            })
            .await?
            .into_inner();
        Ok((reply.runtime_name, reply.runtime_version))
    }
}

/// The endpoint every connection uses. Its URI is required by tonic but never resolved:
/// [`dialer`] dials the socket whatever it says.
fn endpoint() -> Endpoint {
    Endpoint::from_static("http://cri.invalid").connect_timeout(Duration::from_secs(5))
}

/// A connector that dials the unix socket `path`.
fn dialer(
    path: PathBuf,
) -> impl tower::Service<
    tonic::codegen::http::Uri,
    Response = TokioIo<tokio::net::UnixStream>,
    Error = std::io::Error,
    Future = impl Future<Output = std::io::Result<TokioIo<tokio::net::UnixStream>>> + Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |_| {
        let path = path.clone();
        async move { Ok(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
    })
}

/// `unix:///run/x.sock` → `/run/x.sock`.
fn strip_scheme(socket: &Path) -> PathBuf {
    match socket.to_str().and_then(|s| s.strip_prefix("unix://")) {
        Some(rest) => PathBuf::from(rest),
        None => socket.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_scheme_is_optional() {
        assert_eq!(
            strip_scheme(Path::new("unix:///run/containerd/containerd.sock")),
            PathBuf::from("/run/containerd/containerd.sock")
        );
        assert_eq!(
            strip_scheme(Path::new("/run/x.sock")),
            PathBuf::from("/run/x.sock")
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let err = Cri::connect_now("/nonexistent/krust-cri-test.sock")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/krust-cri-test.sock"));
    }
}
