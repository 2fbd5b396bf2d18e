//! The Kubernetes version krust speaks, as reported by `/version` and used by the kubectl
//! dispatcher to pick a matching kubectl.

use serde_json::{Value, json};

/// The Kubernetes version whose API krust serves.
pub const GIT_VERSION: &str = "v1.33.0+krust";

/// The `/version` document.
pub fn info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": option_env!("KRUST_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": "clean",
        "buildDate": option_env!("KRUST_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}
