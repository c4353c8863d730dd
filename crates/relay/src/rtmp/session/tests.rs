//! The session against a scripted client: real chunking both ways, virtual time.

use super::*;
use crate::rtmp::Amf0Error;
use crate::rtmp::handshake::RTMP_VERSION;

/// The client side of the conversation, built from our own encoder and decoder.
struct Client {
    enc: ChunkEncoder,
    dec: ChunkDecoder,
    skipped_handshake: usize,
}

impl Client {
    fn new() -> Self {
        Self {
            enc: ChunkEncoder::new(),
            dec: ChunkDecoder::new(ChunkLimits::default()),
            skipped_handshake: 0,
        }
    }

    fn handshake() -> Vec<u8> {
        let mut b = vec![RTMP_VERSION];
        b.extend(vec![1u8; HANDSHAKE_SIZE]);
        b.extend(vec![2u8; HANDSHAKE_SIZE]);
        b
    }

    fn message(&mut self, csid: u32, type_id: u8, stream_id: u32, ts: u32, body: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.enc.encode(
            csid,
            &Message {
                type_id,
                stream_id,
                timestamp: ts,
                payload: Bytes::copy_from_slice(body),
            },
            &mut out,
        );
        out.to_vec()
    }

    fn command(&mut self, stream_id: u32, values: &[Amf0Value]) -> Vec<u8> {
        let body = amf0::encode_all(values).unwrap();
        self.message(3, msg_type::COMMAND_AMF0, stream_id, 0, &body)
    }

    /// Reads what the server sent: messages, following its Set Chunk Size.
    fn read(&mut self, bytes: &[u8]) -> Vec<Message> {
        let mut bytes = bytes;
        let skip = (1 + 2 * HANDSHAKE_SIZE - self.skipped_handshake).min(bytes.len());
        self.skipped_handshake += skip;
        bytes = &bytes[skip..];
        self.dec.push(bytes);
        let mut out = Vec::new();
        while let Some((_, m)) = self.dec.poll_message().unwrap() {
            if m.type_id == msg_type::SET_CHUNK_SIZE {
                let size = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
                self.dec.set_chunk_size(size).unwrap();
            }
            out.push(m);
        }
        out
    }
}

fn connect(app: &str) -> Vec<Amf0Value> {
    vec![
        Amf0Value::string("connect"),
        Amf0Value::Number(1.0),
        Amf0Value::object([
            ("app", Amf0Value::string(app)),
            ("type", Amf0Value::string("nonprivate")),
            (
                "tcUrl",
                Amf0Value::string(format!("rtmp://127.0.0.1/{app}")),
            ),
        ]),
    ]
}

fn publish(name: &str) -> Vec<Amf0Value> {
    vec![
        Amf0Value::string("publish"),
        Amf0Value::Number(5.0),
        Amf0Value::Null,
        Amf0Value::string(name),
        Amf0Value::string("live"),
    ]
}

fn create_stream() -> Vec<Amf0Value> {
    vec![
        Amf0Value::string("createStream"),
        Amf0Value::Number(4.0),
        Amf0Value::Null,
    ]
}

struct Outputs {
    bytes: Vec<u8>,
    events: Vec<Event>,
    closed: bool,
}

fn drain(s: &mut ServerSession) -> Outputs {
    let mut o = Outputs {
        bytes: Vec::new(),
        events: Vec::new(),
        closed: false,
    };
    while let Some(out) = s.poll_output() {
        match out {
            Output::Transmit(b) => o.bytes.extend_from_slice(&b),
            Output::Event(e) => o.events.push(e),
            Output::Close => o.closed = true,
        }
    }
    o
}

fn commands(msgs: &[Message]) -> Vec<Vec<Amf0Value>> {
    msgs.iter()
        .filter(|m| m.type_id == msg_type::COMMAND_AMF0)
        .map(|m| amf0::decode_all(&m.payload, Amf0Limits::default()).unwrap())
        .collect()
}

fn status_code(cmd: &[Amf0Value]) -> Option<&str> {
    (cmd[0].as_str() == Some("onStatus"))
        .then(|| cmd[3].get("code").and_then(Amf0Value::as_str))
        .flatten()
}

fn session() -> (ServerSession, Instant) {
    let now = Instant::now();
    (
        ServerSession::new(SessionConfig::default(), now, [0; HANDSHAKE_SIZE - 8]),
        now,
    )
}

/// Handshake, connect, createStream, publish: returns the session waiting for the
/// decision and everything the client read so far.
fn up_to_publish(app: &str, name: &str) -> (ServerSession, Client, Instant, Vec<Message>, Outputs) {
    let (mut s, now) = session();
    let mut c = Client::new();
    let mut input = Client::handshake();
    input.extend(c.command(0, &connect(app)));
    input.extend(c.command(0, &create_stream()));
    input.extend(c.command(1, &publish(name)));
    s.handle_input(now, &input).unwrap();
    let o = drain(&mut s);
    let msgs = c.read(&o.bytes);
    (s, c, now, msgs, o)
}

#[test]
fn publish_with_the_token_on_the_stream_name() {
    let (mut s, mut c, now, msgs, o) = up_to_publish("room1", "teacher?token=abc");
    assert_eq!(o.bytes[0], RTMP_VERSION);
    let kinds: Vec<u8> = msgs.iter().map(|m| m.type_id).collect();
    assert_eq!(
        kinds[..3],
        [5, 6, 1],
        "window ack size, peer bandwidth, chunk size"
    );
    let cmds = commands(&msgs);
    assert_eq!(cmds[0][0].as_str(), Some("_result"));
    assert_eq!(
        cmds[0][3].get("code").and_then(Amf0Value::as_str),
        Some("NetConnection.Connect.Success")
    );
    assert_eq!(cmds[1][0].as_str(), Some("_result"));
    assert_eq!(cmds[1][3], Amf0Value::Number(1.0));
    assert_eq!(
        o.events,
        [Event::Publish(StreamRequest {
            room: "room1".into(),
            stream: "teacher".into(),
            token: Some("abc".into()),
        })]
    );
    // Media sent before the decision waits for it.
    let meta = amf0::encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]),
    ])
    .unwrap();
    let mut input = c.message(4, msg_type::DATA_AMF0, 1, 0, &meta);
    input.extend(c.message(6, msg_type::VIDEO, 1, 0, &[0x17, 0, 0, 0, 0, 1, 0x42]));
    input.extend(c.message(4, msg_type::AUDIO, 1, 23, &[0xaf, 1, 9]));
    s.handle_input(now, &input).unwrap();
    assert!(drain(&mut s).events.is_empty());
    s.accept_publish(now).unwrap();
    let o = drain(&mut s);
    let msgs = c.read(&o.bytes);
    assert_eq!(
        status_code(&commands(&msgs)[0]),
        Some("NetStream.Publish.Start")
    );
    assert!(s.is_publishing());
    let tags: Vec<Tag> = o
        .events
        .into_iter()
        .map(|e| match e {
            Event::Media(t) => t,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tags.len(), 3);
    assert_eq!(tags[0].kind, TagKind::Script);
    let (name, value) = crate::flv::parse_script(&tags[0].data).unwrap();
    assert_eq!(name, "onMetaData");
    assert_eq!(value.get("width"), Some(&Amf0Value::Number(320.0)));
    assert_eq!((tags[1].kind, tags[1].timestamp), (TagKind::Video, 0));
    assert_eq!((tags[2].kind, tags[2].timestamp), (TagKind::Audio, 23));

    // FCUnpublish ends it.
    let input = c.command(
        0,
        &[Amf0Value::string("FCUnpublish"), Amf0Value::Number(6.0)],
    );
    let later = now + Duration::from_secs(60);
    s.handle_input(later, &input).unwrap();
    assert_eq!(drain(&mut s).events, [Event::Unpublished]);
    // A fresh set-up period, not the one that ran out long ago.
    assert_eq!(s.poll_timeout(), Some(later + Duration::from_secs(10)));
}

#[test]
fn the_token_may_sit_on_the_app_and_the_stream_name_wins() {
    let (_, _, _, _, o) = up_to_publish("room1?token=fromapp", "teacher");
    assert!(matches!(&o.events[..], [Event::Publish(r)] if r.token.as_deref() == Some("fromapp")));
    let (_, _, _, _, o) = up_to_publish("room1?token=a", "teacher?x=1&token=b%3D");
    assert!(matches!(&o.events[..], [Event::Publish(r)] if r.token.as_deref() == Some("b=")));
    assert_eq!(
        parse_stream_name("room1/teacher", ""),
        Some(StreamRequest {
            room: "room1".into(),
            stream: "teacher".into(),
            token: None
        })
    );
    for (app, name) in [
        ("", "x"),
        ("room1", ""),
        ("a/b", "c"),
        ("room1", "../x"),
        ("room 1", "x"),
    ] {
        assert_eq!(parse_stream_name(app, name), None, "{app:?} {name:?}");
    }
}

#[test]
fn a_bad_name_or_a_refusal_is_an_error_status_then_close() {
    let (mut s, mut c, _, msgs, o) = up_to_publish("room1", "bad name");
    assert!(o.events.is_empty());
    assert!(o.closed);
    let cmds = commands(&msgs);
    assert_eq!(
        status_code(cmds.last().unwrap()),
        Some("NetStream.Publish.BadName")
    );
    assert_eq!(
        cmds.last().unwrap()[3].get("level"),
        Some(&Amf0Value::string("error"))
    );
    let _ = (&mut s, &mut c);

    let (mut s, mut c, _, _, _) = up_to_publish("room1", "teacher");
    s.reject(Rejection::Unauthorized);
    let o = drain(&mut s);
    assert!(o.closed);
    let cmds = commands(&c.read(&o.bytes));
    assert_eq!(
        status_code(&cmds[0]),
        Some("NetStream.Publish.Unauthorized")
    );
}

#[test]
fn play_gets_statuses_then_media_in_big_chunks() {
    let (mut s, now) = session();
    let mut c = Client::new();
    let mut input = Client::handshake();
    input.extend(c.command(0, &connect("room1")));
    input.extend(c.command(0, &create_stream()));
    input.extend(c.command(
        1,
        &[
            Amf0Value::string("play"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            Amf0Value::string("teacher?token=t"),
            Amf0Value::Number(-2000.0),
        ],
    ));
    s.handle_input(now, &input).unwrap();
    let o = drain(&mut s);
    c.read(&o.bytes);
    assert!(matches!(&o.events[..], [Event::Play(r)] if r.stream == "teacher"));
    // Nothing is sent before the decision.
    s.send_media(&Tag {
        kind: TagKind::Video,
        timestamp: 0,
        data: Bytes::from_static(&[0x17, 1]),
    });
    assert!(drain(&mut s).bytes.is_empty());
    s.accept_play(now).unwrap();
    let big = Bytes::from(vec![0x27; 10_000]);
    s.send_media(&Tag {
        kind: TagKind::Video,
        timestamp: 40,
        data: big.clone(),
    });
    s.send_media(&Tag {
        kind: TagKind::Audio,
        timestamp: 0xffff_fff0,
        data: Bytes::from_static(&[0xaf, 1, 2]),
    });
    let o = drain(&mut s);
    // 4096-byte chunks: 10 000 bytes of video in 3 chunks, not 79.
    assert!(o.bytes.len() < 10_300, "{}", o.bytes.len());
    let msgs = c.read(&o.bytes);
    let codes: Vec<_> = commands(&msgs)
        .iter()
        .filter_map(|c| status_code(c).map(str::to_owned))
        .collect();
    assert_eq!(codes, ["NetStream.Play.Reset", "NetStream.Play.Start"]);
    assert!(
        msgs.iter()
            .any(|m| m.type_id == msg_type::USER_CONTROL && m.payload[..] == [0, 0, 0, 0, 0, 1])
    );
    let video = msgs.iter().find(|m| m.type_id == msg_type::VIDEO).unwrap();
    assert_eq!(
        (video.timestamp, video.stream_id, &video.payload),
        (40, 1, &big)
    );
    let audio = msgs.iter().find(|m| m.type_id == msg_type::AUDIO).unwrap();
    assert_eq!(audio.timestamp, 0xffff_fff0);
    // closeStream stops it.
    let input = c.command(
        1,
        &[Amf0Value::string("closeStream"), Amf0Value::Number(0.0)],
    );
    s.handle_input(now, &input).unwrap();
    assert_eq!(drain(&mut s).events, [Event::PlayStopped]);
}

#[test]
fn acknowledges_the_peers_window_and_answers_pings() {
    let (mut s, now, mut c) = {
        let (mut s, now) = session();
        let mut c = Client::new();
        let mut input = Client::handshake();
        input.extend(c.command(0, &connect("room1")));
        s.handle_input(now, &input).unwrap();
        c.read(&drain(&mut s).bytes);
        (s, now, c)
    };
    let mut input = c.message(2, msg_type::WINDOW_ACK_SIZE, 0, 0, &5000u32.to_be_bytes());
    input.extend(c.message(2, msg_type::USER_CONTROL, 0, 0, &[0, 6, 0, 0, 0x12, 0x34]));
    s.handle_input(now, &input).unwrap();
    let msgs = c.read(&drain(&mut s).bytes);
    // Handshake (3073) + connect + these: more than 3073 < 5000, so no ack yet.
    assert!(msgs.iter().all(|m| m.type_id != msg_type::ACK));
    let pong = msgs
        .iter()
        .find(|m| m.type_id == msg_type::USER_CONTROL)
        .unwrap();
    assert_eq!(&pong.payload[..], [0, 7, 0, 0, 0x12, 0x34]);
    // 2000 more bytes of junk commands the session ignores.
    let filler = c.command(
        0,
        &[
            Amf0Value::string("_checkbw"),
            Amf0Value::Number(0.0),
            Amf0Value::string("x".repeat(2000)),
        ],
    );
    s.handle_input(now, &filler).unwrap();
    let msgs = c.read(&drain(&mut s).bytes);
    let ack = msgs.iter().find(|m| m.type_id == msg_type::ACK).unwrap();
    let seq = u32::from_be_bytes(ack.payload[..].try_into().unwrap());
    assert!(seq > 5000, "{seq}");
}

#[test]
fn timeouts_and_protocol_violations_end_the_connection() {
    let (mut s, now) = session();
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(10)));
    s.handle_timeout(now + Duration::from_secs(9)).unwrap();
    assert!(matches!(
        s.handle_timeout(now + Duration::from_secs(10)),
        Err(RtmpError::Timeout(_))
    ));

    // publish before connect
    let (mut s, now) = session();
    let mut c = Client::new();
    let mut input = Client::handshake();
    input.extend(c.command(1, &publish("x")));
    assert!(matches!(
        s.handle_input(now, &input),
        Err(RtmpError::OutOfOrder("publish"))
    ));

    // an AMF bomb in connect
    let (mut s, now) = session();
    let mut c = Client::new();
    let mut input = Client::handshake();
    let mut bomb = amf0::encode_all(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)])
        .unwrap()
        .to_vec();
    for _ in 0..500 {
        bomb.extend_from_slice(&[3, 0, 1, b'a']);
    }
    input.extend(c.message(3, msg_type::COMMAND_AMF0, 0, 0, &bomb));
    assert!(matches!(
        s.handle_input(now, &input),
        Err(RtmpError::Amf(Amf0Error::TooDeep(_)))
    ));

    // a publisher that goes quiet
    let (mut s, _, now, _, _) = up_to_publish("room1", "teacher");
    s.accept_publish(now).unwrap();
    let quiet = now + Duration::from_secs(20);
    assert_eq!(s.poll_timeout(), Some(quiet));
    assert!(s.handle_timeout(quiet).is_err());
}

#[test]
fn aggregate_messages_are_split_and_rebased() {
    let (mut s, mut c, now, _, _) = up_to_publish("room1", "teacher?token=abc");
    s.accept_publish(now).unwrap();
    drain(&mut s);
    let sub = |type_id: u8, ts: u32, body: &[u8]| {
        let mut b = vec![type_id];
        b.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        b.extend_from_slice(&ts.to_be_bytes()[1..]);
        b.push((ts >> 24) as u8);
        b.extend_from_slice(&[0, 0, 0]);
        b.extend_from_slice(body);
        b.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        b
    };
    let mut agg = sub(msg_type::VIDEO, 5000, &[0x17, 1, 0, 0, 0]);
    agg.extend(sub(msg_type::AUDIO, 5023, &[0xaf, 1, 7]));
    let input = c.message(6, msg_type::AGGREGATE, 1, 100, &agg);
    s.handle_input(now, &input).unwrap();
    let got: Vec<(TagKind, u32)> = drain(&mut s)
        .events
        .into_iter()
        .map(|e| match e {
            Event::Media(t) => (t.kind, t.timestamp),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, [(TagKind::Video, 100), (TagKind::Audio, 123)]);
    // A sub-message that claims more than is there.
    let mut lying = sub(msg_type::VIDEO, 0, &[0x17, 1, 0, 0, 0]);
    lying[3] = 200;
    let input = c.message(6, msg_type::AGGREGATE, 1, 200, &lying);
    assert!(matches!(
        s.handle_input(now, &input),
        Err(RtmpError::BadAggregate)
    ));
}
