import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DISCONNECTED_GRACE_MS } from "./player";
import type { ApiError } from "./protocol";
import { Publisher, summarizeOutbound } from "./publisher";
import type { PublishStatus } from "./status";
import type { Capture } from "./whip";

/** A camera or microphone track: `stop` ends it, `end` is the device going away. */
class FakeTrack {
  readyState: MediaStreamTrackState = "live";
  enabled = true;
  private ended: (() => void)[] = [];
  constructor(readonly kind: "audio" | "video") {}
  stop() {
    this.readyState = "ended";
  }
  addEventListener(_: string, fn: () => void) {
    this.ended.push(fn);
  }
  end() {
    this.readyState = "ended";
    for (const fn of this.ended) fn();
  }
}

class FakePc {
  connectionState: RTCPeerConnectionState = "new";
  iceGatheringState: RTCIceGatheringState = "complete";
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  transceivers: { kind: string; init?: RTCRtpTransceiverInit }[] = [];
  closed = false;
  onconnectionstatechange: (() => void) | null = null;

  addTransceiver(track: FakeTrack, init?: RTCRtpTransceiverInit) {
    this.transceivers.push({ kind: track.kind, init });
    return {};
  }
  async createOffer() {
    return { type: "offer", sdp: `offer-${this.transceivers.map((t) => t.kind).join("+")}` };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    this.remoteDescription = d;
  }
  addEventListener() {}
  removeEventListener() {}
  close() {
    this.closed = true;
  }
  async getStats() {
    return new Map<string, object>([
      ["v", { type: "outbound-rtp", kind: "video", framesEncoded: 30 }],
      ["a", { type: "outbound-rtp", kind: "audio", packetsSent: 50 }],
      ["i", { type: "inbound-rtp", kind: "video", framesDecoded: 9 }],
    ]);
  }
  set(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

type Reply = { status: number; body?: string; location?: string; delayMs?: number } | "offline";
type Devices = ("audio" | "video")[] | { name: string };

function setup(replies: Reply[], devices: Devices = ["audio", "video"]) {
  const pcs: FakePc[] = [];
  const tracks: FakeTrack[] = [];
  const statuses: PublishStatus[] = [];
  const errors: (ApiError | null)[] = [];
  const captures: (Capture | null)[] = [];
  const locals: (MediaStream | null)[] = [];
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchFn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    if (init.method === "DELETE") return new Response(null, { status: 200 });
    const reply = replies.shift() ?? { status: 201, body: "answer", location: "/whip/math/p1" };
    if (reply === "offline") throw new TypeError("Failed to fetch");
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const headers = reply.location ? { Location: reply.location } : undefined;
    return new Response(reply.body ?? "", { status: reply.status, headers });
  });
  const getUserMedia = vi.fn(async (c: MediaStreamConstraints) => {
    if (!Array.isArray(devices)) throw Object.assign(new Error(devices.name), { name: devices.name });
    const kinds = devices.filter((k) => c[k]);
    if (kinds.length < Object.keys(c).length) throw Object.assign(new Error("missing"), { name: "NotFoundError" });
    const made = kinds.map((k) => new FakeTrack(k));
    tracks.push(...made);
    return { getTracks: () => made } as unknown as MediaStream;
  });
  const publisher = new Publisher(
    {
      url: "http://relay:8686/whip/math",
      token: "tok",
      fetch: fetchFn as unknown as typeof fetch,
      createPeerConnection: () => {
        const pc = new FakePc();
        pcs.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
      getUserMedia,
      secure: true,
      createStream: (t) => ({ tracks: t }) as unknown as MediaStream,
      random: () => 0,
    },
    {
      status: (s) => statuses.push(s),
      error: (e) => errors.push(e),
      captured: (c) => captures.push(c),
      local: (s) => locals.push(s),
    },
  );
  const posts = () => calls.filter((c) => c.init.method === "POST");
  const deletes = () => calls.filter((c) => c.init.method === "DELETE");
  const last = () => pcs[pcs.length - 1];
  return { publisher, pcs, tracks, statuses, errors, captures, locals, posts, deletes, last, getUserMedia };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Publisher", () => {
  it("sends the camera and microphone send-only, posts the offer with the token and applies the answer", async () => {
    const { publisher, posts, last, statuses, captures, locals } = setup([]);
    publisher.start();
    await settle();
    expect(last().transceivers.map((t) => [t.kind, t.init?.direction])).toEqual([
      ["audio", "sendonly"],
      ["video", "sendonly"],
    ]);
    expect(last().transceivers[1].init?.sendEncodings).toEqual([{ maxBitrate: 800_000 }]);
    const [post] = posts();
    expect(post.url).toBe("http://relay:8686/whip/math");
    expect(post.init.headers).toEqual({ Authorization: "Bearer tok", "Content-Type": "application/sdp" });
    expect(post.init.body).toBe("offer-audio+video");
    expect(last().remoteDescription).toEqual({ type: "answer", sdp: "answer" });
    expect(statuses).toEqual(["connecting"]);
    expect(captures).toEqual([expect.objectContaining({ audio: null, video: null })]);
    expect(locals).toHaveLength(1);

    last().set("connected");
    expect(publisher.status).toBe("live");
  });

  it("ends the session with the same bearer and turns the devices off when stopped", async () => {
    const { publisher, deletes, last, tracks, locals, captures } = setup([]);
    publisher.start();
    await settle();
    last().set("connected");
    publisher.stop();
    expect(last().closed).toBe(true);
    expect(deletes().map((d) => [d.url, d.init.headers])).toEqual([
      ["http://relay:8686/whip/math/p1", { Authorization: "Bearer tok" }],
    ]);
    expect(tracks.every((t) => t.readyState === "ended")).toBe(true);
    expect(locals.at(-1)).toBeNull();
    expect(captures.at(-1)).toBeNull();
    expect(publisher.status).toBe("idle");
  });

  it("sends a keepalive DELETE when the page goes away", async () => {
    const { publisher, deletes } = setup([]);
    publisher.start();
    await settle();
    publisher.leave();
    expect(deletes()[0].init.keepalive).toBe(true);
  });

  it("reconnects with back-off on failure, keeping the same tracks", async () => {
    const { publisher, pcs, last, posts, deletes, statuses, getUserMedia } = setup([]);
    publisher.start();
    await settle();
    last().set("connected");
    last().set("failed");
    expect(pcs[0].closed).toBe(true);
    expect(deletes()).toHaveLength(1);
    expect(publisher.status).toBe("retrying");
    await vi.advanceTimersByTimeAsync(499);
    expect(posts()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts()).toHaveLength(2);
    expect(getUserMedia).toHaveBeenCalledTimes(1);
    last().set("connected");
    expect(statuses).toEqual(["connecting", "live", "retrying", "live"]);
  });

  it("gives a disconnected connection a grace period before rebuilding it", async () => {
    const { publisher, last, posts } = setup([]);
    publisher.start();
    await settle();
    last().set("connected");
    last().set("disconnected");
    await vi.advanceTimersByTimeAsync(DISCONNECTED_GRACE_MS - 1);
    last().set("connected");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(posts()).toHaveLength(1);
    expect(publisher.status).toBe("live");
  });

  it("retries a publish that overtook the stage news, and the network", async () => {
    const notOnStage = JSON.stringify({ code: "not_on_stage", message: "a student publishes only while on stage" });
    const { publisher, posts, errors } = setup([{ status: 403, body: notOnStage }, "offline"]);
    publisher.start();
    await settle();
    expect(errors.at(-1)?.code).toBe("not_on_stage");
    expect(publisher.status).toBe("connecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(errors.at(-1)?.code).toBe("network");
    await vi.advanceTimersByTimeAsync(1000);
    expect(posts()).toHaveLength(3);
  });

  it("gives up on what a retry cannot fix, and turns the camera off", async () => {
    const refused = JSON.stringify({ code: "unsupported_codec", message: "no H.264 and no Opus" });
    const { publisher, posts, tracks, errors } = setup([{ status: 422, body: refused }]);
    publisher.start();
    await settle();
    expect(publisher.status).toBe("failed");
    expect(errors.at(-1)?.code).toBe("unsupported_codec");
    expect(tracks.every((t) => t.readyState === "ended")).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts()).toHaveLength(1);
  });

  it("publishes the microphone alone when there is no camera", async () => {
    const { publisher, last, captures } = setup([], ["audio"]);
    publisher.start();
    await settle();
    expect(last().transceivers.map((t) => t.kind)).toEqual(["audio"]);
    expect(captures.at(-1)).toMatchObject({ audio: null, video: "absent" });
  });

  it("fails without a request when nothing can be captured, and says why", async () => {
    const { publisher, posts, captures, errors, pcs } = setup([], { name: "NotAllowedError" });
    publisher.start();
    await settle();
    expect(publisher.status).toBe("failed");
    expect(errors.at(-1)?.code).toBe("no_media");
    expect(captures.at(-1)).toEqual({ tracks: [], audio: "denied", video: "denied" });
    expect(posts()).toHaveLength(0);
    expect(pcs).toHaveLength(0);
  });

  it("keeps the microphone as set, across a new capture", async () => {
    const { publisher, tracks, last } = setup([]);
    publisher.setMicEnabled(false);
    publisher.start();
    await settle();
    expect(tracks.find((t) => t.kind === "audio")!.enabled).toBe(false);
    expect(tracks.find((t) => t.kind === "video")!.enabled).toBe(true);
    publisher.setMicEnabled(true);
    expect(tracks.find((t) => t.kind === "audio")!.enabled).toBe(true);

    // The devices go away (unplugged, permission taken back): capture again.
    publisher.setMicEnabled(false);
    for (const t of [...tracks]) t.end();
    await vi.advanceTimersByTimeAsync(500);
    expect(tracks).toHaveLength(4);
    expect(tracks[2].enabled).toBe(false);
    expect(last().transceivers).toHaveLength(2);
  });

  it("drops a capture that finishes after the stage was left", async () => {
    const { publisher, tracks, posts } = setup([]);
    publisher.start();
    publisher.stop();
    await settle();
    expect(tracks.every((t) => t.readyState === "ended")).toBe(true);
    expect(posts()).toHaveLength(0);
    expect(publisher.status).toBe("idle");
  });

  it("deletes a session that was answered after the stage was left", async () => {
    const { publisher, posts, deletes, last } = setup([{ status: 201, body: "answer", location: "/whip/math/p9", delayMs: 100 }]);
    publisher.start();
    await settle();
    expect(posts()).toHaveLength(1);
    publisher.stop();
    expect(deletes()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(deletes().map((d) => d.url)).toEqual(["http://relay:8686/whip/math/p9"]);
    expect(last().remoteDescription).toBeNull();
  });

  it("reports outbound counters", async () => {
    const { publisher, last } = setup([]);
    expect(await publisher.stats()).toEqual({ connectionState: "none", framesEncoded: 0, audioPacketsSent: 0 });
    publisher.start();
    await settle();
    last().set("connected");
    expect(await publisher.stats()).toEqual({ connectionState: "connected", framesEncoded: 30, audioPacketsSent: 50 });
  });
});

describe("summarizeOutbound", () => {
  it("reads mediaType from older browsers and ignores the rest", () => {
    expect(
      summarizeOutbound([
        { type: "outbound-rtp", mediaType: "video", framesEncoded: 3 },
        { type: "outbound-rtp", kind: "video", framesEncoded: 4 },
        { type: "outbound-rtp", kind: "audio" },
        null,
        "x",
      ]),
    ).toEqual({ framesEncoded: 7, audioPacketsSent: 0 });
  });
});
