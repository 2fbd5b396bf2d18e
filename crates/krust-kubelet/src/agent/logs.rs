//! Container logs as `kubectl logs` shows them, from the CRI log files containerd writes.
//!
//! A CRI log file has one record per line: `<RFC3339Nano time> <stdout|stderr> <tags> <text>`,
//! where the tag `P` marks a partial line (the runtime split a long line, or the program
//! wrote no newline yet) continued by the stream's next record, and `F` a line's end.
//! Decoding joins partial records back into the line the container wrote; rendering applies
//! the `timestamps`, `sinceSeconds`/`sinceTime` and `limitBytes` options. Pure: bytes in,
//! bytes out, so every rule is tested here without files.

use jiff::Timestamp;
use krust_api::podlogs::PodLogOptions;

/// Which output of the container a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// One record of a CRI log file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// The time as written (RFC3339Nano), shown as is with `timestamps=true`.
    pub time: &'a str,
    pub at: Timestamp,
    pub stream: Stream,
    /// More of the same line follows in the stream's next record.
    pub partial: bool,
    pub text: &'a [u8],
}

/// Reads one record (a line of the file, without its `\n`). `None` for anything else:
/// a file cut short by a crash or edited by hand must not stop the rest from showing.
pub(crate) fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let at = time.parse::<Timestamp>().ok()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let tags = std::str::from_utf8(fields.next()?).ok()?;
    if tags.is_empty() {
        return None;
    }
    // Tags are `:`-separated; `P` is the only one defined besides `F`.
    let partial = tags.split(':').any(|t| t == "P");
    let text = fields.next().unwrap_or_default();
    Some(Record {
        time,
        at,
        stream,
        partial,
        text,
    })
}

/// A whole line the container wrote, with the time of its first part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub time: String,
    pub at: Timestamp,
    pub text: Vec<u8>,
}

/// Turns the bytes of a log file, fed as they arrive, into whole lines. Keeps an
/// unfinished last record (the runtime may be writing it) and each stream's partial line
/// until they are complete.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    unfinished: Vec<u8>,
    partial: [Option<LogLine>; 2],
}

impl Decoder {
    /// The lines completed by `bytes`, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<LogLine> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.unfinished.is_empty() {
                self.record(head, &mut out);
            } else {
                let mut line = std::mem::take(&mut self.unfinished);
                line.extend_from_slice(head);
                self.record(&line, &mut out);
            }
        }
        self.unfinished.extend_from_slice(rest);
        out
    }

    fn record(&mut self, raw: &[u8], out: &mut Vec<LogLine>) {
        let Some(r) = parse_record(raw) else { return };
        let slot = &mut self.partial[r.stream.index()];
        let mut line = slot.take().unwrap_or_else(|| LogLine {
            time: r.time.to_string(),
            at: r.at,
            text: Vec::new(),
        });
        line.text.extend_from_slice(r.text);
        if r.partial {
            *slot = Some(line);
        } else {
            out.push(line);
        }
    }

    /// Partial lines never finished (the container stopped mid-line): shown as they are,
    /// oldest first, as upstream shows a last line without newline.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let mut out: Vec<LogLine> = self.partial.iter_mut().filter_map(Option::take).collect();
        out.sort_by_key(|l| l.at);
        out
    }
}

/// The last `n` of `lines` (all when `n` is `None`).
pub(crate) fn tail(mut lines: Vec<LogLine>, n: Option<u64>) -> Vec<LogLine> {
    if let Some(n) = n {
        let keep = usize::try_from(n).unwrap_or(usize::MAX);
        let drop = lines.len().saturating_sub(keep);
        lines.drain(..drop);
    }
    lines
}

/// Turns lines into what the client receives, honouring `sinceSeconds`/`sinceTime`,
/// `timestamps` and `limitBytes` (which counts the bytes sent, timestamps included, and may
/// cut the last line short, as upstream's limited writer does).
#[derive(Debug)]
pub(crate) struct Renderer {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
}

impl Renderer {
    pub fn new(opts: &PodLogOptions, now: Timestamp) -> Self {
        Self {
            since: opts.since(now),
            timestamps: opts.timestamps,
            remaining: opts.limit_bytes,
        }
    }

    /// True once `limitBytes` is used up: nothing more may be sent.
    pub fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// The bytes to send for `lines` (empty when all are filtered out).
    pub fn render(&mut self, lines: &[LogLine]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            if self.done() {
                break;
            }
            if self.since.is_some_and(|s| line.at < s) {
                continue;
            }
            let start = out.len();
            if self.timestamps {
                out.extend_from_slice(line.time.as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(&line.text);
            out.push(b'\n');
            if let Some(left) = self.remaining.as_mut() {
                let len = (out.len() - start) as u64;
                if len >= *left {
                    out.truncate(start + usize::try_from(*left).unwrap_or(usize::MAX));
                    *left = 0;
                } else {
                    *left -= len;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2025-01-02T15:04:05.000000001Z";
    const T2: &str = "2025-01-02T15:04:06.5Z";
    const T3: &str = "2025-01-02T15:04:07Z";

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.text).into_owned())
            .collect()
    }

    #[test]
    fn records_parse_with_their_stream_and_tag() {
        let line = format!("{T1} stderr F oops: it  failed ");
        let r = parse_record(line.as_bytes()).unwrap();
        assert_eq!((r.time, r.stream, r.partial), (T1, Stream::Stderr, false));
        assert_eq!(r.text, b"oops: it  failed ");
        let line = format!("{T1} stdout P half");
        let r = parse_record(line.as_bytes()).unwrap();
        assert!(r.partial && r.stream == Stream::Stdout);
        let line = format!("{T1} stdout F");
        assert_eq!(parse_record(line.as_bytes()).unwrap().text, b"");
        let line = format!("{T1} stdout P:X more\r");
        let r = parse_record(line.as_bytes()).unwrap();
        assert!(r.partial);
        assert_eq!(r.text, b"more");
    }

    #[test]
    fn malformed_records_are_skipped() {
        for bad in [
            "".to_string(),
            "garbage".into(),
            "notatime stdout F x".to_string(),
            format!("{T1} stdin F x"),
            format!("{T1} stdout"),
            format!("{T1} stdout  x"),
        ] {
            assert_eq!(parse_record(bad.as_bytes()), None, "{bad:?}");
        }
        let mut d = Decoder::default();
        let mut file = format!("junk\n{T1} stdout F ok\n").into_bytes();
        file.extend_from_slice(b"\xff\xfe\n");
        let lines = d.feed(&file);
        assert_eq!(texts(&lines), ["ok"]);
    }

    #[test]
    fn partial_records_join_per_stream_and_keep_the_first_time() {
        let mut d = Decoder::default();
        let file =
            format!("{T1} stdout P hel\n{T2} stderr F err line\n{T2} stdout P lo \n{T3} stdout F world\n");
        let lines = d.feed(file.as_bytes());
        assert_eq!(texts(&lines), ["err line", "hello world"]);
        assert_eq!(lines[1].time, T1);
        assert!(d.finish().is_empty());
    }

    #[test]
    fn a_record_split_across_reads_waits_for_its_end() {
        let mut d = Decoder::default();
        let file = format!("{T1} stdout F first\n{T2} stdout F second\n");
        let (a, b) = file.split_at(file.len() - 4);
        assert_eq!(texts(&d.feed(a.as_bytes())), ["first"]);
        assert_eq!(texts(&d.feed(b.as_bytes())), ["second"]);
        // A partial line never finished is still shown at the end.
        d.feed(format!("{T3} stdout P no newline\n").as_bytes());
        assert_eq!(texts(&d.finish()), ["no newline"]);
    }

    fn lines() -> Vec<LogLine> {
        let mut d = Decoder::default();
        d.feed(format!("{T1} stdout F one\n{T2} stdout F two\n{T3} stderr F three\n").as_bytes())
    }

    fn render(opts: PodLogOptions, lines: &[LogLine]) -> String {
        let now: Timestamp = "2025-01-02T15:04:08Z".parse().unwrap();
        String::from_utf8(Renderer::new(&opts, now).render(lines)).unwrap()
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(texts(&tail(lines(), Some(2))), ["two", "three"]);
        assert_eq!(texts(&tail(lines(), Some(0))), Vec::<String>::new());
        assert_eq!(texts(&tail(lines(), Some(10))).len(), 3);
        assert_eq!(texts(&tail(lines(), None)).len(), 3);
    }

    #[test]
    fn rendering_applies_since_timestamps_and_limit() {
        assert_eq!(render(PodLogOptions::default(), &lines()), "one\ntwo\nthree\n");
        let since = PodLogOptions {
            since_seconds: Some(2),
            ..Default::default()
        };
        assert_eq!(render(since, &lines()), "two\nthree\n");
        let since = PodLogOptions {
            since_time: Some(T3.parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(render(since, &lines()), "three\n");
        let stamped = PodLogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(render(stamped, &lines()[..1]), format!("{T1} one\n"));
        let limited = PodLogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(render(limited, &lines()), "one\ntw");
    }

    #[test]
    fn the_limit_holds_across_calls() {
        let opts = PodLogOptions {
            limit_bytes: Some(4),
            ..Default::default()
        };
        let mut r = Renderer::new(&opts, Timestamp::now());
        let all = lines();
        assert_eq!(r.render(&all[..1]), b"one\n");
        assert!(r.done());
        assert_eq!(r.render(&all[1..]), b"");
    }
}
