//! An API client from a kubeconfig document.

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Failures building a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be parsed or used.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The client could not be built.
    #[error("client: {0}")]
    Client(String),
}

/// Builds a client from a kubeconfig document (YAML), e.g. the admin kubeconfig the server
/// writes, or one issued for a component's own identity.
pub async fn client_from_kubeconfig(yaml: &str) -> Result<kube::Client, Error> {
    component_client(yaml, "krust").await
}

/// A client that introduces itself as `component` in its User-Agent
/// (`kube-controller-manager/v1.33.0 (linux/amd64) krust`): the API server names the
/// field manager of its writes after it, as upstream components' writes are named.
pub async fn component_client(yaml: &str, component: &str) -> Result<kube::Client, Error> {
    let kc = Kubeconfig::from_yaml(yaml).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let agent = format!(
        "{component}/v{} ({}/{}) krust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let value = http::HeaderValue::from_str(&agent).map_err(|e| Error::Client(e.to_string()))?;
    config.headers.push((http::header::USER_AGENT, value));
    kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}
