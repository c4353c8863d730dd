//! Who may publish and play FLV streams, and the [`rtmp::Bridge`] that connects RTMP
//! connections to [`Streams`].
//!
//! The rules are the WebRTC side's, not a parallel set: a token of this relay for the
//! stream's room ([`TokenSigner::access`]); to publish, the signaling hub's
//! `may_publish` (the `publish` grant, or a student on stage — the same question
//! `POST /whip` asks) and a stream named after the publisher's own peer id; to play, the
//! `subscribe` grant.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use lectern_proto::{ApiError, ErrorCode, PeerId, RoomId};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{AuthError, TokenSigner, unix_now};
use crate::flv::Tag;
use crate::hub::HubCommand;
use crate::metrics::Metrics;
use crate::rtmp::{self, Rejection, StreamRequest, ViewerReceiver};
use crate::stream::{StreamError, StreamKey, Streams};

/// Why a publish or play was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamRefusal {
    /// The room or stream name is malformed.
    #[error("malformed room or stream name")]
    BadName,
    /// The token is missing, not ours, expired, for another room, or lacks a grant.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// A student who is not on stage, or a role that may never publish.
    #[error("{}", match .0 { ErrorCode::NotOnStage => "a student publishes only while on stage", _ => "this token may not publish" })]
    MayNotPublish(ErrorCode),
    /// A publisher may only publish under their own peer id.
    #[error("publish under your own id ({0})")]
    NotYourStream(PeerId),
    /// Someone already publishes this stream.
    #[error("the stream is already published")]
    Busy,
    /// Nothing is published under this name.
    #[error("nothing is published under this name")]
    NotFound,
    /// The signaling hub is gone (the relay is stopping).
    #[error("the relay is stopping")]
    Stopping,
}

impl From<StreamError> for StreamRefusal {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Busy => Self::Busy,
            StreamError::NotFound => Self::NotFound,
        }
    }
}

impl StreamRefusal {
    /// The RTMP `onStatus` this becomes.
    pub fn rejection(&self) -> Rejection {
        match self {
            Self::BadName | Self::NotFound | Self::Stopping => Rejection::BadName,
            Self::Busy => Rejection::Busy,
            Self::Auth(_) | Self::MayNotPublish(_) | Self::NotYourStream(_) => {
                Rejection::Unauthorized
            }
        }
    }

    /// The `{code, message}` an HTTP client gets.
    pub fn api_error(&self) -> ApiError {
        let code = match self {
            Self::BadName => ErrorCode::InvalidInput,
            Self::Auth(e) => e.code(),
            Self::MayNotPublish(code) => *code,
            Self::NotYourStream(_) => ErrorCode::Forbidden,
            Self::Busy => ErrorCode::Busy,
            Self::NotFound => ErrorCode::NotFound,
            Self::Stopping => ErrorCode::Internal,
        };
        ApiError::new(code, self.to_string())
    }

    /// The `reason` label of `lectern_relay_stream_refusals_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadName => "bad_name",
            Self::Auth(_) | Self::MayNotPublish(_) | Self::NotYourStream(_) => "unauthorized",
            Self::Busy => "busy",
            Self::NotFound => "not_found",
            Self::Stopping => "stopping",
        }
    }
}

/// What the relay's FLV side needs to authorize and connect publishers and viewers.
#[derive(Debug, Clone)]
pub(crate) struct StreamGate {
    pub signer: TokenSigner,
    pub hub: mpsc::Sender<HubCommand>,
    pub streams: Streams,
    pub metrics: Arc<Metrics>,
    /// RTMP publishers become WebRTC sources through these.
    pub bridge: crate::flv_webrtc::BridgeLinks,
}

fn key(room: &str, stream: &str) -> Result<StreamKey, StreamRefusal> {
    Ok(StreamKey {
        room: RoomId::new(room).map_err(|_| StreamRefusal::BadName)?,
        stream: PeerId::new(stream).map_err(|_| StreamRefusal::BadName)?,
    })
}

impl StreamGate {
    fn count(&self, r: Result<(), &StreamRefusal>) {
        if let Err(why) = r {
            self.metrics.stream_refused(why.reason());
        }
    }

    /// Checks a publish of `room/stream` and becomes its source.
    pub async fn publish(
        &self,
        room: &str,
        stream: &str,
        token: &str,
    ) -> Result<mpsc::Sender<Tag>, StreamRefusal> {
        let r = self.try_publish(room, stream, token).await;
        self.count(r.as_ref().map(|_| ()));
        r
    }

    async fn try_publish(
        &self,
        room: &str,
        stream: &str,
        token: &str,
    ) -> Result<mpsc::Sender<Tag>, StreamRefusal> {
        let key = key(room, stream)?;
        let access = self.signer.access(token, &key.room, unix_now())?;
        let (reply, rx) = oneshot::channel();
        self.hub
            .send(HubCommand::MayPublish {
                claims: access.claims().clone(),
                reply,
            })
            .await
            .map_err(|_| StreamRefusal::Stopping)?;
        rx.await
            .map_err(|_| StreamRefusal::Stopping)?
            .map_err(StreamRefusal::MayNotPublish)?;
        if access.peer() != &key.stream {
            return Err(StreamRefusal::NotYourStream(access.peer().clone()));
        }
        let source = self.streams.publish(&key)?;
        // WebRTC viewers (the console, browser students) watch it through the bridge,
        // which joins the stream as a viewer.
        match self.streams.play_internal(&key) {
            Ok(viewer) => {
                let claims = access.claims();
                crate::flv_webrtc::spawn(
                    &self.bridge,
                    key,
                    claims.name.clone(),
                    claims.role,
                    viewer,
                );
            }
            Err(e) => tracing::warn!(%key, "RTMP publisher not bridged to WebRTC: {e}"),
        }
        Ok(source)
    }

    /// Checks a play of `room/stream` and joins it.
    pub fn play(
        &self,
        room: &str,
        stream: &str,
        token: &str,
    ) -> Result<ViewerReceiver, StreamRefusal> {
        let r = (|| {
            let key = key(room, stream)?;
            let access = self.signer.access(token, &key.room, unix_now())?;
            access.require_subscribe()?;
            Ok(self.streams.play(&key)?)
        })();
        self.count(r.as_ref().map(|_| ()));
        r
    }
}

/// One RTMP connection's [`rtmp::Bridge`]: the gate, with what the connection asked.
pub(crate) struct RelayBridge(pub StreamGate);

impl rtmp::Bridge for RelayBridge {
    async fn publish(&mut self, request: &StreamRequest) -> Result<mpsc::Sender<Tag>, Rejection> {
        let token = request.token.as_deref().unwrap_or("");
        self.0
            .publish(&request.room, &request.stream, token)
            .await
            .map_err(|why| {
                tracing::info!(room = %request.room, stream = %request.stream, "RTMP publish refused: {why}");
                why.rejection()
            })
    }

    async fn play(&mut self, request: &StreamRequest) -> Result<ViewerReceiver, Rejection> {
        let token = request.token.as_deref().unwrap_or("");
        self.0
            .play(&request.room, &request.stream, token)
            .map_err(|why| {
                tracing::info!(room = %request.room, stream = %request.stream, "RTMP play refused: {why}");
                why.rejection()
            })
    }
}

/// Counts bytes through an RTMP connection's socket.
pub(crate) struct Counted<S> {
    pub io: S,
    pub metrics: Arc<Metrics>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.metrics.rtmp_bytes_in.fetch_add(n as u64, Relaxed);
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &r {
            self.metrics.rtmp_bytes_out.fetch_add(*n as u64, Relaxed);
        }
        r
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
