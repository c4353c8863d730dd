//! The tokio shell: one task drives one [`ServerSession`] over one connection.
//!
//! The task owns the session and the socket; nothing is shared. What it needs from the
//! relay — may this peer publish or play that stream, and where do the tags go or come
//! from — it asks a [`Bridge`].
//!
//! Queues and what happens when they fill:
//! - **Publisher → relay**: the bounded `mpsc::Sender<Tag>` the bridge hands out. When
//!   full, the connection's task waits, so the publisher feels TCP back-pressure; no tag
//!   is dropped on the way in. When the relay drops the receiver, the connection ends.
//! - **Relay → viewer**: a [`viewer_channel`] of a few hundred tags. When it is full
//!   the viewer is behind: [`ViewerSender::push`] drops that tag if it is audio or a
//!   non-key video frame, and then drops every non-key video frame until a keyframe fits
//!   (so the picture resumes cleanly, never from a broken reference). A keyframe or a
//!   sequence header (AVC/AAC config, metadata) that does not fit means the viewer stays
//!   behind: it is disconnected, and the relay stops feeding it.
//! - **Socket writes** that make no progress for [`ShellConfig::write_timeout`] end the
//!   connection. A viewer evicted while its task waits on the socket (the usual case:
//!   it stopped reading) is therefore gone within that time-out; one evicted while the
//!   task waits for tags is closed at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::RtmpError;
use super::handshake::HANDSHAKE_SIZE;
use super::session::{Event, Output, Rejection, ServerSession, SessionConfig, StreamRequest};
use crate::flv::{Tag, TagKind};

/// Settings of the shell.
#[derive(Debug, Clone, Copy)]
pub struct ShellConfig {
    /// The session's settings (limits, chunk size, time-outs).
    pub session: SessionConfig,
    /// Bytes read from the socket at a time.
    pub read_buffer: usize,
    /// A write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
}

impl Default for ShellConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            read_buffer: 64 * 1024,
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// The relay's side of an RTMP connection: decides publishes and plays and connects
/// them to rooms.
pub trait Bridge: Send {
    /// May `request` publish? On yes, the sender its tags go to.
    fn publish(
        &mut self,
        request: &StreamRequest,
    ) -> impl Future<Output = Result<mpsc::Sender<Tag>, Rejection>> + Send;

    /// May `request` play? On yes, the receiver its tags come from.
    fn play(
        &mut self,
        request: &StreamRequest,
    ) -> impl Future<Output = Result<ViewerReceiver, Rejection>> + Send;
}

/// What became of a tag offered to a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued for the viewer.
    Queued,
    /// Dropped: the viewer is behind, or waits for a keyframe after falling behind.
    Dropped,
    /// The viewer is gone or was disconnected for staying behind; stop feeding it.
    Disconnected,
}

/// The relay's end of a viewer's queue; see the module doc for the overflow policy.
#[derive(Debug)]
pub struct ViewerSender {
    tx: mpsc::Sender<Tag>,
    evicted: Arc<AtomicBool>,
    awaiting_keyframe: bool,
}

/// The connection's end of a viewer's queue.
#[derive(Debug)]
pub struct ViewerReceiver {
    rx: mpsc::Receiver<Tag>,
    evicted: Arc<AtomicBool>,
}

/// A viewer queue holding at most `capacity` tags (audio and video of about 5 s at 25
/// fps and 48 kHz AAC when 350).
pub fn viewer_channel(capacity: usize) -> (ViewerSender, ViewerReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let evicted = Arc::new(AtomicBool::new(false));
    (
        ViewerSender {
            tx,
            evicted: evicted.clone(),
            awaiting_keyframe: false,
        },
        ViewerReceiver { rx, evicted },
    )
}

impl ViewerSender {
    /// Offers a tag without waiting.
    pub fn push(&mut self, tag: Tag) -> PushOutcome {
        if self.evicted.load(Ordering::Relaxed) {
            return PushOutcome::Disconnected;
        }
        let keyframe = tag.is_keyframe();
        let essential = keyframe || tag.is_config();
        if self.awaiting_keyframe && tag.kind == TagKind::Video && !essential {
            return PushOutcome::Dropped;
        }
        match self.tx.try_send(tag) {
            Ok(()) => {
                if keyframe {
                    self.awaiting_keyframe = false;
                }
                PushOutcome::Queued
            }
            Err(mpsc::error::TrySendError::Full(tag)) => {
                if essential {
                    self.evicted.store(true, Ordering::Relaxed);
                    PushOutcome::Disconnected
                } else {
                    if tag.kind == TagKind::Video {
                        self.awaiting_keyframe = true;
                    }
                    PushOutcome::Dropped
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => PushOutcome::Disconnected,
        }
    }
}

impl ViewerReceiver {
    /// The next tag; `None` once the relay stopped feeding or evicted this viewer.
    pub async fn recv(&mut self) -> Option<Tag> {
        if self.evicted.load(Ordering::Relaxed) {
            return None;
        }
        self.rx.recv().await
    }

    /// True when the relay disconnected this viewer for staying behind (rather than
    /// ending its stream): a shell should then drop the connection at once instead of
    /// closing it gracefully.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// A peer that resets or half-closes the connection has left; that is not an error
/// (ffmpeg resets when it closes with our last acknowledgement unread).
fn peer_left(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

async fn write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), RtmpError> {
    match tokio::time::timeout(timeout, io.write_all(bytes)).await {
        Err(_) => Err(RtmpError::Timeout("writing to the peer")),
        Ok(Err(e)) if peer_left(&e) => Err(RtmpError::PeerLeft),
        Ok(r) => Ok(r?),
    }
}

/// Serves one RTMP connection until the peer leaves, an error, or the relay lets go.
///
/// `Ok` when the peer closed, was rejected, or the relay ended its stream; `Err` when
/// the peer broke the protocol, a limit, or a time-out.
pub async fn serve_connection<S, B>(
    mut io: S,
    config: ShellConfig,
    mut bridge: B,
) -> Result<(), RtmpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Bridge,
{
    let mut random = [0u8; HANDSHAKE_SIZE - 8];
    rand::fill(&mut random[..]);
    let mut session = ServerSession::new(config.session, Instant::now().into_std(), random);
    let mut buf = vec![0u8; config.read_buffer.max(1024)];
    let mut sink: Option<mpsc::Sender<Tag>> = None;
    let mut viewer: Option<ViewerReceiver> = None;
    loop {
        while let Some(out) = session.poll_output() {
            match out {
                Output::Transmit(bytes) => {
                    match write_all(&mut io, &bytes, config.write_timeout).await {
                        Err(RtmpError::PeerLeft) => return Ok(()),
                        other => other?,
                    }
                }
                Output::Close => {
                    let _ = io.shutdown().await;
                    return Ok(());
                }
                Output::Event(Event::Publish(request)) => match bridge.publish(&request).await {
                    Ok(tx) => {
                        sink = Some(tx);
                        session.accept_publish(Instant::now().into_std())?;
                    }
                    Err(why) => session.reject(why),
                },
                Output::Event(Event::Play(request)) => match bridge.play(&request).await {
                    Ok(rx) => {
                        viewer = Some(rx);
                        session.accept_play(Instant::now().into_std())?;
                    }
                    Err(why) => session.reject(why),
                },
                Output::Event(Event::Media(tag)) => {
                    if let Some(tx) = &sink
                        && tx.send(tag).await.is_err()
                    {
                        // The relay ended this stream (room closed, publisher replaced).
                        return Ok(());
                    }
                }
                Output::Event(Event::Unpublished) => sink = None,
                Output::Event(Event::PlayStopped) => viewer = None,
            }
        }
        let deadline = session.poll_timeout().map(Instant::from_std);
        tokio::select! {
            read = io.read(&mut buf) => {
                let n = match read {
                    Ok(n) => n,
                    Err(e) if peer_left(&e) => 0,
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    return Ok(());
                }
                session.handle_input(Instant::now().into_std(), &buf[..n])?;
            }
            tag = async { viewer.as_mut().expect("guarded").recv().await }, if viewer.is_some() => {
                match tag {
                    Some(tag) => session.send_media(&tag),
                    // Evicted for staying behind, or the stream ended.
                    None => {
                        let _ = io.shutdown().await;
                        return Ok(());
                    }
                }
            }
            () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                session.handle_timeout(Instant::now().into_std())?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::AsyncWriteExt;

    fn video(key: bool, ts: u32) -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: ts,
            data: Bytes::from(vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9]),
        }
    }

    fn audio(ts: u32) -> Tag {
        Tag {
            kind: TagKind::Audio,
            timestamp: ts,
            data: Bytes::from_static(&[0xaf, 1, 5]),
        }
    }

    struct RefuseAll;

    impl Bridge for RefuseAll {
        async fn publish(&mut self, _: &StreamRequest) -> Result<mpsc::Sender<Tag>, Rejection> {
            Err(Rejection::Unauthorized)
        }
        async fn play(&mut self, _: &StreamRequest) -> Result<ViewerReceiver, Rejection> {
            Err(Rejection::Unauthorized)
        }
    }

    #[tokio::test]
    async fn a_silent_or_half_finished_handshake_times_out() {
        let config = ShellConfig {
            session: SessionConfig {
                setup_timeout: Duration::from_millis(200),
                ..SessionConfig::default()
            },
            ..ShellConfig::default()
        };
        for sent in [&[][..], &[3u8; 700][..]] {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            client.write_all(sent).await.unwrap();
            let started = Instant::now();
            let result = serve_connection(server, config, RefuseAll).await;
            assert!(matches!(result, Err(RtmpError::Timeout(_))), "{result:?}");
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }

    #[tokio::test]
    async fn a_full_queue_skips_to_the_next_keyframe_then_evicts() {
        let (mut tx, mut rx) = viewer_channel(3);
        assert_eq!(tx.push(video(true, 0)), PushOutcome::Queued);
        assert_eq!(tx.push(video(false, 40)), PushOutcome::Queued);
        assert_eq!(tx.push(audio(41)), PushOutcome::Queued);
        // Full: a delta frame is dropped, and so is every delta frame until a keyframe.
        assert_eq!(tx.push(video(false, 80)), PushOutcome::Dropped);
        assert_eq!(tx.push(audio(81)), PushOutcome::Dropped);
        assert_eq!(rx.recv().await.unwrap().timestamp, 0);
        assert_eq!(tx.push(video(false, 120)), PushOutcome::Dropped);
        assert_eq!(tx.push(audio(121)), PushOutcome::Queued);
        rx.recv().await.unwrap();
        assert_eq!(tx.push(video(true, 160)), PushOutcome::Queued);
        assert_eq!(tx.push(video(false, 200)), PushOutcome::Dropped);
        // Full again and a keyframe does not fit: the viewer stays behind, out it goes.
        assert_eq!(tx.push(video(true, 240)), PushOutcome::Disconnected);
        assert_eq!(rx.recv().await, None);
        assert_eq!(tx.push(audio(241)), PushOutcome::Disconnected);
    }
}
