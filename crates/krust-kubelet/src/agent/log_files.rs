//! Finding a container's log file by pod and container name, and reading it (once, or
//! following it while the container runs) into a channel the HTTPS answer streams from.
//!
//! Layout (written by containerd as the runtime asks):
//! `<root>/<namespace>_<pod>_<uid>/<container>/<attempt>.log`, attempt = restart count. A
//! pod re-created under the same name has a new uid and so a new directory; the newest one
//! is the pod of that name now.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use krust_api::podlogs::PodLogOptions;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::logs::{Decoder, Renderer};

/// How often a followed file is checked for more.
const POLL: Duration = Duration::from_millis(250);
/// How many idle polls pass between two questions to the runtime whether the container
/// still runs.
const POLLS_PER_LIVENESS_CHECK: u32 = 4;

/// Why no log can be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum LogError {
    /// The pod or container has no log on this node.
    #[error("{0}")]
    NotFound(String),
    /// The log asked for cannot exist (no previous instance).
    #[error("{0}")]
    BadRequest(String),
}

/// The log file chosen for a request, and what following it needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFile {
    pub path: PathBuf,
    pub attempt: u32,
    /// The pod's log directory (its removal ends a follow).
    pub pod_dir: PathBuf,
    /// The pod's uid, from the directory name.
    pub uid: String,
}

/// The newest log directory of pod `namespace/pod` under `root`, with its uid.
fn pod_dir(root: &Path, namespace: &str, pod: &str) -> Option<(PathBuf, String)> {
    let prefix = format!("{namespace}_{pod}_");
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let uid = name.strip_prefix(&prefix)?.to_string();
            let modified = e.metadata().and_then(|m| m.modified()).ok()?;
            Some((modified, e.path(), uid))
        })
        .max_by_key(|(modified, _, _)| *modified)
        .map(|(_, path, uid)| (path, uid))
}

/// The attempts that have a log file in `container_dir`, oldest first.
pub(crate) fn attempts(container_dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(container_dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let attempt = name.strip_suffix(".log")?.parse::<u32>().ok()?;
            Some((attempt, e.path()))
        })
        .collect();
    found.sort_by_key(|(a, _)| *a);
    found
}

/// Which attempt's file to read: the newest, or with `previous` the one before it.
pub(crate) fn choose(
    attempts: &[(u32, PathBuf)],
    previous: bool,
    pod: &str,
    container: &str,
) -> Result<(u32, PathBuf), LogError> {
    let pick = if previous {
        attempts.len().checked_sub(2).and_then(|i| attempts.get(i))
    } else {
        attempts.last()
    };
    match pick {
        Some(found) => Ok(found.clone()),
        None if previous => Err(LogError::BadRequest(format!(
            "previous terminated container \"{container}\" in pod \"{pod}\" not found"
        ))),
        None => Err(LogError::NotFound(format!(
            "container \"{container}\" in pod \"{pod}\" has no log on this node yet"
        ))),
    }
}

/// Locates the file to serve for `namespace/pod`'s `container`.
pub(crate) fn locate(
    root: &Path,
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<LogFile, LogError> {
    let (pod_dir, uid) = pod_dir(root, namespace, pod).ok_or_else(|| {
        LogError::NotFound(format!(
            "pod \"{pod}\" in namespace \"{namespace}\" has no logs on this node"
        ))
    })?;
    let container_dir = pod_dir.join(container);
    if !container_dir.is_dir() {
        return Err(LogError::NotFound(format!(
            "container \"{container}\" in pod \"{pod}\" has no logs on this node"
        )));
    }
    let (attempt, path) = choose(&attempts(&container_dir), previous, pod, container)?;
    Ok(LogFile {
        path,
        attempt,
        pod_dir,
        uid,
    })
}

/// Whether a container still runs: asked when a followed file stops growing, since only
/// a container that can no longer write ends a follow by itself.
pub(crate) trait Liveness: Send + Sync + 'static {
    /// True while container `name` of pod `uid` runs (and when that cannot be told).
    fn running(&self, uid: &str, name: &str) -> impl Future<Output = bool> + Send;
}

/// How much of a log file is read at a time: a request holds at most this much of the
/// file (plus one bounded line) however big the file grew.
const CHUNK: usize = 64 * 1024;

/// Where the last `n` whole records of the file start (0 when it has fewer). Reads
/// backwards from the end in [`CHUNK`]s, so a short tail of a huge file costs little. An
/// unterminated last record (still being written) is not counted, as it is no line yet.
pub(crate) fn tail_offset<R: Read + Seek>(r: &mut R, n: u64) -> std::io::Result<u64> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut end = len;
    let mut newlines = 0u64;
    let mut seen_last = false;
    let mut buf = vec![0u8; CHUNK];
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        let size = usize::try_from(end - start).unwrap_or(CHUNK);
        r.seek(SeekFrom::Start(start))?;
        r.read_exact(&mut buf[..size])?;
        for i in (0..size).rev() {
            if buf[i] != b'\n' {
                continue;
            }
            if !seen_last {
                // The end of the last whole record: it is counted from here on.
                seen_last = true;
                if n == 0 {
                    return Ok(start + i as u64 + 1);
                }
                continue;
            }
            newlines += 1;
            if newlines == n {
                return Ok(start + i as u64 + 1);
            }
        }
        end = start;
    }
    Ok(if seen_last || n > 0 { 0 } else { len })
}

/// What one pass over the bytes available in a file came to.
enum Pumped {
    /// Sent what there was (true when there was anything).
    More(bool),
    /// Stop: the receiver is gone, `limitBytes` is used up, or the file cannot be read.
    Stop,
}

/// Reads `f` up to its current end in [`CHUNK`]s, sending each chunk's lines.
async fn pump(
    f: &mut tokio::fs::File,
    buf: &mut [u8],
    decoder: &mut Decoder,
    renderer: &mut Renderer,
    tx: &mpsc::Sender<Bytes>,
) -> Pumped {
    let mut any = false;
    loop {
        let n = match f.read(buf).await {
            Ok(0) => return Pumped::More(any),
            Ok(n) => n,
            Err(_) => return Pumped::Stop,
        };
        any = true;
        if !send(tx, renderer.render(&decoder.feed(&buf[..n]))).await || renderer.done() {
            return Pumped::Stop;
        }
    }
}

/// The identity of the file at `path` now: log rotation puts a new file in its place.
fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Opens `path` at the start of its last `tail` records (the whole file without a tail).
async fn open_at(path: &Path, tail: Option<u64>) -> Option<(tokio::fs::File, Option<u64>)> {
    let mut std_file = std::fs::File::open(path).ok()?;
    let ino = std_file.metadata().ok().map(|m| m.ino());
    let std_file = match tail {
        None => std_file,
        Some(n) => tokio::task::spawn_blocking(move || {
            let at = tail_offset(&mut std_file, n)?;
            std_file.seek(SeekFrom::Start(at))?;
            Ok::<_, std::io::Error>(std_file)
        })
        .await
        .ok()?
        .ok()?,
    };
    Some((tokio::fs::File::from_std(std_file), ino))
}

/// Sends `file`'s log through `tx` as the options say; with `follow` (and not
/// `previous`) keeps sending what is appended until the container stops (it is no longer
/// running, a newer attempt started, or the pod's logs were removed) or the receiver is
/// gone, and moves to the new file when the log is rotated. Memory stays bounded: the file
/// is read in chunks, a tail found by reading backwards. Read errors end the stream: the
/// client sees the log end early.
pub(crate) async fn stream(
    file: LogFile,
    container: String,
    opts: PodLogOptions,
    live: std::sync::Arc<impl Liveness>,
    tx: mpsc::Sender<Bytes>,
) {
    let Some((mut f, mut ino)) = open_at(&file.path, opts.tail_lines).await else {
        return;
    };
    let mut decoder = Decoder::default();
    let mut renderer = Renderer::new(&opts, Timestamp::now());
    let mut buf = vec![0u8; CHUNK];
    let follow = opts.follow && !opts.previous;
    if let Pumped::Stop = pump(&mut f, &mut buf, &mut decoder, &mut renderer, &tx).await {
        return;
    }
    if !follow {
        let _ = send(&tx, renderer.render(&decoder.finish())).await;
        return;
    }
    let container_dir = file.pod_dir.join(&container);
    let mut idle = 0u32;
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        match pump(&mut f, &mut buf, &mut decoder, &mut renderer, &tx).await {
            Pumped::Stop => return,
            Pumped::More(true) => {
                idle = 0;
                continue;
            }
            Pumped::More(false) => idle += 1,
        }
        let now = inode(&file.path);
        if now.is_some() && now != ino {
            // Rotated: the rest of the old file was read above; the new one from its start.
            let Some((next, next_ino)) = open_at(&file.path, None).await else {
                return;
            };
            (f, ino) = (next, next_ino);
            idle = 0;
            continue;
        }
        let replaced = attempts(&container_dir)
            .last()
            .is_none_or(|(a, _)| *a > file.attempt);
        let stopped = replaced
            || !file.pod_dir.is_dir()
            || (idle.is_multiple_of(POLLS_PER_LIVENESS_CHECK) && !live.running(&file.uid, &container).await);
        if stopped {
            // What was written between the last read and the stop.
            if let Pumped::Stop = pump(&mut f, &mut buf, &mut decoder, &mut renderer, &tx).await {
                return;
            }
            let _ = send(&tx, renderer.render(&decoder.finish())).await;
            return;
        }
    }
}

/// Sends a chunk unless it is empty; false once the receiver is gone.
async fn send(tx: &mpsc::Sender<Bytes>, chunk: Vec<u8>) -> bool {
    chunk.is_empty() || tx.send(Bytes::from(chunk)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2025-01-02T15:04:05Z";

    struct Running(bool);

    impl Liveness for Running {
        async fn running(&self, _uid: &str, _name: &str) -> bool {
            self.0
        }
    }

    fn pod(root: &Path, dir: &str, attempts: &[(u32, &str)]) -> PathBuf {
        let c = root.join(dir).join("c");
        std::fs::create_dir_all(&c).unwrap();
        for (a, text) in attempts {
            std::fs::write(c.join(format!("{a}.log")), text).unwrap();
        }
        root.join(dir)
    }

    #[test]
    fn the_newest_attempt_or_the_previous_one_is_chosen() {
        let root = tempfile::tempdir().unwrap();
        pod(root.path(), "ns_p_u1", &[(0, ""), (1, ""), (10, "")]);
        std::fs::write(root.path().join("ns_p_u1/c/junk.txt"), "").unwrap();
        let f = locate(root.path(), "ns", "p", "c", false).unwrap();
        assert_eq!((f.attempt, f.uid.as_str()), (10, "u1"));
        assert_eq!(locate(root.path(), "ns", "p", "c", true).unwrap().attempt, 1);
        assert!(matches!(
            locate(root.path(), "ns", "p", "other", false),
            Err(LogError::NotFound(_))
        ));
        assert!(matches!(
            locate(root.path(), "ns", "q", "c", false),
            Err(LogError::NotFound(_))
        ));
    }

    #[test]
    fn without_a_previous_attempt_the_error_says_so() {
        let one = [(0, PathBuf::from("0.log"))];
        assert_eq!(
            choose(&one, true, "p", "c"),
            Err(LogError::BadRequest(
                "previous terminated container \"c\" in pod \"p\" not found".into()
            ))
        );
        assert!(matches!(choose(&[], false, "p", "c"), Err(LogError::NotFound(_))));
    }

    #[test]
    fn the_newest_pod_directory_of_a_name_wins() {
        let root = tempfile::tempdir().unwrap();
        pod(root.path(), "ns_p_old", &[(0, "")]);
        std::thread::sleep(Duration::from_millis(20));
        pod(root.path(), "ns_p_new", &[(0, "")]);
        pod(root.path(), "ns_pp_x", &[(0, "")]);
        assert_eq!(locate(root.path(), "ns", "p", "c", false).unwrap().uid, "new");
    }

    #[test]
    fn the_tail_starts_after_the_right_newline() {
        let at = |text: &str, n| tail_offset(&mut std::io::Cursor::new(text.as_bytes()), n).unwrap();
        assert_eq!(at("a\nb\nc", 1), 2, "the unfinished c is not counted");
        assert_eq!(at("a\nb\nc", 2), 0);
        assert_eq!(at("a\nb\nc", 9), 0);
        assert_eq!(at("a\nb\n", 1), 2);
        assert_eq!(at("a\nb\n", 0), 4);
        assert_eq!(
            at("a\nb\nc", 0),
            4,
            "following starts with the record being written"
        );
        assert_eq!(at("", 3), 0);
        // Across chunk boundaries.
        let long: String = (0..40_000).map(|i| format!("line{i}\n")).collect();
        let start = at(&long, 3) as usize;
        assert_eq!(&long[start..], "line39997\nline39998\nline39999\n");
    }

    #[tokio::test]
    async fn a_tail_of_a_big_file_sends_only_the_tail() {
        let root = tempfile::tempdir().unwrap();
        let text: String = (0..50_000).map(|i| format!("{T} stdout F n{i}\n")).collect();
        pod(root.path(), "ns_p_u", &[(0, &text)]);
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, rx) = mpsc::channel(4);
        let opts = PodLogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        spawn_stream(file, opts, true, tx);
        assert_eq!(collect(rx).await, "n49998\nn49999\n");

        // Without a tail the whole file comes, in bounded chunks.
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        spawn_stream(file, PodLogOptions::default(), true, tx);
        let (mut total, mut chunks) = (0, 0);
        while let Some(b) = rx.recv().await {
            assert!(b.len() <= CHUNK, "a chunk of {} bytes", b.len());
            total += b.len();
            chunks += 1;
        }
        let expected: usize = (0..50_000).map(|i| format!("n{i}\n").len()).sum();
        assert_eq!(total, expected);
        assert!(chunks > 1);
    }

    #[tokio::test]
    async fn a_follow_moves_to_the_new_file_after_rotation() {
        let root = tempfile::tempdir().unwrap();
        let dir = pod(root.path(), "ns_p_u", &[(0, &format!("{T} stdout F a\n"))]);
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let opts = PodLogOptions {
            follow: true,
            ..Default::default()
        };
        spawn_stream(file, opts, true, tx);
        assert_eq!(rx.recv().await.unwrap(), "a\n");
        let log = dir.join("c/0.log");
        // The rotated file gets its last line, then the runtime reopens a fresh one.
        std::fs::write(&log, format!("{T} stdout F a\n{T} stdout F b\n")).unwrap();
        std::fs::rename(&log, dir.join("c/0.log.20250102-150405")).unwrap();
        std::fs::write(&log, format!("{T} stdout F c\n")).unwrap();
        let mut got = String::new();
        while got != "b\nc\n" {
            got.push_str(std::str::from_utf8(&rx.recv().await.unwrap()).unwrap());
            assert!("b\nc\n".starts_with(&got), "{got:?}");
        }
    }

    /// Streams `file` (container `c`) into `tx` in the background, the container running
    /// or not.
    fn spawn_stream(
        file: LogFile,
        opts: PodLogOptions,
        running: bool,
        tx: mpsc::Sender<Bytes>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(stream(
            file,
            "c".into(),
            opts,
            std::sync::Arc::new(Running(running)),
            tx,
        ))
    }

    async fn collect(mut rx: mpsc::Receiver<Bytes>) -> String {
        let mut out = Vec::new();
        while let Some(b) = rx.recv().await {
            out.extend_from_slice(&b);
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn a_read_without_follow_ends_at_the_file_end() {
        let root = tempfile::tempdir().unwrap();
        pod(
            root.path(),
            "ns_p_u",
            &[(0, &format!("{T} stdout F a\n{T} stdout F b\n{T} stdout P c"))],
        );
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, rx) = mpsc::channel(4);
        let opts = PodLogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        spawn_stream(file, opts, true, tx);
        // The unfinished record is not a line yet: the tail is the last whole line.
        assert_eq!(collect(rx).await, "b\n");
    }

    #[tokio::test]
    async fn a_follow_sends_appended_lines_and_ends_when_the_container_stops() {
        let root = tempfile::tempdir().unwrap();
        let dir = pod(root.path(), "ns_p_u", &[(0, &format!("{T} stdout F a\n"))]);
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let opts = PodLogOptions {
            follow: true,
            ..Default::default()
        };
        let task = spawn_stream(file, opts, true, tx);
        assert_eq!(rx.recv().await.unwrap(), "a\n");
        let log = dir.join("c/0.log");
        let mut text = std::fs::read_to_string(&log).unwrap();
        text.push_str(&format!("{T} stdout F b\n"));
        std::fs::write(&log, &text).unwrap();
        assert_eq!(rx.recv().await.unwrap(), "b\n");
        // A restart (a newer attempt) ends the follow.
        std::fs::write(dir.join("c/1.log"), "").unwrap();
        assert_eq!(collect(rx).await, "");
        task.await.unwrap();

        // A container that no longer runs ends it too.
        let file = locate(root.path(), "ns", "p", "c", false).unwrap();
        let (tx, rx) = mpsc::channel(4);
        let opts = PodLogOptions {
            follow: true,
            ..Default::default()
        };
        spawn_stream(file, opts, false, tx);
        assert_eq!(collect(rx).await, "");
    }
}
