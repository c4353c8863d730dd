//! The whiteboard through a real relay over real WebSockets: a teacher and two students
//! draw, a student without the pen is refused, the pen is handed over, a late joiner sees
//! the whole board, and a student whose connection drops loses nothing.
//!
//! It lives beside the relay (not in the `tests/` workspace crate) because it needs
//! nothing but the relay and a WebSocket client, and that crate builds the media stack.

use futures_util::{SinkExt, StreamExt};
use lectern_board::{ClientBoard, Snapshot};
use lectern_proto::{
    BoardAction, BoardOp, Color, PageId, PeerId, Point, Pos, Role, RoomId, ShapeId, ShapeKind,
    Style,
};
use lectern_relay::{Relay, RelayConfig};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SECRET: &str = "test-secret-test-secret-test-secret";
const WAIT: Duration = Duration::from_secs(5);

async fn start() -> Relay {
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        secret: SECRET.into(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

/// One participant: a socket and, once synced, a board.
struct Client {
    me: PeerId,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    board: Option<ClientBoard>,
    epoch: u64,
}

impl Client {
    async fn connect(relay: &Relay, sub: &str, role: Role) -> Self {
        let token = relay.signer().issue(
            RoomId::new("math").unwrap(),
            PeerId::new(sub).unwrap(),
            sub,
            role,
            Duration::from_secs(600),
        );
        let url = format!("ws://{}/ws/math?token={token}", relay.http_addr());
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("socket opens");
        let mut c = Self {
            me: PeerId::new(sub).unwrap(),
            ws,
            board: None,
            epoch: 0,
        };
        c.expect("welcome").await;
        c
    }

    async fn send(&mut self, msg: Value) {
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("sent");
    }

    /// The next message of type `ty`, skipping roster chatter.
    async fn expect(&mut self, ty: &str) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no {ty} in time", self.me))
                .expect("socket open")
                .expect("a frame");
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
            let got = v["type"].as_str().unwrap_or_default();
            if got == ty {
                return v;
            }
            assert!(
                matches!(got, "participant" | "left"),
                "{}: expected {ty}, got {v}",
                self.me
            );
        }
    }

    async fn sync(&mut self) {
        self.send(json!({"v": 1, "type": "board_sync"})).await;
        self.expect("board_grants").await;
        let v = self.expect("board_snapshot").await;
        self.epoch = v["epoch"].as_u64().expect("epoch");
        let snapshot = Snapshot::from_json(&v["snapshot"].to_string()).expect("snapshot");
        self.board = Some(ClientBoard::new(self.me.clone(), snapshot));
    }

    fn board(&mut self) -> &mut ClientBoard {
        self.board.as_mut().expect("synced")
    }

    /// Applies `action` locally and sends it.
    async fn draw(&mut self, action: BoardAction) -> u64 {
        let (op, _) = self.board().local(action).expect("applies locally");
        self.send(json!({"v": 1, "type": "board_op", "op": op}))
            .await;
        op.client_seq
    }

    /// Receives `n` ordered ops into the board.
    async fn receive(&mut self, n: usize) -> Vec<BoardOp> {
        let mut got = Vec::new();
        for _ in 0..n {
            let v = self.expect("board_op").await;
            let op: BoardOp = serde_json::from_value(v["op"].clone()).expect("an op");
            assert_eq!(self.board().receive(&op), Ok(true));
            got.push(op);
        }
        got
    }
}

fn page() -> PageId {
    PageId::new("relay:1").unwrap()
}

fn style() -> Style {
    Style {
        color: Color::rgb(0x2563eb),
        width: 3.0,
        opacity: 1.0,
        highlighter: false,
        fill: None,
    }
}

fn stroke_actions(me: &str, first_seq: u64, y: f32) -> [BoardAction; 3] {
    let pts = |x: f32| {
        (0..32)
            .map(|i| Point {
                x: x + i as f32,
                y,
                pressure: 0.5,
            })
            .collect::<Vec<_>>()
    };
    let stroke = ShapeId::new(format!("{me}:{first_seq}")).unwrap();
    [
        BoardAction::BeginStroke {
            page: page(),
            style: style(),
            smooth: true,
            points: pts(10.0),
        },
        BoardAction::AppendStroke {
            page: page(),
            stroke: stroke.clone(),
            points: pts(50.0),
        },
        BoardAction::EndStroke {
            page: page(),
            stroke,
        },
    ]
}

fn line(y: f32) -> BoardAction {
    BoardAction::AddShape {
        page: page(),
        style: style(),
        shape: ShapeKind::Line {
            from: Pos { x: 0.0, y },
            to: Pos { x: 1600.0, y },
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_draws_together_and_nobody_loses_anything() {
    let relay = start().await;
    let mut teacher = Client::connect(&relay, "teacher", Role::Teacher).await;
    let mut ann = Client::connect(&relay, "ann", Role::Student).await;
    let mut bob = Client::connect(&relay, "bob", Role::Student).await;
    for c in [&mut teacher, &mut ann, &mut bob] {
        c.sync().await;
    }

    // The teacher draws a stroke in three ops; everyone, the teacher included, gets them
    // in order with the relay's numbers.
    for action in stroke_actions("teacher", 1, 100.0) {
        teacher.draw(action).await;
    }
    for c in [&mut teacher, &mut ann, &mut bob] {
        let seqs: Vec<_> = c.receive(3).await.iter().map(|o| o.server_seq).collect();
        assert_eq!(seqs, vec![Some(2), Some(3), Some(4)]);
    }
    assert_eq!(teacher.board().pending().count(), 0, "all confirmed");

    // Ann has no pen: refused, to her alone.
    let refused_seq = ann.draw(line(200.0)).await;
    let v = ann.expect("board_refused").await;
    assert_eq!(v["client_seq"], refused_seq);
    assert_eq!(v["code"], "forbidden");
    ann.board().refused(refused_seq);

    // The teacher hands her the pen; everyone hears who holds it.
    teacher
        .send(json!({"v": 1, "type": "board_grant", "peer": "ann", "scope": {"type": "board"}}))
        .await;
    for c in [&mut teacher, &mut ann, &mut bob] {
        let v = c.expect("board_grants").await;
        assert_eq!(
            v["grants"],
            json!([{"peer": "ann", "scope": {"type": "board"}}])
        );
    }
    assert_eq!(
        ann.board().pending().count(),
        0,
        "the refused line is dropped"
    );
    let ann_seq = ann.draw(line(300.0)).await;
    for c in [&mut teacher, &mut ann, &mut bob] {
        // Bob's next op is Ann's line: her refused one never reached him.
        let op = c.receive(1).await.remove(0);
        assert_eq!((op.author.as_str(), op.client_seq), ("ann", ann_seq));
    }

    // A late joiner starts from a snapshot equal to everyone's board.
    let mut cat = Client::connect(&relay, "cat", Role::Student).await;
    cat.sync().await;
    assert_eq!(cat.board().confirmed(), teacher.board().confirmed());
    assert_eq!(cat.board().confirmed_seq(), 5);

    // Bob drops; the class goes on; Ann sends a line and drops before its confirmation.
    let (bob_seq, bob_epoch) = (bob.board().confirmed_seq(), bob.epoch);
    let bob_board = bob.board.take().expect("synced");
    bob.ws.close(None).await.expect("closes");
    for action in stroke_actions("teacher", 4, 400.0) {
        teacher.draw(action).await;
    }
    teacher.receive(3).await;
    // Ann has not read the teacher's stroke yet: she is behind by it, too.
    let ann_since = ann.board().confirmed_seq();
    let pending_seq = ann.draw(line(500.0)).await;
    ann.ws.close(None).await.expect("closes");
    teacher.receive(1).await;

    // Both come back and ask for what they missed since their last confirmed op.
    for (who, mut board, since, epoch, missed) in [
        ("bob", bob_board, bob_seq, bob_epoch, 4),
        (
            "ann",
            ann.board.take().expect("synced"),
            ann_since,
            ann.epoch,
            4,
        ),
    ] {
        let mut c = Client::connect(&relay, who, Role::Student).await;
        c.send(json!({"v": 1, "type": "board_sync", "since": since, "epoch": epoch}))
            .await;
        c.expect("board_grants").await;
        let v = c.expect("board_ops").await;
        let ops: Vec<BoardOp> = serde_json::from_value(v["ops"].clone()).expect("ops");
        assert_eq!(ops.len(), missed, "{who}");
        for op in &ops {
            assert_eq!(board.receive(op), Ok(true));
        }
        // Ann's line was ordered while she was away: it is confirmed, nothing to resend.
        assert_eq!(board.pending().count(), 0, "{who}");
        assert_eq!(board.confirmed(), teacher.board().confirmed(), "{who}");
        assert_eq!(board.board(), teacher.board().confirmed(), "{who}");
        if who == "ann" {
            assert!(ops.iter().any(|o| o.client_seq == pending_seq));
        }
    }
    relay.shutdown().await;
}
