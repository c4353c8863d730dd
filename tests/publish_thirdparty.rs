//! The console's WHIP client against a WHIP server that is not ours: GStreamer's
//! `webrtcbin` (libnice ICE, its own DTLS-SRTP) behind a small Python HTTP front that
//! speaks WHIP (RFC 9725: POST offer → 201 answer with every candidate and a Location,
//! DELETE to end). It decodes what arrives with GStreamer's own H.264 and Opus decoders,
//! so the test sees what a third party makes of our stream, not what our relay does.
//!
//! Needs the same packages as `relay_thirdparty.rs`, plus the openh264 GStreamer decoder
//! from the bad plugins; `cargo xtask test` installs and runs it.

use lectern_e2e::class::Teacher;
use lectern_e2e::script::Script;
use lectern_proto::{ErrorCode, PublishState, VideoMode};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The WHIP server, run as `python3 -c SERVER TOKEN`. Prints `LISTEN <port>` once it
/// listens on 127.0.0.1; serves `POST /whip`, `DELETE /whip/session/N` and `GET /stats`
/// (what it decoded, as JSON). One session at a time, the newest replacing the older.
const SERVER: &str = r#"
import array, ctypes, json, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice

TOKEN = sys.argv[1]
T0 = time.monotonic()
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the test

def log(msg):
    print(f"[{time.monotonic() - T0:6.3f}] {msg}", file=sys.stderr, flush=True)

Gst.init(None)
loop = GLib.MainLoop()
lock = threading.Lock()
stats = {"sessions": 0, "deleted": 0, "video_frames": 0, "width": 0, "height": 0,
         "audio_buffers": 0, "audio_peak": 0.0, "rtp_caps": [], "connection": "new"}
current = {"pipeline": None, "id": 0}

def video_sample(sink):
    sample = sink.emit("pull-sample")
    s = sample.get_caps().get_structure(0)
    with lock:
        stats["video_frames"] += 1
        stats["width"] = s.get_value("width")
        stats["height"] = s.get_value("height")
    return Gst.FlowReturn.OK

def audio_sample(sink):
    sample = sink.emit("pull-sample")
    buf = sample.get_buffer()
    ok, info = buf.map(Gst.MapFlags.READ)
    if ok:
        pcm = array.array("h", bytes(info.data))
        buf.unmap(info)
        peak = max((abs(v) for v in pcm), default=0) / 32768.0
        with lock:
            stats["audio_buffers"] += 1
            stats["audio_peak"] = max(stats["audio_peak"], peak)
    return Gst.FlowReturn.OK

def add_chain(pipeline, pad, description, callback):
    chain = Gst.parse_bin_from_description(description, True)
    pipeline.add(chain)
    chain.sync_state_with_parent()
    chain.get_by_name("out").connect("new-sample", callback)
    pad.link(chain.get_static_pad("sink"))

def decoded_pad(pipeline, pad):
    name = pad.get_current_caps().get_structure(0).get_name()
    log(f"decoded {name}")
    if name.startswith("video/"):
        add_chain(pipeline, pad, "queue ! videoconvert ! appsink name=out emit-signals=true sync=false", video_sample)
    elif name.startswith("audio/"):
        add_chain(pipeline, pad, "queue ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1 "
                  "! appsink name=out emit-signals=true sync=false", audio_sample)

def rtp_pad(pipeline, pad):
    if pad.direction != Gst.PadDirection.SRC:
        return
    caps = pad.get_current_caps().to_string()
    log(f"incoming {caps}")
    with lock:
        stats["rtp_caps"].append(caps)
    decode = Gst.ElementFactory.make("decodebin")
    decode.connect("pad-added", lambda _d, p: decoded_pad(pipeline, p))
    pipeline.add(decode)
    decode.sync_state_with_parent()
    pad.link(decode.get_static_pad("sink"))

def answer_offer(offer_text, reply):
    if current["pipeline"] is not None:
        current["pipeline"].set_state(Gst.State.NULL)
    pipeline = Gst.Pipeline.new()
    pc = Gst.ElementFactory.make("webrtcbin", "pc")
    pc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipeline.add(pc)
    # libnice leaves loopback out of its candidates: add it, as for the publisher.
    ice = pc.get_property("ice-agent")
    ice.set_property("ice-tcp", False)
    agent = ice.get_property("agent")
    agent.set_property("upnp", False)
    loopback = Nice.Address.new()
    loopback.set_from_string("127.0.0.1")
    agent.add_local_address(loopback)
    # PyGObject drops a reference it does not own when the "ice-agent" wrapper dies,
    # which frees webrtcbin's ICE agent: keep the wrapper for the session's life.
    current["ice"] = ice
    pc.connect("pad-added", lambda _pc, pad: rtp_pad(pipeline, pad))
    def on_state(_pc, spec):
        value = pc.get_property(spec.name).value_nick
        log(f"{spec.name} {value}")
        if spec.name == "connection-state":
            with lock:
                stats["connection"] = value
    for prop in ("ice-connection-state", "connection-state"):
        pc.connect(f"notify::{prop}", on_state)
    def on_gathering(_pc, _spec):
        if pc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            reply["answer"] = pc.get_property("local-description").sdp.as_text()
            reply["done"].set()
    pc.connect("notify::ice-gathering-state", on_gathering)
    def on_answer(promise):
        # Hold the reply while reading it: a temporary's wrapper frees the structure the
        # promise still owns. A fresh description from its text, not the reply's own.
        reply_ = promise.get_reply()
        answer = reply_.get_value("answer")
        _, sdp = GstSdp.SDPMessage.new_from_text(answer.sdp.as_text())
        pc.emit("set-local-description",
                GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp), None)
    def on_remote_set(_promise):
        pc.emit("create-answer", None, Gst.Promise.new_with_change_func(on_answer))
    pipeline.set_state(Gst.State.PLAYING)
    ok, sdp = GstSdp.SDPMessage.new_from_text(offer_text)
    if ok != GstSdp.SDPResult.OK:
        reply["error"] = "the offer does not parse"
        reply["done"].set()
        return False
    offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
    pc.emit("set-remote-description", offer, Gst.Promise.new_with_change_func(on_remote_set))
    current["pipeline"] = pipeline
    current["id"] += 1
    return False

def end_session():
    if current["pipeline"] is not None:
        current["pipeline"].set_state(Gst.State.NULL)
        current["pipeline"] = None
    return False

class Whip(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        log("http " + fmt % args)

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/stats":
            return self.reply(404)
        with lock:
            body = json.dumps(stats).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/whip":
            return self.reply(404)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, b"unauthorized")
        if not self.headers.get("Content-Type", "").startswith("application/sdp"):
            return self.reply(415)
        log("offer:\n" + body.decode())
        reply = {"done": threading.Event()}
        GLib.idle_add(answer_offer, body.decode(), reply)
        if not reply["done"].wait(10) or "answer" not in reply:
            return self.reply(500, reply.get("error", "no answer").encode())
        with lock:
            stats["sessions"] += 1
        log("answer:\n" + reply["answer"])
        self.reply(201, reply["answer"].encode(), [
            ("Content-Type", "application/sdp"),
            ("Location", f"/whip/session/{current['id']}"),
        ])

    def do_DELETE(self):
        if self.path != f"/whip/session/{current['id']}":
            return self.reply(404)
        GLib.idle_add(end_session)
        with lock:
            stats["deleted"] += 1
        self.reply(200)

    def do_PATCH(self):
        self.reply(405)

server = ThreadingHTTPServer(("127.0.0.1", 0), Whip)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"LISTEN {server.server_address[1]}", flush=True)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
end_session()
"#;

const TOKEN: &str = "whip-server-token";

/// What the server decoded so far.
async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/stats"))
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON stats")
}

/// Polls the server's stats until `f` holds; panics after `timeout`.
async fn wait_stats(
    base: &str,
    server: &mut Script,
    what: &str,
    timeout: Duration,
    f: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        server.assert_running();
        let s = stats(base).await;
        if f(&s) {
            return s;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out waiting for {what}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs GStreamer webrtcbin and python3-gi (cargo xtask test runs it)"]
async fn thirdparty_the_console_publishes_to_a_gstreamer_whip_server() {
    let mut server = Script::python(SERVER, &[TOKEN]);
    let line = server.read_line();
    let port = line.strip_prefix("LISTEN ").expect("LISTEN <port>");
    let base = format!("http://127.0.0.1:{port}");
    let whip = format!("{base}/whip");
    let mode = VideoMode {
        width: 640,
        height: 360,
        fps: 30,
    };

    // A wrong token: the client gives up with a clear error instead of retrying forever.
    let refused = Teacher::start(whip.clone(), "wrong".into(), mode);
    let status = refused
        .wait_for(PublishState::Failed, Duration::from_secs(10))
        .await;
    assert_eq!(
        status.error.map(|e| e.code),
        Some(ErrorCode::Unauthorized),
        "a 401 is a token problem"
    );
    refused.live.stop().await;

    let teacher = Teacher::start(whip, TOKEN.into(), mode);
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(20))
        .await;
    let first = wait_stats(
        &base,
        &mut server,
        "decoded video and audio",
        Duration::from_secs(20),
        |s| num(s, "video_frames") >= 30.0 && num(s, "audio_buffers") >= 25.0,
    )
    .await;
    // webrtcbin saw H.264 and Opus, and decoded the camera's size.
    let caps = first["rtp_caps"].to_string();
    assert!(caps.contains("H264") && caps.contains("OPUS"), "{caps}");
    assert_eq!(
        (num(&first, "width"), num(&first, "height")),
        (640.0, 360.0)
    );
    // The synthetic microphone's tone arrives with real energy (not silence, not DTX).
    assert!(num(&first, "audio_peak") > 0.05, "{first}");
    // Frames keep coming at the camera's rate: ~60 in two seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = stats(&base).await;
    let frames = num(&later, "video_frames") - num(&first, "video_frames");
    assert!(
        frames > 40.0,
        "{frames} frames decoded in 2 s ({first} then {later})"
    );
    assert_eq!(later["connection"], "connected");
    assert_eq!(num(&later, "sessions"), 1.0, "one session, no reconnects");
    // webrtcbin's answer has no flexfec-03: no repair packets are sent to it.
    let published = teacher.live.publisher().stats().borrow().clone();
    assert_eq!(published.fec_kbps, 0.0, "{published:?}");

    // Ending the class DELETEs the session.
    teacher.live.stop().await;
    let ended = wait_stats(
        &base,
        &mut server,
        "the DELETE",
        Duration::from_secs(5),
        |s| num(s, "deleted") >= 1.0,
    )
    .await;
    eprintln!("gstreamer WHIP server decoded: {ended}");
    server.stop(Duration::from_secs(10)).await;
}
