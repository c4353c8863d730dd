//! The 1v6 stage across protocols: the teacher invites students who raised their hand;
//! one goes on stage from a browser-like WebRTC peer (WHIP, an `rtc` bot), two from
//! mini-programs (RTMP, ffmpeg as `live-pusher`), three more just take their places.
//! The teacher's side (WHEP viewers, as the console subscribes) receives audio and video
//! from all three publishers, the room hears each with its transport, and a seventh
//! invitation is refused with a clear message while the six stay on stage.

use futures_util::{SinkExt, StreamExt};
use lectern_e2e::bot::Role as BotRole;
use lectern_e2e::relay::{Bots, start_with_rtmp, token, wait_until};
use lectern_proto::Role;
use lectern_relay::Relay;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
const ROOM: &str = "biology";

async fn connect(relay: &Relay, token: &str) -> Ws {
    let url = format!("ws://{}/ws/{ROOM}?token={token}", relay.http_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of(&mut ws, "welcome").await;
    ws
}

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
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

async fn say(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

fn pusher(url: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15"])
        .args(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"])
        .args([
            "-t",
            "60",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-profile:v", "baseline", "-g", "15", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-ar", "48000", "-ac", "1", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ffmpeg runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_on_stage_by_whip_and_rtmp_reach_the_teacher_and_a_seventh_is_refused() {
    if Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: ffmpeg not installed");
        return;
    }
    let relay = start_with_rtmp().await;
    let mut teacher = connect(&relay, &token(&relay, ROOM, "teacher", Role::Teacher)).await;
    let names: Vec<String> = (1..=7).map(|i| format!("s{i}")).collect();
    let mut students = Vec::new();
    for n in &names {
        students.push(connect(&relay, &token(&relay, ROOM, n, Role::Student)).await);
    }
    // Six invitations, six acceptances.
    for (i, ws) in students.iter_mut().take(6).enumerate() {
        say(
            &mut teacher,
            json!({"v": 1, "type": "invite", "peer": names[i]}),
        )
        .await;
        next_of(ws, "invited").await;
        say(ws, json!({"v": 1, "type": "answer_invite", "accept": true})).await;
        let answered = next_of(&mut teacher, "invite_answered").await;
        assert_eq!(answered["accept"], true);
    }
    // The seventh is refused with a clear message, to the teacher.
    say(
        &mut teacher,
        json!({"v": 1, "type": "invite", "peer": "s7"}),
    )
    .await;
    let refused = next_of(&mut teacher, "error").await;
    assert_eq!(refused["code"], "stage_full", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains('6'),
        "the message says how many: {refused}"
    );

    // s1 publishes over WebRTC, s2 and s3 over RTMP.
    let mut bots = Bots::new();
    bots.spawn(
        &relay,
        ROOM,
        token(&relay, ROOM, "s1", Role::Student),
        BotRole::Publish { video_kbps: 300 },
    );
    let rtmp = relay.rtmp_addr().unwrap();
    let mut pushers: Vec<Child> = ["s2", "s3"]
        .iter()
        .map(|s| {
            pusher(&format!(
                "rtmp://{rtmp}/{ROOM}/{s}?token={}",
                token(&relay, ROOM, s, Role::Student)
            ))
        })
        .collect();
    let mut transports = std::collections::HashMap::new();
    while transports.len() < 3 {
        let added = next_of(&mut teacher, "publisher_added").await;
        let p = &added["publisher"];
        transports.insert(
            p["peer"].as_str().unwrap().to_owned(),
            p["transport"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(transports["s1"], "whip");
    assert_eq!(
        (transports["s2"].as_str(), transports["s3"].as_str()),
        ("rtmp", "rtmp")
    );

    // The teacher's console subscribes to each of them.
    let watching: Vec<_> = ["s1", "s2", "s3"]
        .iter()
        .map(|s| {
            bots.spawn(
                &relay,
                ROOM,
                token(&relay, ROOM, "teacher", Role::Teacher),
                BotRole::Subscribe {
                    peer: Some((*s).to_owned()),
                    pli_every: None,
                    light: false,
                },
            )
        })
        .collect();
    wait_until(
        "the teacher receives all three",
        Duration::from_secs(20),
        || {
            watching.iter().all(|w| {
                w.video_packets.load(Relaxed) > 30
                    && w.audio_packets.load(Relaxed) > 50
                    && w.keyframes.load(Relaxed) > 0
            })
        },
    )
    .await;
    for (s, w) in ["s1", "s2", "s3"].iter().zip(&watching) {
        eprintln!(
            "{s}: {} video packets ({} keyframe starts), {} audio packets",
            w.video_packets.load(Relaxed),
            w.keyframes.load(Relaxed),
            w.audio_packets.load(Relaxed)
        );
        assert!(
            w.first_video_was_keyframe.load(Relaxed),
            "{s} starts on a keyframe"
        );
    }
    for p in &mut pushers {
        let _ = p.kill();
        let _ = p.wait();
    }
    bots.stop().await;
    relay.shutdown().await;
}
