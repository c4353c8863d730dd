//! Publish → relay → subscribers with real DTLS-SRTP peers (the `rtc` bots), and the
//! relay under abuse: bad tokens, bad offers, garbage datagrams, garbage signaling, a
//! PLI flood. Whatever one peer does, the others keep receiving.

use futures_util::{SinkExt, StreamExt};
use lectern_e2e::bot::{self, BotStats, Role as BotRole, Target};
use lectern_proto::{Grants, PeerId, Role, RoomId, TokenClaims};
use lectern_relay::{Relay, RelayConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use lectern_e2e::relay::{Bots, SECRET, start_loopback as start_relay, token, wait_until};

fn subscribe() -> BotRole {
    BotRole::Subscribe {
        peer: None,
        pli_every: None,
        light: false,
    }
}

/// Packets each subscriber receives over `window`.
async fn progress(subs: &[Arc<BotStats>], window: Duration) -> Vec<u64> {
    let before: Vec<u64> = subs.iter().map(|s| s.video_packets.load(Relaxed)).collect();
    tokio::time::sleep(window).await;
    subs.iter()
        .zip(before)
        .map(|(s, b)| s.video_packets.load(Relaxed) - b)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_receive_the_publisher_and_start_on_a_keyframe() {
    let relay = start_relay().await;
    let mut bots = Bots::new();
    let publisher = bots.spawn(
        &relay,
        "math",
        token(&relay, "math", "teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 600 },
    );
    wait_until("publisher connected", Duration::from_secs(10), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let subs: Vec<_> = (0..3)
        .map(|i| {
            bots.spawn(
                &relay,
                "math",
                token(&relay, "math", &format!("s{i}"), Role::Student),
                subscribe(),
            )
        })
        .collect();
    wait_until(
        "every subscriber gets video",
        Duration::from_secs(10),
        || {
            subs.iter()
                .all(|s| s.video_packets.load(Relaxed) > 60 && s.audio_packets.load(Relaxed) > 20)
        },
    )
    .await;
    for s in &subs {
        // The relay held video back until a keyframe, and asked the publisher for one at
        // once rather than waiting out the two-second GOP.
        assert!(s.keyframes.load(Relaxed) >= 1);
        assert!(
            s.first_video_was_keyframe.load(Relaxed),
            "a subscriber's first video packet starts a keyframe"
        );
        assert_eq!(s.lost.load(Relaxed), 0, "nothing is lost on loopback");
    }
    assert!(
        publisher.plis_received.load(Relaxed) >= 1,
        "a new subscriber triggers a PLI"
    );
    let delays = subs[0].delays_us.lock().unwrap().clone();
    let mut sorted = delays.clone();
    sorted.sort_unstable();
    let p50 = sorted[sorted.len() / 2];
    assert!(p50 < 50_000, "relay-added delay p50 {p50} µs on loopback");

    let metrics = reqwest::get(format!("http://{}/metrics", relay.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lectern_relay_peers{kind=\"subscriber\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lectern_relay_peers{kind=\"publisher\"} 1"),
        "{metrics}"
    );
    let health: serde_json::Value = reqwest::get(format!("http://{}/healthz", relay.http_addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["peers"], 4);
    bots.stop().await;
    relay.shutdown().await;
}

async fn post_sdp(
    relay: &Relay,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{}{path}", relay.http_addr()))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_on_every_endpoint() {
    let relay = start_relay().await;
    let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    let student = token(&relay, "math", "ann", Role::Student);
    let other_room = token(&relay, "art", "ann", Role::Student);
    let expired = relay.signer().sign(&TokenClaims {
        room: RoomId::new("math").unwrap(),
        sub: PeerId::new("ann").unwrap(),
        name: "Ann".into(),
        role: Role::Student,
        grants: Role::Student.default_grants(),
        exp: lectern_relay::unix_now() - 1,
        invite: false,
    });
    let forged = lectern_relay::TokenSigner::new("another relay").issue(
        RoomId::new("math").unwrap(),
        PeerId::new("t").unwrap(),
        "T",
        Role::Teacher,
        Duration::from_secs(60),
    );
    let no_subscribe = relay.signer().sign(&TokenClaims {
        room: RoomId::new("math").unwrap(),
        sub: PeerId::new("x").unwrap(),
        name: "X".into(),
        role: Role::Observer,
        grants: Grants::default(),
        exp: lectern_relay::unix_now() + 60,
        invite: false,
    });
    for (path, tok, status, code) in [
        ("/whip/math", None, 401, "unauthorized"),
        ("/whip/math", Some(forged.as_str()), 401, "unauthorized"),
        ("/whip/math", Some(expired.as_str()), 401, "token_expired"),
        ("/whip/math", Some(other_room.as_str()), 403, "wrong_room"),
        ("/whip/math", Some(student.as_str()), 403, "not_on_stage"),
        ("/whep/math", Some(no_subscribe.as_str()), 403, "forbidden"),
        ("/whep/math", Some(student.as_str()), 404, "not_found"),
    ] {
        let (got, json) = post_sdp(&relay, path, tok, "application/sdp", offer).await;
        assert_eq!(
            (got, json["code"].as_str()),
            (status, Some(code)),
            "{path} {json}"
        );
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Signaling and the page check tokens too.
    let ws = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={expired}",
        relay.http_addr()
    ))
    .await;
    assert!(ws.is_err(), "an expired token cannot open signaling");
    let page = reqwest::get(format!(
        "http://{}/ws/math?token={other_room}",
        relay.http_addr()
    ))
    .await
    .unwrap();
    assert_eq!(page.status().as_u16(), 403);
    let page = reqwest::get(format!("http://{}/room/math", relay.http_addr()))
        .await
        .unwrap();
    assert!(matches!(page.status().as_u16(), 401 | 503));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_hurts_only_the_abuser() {
    let relay = start_relay().await;
    let teacher = token(&relay, "math", "teacher", Role::Teacher);
    let mut bots = Bots::new();
    let publisher = bots.spawn(
        &relay,
        "math",
        teacher.clone(),
        BotRole::Publish { video_kbps: 600 },
    );
    wait_until("publisher connected", Duration::from_secs(10), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let subs: Vec<_> = (0..2)
        .map(|i| {
            bots.spawn(
                &relay,
                "math",
                token(&relay, "math", &format!("s{i}"), Role::Student),
                subscribe(),
            )
        })
        .collect();
    wait_until("subscribers receive", Duration::from_secs(10), || {
        subs.iter().all(|s| s.video_packets.load(Relaxed) > 30)
    })
    .await;

    // A signaling client that stays well-behaved, to check it hears nothing of the abuse.
    let (mut good_ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={}",
        relay.http_addr(),
        token(&relay, "math", "s0", Role::Student)
    ))
    .await
    .unwrap();
    let welcome = good_ws.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"type\":\"welcome\""));

    // 1. Bad offers: each gets a clear error.
    let too_big = format!("v=0\r\n{}", "a=x\r\n".repeat(20_000));
    for (body, content_type, status, code) in [
        (
            "v=0\r\nthis is not sdp".to_string(),
            "application/sdp",
            400,
            "bad_sdp",
        ),
        (
            "\u{0}\u{1}garbage".to_string(),
            "application/sdp",
            400,
            "bad_sdp",
        ),
        (
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n".to_string(),
            "application/sdp",
            422,
            "unsupported_codec",
        ),
        ("v=0\r\n".to_string(), "text/plain", 400, "invalid_input"),
    ] {
        let (got, json) = post_sdp(&relay, "/whep/math", Some(&teacher), content_type, body).await;
        assert_eq!((got, json["code"].as_str()), (status, Some(code)), "{json}");
    }
    let (got, _) = post_sdp(
        &relay,
        "/whep/math",
        Some(&teacher),
        "application/sdp",
        too_big,
    )
    .await;
    assert_eq!(got, 413);
    let (got, json) = post_sdp(
        &relay,
        "/whep/no%2Fsuch",
        Some(&teacher),
        "application/sdp",
        "v=0",
    )
    .await;
    assert_eq!((got, json["code"].as_str()), (400, Some("invalid_input")));

    // 2. Garbage datagrams on the media port, some dressed as STUN for unknown sessions.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..5_000u32 {
        let mut junk: Vec<u8> = (0..(i % 1200 + 1)).map(|_| rand::random::<u8>()).collect();
        if i % 3 == 0 && junk.len() >= 20 {
            junk[0] = 0;
            junk[1] = 1;
            junk[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        }
        let _ = udp.send_to(&junk, relay.media_addr()).await;
    }
    // Garbage on ICE-TCP as well.
    if let Ok(mut tcp) = tokio::net::TcpStream::connect(relay.media_addr()).await {
        use tokio::io::AsyncWriteExt;
        let _ = tcp.write_all(&[0xff; 70_000]).await;
    }

    // 3. Garbage signaling from one client until it is thrown out.
    let (mut bad_ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={}",
        relay.http_addr(),
        token(&relay, "math", "mallory", Role::Student)
    ))
    .await
    .unwrap();
    let _ = bad_ws.next().await; // welcome
    bad_ws
        .send(Message::Text("{\"v\":1,\"type\":\"chat\"".into()))
        .await
        .unwrap();
    let reply = bad_ws.next().await.unwrap().unwrap();
    assert!(
        reply
            .to_text()
            .unwrap()
            .contains("\"code\":\"invalid_input\""),
        "{reply:?}"
    );
    bad_ws
        .send(Message::Binary(vec![0u8; 100].into()))
        .await
        .unwrap();
    let reply = bad_ws.next().await.unwrap().unwrap();
    assert!(
        reply.to_text().unwrap().contains("\"type\":\"error\""),
        "{reply:?}"
    );
    let mut thrown_out = false;
    for _ in 0..200 {
        if bad_ws.send(Message::Text("nonsense".into())).await.is_err() {
            thrown_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut saw_bye = false;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), bad_ws.next()).await {
        if m.to_text()
            .is_ok_and(|t| t.contains("\"reason\":\"misbehaving\""))
        {
            saw_bye = true;
        }
    }
    assert!(thrown_out || saw_bye, "the garbage sender is closed");
    // An oversized frame closes that socket only.
    let (mut huge_ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={}",
        relay.http_addr(),
        token(&relay, "math", "eve", Role::Student)
    ))
    .await
    .unwrap();
    let _ = huge_ws
        .send(Message::Text("x".repeat(100_000).into()))
        .await;

    // 4. A subscriber flooding PLIs: the publisher sees at most one per 500 ms.
    let flooder = bots.spawn(
        &relay,
        "math",
        token(&relay, "math", "flood", Role::Student),
        BotRole::Subscribe {
            peer: None,
            pli_every: Some(Duration::from_millis(5)),
            light: false,
        },
    );
    wait_until("flooder connected", Duration::from_secs(10), || {
        flooder.video_packets.load(Relaxed) > 0
    })
    .await;
    let plis_before = publisher.plis_received.load(Relaxed);
    let gained = progress(&subs, Duration::from_secs(3)).await;
    let plis = publisher.plis_received.load(Relaxed) - plis_before;
    assert!(
        plis <= 8,
        "{plis} PLIs reached the publisher in 3 s of flooding"
    );

    // Everyone else kept receiving through all of it.
    for (i, g) in gained.iter().enumerate() {
        assert!(
            *g > 100,
            "subscriber {i} received only {g} video packets in 3 s"
        );
    }
    good_ws
        .send(Message::Text(r#"{"v":1,"type":"ping","id":42}"#.into()))
        .await
        .unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), good_ws.next())
            .await
            .expect("good client still served")
            .unwrap()
            .unwrap();
        let t = m.to_text().unwrap().to_string();
        assert!(
            !t.contains("\"type\":\"error\""),
            "the good client got someone else's error: {t}"
        );
        if t.contains("\"type\":\"pong\"") {
            assert!(t.contains("\"id\":42"));
            break;
        }
    }
    let metrics = reqwest::get(format!("http://{}/metrics", relay.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        counter("lectern_relay_plis_total{outcome=\"coalesced\"}") > 100,
        "{metrics}"
    );
    assert!(
        counter("lectern_relay_dropped_packets_total{reason=\"unknown_source\"}") >= 4000,
        "{metrics}"
    );
    assert!(
        counter("lectern_relay_errors_total{code=\"bad_sdp\"}")
            + counter("lectern_relay_errors_total{code=\"invalid_input\"}")
            >= 3,
        "{metrics}"
    );
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_leaving_ends_its_watchers_and_signaling_says_so() {
    let relay = start_relay().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={}",
        relay.http_addr(),
        token(&relay, "math", "ann", Role::Student)
    ))
    .await
    .unwrap();
    let _ = ws.next().await; // welcome
    let mut bots = Bots::new();
    let publisher = bots.spawn(
        &relay,
        "math",
        token(&relay, "math", "teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 300 },
    );
    let mut next_text = async || -> String {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message")
            .unwrap()
            .unwrap();
        m.to_text().unwrap().to_string()
    };
    let added = next_text().await;
    assert!(
        added.contains("\"type\":\"publisher_added\"") && added.contains("\"peer\":\"teacher\""),
        "{added}"
    );
    // The relay announces at its end of the handshake; the bot's own end may finish a
    // moment later.
    wait_until(
        "the publisher sees itself connected",
        Duration::from_secs(5),
        || publisher.connected.load(Relaxed),
    )
    .await;
    bots.stop().await;
    let removed = next_text().await;
    assert!(
        removed.contains("\"type\":\"publisher_removed\""),
        "{removed}"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_and_ipv6_peers_share_one_dual_stack_port() {
    let relay = Relay::start(RelayConfig {
        http: "[::]:0".parse().unwrap(),
        media: "[::]:0".parse().unwrap(),
        public_ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        secret: SECRET.into(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts");
    let port = relay.http_addr().port();
    let mut bots = Bots::new();
    let spawn = |bots: &mut Bots, base: String, token: String, role: BotRole| {
        let stats = Arc::new(BotStats::default());
        let target = Target {
            base,
            room: "math".into(),
            token,
        };
        bots.tasks.push(tokio::spawn(bot::run(
            target,
            role,
            stats.clone(),
            bots.stop.subscribe(),
        )));
        stats
    };
    let publisher = spawn(
        &mut bots,
        format!("http://127.0.0.1:{port}"),
        token(&relay, "math", "teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 300 },
    );
    wait_until("IPv4 publisher connected", Duration::from_secs(10), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let v6 = spawn(
        &mut bots,
        format!("http://[::1]:{port}"),
        token(&relay, "math", "s6", Role::Student),
        subscribe(),
    );
    let v4 = spawn(
        &mut bots,
        format!("http://127.0.0.1:{port}"),
        token(&relay, "math", "s4", Role::Student),
        subscribe(),
    );
    wait_until("both families receive", Duration::from_secs(10), || {
        v6.video_packets.load(Relaxed) > 30 && v4.video_packets.load(Relaxed) > 30
    })
    .await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickle_patch_is_checked_like_every_other_endpoint() {
    let relay = start_relay().await;
    let mut bots = Bots::new();
    let teacher_token = token(&relay, "math", "teacher", Role::Teacher);
    let publisher = bots.spawn(
        &relay,
        "math",
        teacher_token.clone(),
        BotRole::Publish { video_kbps: 200 },
    );
    wait_until("publisher connected", Duration::from_secs(10), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let location = publisher
        .location
        .lock()
        .unwrap()
        .clone()
        .expect("WHIP answered with a Location");
    let patch = |tok: String, content_type: &'static str, body: &'static str, path: String| {
        let url = format!("http://{}{path}", relay.http_addr());
        async move {
            let resp = reqwest::Client::new()
                .patch(url)
                .bearer_auth(tok)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let json: serde_json::Value = resp.json().await.unwrap_or_default();
            (status, json["code"].as_str().unwrap_or("").to_owned())
        }
    };
    const FRAG: &str = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n";
    const TRICKLE: &str = "application/trickle-ice-sdpfrag";
    // The owner may trickle a candidate; nobody else, nothing malformed, nowhere else.
    assert_eq!(
        patch(teacher_token.clone(), TRICKLE, FRAG, location.clone()).await,
        (204, String::new())
    );
    let other = token(&relay, "math", "s1", Role::Student);
    assert_eq!(
        patch(other, TRICKLE, FRAG, location.clone()).await,
        (403, "forbidden".to_owned())
    );
    assert_eq!(
        patch(
            teacher_token.clone(),
            "application/sdp",
            FRAG,
            location.clone()
        )
        .await
        .0,
        400
    );
    assert_eq!(
        patch(
            teacher_token.clone(),
            TRICKLE,
            "a=candidate:garbage\r\n",
            location.clone()
        )
        .await,
        (400, "bad_sdp".to_owned())
    );
    let unknown = format!(
        "{}ffffffffffffffff",
        location.trim_end_matches(|c: char| c.is_ascii_hexdigit())
    );
    assert_eq!(
        patch(teacher_token.clone(), TRICKLE, FRAG, unknown).await,
        (404, "not_found".to_owned())
    );
    // None of that disturbed the session: a watcher still receives it.
    let watcher = bots.spawn(
        &relay,
        "math",
        token(&relay, "math", "s2", Role::Student),
        subscribe(),
    );
    wait_until(
        "the session still forwards",
        Duration::from_secs(10),
        || watcher.video_packets.load(Relaxed) > 30,
    )
    .await;
    assert!(publisher.connected.load(Relaxed));
    bots.stop().await;
    relay.shutdown().await;
}
