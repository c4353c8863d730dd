//! The whiteboard through the relay over real WebSockets: op fan-out delay to 50
//! clients, the op rate one room sustains, and what a late joiner pays for a big board.
//!
//! The relay runs alone on one thread (its CPU time is its own); the clients run on the
//! other core. Every client reads every message the relay sends it; a board op's delay
//! is from the moment its author handed it to the socket to the moment each client read
//! it (one `Instant` clock, loopback).
//!
//! Scenarios, each one JSON line:
//! - `class`: the teacher draws at the relay's per-author limit (60 ops a second: a
//!   stroke's begin, point batches of 8, end) for `seconds`; 50 students watch.
//! - `room`: the teacher hands all 50 students the pen and all 51 draw at their limit:
//!   the most one room can be offered. Reports ops delivered per second to each client,
//!   delay and relay CPU.
//! - `late_join`: a board of 20 pages × 2,000 finished strokes of 24 points each (built
//!   through the relay by the same 51 authors), then a new client syncs: time from
//!   `board_sync` to a parsed snapshot, the first time (the relay serializes) and again
//!   (the relay's cached copy), and the snapshot's size.
//!
//! `cargo bench -p lectern-e2e --bench board -- [seconds]`

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use lectern_board::Snapshot;
use lectern_e2e::relay_thread::{RelayThread, percentile};
use lectern_proto::{
    BoardAction, BoardOp, Color, PageId, PeerId, Point, Role, ShapeId, ShapeKind, Style,
};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const STUDENTS: usize = 50;
const OPS_PER_SEC: f64 = 60.0;
const PAGES: usize = 20;
const STROKES_PER_PAGE: usize = 2_000;
const POINTS_PER_STROKE: usize = 24;

/// When each author sent each of its ops: `sent[author][client_seq]`, µs since `t0`.
struct SendTimes {
    t0: Instant,
    sent: Vec<Vec<AtomicU64>>,
}

impl SendTimes {
    fn new(authors: usize, ops: usize) -> Self {
        Self {
            t0: Instant::now(),
            sent: (0..authors)
                .map(|_| (0..ops).map(|_| AtomicU64::new(u64::MAX)).collect())
                .collect(),
        }
    }

    fn now(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

/// Author names: `t` for the teacher, `s0`…`s49` for students.
fn author_name(i: usize) -> String {
    if i == 0 {
        "t".to_owned()
    } else {
        format!("s{}", i - 1)
    }
}

fn author_index(name: &str) -> Option<usize> {
    match name {
        "t" => Some(0),
        s => s.strip_prefix('s')?.parse::<usize>().ok().map(|i| i + 1),
    }
}

/// What a reader saw of board ops.
#[derive(Default)]
struct Seen {
    ops: u64,
    delays_us: Vec<u32>,
    /// `board_refused` codes this client was sent (its own ops the relay refused).
    refused: Vec<String>,
}

/// Finds `"key":` in `text` and returns what follows it.
fn after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)?;
    Some(&text[at + key.len()..])
}

/// Reads one client's socket until it closes, recording every ordered board op. Parses
/// only the author and number (the relay writes `op` with `author` and `client_seq`
/// first), so a reader costs what a real client's socket costs, not a full decode.
async fn read(mut rx: SplitStream<Ws>, times: Arc<SendTimes>, seen: Arc<Mutex<Seen>>) {
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Text(text) = msg else { continue };
        let text = text.as_str();
        if text.contains("\"type\":\"board_refused\"") || text.contains("\"type\":\"error\"") {
            let code = after(text, "\"code\":\"").and_then(|s| s.split('"').next());
            let mut seen = seen.lock().expect("not poisoned");
            if seen.refused.len() < 5 {
                eprintln!("refused: {text}");
            }
            seen.refused.push(code.unwrap_or("?").to_owned());
            continue;
        }
        if !text.contains("\"type\":\"board_op\"") {
            continue;
        }
        let got = times.now();
        let author = after(text, "\"author\":\"").and_then(|s| s.split('"').next());
        let seq = after(text, "\"client_seq\":").and_then(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<usize>()
                .ok()
        });
        let mut seen = seen.lock().expect("not poisoned");
        seen.ops += 1;
        if let (Some(a), Some(seq)) = (author.and_then(author_index), seq)
            && let Some(sent) = times.sent.get(a).and_then(|v| v.get(seq))
        {
            let sent = sent.load(Relaxed);
            if sent != u64::MAX {
                seen.delays_us.push(got.saturating_sub(sent) as u32);
            }
        }
    }
}

async fn connect(relay: &RelayThread, sub: &str, role: Role) -> Ws {
    let url = format!(
        "{}/ws/bench?token={}",
        relay.http.replacen("http", "ws", 1),
        relay.token(sub, role)
    );
    // A big board's snapshot is one message: allow it.
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 30))
        .max_frame_size(Some(1 << 30));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("socket opens");
    ws
}

/// Sends `board_sync` and reads until the snapshot; returns its text.
async fn sync(ws: &mut Ws) -> String {
    send(ws, json!({"v": 1, "type": "board_sync"})).await;
    loop {
        let msg = ws.next().await.expect("open").expect("a frame");
        if let Message::Text(t) = msg
            && t.as_str().contains("\"type\":\"board_snapshot\"")
        {
            return t.as_str().to_owned();
        }
    }
}

async fn send(ws: &mut Ws, msg: serde_json::Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .expect("sent");
}

fn style(i: usize) -> Style {
    let colors = [0x1f2937, 0xdc2626, 0x2563eb, 0x16a34a];
    Style {
        color: Color::rgb(colors[i % colors.len()]),
        width: 3.0,
        opacity: 1.0,
        highlighter: false,
        fill: None,
    }
}

/// `n` points of a wobbly handwriting stroke starting near (`x`, `y`), two decimals as a
/// pointer gives them.
fn points(n: usize, x: f32, y: f32, k: usize) -> Vec<Point> {
    (0..n)
        .map(|i| {
            let t = (i + k) as f32;
            Point {
                x: ((x + i as f32 * 3.1) * 100.0).round() / 100.0,
                y: ((y + (t / 3.0).sin() * 9.7) * 100.0).round() / 100.0,
                pressure: ((0.4 + (t / 5.0).cos().abs() * 0.5) * 1000.0).round() / 1000.0,
            }
        })
        .collect()
}

/// One author's pen at its rate limit: strokes of a begin, point batches and an end.
struct Pen {
    me: PeerId,
    index: usize,
    next_seq: u64,
    stroke: Option<(ShapeId, usize)>,
    /// Finished strokes this author has added to the big board.
    filled: usize,
}

impl Pen {
    fn new(index: usize) -> Self {
        Self {
            me: PeerId::new(author_name(index)).expect("valid"),
            index,
            next_seq: 1,
            stroke: None,
            filled: 0,
        }
    }

    fn op(&mut self, action: BoardAction) -> BoardOp {
        let op = BoardOp::new(self.me.clone(), self.next_seq, action);
        self.next_seq += 1;
        op
    }

    /// The next op of a live stroke on `page`: begin, 6 batches of 8 points, end.
    fn live(&mut self, page: &PageId) -> BoardOp {
        let y = 40.0 + (self.index % 20) as f32 * 40.0;
        match self.stroke.take() {
            None => {
                let op = self.op(BoardAction::BeginStroke {
                    page: page.clone(),
                    style: style(self.index),
                    smooth: true,
                    points: points(8, 100.0, y, 0),
                });
                self.stroke = Some((op.id().shape_id(), 0));
                op
            }
            Some((stroke, batch)) if batch < 6 => {
                let op = self.op(BoardAction::AppendStroke {
                    page: page.clone(),
                    stroke: stroke.clone(),
                    points: points(8, 100.0 + batch as f32 * 25.0, y, batch * 8),
                });
                self.stroke = Some((stroke, batch + 1));
                op
            }
            Some((stroke, _)) => self.op(BoardAction::EndStroke {
                page: page.clone(),
                stroke,
            }),
        }
    }

    /// A whole finished stroke in one op, as a paste or a redraw sends it.
    fn finished(&mut self, page: &PageId, k: usize) -> BoardOp {
        let x = 50.0 + (k % 40) as f32 * 35.0;
        let y = 40.0 + (k / 40 % 20) as f32 * 40.0;
        self.op(BoardAction::AddShape {
            page: page.clone(),
            style: style(k),
            shape: ShapeKind::Stroke {
                points: points(POINTS_PER_STROKE, x, y, k),
                smooth: true,
                finished: true,
            },
        })
    }
}

/// Sends ops from `next` at the per-author limit until it returns `None` or `until`.
async fn pace(
    mut tx: SplitSink<Ws, Message>,
    pen: &mut Pen,
    times: &SendTimes,
    until: Instant,
    mut next: impl FnMut(&mut Pen) -> Option<BoardOp>,
) -> SplitSink<Ws, Message> {
    let period = Duration::from_secs_f64(1.0 / OPS_PER_SEC);
    // A little under the limit, so timer jitter never trips the relay's flood guard.
    let period = period + period / 20;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < until {
        tick.tick().await;
        let Some(op) = next(pen) else { break };
        let seq = op.client_seq as usize;
        let text = json!({"v": 1, "type": "board_op", "op": op}).to_string();
        if let Some(slot) = times.sent[pen.index].get(seq) {
            slot.store(times.now(), Relaxed);
        }
        if let Err(e) = tx.send(Message::Text(text.into())).await {
            eprintln!("author {}: the relay closed the socket: {e}", pen.index);
            break;
        }
    }
    tx
}

struct Class {
    relay: RelayThread,
    writers: Vec<Option<SplitSink<Ws, Message>>>,
    seen: Vec<Arc<Mutex<Seen>>>,
    pens: Vec<Pen>,
    times: Arc<SendTimes>,
    page: PageId,
    /// Whether the clients synced, and so receive every op.
    watch: bool,
}

impl Class {
    /// Everyone connects; with `watch`, everyone also syncs and so hears every op.
    async fn start(ops_per_author: usize, watch: bool) -> Self {
        let relay = RelayThread::start();
        let times = Arc::new(SendTimes::new(STUDENTS + 1, ops_per_author));
        let mut writers = Vec::new();
        let mut seen = Vec::new();
        for i in 0..=STUDENTS {
            let role = if i == 0 { Role::Teacher } else { Role::Student };
            let mut ws = connect(&relay, &author_name(i), role).await;
            if watch {
                sync(&mut ws).await;
            }
            let (tx, rx) = ws.split();
            let s = Arc::new(Mutex::new(Seen::default()));
            tokio::spawn(read(rx, times.clone(), s.clone()));
            writers.push(Some(tx));
            seen.push(s);
        }
        Self {
            relay,
            writers,
            seen,
            pens: (0..=STUDENTS).map(Pen::new).collect(),
            times,
            page: PageId::new("relay:1").expect("valid"),
            watch,
        }
    }

    fn reset(&self) {
        for s in &self.seen {
            *s.lock().expect("not poisoned") = Seen::default();
        }
    }

    /// Authors `0..authors` send from `next` at their limit for `seconds`; then waits
    /// until every client has every op (or 10 s), and reports.
    async fn run(
        &mut self,
        authors: usize,
        seconds: f64,
        next: impl Fn(&mut Pen) -> Option<BoardOp> + Clone + Send + 'static,
    ) -> serde_json::Value {
        self.reset();
        let cpu0 = self.relay.cpu().await;
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs_f64(seconds);
        let before: Vec<u64> = self.pens.iter().map(|p| p.next_seq).collect();
        let mut tasks = Vec::new();
        for i in 0..authors {
            let tx = self.writers[i].take().expect("writer");
            let mut pen = std::mem::replace(&mut self.pens[i], Pen::new(i));
            let times = self.times.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let tx = pace(tx, &mut pen, &times, until, next).await;
                (tx, pen)
            }));
        }
        let mut sent = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            let (tx, pen) = task.await.expect("author");
            sent += pen.next_seq - before[i];
            self.writers[i] = Some(tx);
            self.pens[i] = pen;
        }
        let sending = t0.elapsed().as_secs_f64();
        let drained = Instant::now() + Duration::from_secs(10);
        while self.watch
            && Instant::now() < drained
            && self.seen.iter().any(|s| s.lock().expect("ok").ops < sent)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = (self.relay.cpu().await - cpu0) / elapsed;
        let mut delays = Vec::new();
        let mut least = u64::MAX;
        let mut refused = 0;
        let mut complete = 0;
        for s in &self.seen {
            let s = s.lock().expect("not poisoned");
            least = least.min(s.ops);
            complete += usize::from(s.ops >= sent);
            delays.extend_from_slice(&s.delays_us);
            refused += s.refused.len();
        }
        delays.sort_unstable();
        let delivered = least as f64 / sending;
        json!({
            "authors": authors,
            "clients": self.seen.len(),
            "ops_sent": sent,
            "ops_per_sec_offered": sent as f64 / sending,
            "ops_per_sec_delivered_to_each": delivered,
            "every_client_got_every_op": least == sent,
            "refused": refused,
            "clients_with_every_op": complete,
            "delay_p50_ms": percentile(&delays, 0.5),
            "delay_p99_ms": percentile(&delays, 0.99),
            "delay_max_ms": percentile(&delays, 1.0),
            "relay_cpu": cpu,
            "messages_per_sec_out": delivered * self.seen.len() as f64,
        })
    }

    async fn grant_everyone(&mut self) {
        let tx = self.writers[0].as_mut().expect("teacher");
        for i in 1..=STUDENTS {
            let msg = json!({"v": 1, "type": "board_grant", "peer": author_name(i), "scope": {"type": "board"}});
            tx.send(Message::Text(msg.to_string().into()))
                .await
                .expect("sent");
            // Under the relay's general budget of 20 messages a second per connection.
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        // Grants are ordered on the same socket as ops; a short pause lets them land.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A new client's sync: time to the snapshot read, time to parse it, its size.
async fn late_join(relay: &RelayThread, who: &str) -> (f64, f64, usize) {
    let mut ws = connect(relay, who, Role::Student).await;
    let t0 = Instant::now();
    let text = sync(&mut ws).await;
    let read = t0.elapsed().as_secs_f64() * 1000.0;
    // The message is `{"v":…,"type":"board_snapshot","epoch":…,"snapshot":{…}}`: the
    // client's work is reading the board document out of it.
    let t1 = Instant::now();
    let at = text.find("\"snapshot\":").expect("a snapshot field") + "\"snapshot\":".len();
    let snapshot = Snapshot::from_json(&text[at..text.len() - 1]).expect("a snapshot");
    let parse = t1.elapsed().as_secs_f64() * 1000.0;
    let shapes: usize = snapshot.board.pages().iter().map(|p| p.shapes.len()).sum();
    assert_eq!(
        shapes,
        PAGES * STROKES_PER_PAGE,
        "the late joiner's board is the whole board"
    );
    (read, parse, text.len())
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(5.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // Enough numbered slots for every op an author sends in all three scenarios.
        let per_author = (seconds * OPS_PER_SEC * 3.0) as usize
            + PAGES * STROKES_PER_PAGE / (STUDENTS + 1)
            + PAGES
            + 64;
        let mut class = Class::start(per_author, true).await;

        let page = class.page.clone();
        let p = page.clone();
        let one = class.run(1, seconds, move |pen| Some(pen.live(&p))).await;
        println!("{}", json!({"scenario": "class", "result": one}));

        class.grant_everyone().await;
        let p = page.clone();
        let all = class
            .run(STUDENTS + 1, seconds, move |pen| Some(pen.live(&p)))
            .await;
        println!("{}", json!({"scenario": "room", "result": all}));

        drop(class);

        // A big board, on a fresh relay: the teacher adds the pages, then everyone fills
        // them at their limit, each author its own share of strokes. Nobody syncs, so
        // the relay sends the ops to nobody: building is set-up, not the measurement.
        let mut class = Class::start(per_author, false).await;
        class.grant_everyone().await;
        let mut pages = vec![page.clone()];
        for _ in 1..PAGES {
            let op = class.pens[0].op(BoardAction::AddPage {
                index: None,
                background: None,
            });
            pages.push(op.id().page_id());
            let msg = json!({"v": 1, "type": "board_op", "op": op});
            class.writers[0]
                .as_mut()
                .expect("teacher")
                .send(Message::Text(msg.to_string().into()))
                .await
                .expect("sent");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let total = PAGES * STROKES_PER_PAGE;
        let authors = STUDENTS + 1;
        let pages = Arc::new(pages);
        let built_at = Instant::now();
        let fill = {
            let pages = pages.clone();
            move |pen: &mut Pen| {
                // Author i makes strokes i, i + authors, i + 2 × authors, … of the board.
                let k = pen.index + pen.filled * authors;
                if k >= total {
                    return None;
                }
                pen.filled += 1;
                Some(pen.finished(&pages[k / STROKES_PER_PAGE], k))
            }
        };
        let build = class.run(authors, 3600.0, fill).await;
        let build_s = built_at.elapsed().as_secs_f64();
        let (first_ms, parse_ms, bytes) = late_join(&class.relay, "late1").await;
        let (cached_ms, _, _) = late_join(&class.relay, "late2").await;
        println!(
            "{}",
            json!({"scenario": "late_join", "result": {
                "pages": PAGES, "strokes": total, "points_per_stroke": POINTS_PER_STROKE,
                "snapshot_bytes": bytes,
                "first_sync_ms": first_ms, "cached_sync_ms": cached_ms, "client_parse_ms": parse_ms,
                "build_seconds": build_s, "build": build,
            }})
        );
        drop(class);
    });
}
