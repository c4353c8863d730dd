//! The relay over hard links: a student whose network blocks UDP reaches it over
//! ICE-TCP, and lossy links both ways are repaired by NACK and retransmission.
//! Every peer is a real `rtc` bot with DTLS-SRTP; loss comes from the seeded userspace
//! proxy in `support/impair.rs` (this kernel has no netem).

use lectern_e2e::bot::{BotStats, Link, Role as BotRole};
use lectern_e2e::impair::{Impairment, UdpProxy};
use lectern_e2e::relay::{Bots, start_loopback, token, wait_until};
use lectern_proto::Role;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

fn watch() -> BotRole {
    BotRole::Subscribe {
        peer: None,
        pli_every: None,
        light: false,
    }
}

async fn metric(relay: &lectern_relay::Relay, line_prefix: &str) -> f64 {
    let text = reqwest::get(format!("http://{}/metrics", relay.http_addr()))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with(line_prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_tcp_carries_peers_whose_udp_is_blocked() {
    let relay = start_loopback().await;
    let mut bots = Bots::new();
    let tcp = Link {
        tcp: true,
        ..Link::default()
    };
    // The teacher publishes over TCP too: a school network that blocks UDP blocks it
    // for everyone.
    let publisher = bots.spawn_on(
        &relay,
        "math",
        token(&relay, "math", "teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 400 },
        tcp,
    );
    wait_until("TCP publisher connected", Duration::from_secs(15), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let over_tcp = bots.spawn_on(
        &relay,
        "math",
        token(&relay, "math", "s-tcp", Role::Student),
        watch(),
        tcp,
    );
    let over_udp = bots.spawn(
        &relay,
        "math",
        token(&relay, "math", "s-udp", Role::Student),
        watch(),
    );
    wait_until(
        "both watchers get audio and video",
        Duration::from_secs(15),
        || {
            [&over_tcp, &over_udp]
                .iter()
                .all(|s| s.video_packets.load(Relaxed) > 60 && s.audio_packets.load(Relaxed) > 30)
        },
    )
    .await;
    for s in [&over_tcp, &over_udp] {
        assert!(s.first_video_was_keyframe.load(Relaxed));
        assert_eq!(s.lost.load(Relaxed), 0, "TCP is lossless, loopback UDP too");
    }
    bots.stop().await;
    relay.shutdown().await;
}

/// Loss rate on every leg, each direction.
const LOSS: f64 = 0.10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_and_retransmission_repair_ten_percent_loss_on_both_legs() {
    let relay = start_loopback().await;
    let media = relay.media_addr();
    let lossy = || Impairment::loss(LOSS);
    let pub_proxy = UdpProxy::start(media, lossy(), lossy(), 11)
        .await
        .expect("proxy");
    let sub_proxy = UdpProxy::start(media, lossy(), lossy(), 12)
        .await
        .expect("proxy");
    let mut bots = Bots::new();
    let publisher = bots.spawn_on(
        &relay,
        "math",
        token(&relay, "math", "teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 600 },
        Link {
            via: Some(pub_proxy.addr()),
            ..Link::default()
        },
    );
    wait_until("publisher connected", Duration::from_secs(20), || {
        publisher.connected.load(Relaxed)
    })
    .await;
    let viewer: Arc<BotStats> = bots.spawn_on(
        &relay,
        "math",
        token(&relay, "math", "s1", Role::Student),
        watch(),
        Link {
            via: Some(sub_proxy.addr()),
            ..Link::default()
        },
    );
    wait_until("the viewer gets video", Duration::from_secs(20), || {
        viewer.video_packets.load(Relaxed) > 100
    })
    .await;
    let from = viewer.highest_video_seq().expect("video arrived") + 1;
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Leave the newest half second out: its repairs may still be on the way.
    let to = viewer.highest_video_seq().expect("video arrived") - 30;
    let (missing, got) = viewer.video_holes(from, to);
    let residual = missing as f64 / (missing + got) as f64;
    eprintln!(
        "video {got} received, {missing} missing; proxies dropped {} / {} (publisher leg up/down), {} / {} (viewer leg)",
        pub_proxy.up.lost.load(Relaxed),
        pub_proxy.down.lost.load(Relaxed),
        sub_proxy.up.lost.load(Relaxed),
        sub_proxy.down.lost.load(Relaxed),
    );
    // Without repair, two legs at 10 % lose about 19 %; NACK brings that near zero.
    assert!(got > 200, "{got} video packets in 6 s at 600 kbit/s");
    assert!(
        residual < 0.02,
        "{missing} of {} video packets never arrived ({:.1} %)",
        missing + got,
        residual * 100.0
    );
    assert!(
        pub_proxy.up.lost.load(Relaxed) > 20 && sub_proxy.down.lost.load(Relaxed) > 20,
        "the proxies did drop packets"
    );
    assert!(
        publisher.nacks_received.load(Relaxed) > 0,
        "the relay asked the publisher to retransmit"
    );
    assert!(
        metric(&relay, "lectern_relay_nacks").await > 0.0,
        "the viewer's NACKs reached the relay"
    );
    bots.stop().await;
    relay.shutdown().await;
}
