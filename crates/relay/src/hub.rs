//! The signaling hub: one task owns [`Rooms`] and talks to every WebSocket.
//!
//! Each connection has an outbound queue of [`CONN_QUEUE`] messages. Signaling is small
//! and rare, and board ops come at pen speed (up to 60 a second per drawer); a client
//! that lets 256 messages pile up is not reading, so it is closed (`bye` is not even
//! attempted) rather than letting the hub hold its backlog. A board client that comes
//! back catches up with `board_sync`, so it loses nothing but time.
//!
//! The bound is above what one turn of the hub can write to a connection that reads
//! well: the hub handles up to 128 inputs before tokio makes it yield to the writers, and
//! in a room where everyone holds the pen those inputs arrive together (the board
//! benchmark's `room` scenario cut healthy clients with a bound of 64).

use crate::metrics::Metrics;
use crate::room::{Asset, AssetLimits, ConnId, Now, RoomInput, RoomOutput, Rooms, Stored};
use crate::sfu::EngineEvent;
use crate::sfu::shell::Command;
use crate::stream::{StreamKey, Streams};
use lectern_proto::{ApiError, AssetRef, Envelope, ErrorCode, RoomId, TokenClaims};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

/// Messages queued per connection before it is dropped as too slow.
pub const CONN_QUEUE: usize = 256;

/// What goes out on one WebSocket.
#[derive(Debug)]
pub enum WsOut {
    Text(String),
    Close,
}

/// What the hub is asked to do.
#[derive(Debug)]
pub enum HubCommand {
    Connect {
        conn: ConnId,
        claims: TokenClaims,
        out: mpsc::Sender<WsOut>,
    },
    Disconnect {
        conn: ConnId,
    },
    Text {
        conn: ConnId,
        text: String,
    },
    Engine(EngineEvent),
    MayPublish {
        claims: TokenClaims,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// Store a board asset, already checked and hashed (the hub's task does no hashing).
    PutAsset {
        room: RoomId,
        id: AssetRef,
        asset: Asset,
        reply: oneshot::Sender<Result<Stored, ApiError>>,
    },
    /// Look a board asset up; the bytes are shared, not copied.
    GetAsset {
        room: RoomId,
        id: AssetRef,
        reply: oneshot::Sender<Option<Asset>>,
    },
}

fn now() -> Now {
    Now {
        mono: Instant::now(),
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }
}

/// Runs the hub until `shutdown`, then says goodbye to every connection.
pub async fn run(
    mut commands: mpsc::Receiver<HubCommand>,
    engine: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    asset_limits: AssetLimits,
    streams: Streams,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut rooms = Rooms::with_asset_limits(asset_limits);
    let mut conns: HashMap<ConnId, mpsc::Sender<WsOut>> = HashMap::new();
    loop {
        let deadline = rooms
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                rooms.handle_input(now(), RoomInput::Shutdown);
                deliver(&mut rooms, &mut conns, &engine, &streams, &metrics);
                break;
            }
            Some(cmd) = commands.recv() => match cmd {
                HubCommand::Connect { conn, claims, out } => {
                    conns.insert(conn, out);
                    rooms.handle_input(now(), RoomInput::Connect { conn, claims });
                }
                HubCommand::Disconnect { conn } => {
                    conns.remove(&conn);
                    rooms.handle_input(now(), RoomInput::Disconnect { conn });
                }
                HubCommand::Text { conn, text } => {
                    metrics.signaling_in.fetch_add(1, Relaxed);
                    rooms.handle_input(now(), RoomInput::Text { conn, text: &text });
                }
                HubCommand::Engine(EngineEvent::PublisherUp { room, publisher }) => {
                    rooms.handle_input(now(), RoomInput::PublisherUp { room, publisher });
                }
                HubCommand::Engine(EngineEvent::PublisherDown { room, peer }) => {
                    rooms.handle_input(now(), RoomInput::PublisherDown { room, peer });
                }
                HubCommand::MayPublish { claims, reply } => {
                    let _ = reply.send(rooms.may_publish(&claims.room, &claims));
                }
                HubCommand::PutAsset { room, id, asset, reply } => {
                    let _ = reply.send(rooms.put_asset(&room, id, asset));
                }
                HubCommand::GetAsset { room, id, reply } => {
                    let _ = reply.send(rooms.asset(&room, &id));
                }
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                rooms.handle_timeout(Instant::now());
            }
        }
        deliver(&mut rooms, &mut conns, &engine, &streams, &metrics);
        metrics.rooms.store(rooms.room_count() as i64, Relaxed);
        metrics
            .board_asset_bytes
            .store(rooms.asset_bytes() as i64, Relaxed);
        metrics
            .signaling_connections
            .store(rooms.connection_count() as i64, Relaxed);
    }
}

fn deliver(
    rooms: &mut Rooms,
    conns: &mut HashMap<ConnId, mpsc::Sender<WsOut>>,
    engine: &mpsc::Sender<Command>,
    streams: &Streams,
    metrics: &Metrics,
) {
    while let Some(out) = rooms.poll_output() {
        let (conn, text) = match out {
            RoomOutput::Send { conn, msg } => {
                if !conns.contains_key(&conn) {
                    continue;
                }
                if let lectern_proto::ServerMessage::Error { error } = &msg {
                    metrics.error(error.code);
                }
                let text = serde_json::to_string(&Envelope::new(msg)).expect("messages serialize");
                (conn, text)
            }
            RoomOutput::SendText { conn, text } => (conn, text),
            RoomOutput::Close { conn } => {
                if let Some(tx) = conns.remove(&conn) {
                    let _ = tx.try_send(WsOut::Close);
                }
                continue;
            }
            RoomOutput::EndPublish { room, peer } => {
                // Off the stage: an RTMP publish of theirs ends too.
                streams.end_source(&StreamKey {
                    room: room.clone(),
                    stream: peer.clone(),
                });
                if engine.try_send(Command::EndPublish { room, peer }).is_err() {
                    tracing::warn!("media engine queue full: stage removal not applied");
                }
                continue;
            }
        };
        let Some(tx) = conns.get(&conn) else {
            continue;
        };
        if tx.try_send(WsOut::Text(text)).is_err() {
            tracing::info!(?conn, "signaling client too slow: closing");
            conns.remove(&conn);
            rooms.handle_input(now(), RoomInput::Disconnect { conn });
        } else {
            metrics.signaling_out.fetch_add(1, Relaxed);
        }
    }
}
