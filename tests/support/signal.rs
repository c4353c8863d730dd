//! A participant's signaling WebSocket, for tests that take part in a room: connect,
//! wait for a message of one type, send one.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Joins `room` on `relay` with `token`; returns after the `welcome`.
pub async fn connect(relay: &lectern_relay::Relay, room: &str, token: &str) -> Ws {
    let url = format!("ws://{}/ws/{room}?token={token}", relay.http_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of(&mut ws, "welcome").await;
    ws
}

/// The next message of type `kind` (others are skipped); panics after 15 s.
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} in time"))
            .expect("socket open")
            .unwrap();
        if let Message::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// Sends one message.
pub async fn say(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The teacher invites `peer`, whose socket is `student`, and the student accepts.
pub async fn put_on_stage(teacher: &mut Ws, student: &mut Ws, peer: &str) {
    say(
        teacher,
        serde_json::json!({"v": 1, "type": "invite", "peer": peer}),
    )
    .await;
    next_of(student, "invited").await;
    say(
        student,
        serde_json::json!({"v": 1, "type": "answer_invite", "accept": true}),
    )
    .await;
    let answered = next_of(teacher, "invite_answered").await;
    assert_eq!(answered["accept"], true);
}
