//! The gRPC health checking protocol (`grpc.health.v1.Health/Check`), which the node
//! agent's gRPC probes call. Two one-field messages, declared here rather than generated.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Endpoint;

/// `HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    /// The service asked about; empty for the server as a whole.
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    /// `ServingStatus`: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// `SERVING`.
pub const SERVING: i32 = 1;

/// Asks the server at `addr` (plain-text HTTP/2) about `service`; the status it answers,
/// or why there was no answer.
pub async fn check(addr: SocketAddr, service: &str, timeout: Duration) -> Result<i32, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint.connect().await.map_err(|e| {
        format!(
            "failed to connect service {addr:?} within {}s: {e}",
            timeout.as_secs()
        )
    })?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| e.to_string())?;
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let reply = grpc
        .unary(
            tonic::Request::new(HealthCheckRequest {
                service: service.to_string(),
            }),
            PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
            codec,
        )
        .await
        .map_err(|s| format!("health rpc did not complete: {}", s.message()))?;
    Ok(reply.into_inner().status)
}
