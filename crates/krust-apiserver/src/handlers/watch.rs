//! WATCH: a chunked stream of newline-terminated events from the watch cache, with
//! selector transitions (an object that stops matching is DELETED for this watcher),
//! bookmarks, timeouts and Table events for `kubectl get -w`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use jiff::Timestamp;
use krust_api::ApiError;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::{
    broadcast::error::{RecvError, TryRecvError},
    mpsc,
};

use super::{Ctx, read};
use crate::{
    cache::{CacheEvent, Filter, WatchKind},
    negotiate::Output,
    options::ListOptions,
    render::{self, IncludeObject},
    respond::Resp,
    state::CACHE_WAIT,
};

const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Largest frame a watcher assembles from events that are already waiting.
const BATCH_BYTES: usize = 64 * 1024;

/// Starts a watch.
pub async fn watch(ctx: Ctx, mut opts: ListOptions) -> Result<Resp, ApiError> {
    read::check_fields(&ctx, &mut opts)?;
    let output = match ctx.output()? {
        o @ (Output::Json | Output::Table { .. }) => o,
        _ => Output::Json,
    };
    let include = IncludeObject::parse(ctx.query.get("includeObject"))?;
    let rv = opts.rv()?;
    let send_initial = opts.send_initial_events.unwrap_or(matches!(rv, None | Some(0)));

    match rv {
        None if send_initial => ctx.consistent().await?,
        Some(n) if n > 0 => ctx.state.cache.wait_for(n, CACHE_WAIT).await?,
        _ => {}
    }
    let cache = ctx.cache()?;
    let filter = read::filter(&ctx, &opts);
    // Without initial events a watch starts at the given version, or now.
    let start = match (send_initial, rv) {
        (true, _) => None,
        (false, Some(n)) if n > 0 => Some(n),
        (false, _) => Some(ctx.state.cache.revision()),
    };
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    let timeout = opts
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or_else(|| Duration::from_secs(1800 + rand::rng().random_range(0..1800)));
    let sub = match cache.subscribe(start) {
        Ok(s) => Some(s),
        Err(e) if e.code == 410 => {
            // Upstream answers 200 with one ERROR event and ends the stream.
            let line = event_line("ERROR", &e.to_status());
            let _ = tx.try_send(Ok(Frame::data(line)));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(sub) = sub {
        let w = Watcher {
            ctx: Arc::new(ctx),
            filter,
            output,
            include,
            bookmarks: opts.bookmarks,
            initial_end_bookmark: opts.send_initial_events == Some(true),
            tx,
            sent_columns: false,
        };
        tokio::spawn(w.run(sub, timeout));
    }
    let body = StreamBody::new(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (f, rx))
    }));
    let mut resp = Response::new(body.boxed());
    let ct = match output {
        Output::Table { beta } => render::table_content_type(beta),
        _ => "application/json",
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

struct Watcher {
    ctx: Arc<Ctx>,
    filter: Filter,
    output: Output,
    include: IncludeObject,
    bookmarks: bool,
    initial_end_bookmark: bool,
    tx: mpsc::Sender<Result<Frame<Bytes>, Infallible>>,
    sent_columns: bool,
}

impl Watcher {
    async fn run(mut self, sub: crate::cache::Subscription, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_rv = sub.rv;
        // Events already waiting go out together: one frame (one TLS record, one write)
        // instead of one per event when many are queued.
        let mut batch = BytesMut::new();
        for ev in &sub.initial {
            if let Some(line) = self.line_for(ev, None) {
                batch.extend_from_slice(&line);
            }
            last_rv = last_rv.max(ev.rv);
            if batch.len() >= BATCH_BYTES && !self.send(&mut batch).await {
                return;
            }
        }
        if !self.send(&mut batch).await {
            return;
        }
        if self.initial_end_bookmark && !self.bookmark(last_rv, true).await {
            return;
        }
        let mut live = sub.live;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let shutdown = self.ctx.state.shutdown.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                _ = tick.tick(), if self.bookmarks => {
                    let rv = self.ctx.state.cache.revision().max(last_rv);
                    if !self.bookmark(rv, false).await { return; }
                }
                r = live.recv() => match r {
                                        Ok(ev) => {
                        let mut next = Some(ev);
                        while let Some(ev) = next.take() {
                            if ev.rv > last_rv {
                                last_rv = ev.rv;
                                if let Some(line) = self.line_for(&ev, Some(())) {
                                    batch.extend_from_slice(&line);
                                }
                            }
                            if batch.len() < BATCH_BYTES {
                                next = match live.try_recv() {
                                    Ok(e) => Some(e),
                                    Err(TryRecvError::Empty) => None,
                                    Err(_) => return,
                                };
                            }
                        }
                        if !self.send(&mut batch).await { return; }
                    }
                    // Too slow: end the stream; the client resumes from its last version.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                }
            }
        }
    }

    /// Sends one event if it passes the filter; false when the client is gone.
    /// The line to send for an event, if it passes the filter.
    fn line_for(&mut self, ev: &CacheEvent, live: Option<()>) -> Option<Bytes> {
        let now_matches = ev.object.matches(&self.filter);
        let kind = if live.is_none() {
            if !now_matches {
                return None;
            }
            ev.kind
        } else {
            let prev_matches = ev.prev.as_ref().is_some_and(|p| p.matches(&self.filter));
            match ev.kind {
                WatchKind::Added if now_matches => WatchKind::Added,
                WatchKind::Modified if now_matches && prev_matches => WatchKind::Modified,
                WatchKind::Modified if now_matches => WatchKind::Added,
                WatchKind::Modified if prev_matches => WatchKind::Deleted,
                WatchKind::Deleted if prev_matches => WatchKind::Deleted,
                _ => return None,
            }
        };
        Some(match self.render(ev, kind) {
            Ok(l) => l,
            Err(e) => event_line("ERROR", &e.to_status()),
        })
    }

    /// Sends a batch of lines as one frame; false when the client is gone.
    async fn send(&mut self, batch: &mut BytesMut) -> bool {
        if batch.is_empty() {
            return true;
        }
        let frame = batch.split().freeze();
        self.tx.send(Ok(Frame::data(frame))).await.is_ok()
    }

    fn render(&mut self, ev: &CacheEvent, kind: WatchKind) -> Result<Bytes, ApiError> {
        let ctx = &self.ctx;
        match self.output {
            Output::Table { beta } => {
                let v = ctx.state.decode_served(&ctx.def, &ev.object.stored, ev.rv)?;
                let meta = render::ListMeta {
                    resource_version: ev.rv,
                    ..Default::default()
                };
                let table = render::table(
                    &ctx.def,
                    std::slice::from_ref(&v),
                    &meta,
                    self.include,
                    beta,
                    !self.sent_columns,
                );
                self.sent_columns = true;
                Ok(event_line(kind.as_str(), &table))
            }
            _ if ctx.def.is_storage_version() && kind == ev.kind => Ok(ev.json_line()),
            _ if ctx.def.is_storage_version() => Ok(crate::cache::watch_line(kind, &ev.object.stored, ev.rv)),
            _ => {
                let obj = ctx.state.render_served(&ctx.def, &ev.object.stored, ev.rv)?;
                let mut out = Vec::with_capacity(obj.len() + 32);
                out.extend_from_slice(b"{\"type\":\"");
                out.extend_from_slice(kind.as_str().as_bytes());
                out.extend_from_slice(b"\",\"object\":");
                out.extend_from_slice(&obj);
                out.extend_from_slice(b"}\n");
                Ok(Bytes::from(out))
            }
        }
    }

    async fn bookmark(&mut self, rv: u64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj =
            json!({"kind": self.ctx.def.kind, "apiVersion": self.ctx.def.api_version(), "metadata": meta});
        let _ = Timestamp::now();
        self.tx
            .send(Ok(Frame::data(event_line("BOOKMARK", &obj))))
            .await
            .is_ok()
    }
}
