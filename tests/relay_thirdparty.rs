//! A third-party WHIP publisher into the relay: GStreamer's `webrtcbin` (libnice ICE,
//! its own DTLS-SRTP, x264 and Opus) publishes a test pattern and a tone, and two `rtc`
//! bots watch it through WHEP.
//!
//! The publisher is a short Python script driving `webrtcbin` through GObject
//! introspection, not Debian's `simple-whip-client`: on Debian 12 that binary links
//! libsoup 2 while libnice pulls in libsoup 3 (through gupnp-igd), and it aborts
//! ("Using libsoup2 and libsoup3 in the same process is not supported") as soon as it
//! creates `webrtcbin`, before it sends anything. Same GStreamer stack, same WHIP
//! exchange (one POST with every candidate in the offer, DELETE on the way out).
//!
//! Needs `python3-gi`, `gir1.2-gst-plugins-bad-1.0`, `gir1.2-nice-0.1`,
//! `gstreamer1.0-nice` and the base/good/bad/ugly plugins; `cargo xtask test` runs it.

use lectern_e2e::bot::{self, BotStats, Role as BotRole, Target};
use lectern_e2e::script::Script;
use lectern_proto::Role;
use lectern_relay::Relay;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use lectern_e2e::relay::{start_loopback as start_relay, token};

/// Video as a browser sends it: constrained baseline, SPS and PPS in band before every
/// IDR, and keyframes only when asked (a GOP of 100 s, like Chrome's), so every
/// subscriber's first picture depends on the relay's PLI reaching x264 through
/// webrtcbin. Packetized the default way: parameter sets aggregated in STAP-A, large
/// NAL units split into FU-A.
const VIDEO: &str = "videotestsrc is-live=true pattern=ball \
    ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert ! queue \
    ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=3000 \
    ! video/x-h264,profile=constrained-baseline \
    ! rtph264pay config-interval=-1 aggregate-mode=zero-latency pt=102 \
    ! application/x-rtp,media=video,encoding-name=H264,payload=102";

const AUDIO: &str = "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample \
    ! queue ! opusenc ! rtpopuspay pt=111 \
    ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111";

/// The WHIP client, run as `python3 -c PUBLISHER URL TOKEN VIDEO AUDIO` ([`Script`]). It logs to
/// stderr, publishes until SIGTERM, then DELETEs its session; it dies with its parent.
const PUBLISHER: &str = r#"
import ctypes, signal, sys, time, urllib.error, urllib.parse, urllib.request
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice

URL, TOKEN, VIDEO, AUDIO = sys.argv[1:5]
T0 = time.monotonic()
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the test

def log(msg):
    print(f"[{time.monotonic() - T0:6.3f}] {msg}", file=sys.stderr, flush=True)

Gst.init(None)
pipeline = Gst.parse_launch(f"webrtcbin name=pc bundle-policy=max-bundle {VIDEO} ! pc. {AUDIO} ! pc.")
pc = pipeline.get_by_name("pc")
# libnice leaves loopback out of its candidates and pins each UDP socket to its
# interface (IP_UNICAST_IF), so no gathered candidate could reach a relay on 127.0.0.1.
ice = pc.get_property("ice-agent")
ice.set_property("ice-tcp", False)
agent = ice.get_property("agent")
agent.set_property("upnp", False)
loopback = Nice.Address.new()
loopback.set_from_string("127.0.0.1")
agent.add_local_address(loopback)

loop = GLib.MainLoop()
state = {"resource": None, "code": 0}

def fail(msg):
    log(f"FAILED: {msg}")
    state["code"] = 1
    loop.quit()

def http(method, url, body=None, content_type=None):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers, resp.read().decode()

def publish():
    # Gathering is complete, so the description carries every candidate: no trickle.
    offer = pc.get_property("local-description").sdp.as_text()
    log("offer:\n" + offer)
    try:
        status, headers, answer = http("POST", URL, offer.encode(), "application/sdp")
    except (urllib.error.URLError, OSError) as e:
        body = e.read().decode() if isinstance(e, urllib.error.HTTPError) else ""
        return fail(f"POST {URL}: {e} {body}")
    if status != 201 or not headers.get("Location"):
        return fail(f"POST {URL}: {status}, Location {headers.get('Location')}")
    state["resource"] = urllib.parse.urljoin(URL, headers["Location"])
    log(f"201 Created {state['resource']}, answer:\n{answer}")
    ok, sdp = GstSdp.SDPMessage.new_from_text(answer)
    if ok != GstSdp.SDPResult.OK:
        return fail("the answer does not parse")
    answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
    pc.emit("set-remote-description", answer, None)

def on_offer(promise):
    reply = promise.get_reply()
    offer = reply.get_value("offer") if reply else None
    if offer is None or offer.sdp is None:
        return GLib.idle_add(fail, f"create-offer: {reply}")
    # A fresh description from text: the promise's reply may be freed before webrtcbin
    # copies it.
    _, sdp = GstSdp.SDPMessage.new_from_text(offer.sdp.as_text())
    offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
    pc.emit("set-local-description", offer, None)

def on_negotiation_needed(_pc):
    log("negotiation needed")
    pc.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer))

def on_gathering(_pc, _spec):
    if pc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
        GLib.idle_add(publish)

def on_state(_pc, spec):
    value = pc.get_property(spec.name).value_nick
    log(f"{spec.name} {value}")
    if value == "failed":
        GLib.idle_add(fail, f"{spec.name} failed")

def on_message(_bus, message):
    if message.type == Gst.MessageType.ERROR:
        err, debug = message.parse_error()
        fail(f"{err.message} ({debug})")

def stop():
    log("stopping")
    if state["resource"]:
        try:
            status, _, _ = http("DELETE", state["resource"])
            log(f"DELETE {status}")
        except (urllib.error.URLError, OSError) as e:
            log(f"DELETE failed: {e}")
    loop.quit()

pc.connect("on-negotiation-needed", on_negotiation_needed)
pc.connect("notify::ice-gathering-state", on_gathering)
for prop in ("ice-connection-state", "connection-state"):
    pc.connect(f"notify::{prop}", on_state)
bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
pipeline.set_state(Gst.State.PLAYING)
loop.run()
pipeline.set_state(Gst.State.NULL)
sys.exit(state["code"])
"#;

struct Bots {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Bots {
    fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    fn subscribe(&mut self, relay: &Relay, room: &str, token: String) -> Arc<BotStats> {
        let stats = Arc::new(BotStats::default());
        let target = Target {
            base: format!("http://{}", relay.http_addr()),
            room: room.into(),
            token,
        };
        let role = BotRole::Subscribe {
            peer: None,
            pli_every: None,
            light: false,
        };
        self.tasks.push(tokio::spawn(bot::run(
            target,
            role,
            stats.clone(),
            self.stop.subscribe(),
        )));
        stats
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.expect("bot task").expect("bot ran cleanly");
        }
    }
}

/// Waits until `f` holds, checking the publisher is still alive; returns how long it took.
async fn wait_until(
    what: &str,
    timeout: Duration,
    publisher: &mut Script,
    mut f: impl FnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    while !f() {
        publisher.assert_running();
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs GStreamer webrtcbin and python3-gi (cargo xtask test runs it)"]
async fn thirdparty_gstreamer_publishes_over_whip_to_two_subscribers() {
    let relay = start_relay().await;
    let metrics = relay.metrics().clone();
    let url = format!("http://{}/whip/math", relay.http_addr());
    let teacher = token(&relay, "math", "teacher", Role::Teacher);
    let mut publisher = Script::python(PUBLISHER, &[&url, &teacher, VIDEO, AUDIO]);

    let connected = wait_until(
        "the publisher's media",
        Duration::from_secs(20),
        &mut publisher,
        || metrics.publishers.load(Relaxed) == 1 && metrics.rtp_in_packets.load(Relaxed) > 50,
    )
    .await;
    assert_eq!(
        metrics.tracks.load(Relaxed),
        2,
        "one audio and one video track"
    );
    eprintln!("publisher: media flowing {connected:?} after spawn");

    let mut bots = Bots::new();
    let subs: Vec<_> = (0..2)
        .map(|i| {
            bots.subscribe(
                &relay,
                "math",
                token(&relay, "math", &format!("s{i}"), Role::Student),
            )
        })
        .collect();
    // With a 100 s GOP only a keyframe the relay asked for can start a subscriber.
    let first_video = wait_until(
        "every subscriber's first keyframe",
        Duration::from_secs(15),
        &mut publisher,
        || subs.iter().all(|s| s.keyframes.load(Relaxed) >= 1),
    )
    .await;
    eprintln!("subscribers: first keyframe {first_video:?} after subscribing");
    for (i, s) in subs.iter().enumerate() {
        assert!(
            s.first_video_was_keyframe.load(Relaxed),
            "subscriber {i}: the relay let a delta frame through before the keyframe"
        );
    }

    let window = Duration::from_secs(3);
    let before: Vec<(u64, u64)> = subs
        .iter()
        .map(|s| (s.video_packets.load(Relaxed), s.audio_packets.load(Relaxed)))
        .collect();
    tokio::time::sleep(window).await;
    publisher.assert_running();
    for (i, (s, (video, audio))) in subs.iter().zip(before).enumerate() {
        let video = s.video_packets.load(Relaxed) - video;
        let audio = s.audio_packets.load(Relaxed) - audio;
        eprintln!(
            "subscriber {i}: {video} video and {audio} audio packets in {window:?}, \
             {} keyframe packets, {} lost",
            s.keyframes.load(Relaxed),
            s.lost.load(Relaxed),
        );
        // 30 frames and 50 Opus packets a second.
        assert!(
            video >= 45,
            "subscriber {i}: {video} video packets in {window:?}"
        );
        assert!(
            audio >= 75,
            "subscriber {i}: {audio} audio packets in {window:?}"
        );
        assert_eq!(s.lost.load(Relaxed), 0, "nothing is lost on loopback");
    }
    assert_eq!(metrics.subscribers.load(Relaxed), 2);
    assert!(
        metrics.plis_forwarded.load(Relaxed) >= 1,
        "the relay asked the publisher for a keyframe"
    );

    bots.stop().await;
    // SIGTERM: the client DELETEs its session, and the relay lets it go.
    publisher.stop(Duration::from_secs(10)).await;
    assert_eq!(metrics.publishers.load(Relaxed), 0);
    relay.shutdown().await;
}
