//! The network probe against a real relay over real sockets: a granted id is answered
//! on the media port, garbage in the probe range is dropped and counted without
//! harming the relay, the TCP fallback's echo and upload work, and the access setting
//! is honoured.

use lectern_proto::probe::{PING_LEN, Ping, Pong, ProbeGrant, ProbeId, TRAIN, Train};
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{ProbeAccess, Relay, RelayConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

async fn start(probe: ProbeAccess) -> Relay {
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        secret: "test-secret-test-secret-test-secret".into(),
        probe,
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

fn base(relay: &Relay) -> String {
    format!("http://{}", relay.http_addr())
}

async fn grant(relay: &Relay) -> ProbeGrant {
    let resp = reqwest::Client::new()
        .post(format!("{}/probe", base(relay)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn ping(socket: &UdpSocket, to: SocketAddr, id: ProbeId, seq: u32) -> Option<Pong> {
    let d = Ping {
        id,
        seq,
        sent_us: 42,
    }
    .encode();
    socket.send_to(&d, to).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    assert!(n <= PING_LEN, "no amplification");
    Pong::parse(&buf[..n])
}

async fn metric(relay: &Relay, line: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", base(relay)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line} not in {text}"))
}

#[tokio::test]
async fn pings_are_answered_and_garbage_is_counted_not_fatal() {
    let relay = start(ProbeAccess::Open).await;
    let g = grant(&relay).await;
    assert_eq!(g.udp_port, relay.media_addr().port());
    let id = ProbeId::parse(&g.id).expect("hex id");
    let media = relay.media_addr();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    for seq in 0..3 {
        let train = Train {
            id,
            seq,
            sent_us: 0,
            len: 1000,
        };
        socket.send_to(&train.encode(), media).await.unwrap();
    }
    let pong = ping(&socket, media, id, 9).await.expect("a pong");
    assert_eq!((pong.seq, pong.echo_us, pong.pings_received), (9, 42, 1));
    assert_eq!((pong.train_packets, pong.train_bytes), (3, 3000));

    // Every first byte of the probe range, truncated, wrong version, random tails.
    let mut garbage = 0u64;
    for first in 4u8..=15 {
        for len in [1usize, 2, 5, 31, 47, 48, 200, 1401] {
            let mut d: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            d[0] = first;
            socket.send_to(&d, media).await.unwrap();
            garbage += 1;
        }
        // Paced, so the receive buffer (capped by the OS) never overflows.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut wrong_id = Ping {
        id: ProbeId([0; 16]),
        seq: 1,
        sent_us: 0,
    }
    .encode();
    socket.send_to(&wrong_id, media).await.unwrap();
    wrong_id[0] = TRAIN;
    socket.send_to(&wrong_id, media).await.unwrap();

    // Still alive and still answering.
    let pong = ping(&socket, media, id, 10).await.expect("still answered");
    assert_eq!(pong.pings_received, 2);
    let health = reqwest::get(format!("{}/healthz", base(&relay)))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let malformed = metric(
        &relay,
        "lectern_relay_probe_datagrams_total{outcome=\"malformed\"}",
    )
    .await;
    let unknown = metric(
        &relay,
        "lectern_relay_probe_datagrams_total{outcome=\"unknown_id\"}",
    )
    .await;
    // Some of the random datagrams happen to parse (right type and version byte) and
    // then count as unknown ids instead.
    assert!(
        malformed + unknown >= garbage + 2,
        "{malformed} + {unknown}"
    );
    assert!(unknown >= 2);
    assert_eq!(
        metric(
            &relay,
            "lectern_relay_dropped_packets_total{reason=\"unknown_source\"}"
        )
        .await,
        0,
        "no probe datagram reached the WebRTC engine"
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn the_tcp_fallback_echoes_and_measures_an_upload() {
    let relay = start(ProbeAccess::Open).await;
    let g = grant(&relay).await;
    let http = reqwest::Client::new();
    let echo = http
        .post(format!("{}/probe/{}/echo", base(&relay), g.id))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 204);
    let body = vec![7u8; 512 * 1024];
    let up: serde_json::Value = http
        .post(format!("{}/probe/{}/upload", base(&relay), g.id))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["bytes"], 512 * 1024);
    let stranger = http
        .post(format!("{}/probe/{}/echo", base(&relay), "00".repeat(16)))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    let too_big = http
        .post(format!("{}/probe/{}/upload", base(&relay), g.id))
        .body(vec![0u8; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    relay.shutdown().await;
}

#[tokio::test]
async fn access_can_require_a_token_or_switch_the_probe_off() {
    let relay = start(ProbeAccess::Token).await;
    let http = reqwest::Client::new();
    let url = format!("{}/probe", base(&relay));
    assert_eq!(http.post(&url).send().await.unwrap().status(), 401);
    let token = relay.signer().issue(
        RoomId::new("any-room").unwrap(),
        PeerId::new("teacher").unwrap(),
        "T",
        Role::Teacher,
        Duration::from_secs(60),
    );
    let ok = http.post(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    relay.shutdown().await;

    let relay = start(ProbeAccess::Off).await;
    let off = http
        .post(format!("{}/probe", base(&relay)))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 404);
    relay.shutdown().await;
}
