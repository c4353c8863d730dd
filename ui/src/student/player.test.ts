import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DISCONNECTED_GRACE_MS, ICE_GATHERING_WAIT_MS, Player } from "./player";
import type { ApiError } from "./protocol";
import type { PlayerStatus } from "./status";
import { postOffer, summarizeStats, WhepError } from "./whep";

/** Just enough of RTCPeerConnection for the player: the test moves its states by hand. */
class FakePc {
  connectionState: RTCPeerConnectionState = "new";
  iceGatheringState: RTCIceGatheringState = "new";
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  transceivers: [string, string | undefined][] = [];
  closed = false;
  ontrack: ((e: { track: unknown }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  private listeners = new Set<() => void>();

  constructor(private readonly gathersInstantly: boolean) {}

  addTransceiver(kind: string, init?: RTCRtpTransceiverInit) {
    this.transceivers.push([kind, init?.direction]);
  }
  async createOffer() {
    return { type: "offer", sdp: `offer-${this.transceivers.map(([k]) => k).join("+")}` };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
    this.iceGatheringState = this.gathersInstantly ? "complete" : "gathering";
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    this.remoteDescription = d;
  }
  addEventListener(_: string, fn: () => void) {
    this.listeners.add(fn);
  }
  removeEventListener(_: string, fn: () => void) {
    this.listeners.delete(fn);
  }
  close() {
    this.closed = true;
  }
  async getStats() {
    return new Map<string, object>([
      ["v", { type: "inbound-rtp", kind: "video", framesDecoded: 42 }],
      ["a", { type: "inbound-rtp", kind: "audio", totalAudioEnergy: 0.5 }],
      ["c", { type: "candidate-pair", bytesReceived: 1000 }],
    ]);
  }
  set(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

type Reply = { status: number; body?: string; location?: string } | "offline";

function setup(replies: Reply[], gathersInstantly = true) {
  const pcs: FakePc[] = [];
  const statuses: PlayerStatus[] = [];
  const errors: (ApiError | null)[] = [];
  const streams: unknown[] = [];
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchFn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    if (init.method === "DELETE") return new Response(null, { status: 200 });
    const reply = replies.shift() ?? { status: 201, body: "answer", location: "/whep/math/s" };
    if (reply === "offline") throw new TypeError("Failed to fetch");
    const headers = reply.location ? { Location: reply.location } : undefined;
    return new Response(reply.body ?? "", { status: reply.status, headers });
  });
  const player = new Player(
    {
      url: "http://relay:8686/whep/math",
      token: "tok",
      fetch: fetchFn as unknown as typeof fetch,
      createPeerConnection: () => {
        const pc = new FakePc(gathersInstantly);
        pcs.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
      createStream: () => ({ addTrack: vi.fn() }) as unknown as MediaStream,
      random: () => 0,
    },
    {
      status: (s) => statuses.push(s),
      error: (e) => errors.push(e),
      stream: (s) => streams.push(s),
    },
  );
  const posts = () => calls.filter((c) => c.init.method === "POST");
  const deletes = () => calls.filter((c) => c.init.method === "DELETE");
  const last = () => pcs[pcs.length - 1];
  return { player, pcs, statuses, errors, streams, posts, deletes, last };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Player", () => {
  it("offers recvonly audio and video, posts it with the token and applies the answer", async () => {
    const { player, posts, last, statuses } = setup([]);
    player.start();
    await settle();
    expect(last().transceivers).toEqual([
      ["audio", "recvonly"],
      ["video", "recvonly"],
    ]);
    const [post] = posts();
    expect(post.url).toBe("http://relay:8686/whep/math");
    expect(post.init.headers).toEqual({ Authorization: "Bearer tok", "Content-Type": "application/sdp" });
    expect(post.init.body).toBe("offer-audio+video");
    expect(last().remoteDescription).toEqual({ type: "answer", sdp: "answer" });
    expect(statuses).toEqual(["connecting"]);
    last().set("connected");
    expect(statuses).toEqual(["connecting", "live"]);
  });

  it("waits up to 2 s for ICE gathering before posting", async () => {
    const { player, posts } = setup([], false);
    player.start();
    await vi.advanceTimersByTimeAsync(ICE_GATHERING_WAIT_MS - 1);
    expect(posts()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts()).toHaveLength(1);
  });

  it("passes tracks on in one stream", async () => {
    const { player, last, streams } = setup([]);
    player.start();
    await settle();
    last().ontrack?.({ track: "audio" });
    last().ontrack?.({ track: "video" });
    expect(streams).toHaveLength(2);
    expect(streams[0]).toBe(streams[1]);
  });

  it("tears down and offers again with back-off when the connection fails", async () => {
    const { player, pcs, posts, deletes, statuses } = setup([]);
    player.start();
    await settle();
    pcs[0].set("connected");
    pcs[0].set("failed");
    expect(pcs[0].closed).toBe(true);
    expect(deletes().map((d) => d.url)).toEqual(["http://relay:8686/whep/math/s"]);
    expect(statuses.at(-1)).toBe("retrying");
    await vi.advanceTimersByTimeAsync(499);
    expect(posts()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts()).toHaveLength(2);
    // Late events from the abandoned connection change nothing.
    pcs[0].set("connected");
    expect(statuses.at(-1)).toBe("retrying");
    pcs[1].set("connected");
    expect(statuses.at(-1)).toBe("live");
  });

  it("gives a disconnected connection 3 s to recover", async () => {
    const { player, pcs, posts } = setup([]);
    player.start();
    await settle();
    pcs[0].set("connected");
    pcs[0].set("disconnected");
    await vi.advanceTimersByTimeAsync(DISCONNECTED_GRACE_MS - 1);
    pcs[0].set("connected");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(posts()).toHaveLength(1);
    pcs[0].set("disconnected");
    await vi.advanceTimersByTimeAsync(DISCONNECTED_GRACE_MS);
    expect(pcs[0].closed).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(posts()).toHaveLength(2);
  });

  it("retries while the teacher is not found or the relay is full, backing off", async () => {
    const { player, posts, errors, statuses } = setup([
      { status: 404, body: '{"code":"not_found","message":"nobody publishing"}' },
      { status: 503, body: '{"code":"capacity","message":"full"}' },
      "offline",
    ]);
    player.start();
    await settle();
    expect(errors.at(-1)).toEqual({ code: "not_found", message: "nobody publishing" });
    await vi.advanceTimersByTimeAsync(500);
    expect(posts()).toHaveLength(2);
    expect(errors.at(-1)?.code).toBe("capacity");
    await vi.advanceTimersByTimeAsync(999);
    expect(posts()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts()).toHaveLength(3);
    expect(errors.at(-1)?.code).toBe("network");
    await vi.advanceTimersByTimeAsync(2000);
    expect(posts()).toHaveLength(4);
    expect(statuses).not.toContain("failed");
  });

  it("stops for good when the link is refused", async () => {
    const { player, posts, errors, statuses } = setup([
      { status: 401, body: '{"code":"token_expired","message":"expired"}' },
    ]);
    player.start();
    await settle();
    expect(statuses.at(-1)).toBe("failed");
    expect(errors.at(-1)).toEqual({ code: "token_expired", message: "expired" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts()).toHaveLength(1);
  });

  it("deletes the session and forgets the stream on stop", async () => {
    const { player, last, deletes, streams, statuses } = setup([]);
    player.start();
    await settle();
    player.stop();
    expect(last().closed).toBe(true);
    expect(deletes()).toHaveLength(1);
    expect(deletes()[0].init).toMatchObject({ keepalive: false, headers: { Authorization: "Bearer tok" } });
    expect(streams.at(-1)).toBeNull();
    expect(statuses.at(-1)).toBe("idle");
  });

  it("leaves with a keepalive DELETE", async () => {
    const { player, deletes } = setup([]);
    player.start();
    await settle();
    player.leave();
    expect(deletes()[0].init).toMatchObject({ method: "DELETE", keepalive: true });
  });

  it("never posts an offer abandoned while gathering", async () => {
    const { player, posts } = setup([], false);
    player.start();
    await vi.advanceTimersByTimeAsync(100);
    player.stop();
    await vi.advanceTimersByTimeAsync(ICE_GATHERING_WAIT_MS);
    expect(posts()).toHaveLength(0);
  });

  it("reports counters from getStats", async () => {
    const { player, last } = setup([]);
    expect(await player.stats()).toEqual({ framesDecoded: 0, audioEnergy: 0, connectionState: "none" });
    player.start();
    await settle();
    last().set("connected");
    expect(await player.stats()).toEqual({ framesDecoded: 42, audioEnergy: 0.5, connectionState: "connected" });
  });

  it("hands over the raw stats entries of its connection, none without one", async () => {
    const { player } = setup([]);
    expect(await player.report()).toEqual([]);
    player.start();
    await settle();
    expect(await player.report()).toContainEqual({ type: "inbound-rtp", kind: "audio", totalAudioEnergy: 0.5 });
  });
});

describe("postOffer", () => {
  const reply = (status: number, body: string, headers?: Record<string, string>) =>
    (async () => new Response(body, { status, headers })) as unknown as typeof fetch;

  it("resolves the session against the endpoint", async () => {
    const created = reply(201, "sdp", { Location: "/whep/math/abc" });
    const answer = await postOffer(created, "https://r.example/whep/math", "t", "o");
    expect(answer).toEqual({ sdp: "sdp", session: "https://r.example/whep/math/abc" });
  });

  it("throws the relay's {code, message}, or a code made from the status", async () => {
    const refused = postOffer(reply(403, '{"code":"wrong_room","message":"x"}'), "http://r/whep/m", "t", "o");
    await expect(refused).rejects.toEqual(new WhepError({ code: "wrong_room", message: "x" }, 403));
    const proxy = postOffer(reply(502, "<html>bad gateway</html>"), "http://r/whep/m", "t", "o");
    await expect(proxy).rejects.toMatchObject({ error: { code: "internal" }, status: 502 });
    const odd = postOffer(reply(415, ""), "http://r/whep/m", "t", "o");
    await expect(odd).rejects.toMatchObject({ error: { code: "http_415" } });
  });
});

describe("summarizeStats", () => {
  it("reads inbound video frames and audio energy, 0 when absent", () => {
    expect(summarizeStats([])).toEqual({ framesDecoded: 0, audioEnergy: 0 });
    expect(
      summarizeStats([
        { type: "inbound-rtp", kind: "video", framesDecoded: 10 },
        { type: "inbound-rtp", mediaType: "audio", totalAudioEnergy: 1.25 },
        { type: "inbound-rtp", kind: "audio" },
        { type: "outbound-rtp", kind: "video", framesEncoded: 99 },
        null,
      ]),
    ).toEqual({ framesDecoded: 10, audioEnergy: 1.25 });
  });
});
