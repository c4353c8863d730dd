import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKOFF_FIRST_MS } from "./backoff";
import type { PeerId } from "./protocol";
import type { StagePlayback } from "./stagePeers";
import { LEVEL_POLL_MS, StageWatch } from "./stageWatch";

/** Just enough of RTCPeerConnection for a watch: the test moves its state and audio by hand. */
class FakePc {
  connectionState: RTCPeerConnectionState = "new";
  iceGatheringState: RTCIceGatheringState = "complete";
  localDescription: { type: string; sdp: string } | null = null;
  closed = false;
  ontrack: ((e: { track: unknown }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  /** inbound audio `totalAudioEnergy` / `totalSamplesDuration` so far. */
  energy = 0;
  duration = 0;
  addTransceiver() {}
  async createOffer() {
    return { type: "offer", sdp: "offer" };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription() {}
  addEventListener() {}
  removeEventListener() {}
  close() {
    this.closed = true;
  }
  async getStats() {
    return new Map<string, object>([
      ["v", { type: "inbound-rtp", kind: "video", framesDecoded: 30 }],
      ["a", { type: "inbound-rtp", kind: "audio", totalAudioEnergy: this.energy, totalSamplesDuration: this.duration }],
    ]);
  }
  set(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
  /** Plays `seconds` of audio at RMS `level`. */
  play(level: number, seconds: number) {
    this.energy += level * level * seconds;
    this.duration += seconds;
  }
}

type Reply = { status: number; body?: string };

function setup(replies: Reply[] = []) {
  const pcs: FakePc[] = [];
  const calls: { url: string; method: string }[] = [];
  let latest: ReadonlyMap<PeerId, StagePlayback> = new Map();
  const streams: [PeerId, unknown][] = [];
  let session = 0;
  const fetchFn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? "GET" });
    if (init.method === "DELETE") return new Response(null, { status: 200 });
    const reply = replies.shift() ?? { status: 201, body: "answer" };
    session += 1;
    return new Response(reply.body ?? "", {
      status: reply.status,
      headers: reply.status === 201 ? { Location: `/whep/math/w${session}` } : undefined,
    });
  });
  const watch = new StageWatch(
    {
      url: (peer) => `http://relay/whep/math?peer=${peer}`,
      token: "tok",
      fetch: fetchFn as unknown as typeof fetch,
      createPeerConnection: () => {
        const pc = new FakePc();
        pcs.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
      createStream: () => ({ addTrack: vi.fn() }) as unknown as MediaStream,
      random: () => 0,
    },
    {
      changed: (w) => (latest = w),
      stream: (peer, s) => streams.push([peer, s]),
    },
  );
  const posts = () => calls.filter((c) => c.method === "POST").map((c) => c.url);
  const deletes = () => calls.filter((c) => c.method === "DELETE").map((c) => c.url);
  return { watch, pcs, posts, deletes, streams, state: () => latest };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("StageWatch", () => {
  it("opens one watch per classmate, with the page's own token", async () => {
    const { watch, pcs, posts, state } = setup();
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    expect(posts()).toEqual(["http://relay/whep/math?peer=s-ben", "http://relay/whep/math?peer=s-chen"]);
    expect(pcs).toHaveLength(2);
    expect([...state().entries()]).toEqual([
      ["s-ben", { status: "connecting", error: null, level: 0 }],
      ["s-chen", { status: "connecting", error: null, level: 0 }],
    ]);
    // Watching the same classmates again changes nothing.
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    expect(posts()).toHaveLength(2);
  });

  it("closes the watch of a classmate who is gone, and ends their session and stream", async () => {
    const { watch, pcs, deletes, streams, state } = setup();
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    watch.watch(["s-chen"]);
    await settle();
    expect(pcs[0].closed).toBe(true);
    expect(pcs[1].closed).toBe(false);
    expect(deletes()).toEqual(["http://relay/whep/math/w1"]);
    expect(streams).toContainEqual(["s-ben", null]);
    expect([...state().keys()]).toEqual(["s-chen"]);
  });

  it("tries again with back-off while a classmate is not publishing yet (404)", async () => {
    const { watch, posts, state } = setup([{ status: 404, body: '{"code":"not_found","message":"nobody"}' }]);
    watch.watch(["s-ben"]);
    await settle();
    expect(state().get("s-ben")).toEqual({
      status: "connecting",
      error: { code: "not_found", message: "nobody" },
      level: 0,
    });
    expect(posts()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(BACKOFF_FIRST_MS);
    expect(posts()).toHaveLength(2);
  });

  it("stops trying once the classmate leaves the stage", async () => {
    const { watch, posts } = setup([
      { status: 404, body: '{"code":"not_found","message":"nobody"}' },
      { status: 404, body: '{"code":"not_found","message":"nobody"}' },
    ]);
    watch.watch(["s-ben"]);
    await settle();
    watch.watch([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts()).toHaveLength(1);
  });

  it("reads each live classmate's audio level every half second", async () => {
    const { watch, pcs, state } = setup();
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    const [ben, chen] = pcs;
    ben.set("connected");
    chen.set("connected");
    expect(state().get("s-ben")?.status).toBe("live");

    // The first reading only sets the start.
    ben.play(0.2, 1);
    await vi.advanceTimersByTimeAsync(LEVEL_POLL_MS);
    expect(state().get("s-ben")?.level).toBe(0);

    ben.play(0.2, 0.5);
    chen.play(0.01, 0.5);
    await vi.advanceTimersByTimeAsync(LEVEL_POLL_MS);
    expect(state().get("s-ben")?.level).toBe(0.2);
    expect(state().get("s-chen")?.level).toBe(0.01);

    // Dropped: no level until it is live again.
    ben.set("failed");
    expect(state().get("s-ben")).toMatchObject({ status: "retrying", level: 0 });
  });

  it("reports each watch's counters in the order asked", async () => {
    const { watch, pcs } = setup();
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    pcs[0].set("connected");
    pcs[1].play(0.5, 2);
    expect(await watch.stats(["s-chen", "s-ben", "s-gone"])).toEqual([
      { peer: "s-chen", framesDecoded: 30, audioEnergy: 0.5, connectionState: "new" },
      { peer: "s-ben", framesDecoded: 30, audioEnergy: 0, connectionState: "connected" },
    ]);
  });

  it("ends every session on leave, and polls no more", async () => {
    const { watch, pcs, deletes } = setup();
    watch.watch(["s-ben", "s-chen"]);
    await settle();
    pcs[0].set("connected");
    watch.leave();
    expect(deletes()).toHaveLength(2);
    expect(pcs.every((pc) => pc.closed)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
