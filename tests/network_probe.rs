//! The self-check's network probe against a loopback relay through the seeded
//! impairment proxy: what the link was made to do is what the probe reports, UDP
//! dropped entirely falls back to TCP, and a relay that is not there is a blocker.

use lectern_client::netprobe::{self, Plan, ProbeTarget};
use lectern_client::selfcheck::{self, NetworkCheck};
use lectern_e2e::impair::{Impairment, UdpProxy};
use lectern_e2e::relay::start_loopback;
use lectern_media::synthetic::Faults;
use lectern_media::{CaptureSession, Devices, MediaClock};
use lectern_proto::{
    DeviceSelection, FindingCode, NetworkStats, NetworkTransport, Severity, Stage, VideoMode,
};
use std::time::Duration;

async fn probe(target: &ProbeTarget) -> NetworkStats {
    let mut quiet = |_| {};
    netprobe::run(target, Plan::default(), &mut quiet)
        .await
        .expect("the relay offers the probe")
}

fn print(what: &str, s: &NetworkStats) {
    println!(
        "{what}: {:?} rtt p50 {:?} p95 {:?} ms, jitter {:?} ms, loss up {:?} % down {:?} %, upload {:?} kbit/s (ceiling {}), {} samples",
        s.transport,
        s.rtt_p50_ms,
        s.rtt_p95_ms,
        s.jitter_ms,
        s.loss_percent,
        s.loss_down_percent,
        s.upload_kbps,
        s.upload_at_ceiling,
        s.samples
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_loss_and_fifty_ms_are_measured() {
    let relay = start_loopback().await;
    let one_way = Impairment {
        delay: Duration::from_millis(25),
        ..Impairment::default()
    };
    let up = Impairment {
        loss: 0.10,
        ..one_way.clone()
    };
    let proxy = UdpProxy::start(relay.media_addr(), up, one_way, 11)
        .await
        .expect("proxy");
    let target = ProbeTarget {
        base_url: format!("http://{}", relay.http_addr()),
        token: None,
        udp_addr: Some(proxy.addr()),
    };
    let s = probe(&target).await;
    print("10 % up loss, 25 ms each way", &s);
    assert_eq!(s.transport, NetworkTransport::Udp);
    let rtt = s.rtt_p50_ms.unwrap();
    assert!((49.0..=80.0).contains(&rtt), "rtt p50 {rtt}");
    assert!(s.rtt_p95_ms.unwrap() < 150.0, "{s:?}");
    let loss = s.loss_percent.unwrap();
    assert!((6.0..=14.0).contains(&loss), "up loss {loss}");
    assert!(s.loss_down_percent.unwrap() <= 8.0, "{s:?}");
    assert!(s.upload_kbps.unwrap() >= 2000, "{s:?}");
    let codes: Vec<FindingCode> = netprobe::findings(&s).iter().map(|f| f.code).collect();
    assert!(codes.contains(&FindingCode::NetworkLoss), "{codes:?}");
    assert!(!codes.contains(&FindingCode::NetworkOk));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_loopback_is_ok() {
    let relay = start_loopback().await;
    let target = ProbeTarget {
        base_url: format!("http://{}", relay.http_addr()),
        ..ProbeTarget::default()
    };
    let s = probe(&target).await;
    print("loopback", &s);
    assert_eq!(s.transport, NetworkTransport::Udp);
    assert!(s.rtt_p50_ms.unwrap() < 20.0, "{s:?}");
    assert!(s.loss_percent.unwrap() < 1.0, "{s:?}");
    assert!(s.upload_at_ceiling, "{s:?}");
    let codes: Vec<FindingCode> = netprobe::findings(&s).iter().map(|f| f.code).collect();
    assert_eq!(codes, vec![FindingCode::NetworkOk]);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_dropped_entirely_falls_back_to_tcp() {
    let relay = start_loopback().await;
    let proxy = UdpProxy::start(
        relay.media_addr(),
        Impairment::loss(1.0),
        Impairment::default(),
        12,
    )
    .await
    .expect("proxy");
    let target = ProbeTarget {
        base_url: format!("http://{}", relay.http_addr()),
        token: None,
        udp_addr: Some(proxy.addr()),
    };
    let started = std::time::Instant::now();
    let s = probe(&target).await;
    print("UDP dropped", &s);
    assert_eq!(s.transport, NetworkTransport::TcpOnly);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up on UDP in ~2 s"
    );
    assert!(s.rtt_p50_ms.is_some() && s.upload_kbps.is_some(), "{s:?}");
    assert_eq!(s.loss_percent, None, "TCP hides loss");
    let f = netprobe::findings(&s);
    assert_eq!(f[0].code, FindingCode::NetworkTcpOnly);
    assert_eq!(f[0].severity, Severity::Warning);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_relay_that_is_not_there_blocks() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = ProbeTarget {
        base_url: format!("http://127.0.0.1:{port}"),
        ..ProbeTarget::default()
    };
    let s = probe(&target).await;
    assert_eq!(s.transport, NetworkTransport::Unreachable);
    let f = netprobe::findings(&s);
    assert_eq!(f[0].code, FindingCode::NetworkUnreachable);
    assert_eq!(f[0].severity, Severity::Blocker);
}

/// The whole check on synthetic devices with the network stage: it runs after the
/// encoder, the report carries the figures, and the verdict counts them.
#[tokio::test(flavor = "multi_thread")]
async fn the_self_check_runs_the_network_stage_last() {
    let relay = start_loopback().await;
    let devices = Devices::synthetic_only(Faults::default());
    let selection = DeviceSelection::default();
    let session = {
        let (d, s) = (devices.clone(), selection.clone());
        tokio::task::spawn_blocking(move || {
            CaptureSession::open(&d, &s, VideoMode::HD_30, MediaClock::start())
        })
        .await
        .unwrap()
    };
    let options = lectern_media::selfcheck::Options {
        seconds: 2.0,
        encoder_frames: 6,
        ..Default::default()
    };
    let network = NetworkCheck::Relay(ProbeTarget {
        base_url: format!("http://{}", relay.http_addr()),
        ..ProbeTarget::default()
    });
    let mut stages = Vec::new();
    let mut last = 0.0f32;
    let mut record = |p: lectern_proto::SelfCheckProgress| {
        assert!(p.fraction + 1e-6 >= last, "progress only moves forward");
        last = p.fraction;
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
    };
    let report = selfcheck::run(
        &devices,
        &session,
        &selection,
        &options,
        &network,
        &mut record,
    )
    .await;
    assert_eq!(
        stages,
        vec![
            Stage::Devices,
            Stage::CameraAndMicrophone,
            Stage::Speakers,
            Stage::Encoder,
            Stage::Network,
            Stage::Done
        ]
    );
    let net = report.network.as_ref().expect("network figures");
    assert_eq!(net.transport, NetworkTransport::Udp);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == FindingCode::NetworkOk),
        "{:?}",
        report.findings
    );
    let down = selfcheck::run(
        &devices,
        &session,
        &selection,
        &options,
        &NetworkCheck::Down("the relay inside Lectern".into()),
        &mut |_| {},
    )
    .await;
    assert_eq!(down.verdict, lectern_proto::Verdict::NotReady);
    assert_eq!(down.findings[0].code, FindingCode::NetworkUnreachable);
    relay.shutdown().await;
}
