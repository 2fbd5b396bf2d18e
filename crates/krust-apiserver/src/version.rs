//! The Kubernetes version krust speaks, as reported by `/version` and used by the kubectl
//! dispatcher to pick a matching kubectl.

use serde_json::{Value, json};

/// The Kubernetes version whose API krust serves.
pub const GIT_VERSION: &str = "v1.33.0+krust";

/// Where the running binary came from, reported by `/version`.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    /// Git commit of the build.
    pub git_commit: String,
    /// RFC 3339 build time.
    pub build_date: String,
}

/// The `/version` document.
pub fn info(build: &BuildInfo) -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": if build.git_commit.is_empty() { "unknown" } else { &build.git_commit },
        "gitTreeState": "clean",
        "buildDate": if build.build_date.is_empty() { "1970-01-01T00:00:00Z" } else { &build.build_date },
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}
