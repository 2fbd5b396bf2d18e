//! Cluster DNS, served by every node agent instead of CoreDNS pods: the names the
//! Kubernetes DNS specification defines for Services and their endpoints
//! (`<svc>.<ns>.svc.<zone>` A/AAAA and SRV, headless services' pods, ExternalName
//! CNAMEs, PTR for service and named endpoint addresses) and pod names by address
//! (`a-b-c-d.<ns>.pod.<zone>`, as CoreDNS's `pods insecure`), answered authoritatively;
//! every other name is relayed to the node's resolvers.
//!
//! Modules: `config` (settings, resolv.conf), `records` (the index built from API
//! objects), `answer` (one question, pure), `server` (UDP and TCP), `forward` (asking
//! the upstreams), `watch` (keeping the index current from the API).

mod answer;
mod config;
mod forward;
mod records;
mod server;
mod watch;

pub use answer::{Answer, DEFAULT_TTL, answer, answer_with_ttl};
pub use config::{DnsConfig, upstreams_from_resolv_conf};
pub use records::{Records, SrvTarget};
pub use server::{Server, serve};
pub use watch::run;

/// Why the DNS cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A listen address could not be bound (taken, or not an address of this machine).
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, #[source] std::io::Error),
}
