//! Container log rotation, as kubelet's container log manager: a running container's log
//! file that outgrew the size limit is renamed aside and the runtime told to reopen it
//! (CRI ReopenContainerLog), and of the renamed files only the newest few stay. Without it a
//! container decides how much of the node's disk its log takes.
//!
//! `kubectl logs` reads the current file only (as upstream); a follow moves on to the new
//! file when it sees the rotation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use krust_cri::{Cri, v1};
use tokio_util::sync::CancellationToken;

use crate::runtime::cri::spec::{CONTAINER_NAME, POD_NAME, POD_NAMESPACE, POD_UID};

/// Limits, as kubelet's `containerLogMaxSize` and `containerLogMaxFiles` defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A file bigger than this is rotated.
    pub max_size: u64,
    /// Files kept per container, the current one included.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// How often the files are checked (kubelet's `containerLogMonitorInterval`).
const INTERVAL: Duration = Duration::from_secs(10);

/// A running container and where its log is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    pub id: String,
    pub log: PathBuf,
}

/// The runtime, as far as rotation needs it.
pub(crate) trait Runtime: Send + Sync {
    /// The running containers with their log files.
    fn running(&self) -> impl Future<Output = Result<Vec<Running>, String>> + Send;
    /// Makes container `id` write to a new file at its log path.
    fn reopen(&self, id: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// The name a rotated file gets: the current name with the time of the rotation.
pub(crate) fn rotated_name(log: &Path, now: Timestamp) -> PathBuf {
    let stamp = now.strftime("%Y%m%d-%H%M%S%.6f").to_string();
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{stamp}"));
    PathBuf::from(name)
}

/// Of the rotated siblings of `log` (named `<log file name>.<time>`), the ones to delete
/// so that `max_files` files remain with the current one: the oldest go first. The time
/// stamps sort as text.
pub(crate) fn to_remove(log: &Path, siblings: &[String], max_files: usize) -> Vec<PathBuf> {
    let Some(base) = log.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!("{base}.");
    let mut rotated: Vec<&String> = siblings.iter().filter(|n| n.starts_with(&prefix)).collect();
    rotated.sort();
    let keep = max_files.saturating_sub(1);
    let excess = rotated.len().saturating_sub(keep);
    let dir = log.parent().unwrap_or(Path::new(""));
    rotated[..excess].iter().map(|n| dir.join(n)).collect()
}

/// One pass: rotates each oversized log and trims old rotated files.
pub(crate) async fn rotate_once(runtime: &impl Runtime, limits: Limits, now: Timestamp) {
    let containers = match runtime.running().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "listing containers for log rotation failed");
            return;
        }
    };
    for c in containers {
        let Ok(meta) = std::fs::metadata(&c.log) else {
            continue;
        };
        if meta.len() > limits.max_size {
            let aside = rotated_name(&c.log, now);
            if let Err(e) = std::fs::rename(&c.log, &aside) {
                tracing::warn!(log = %c.log.display(), error = %e, "rotating a container log failed");
                continue;
            }
            if let Err(e) = runtime.reopen(&c.id).await {
                // The container still writes to the renamed file: put it back.
                tracing::warn!(container = %c.id, error = %e, "reopening a container log failed");
                let _ = std::fs::rename(&aside, &c.log);
                continue;
            }
        }
        let siblings: Vec<String> = c
            .log
            .parent()
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        for old in to_remove(&c.log, &siblings, limits.max_files) {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Checks every [`INTERVAL`] until `shutdown`.
pub(crate) async fn run(runtime: impl Runtime, limits: Limits, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        rotate_once(&runtime, limits, Timestamp::now()).await;
    }
}

/// The CRI runtime, whose containers log under `root` as the agent's runtime lays it out
/// (`<root>/<namespace>_<pod>_<uid>/<container>/<attempt>.log`).
pub(crate) struct CriLogs {
    pub cri: Cri,
    pub root: PathBuf,
}

impl Runtime for CriLogs {
    async fn running(&self) -> Result<Vec<Running>, String> {
        let request = v1::ListContainersRequest {
            filter: Some(v1::ContainerFilter {
                state: Some(v1::ContainerStateValue {
                    state: v1::ContainerState::ContainerRunning as i32,
                }),
                ..Default::default()
            }),
        };
        let reply = self
            .cri
            .runtime
            .clone()
            .list_containers(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(reply
            .into_inner()
            .containers
            .into_iter()
            .filter_map(|c| {
                let label = |k: &str| c.labels.get(k).cloned();
                let dir = format!(
                    "{}_{}_{}",
                    label(POD_NAMESPACE)?,
                    label(POD_NAME)?,
                    label(POD_UID)?
                );
                let meta = c.metadata.as_ref()?;
                let name = label(CONTAINER_NAME).unwrap_or_else(|| meta.name.clone());
                Some(Running {
                    log: self
                        .root
                        .join(dir)
                        .join(name)
                        .join(format!("{}.log", meta.attempt)),
                    id: c.id,
                })
            })
            .collect())
    }

    async fn reopen(&self, id: &str) -> Result<(), String> {
        self.cri
            .runtime
            .clone()
            .reopen_container_log(v1::ReopenContainerLogRequest {
                container_id: id.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn rotated_names_sort_by_time() {
        let t1: Timestamp = "2025-01-02T15:04:05.5Z".parse().unwrap();
        let t2: Timestamp = "2025-01-02T15:04:06Z".parse().unwrap();
        let a = rotated_name(Path::new("/l/c/0.log"), t1);
        assert_eq!(a, Path::new("/l/c/0.log.20250102-150405.500000"));
        assert!(a < rotated_name(Path::new("/l/c/0.log"), t2));
    }

    #[test]
    fn the_oldest_rotated_files_beyond_the_limit_go() {
        let names: Vec<String> = [
            "0.log",
            "0.log.20250102-150403.000000",
            "0.log.20250102-150401.000000",
            "0.log.20250102-150402.000000",
            "1.log.20250101-000000.000000",
        ]
        .map(String::from)
        .to_vec();
        let log = Path::new("/l/c/0.log");
        assert_eq!(
            to_remove(log, &names, 3),
            [PathBuf::from("/l/c/0.log.20250102-150401.000000")]
        );
        assert!(to_remove(log, &names, 4).is_empty());
        assert_eq!(to_remove(log, &names, 1).len(), 3);
    }

    struct Fake {
        running: Vec<Running>,
        reopened: Mutex<Vec<String>>,
        fail: bool,
    }

    impl Runtime for Fake {
        async fn running(&self) -> Result<Vec<Running>, String> {
            Ok(self.running.clone())
        }
        async fn reopen(&self, id: &str) -> Result<(), String> {
            self.reopened.lock().push(id.to_string());
            if self.fail {
                return Err("no".into());
            }
            // As the runtime does: a new, empty file at the path.
            let log = &self.running.iter().find(|r| r.id == id).unwrap().log;
            std::fs::write(log, "").unwrap();
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_oversized_log_is_rotated_and_old_ones_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("0.log");
        let small = dir.path().join("1.log");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        std::fs::write(&small, b"small").unwrap();
        let fake = Fake {
            running: vec![
                Running {
                    id: "big".into(),
                    log: big.clone(),
                },
                Running {
                    id: "small".into(),
                    log: small.clone(),
                },
            ],
            reopened: Mutex::new(Vec::new()),
            fail: false,
        };
        let limits = Limits {
            max_size: 1024,
            max_files: 2,
        };
        let t: Timestamp = "2025-01-02T15:04:05Z".parse().unwrap();
        rotate_once(&fake, limits, t).await;
        assert_eq!(*fake.reopened.lock(), ["big"]);
        assert_eq!(std::fs::metadata(&big).unwrap().len(), 0);
        assert_eq!(std::fs::read(rotated_name(&big, t)).unwrap().len(), 2048);
        assert_eq!(std::fs::read(&small).unwrap(), b"small");

        // A second rotation leaves one rotated file (2 files with the current one).
        std::fs::write(&big, vec![b'y'; 2048]).unwrap();
        let later = t + Duration::from_secs(1);
        rotate_once(&fake, limits, later).await;
        assert!(!rotated_name(&big, t).exists());
        assert_eq!(std::fs::read(rotated_name(&big, later)).unwrap()[0], b'y');
    }

    #[tokio::test]
    async fn a_failed_reopen_puts_the_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        std::fs::write(&log, vec![b'x'; 2048]).unwrap();
        let fake = Fake {
            running: vec![Running {
                id: "c".into(),
                log: log.clone(),
            }],
            reopened: Mutex::new(Vec::new()),
            fail: true,
        };
        let limits = Limits {
            max_size: 1024,
            max_files: 5,
        };
        rotate_once(&fake, limits, Timestamp::now()).await;
        assert_eq!(std::fs::read(&log).unwrap().len(), 2048);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
