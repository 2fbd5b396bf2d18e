//! Loading a script into the kernel: the [`Applier`] seam and its real implementation,
//! [`Nft`], which runs the `nft` binary.

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

use crate::ProxyError;

/// The one side effect of the proxy, behind a trait so the sync loop can be tested with a
/// recording fake and the agent can swap in something else (e.g. a dry run).
///
/// Calls block (they run a process); the sync loop calls them from a blocking task.
pub trait Applier: Send + Sync + 'static {
    /// Loads `script` (a full [`crate::ruleset`] text) atomically.
    fn apply(&self, script: &str) -> Result<(), ProxyError>;
    /// Deletes `table` from the `ip` family; a table that does not exist is not an error.
    fn remove(&self, table: &str) -> Result<(), ProxyError>;
}

/// Runs `nft` from `PATH`: `nft -f -` with the script on stdin, so the whole script is one
/// netlink transaction.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nft;

impl Nft {
    /// Parses and checks `script` against the running kernel without committing anything
    /// (`nft -c`). Useful before first use and in tests; needs the same privileges as apply.
    pub fn check(&self, script: &str) -> Result<(), ProxyError> {
        run_nft(&["-c", "-f", "-"], Some(script))
    }
}

impl Applier for Nft {
    fn apply(&self, script: &str) -> Result<(), ProxyError> {
        run_nft(&["-f", "-"], Some(script))
    }

    fn remove(&self, table: &str) -> Result<(), ProxyError> {
        match run_nft(&["delete", "table", "ip", table], None) {
            Err(ProxyError::Nft { stderr, .. }) if stderr.contains("No such file or directory") => Ok(()),
            other => other,
        }
    }
}

fn run_nft(args: &[&str], stdin: Option<&str>) -> Result<(), ProxyError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ProxyError::Spawn)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error means nft exited early; its status and stderr explain why.
        let _ = pipe.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().map_err(ProxyError::Spawn)?;
    if output.status.success() {
        return Ok(());
    }
    Err(ProxyError::Nft {
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}
