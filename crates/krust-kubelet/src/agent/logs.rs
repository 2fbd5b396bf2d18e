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
    /// False for the leading piece of a line longer than [`MAX_LINE`]: shown without a
    /// newline, so the rest continues it.
    pub ends: bool,
}

/// The longest line kept whole: a container writing without newlines must not make the
/// agent hold its whole output (upstream kubelet never joins partial records at all).
pub(crate) const MAX_LINE: usize = 256 * 1024;
/// The longest record read: the runtime splits lines at 16 KiB, so anything longer is a
/// damaged or hand-made file, skipped up to its next newline.
pub(crate) const MAX_RECORD: usize = 1024 * 1024;

/// Turns the bytes of a log file, fed as they arrive, into whole lines. Keeps an
/// unfinished last record (the runtime may be writing it) and each stream's partial line
/// until they are complete, each within its bound.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    unfinished: Vec<u8>,
    /// The unfinished record outgrew [`MAX_RECORD`]: bytes are dropped up to its end.
    skipping: bool,
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
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if self.unfinished.is_empty() {
                self.record(head, &mut out);
            } else {
                let mut line = std::mem::take(&mut self.unfinished);
                line.extend_from_slice(head);
                self.record(&line, &mut out);
            }
        }
        if !self.skipping {
            self.unfinished.extend_from_slice(rest);
            if self.unfinished.len() > MAX_RECORD {
                self.unfinished = Vec::new();
                self.skipping = true;
            }
        }
        out
    }

    fn record(&mut self, raw: &[u8], out: &mut Vec<LogLine>) {
        let Some(r) = parse_record(raw) else { return };
        let slot = &mut self.partial[r.stream.index()];
        let mut line = slot.take().unwrap_or_else(|| LogLine {
            time: r.time.to_string(),
            at: r.at,
            text: Vec::new(),
            ends: true,
        });
        line.text.extend_from_slice(r.text);
        if !r.partial {
            out.push(line);
        } else if line.text.len() > MAX_LINE {
            // Shown now as the start of a line; the rest follows in later lines.
            line.ends = false;
            out.push(line);
        } else {
            *slot = Some(line);
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
            if line.ends {
                out.push(b'\n');
            }
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
    fn an_endless_line_is_shown_in_bounded_pieces() {
        let mut d = Decoder::default();
        let piece = "x".repeat(16 * 1024);
        let mut shown = Vec::new();
        // 20 partial records of 16 KiB: more than MAX_LINE, so a piece comes out early.
        for _ in 0..20 {
            shown.extend(d.feed(format!("{T1} stdout P {piece}\n").as_bytes()));
        }
        shown.extend(d.feed(format!("{T1} stdout F end\n").as_bytes()));
        assert_eq!(shown.len(), 2, "one bounded piece, then the rest");
        assert!(!shown[0].ends && shown[0].text.len() <= MAX_LINE + piece.len());
        assert!(shown[1].ends && shown[1].text.ends_with(b"end"));
        let mut r = Renderer::new(&PodLogOptions::default(), T1.parse().unwrap());
        let out = r.render(&shown);
        assert_eq!(
            out.len(),
            20 * piece.len() + "end\n".len(),
            "no newline inside the line"
        );
    }

    #[test]
    fn an_oversized_record_is_dropped_up_to_its_end() {
        let mut d = Decoder::default();
        let junk = vec![b'y'; 64 * 1024];
        for _ in 0..(MAX_RECORD / junk.len() + 2) {
            assert!(d.feed(&junk).is_empty());
        }
        assert!(d.unfinished.is_empty(), "nothing of it is kept");
        let lines = d.feed(format!("tail of junk\n{T1} stdout F next\n").as_bytes());
        assert_eq!(texts(&lines), ["next"]);
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
