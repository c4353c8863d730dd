import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { effectScope, nextTick } from "vue";
import { useClassroom } from "./useClassroom";

// The page's wiring, with the browser's WebSocket, fetch and RTCPeerConnection faked.

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: { type: string; [k: string]: unknown }[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(message: object) {
    this.onmessage?.({ data: JSON.stringify({ v: 1, ...message }) });
  }
}

class FakePc {
  static all: FakePc[] = [];
  connectionState = "new";
  iceGatheringState = "complete";
  localDescription: { sdp: string } | null = null;
  ontrack = null;
  onconnectionstatechange = null;
  closed = false;
  constructor() {
    FakePc.all.push(this);
  }
  addTransceiver() {}
  async createOffer() {
    return { type: "offer", sdp: "offer" };
  }
  async setLocalDescription(d: { sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription() {}
  addEventListener() {}
  removeEventListener() {}
  close() {
    this.closed = true;
  }
  async getStats() {
    return new Map();
  }
}

const ana = { id: "s-ana", name: "Ana", role: "student", hand: false, on_stage: false };
const teacherCam = { peer: "t-1", name: "Ms Li", role: "teacher", audio: true, video: true, transport: "whip" };
const ben = { id: "s-ben", name: "Ben", role: "student", hand: false, on_stage: true };
const benCam = { peer: "s-ben", name: "Ben", role: "student", audio: true, video: true, transport: "whip" };
const welcome = (publishers: object[] = []) => ({
  type: "welcome",
  room: "math",
  you: ana,
  roster: [ana],
  publishers,
  chat: [],
  max_stage: 6,
});

/** A camera or microphone track. */
class FakeTrack {
  readyState = "live";
  enabled = true;
  constructor(readonly kind: string) {}
  stop() {
    this.readyState = "ended";
  }
  addEventListener() {}
}

let requests: { url: string; method: string; headers?: HeadersInit }[];
let tracks: FakeTrack[];
let scopes: ReturnType<typeof effectScope>[] = [];

beforeEach(() => {
  FakeSocket.all = [];
  FakePc.all = [];
  requests = [];
  tracks = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("navigator", {
    mediaDevices: {
      getUserMedia: async (c: MediaStreamConstraints) => {
        const made = (["audio", "video"] as const).filter((k) => c[k]).map((k) => new FakeTrack(k));
        tracks.push(...made);
        return { getTracks: () => made, getVideoTracks: () => made.filter((t) => t.kind === "video") };
      },
    },
  });
  vi.stubGlobal("RTCPeerConnection", FakePc);
  vi.stubGlobal("MediaStream", class {});
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      requests.push({ url, method: init.method ?? "GET", headers: init.headers });
      const peer = new URL(url).searchParams.get("peer");
      const location = url.includes("/whip/") ? "/whip/math/p1" : peer ? `/whep/math/${peer}` : "/whep/math/s1";
      return new Response("answer", { status: 201, headers: { Location: location } });
    }),
  );
});
afterEach(() => {
  for (const scope of scopes) scope.stop();
  scopes = [];
  vi.unstubAllGlobals();
});

function open(search = "?token=tok") {
  const scope = effectScope();
  scopes.push(scope);
  const token = new URLSearchParams(search).get("token");
  const classroom = scope.run(() => useClassroom({ room: "math", token }, { protocol: "http:", host: "r:8686" }))!;
  return { classroom, socket: () => FakeSocket.all[FakeSocket.all.length - 1] };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await nextTick();
};
const whepPosts = () => requests.filter((r) => r.method === "POST" && r.url.includes("/whep/"));
const whipPosts = () => requests.filter((r) => r.method === "POST" && r.url.includes("/whip/"));
const deleted = () => requests.filter((r) => r.method === "DELETE").map((r) => r.url);
/** Lets capture, the offer and the answer run through. */
const settle = async () => {
  await flush();
  await new Promise((r) => setTimeout(r, 0));
  await flush();
};

describe("useClassroom", () => {
  it("does nothing without a token", () => {
    const { classroom } = open("");
    expect(classroom.state.value).toBe("no-token");
    expect(FakeSocket.all).toHaveLength(0);
  });

  it("dials the room's signaling and waits for the teacher", async () => {
    const { classroom, socket } = open();
    expect(socket().url).toBe("ws://r:8686/ws/math?token=tok");
    expect(classroom.state.value).toBe("connecting");
    socket().open();
    socket().receive(welcome());
    expect(classroom.state.value).toBe("waiting");
    classroom.join();
    await flush();
    expect(whepPosts()).toHaveLength(0);
  });

  it("watches only once joined and the teacher publishes, and stops when the teacher does", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome([teacherCam]));
    expect(classroom.state.value).toBe("live");
    await flush();
    expect(whepPosts()).toHaveLength(0);

    classroom.join();
    await flush();
    expect(whepPosts().map((r) => r.url)).toEqual(["http://r:8686/whep/math"]);
    expect(classroom.state.value).toBe("connecting");

    socket().receive({ type: "publisher_removed", peer: "t-1" });
    await flush();
    expect(FakePc.all[0].closed).toBe(true);
    expect(requests.filter((r) => r.method === "DELETE").map((r) => r.url)).toEqual(["http://r:8686/whep/math/s1"]);
    expect(classroom.state.value).toBe("waiting");

    socket().receive({ type: "publisher_added", publisher: teacherCam });
    await flush();
    expect(whepPosts()).toHaveLength(2);
  });

  it("sends hand, chat and invitation answers", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome());
    classroom.toggleHand();
    expect(classroom.myHand.value).toBe(true);
    socket().receive({ type: "participant", participant: { ...ana, hand: true } });
    expect(classroom.myHand.value).toBe(true);
    expect(classroom.sendChat("   ")).toBe(false);
    expect(classroom.sendChat("x".repeat(501))).toBe(false);
    expect(classroom.sendChat("  hello  ")).toBe(true);
    socket().receive({ type: "invited", by: "t-1" });
    expect(classroom.room.value.invitedBy).toBe("t-1");
    classroom.answerInvite(false);
    expect(classroom.room.value.invitedBy).toBeNull();
    expect(socket().sent.filter((m) => !m.type.startsWith("board_")).map((m) => JSON.stringify(m))).toEqual([
      '{"v":1,"type":"raise_hand","raised":true}',
      '{"v":1,"type":"chat","text":"hello"}',
      '{"v":1,"type":"answer_invite","accept":false}',
    ]);
  });

  it("stops everything when the class is opened elsewhere", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome([teacherCam]));
    classroom.join();
    await flush();
    socket().receive({ type: "bye", reason: "replaced" });
    await flush();
    expect(classroom.state.value).toBe("replaced");
    expect(FakePc.all[0].closed).toBe(true);
  });

  it("reports stats with the page state", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome());
    expect(await classroom.stats()).toEqual({
      framesDecoded: 0,
      audioEnergy: 0,
      connectionState: "none",
      state: "waiting",
      publish: { connectionState: "none", framesEncoded: 0, audioPacketsSent: 0, state: "idle" },
      stage: [],
    });
  });

  it("shows the board read-only, and lets the student draw only while holding the pen", () => {
    const { classroom, socket } = open();
    const { board } = classroom;
    socket().open();
    socket().receive(welcome());
    expect(socket().sent).toEqual([{ v: 1, type: "board_sync" }]);
    socket().receive({ type: "board_grants", grants: [] });
    socket().receive(boardSnapshot(1));
    expect(board.client.value).not.toBeNull();
    expect(board.canDraw.value).toBe(false);
    expect(board.hasPen.value).toBe(false);

    socket().receive({ type: "board_grants", grants: [{ peer: "s-ana", scope: { type: "board" } }] });
    expect(board.canDraw.value).toBe(true);
    expect(board.hasPen.value).toBe(true);
    const op = board.client.value!.local(line);
    board.sent(op);
    expect(socket().sent.at(-1)).toEqual({ v: 1, type: "board_op", op });

    // Taken back: the next op the relay refuses, and the student is told why.
    socket().receive({ type: "board_grants", grants: [] });
    expect(board.canDraw.value).toBe(false);
    expect(board.hasPen.value).toBe(false);
    socket().receive({ type: "board_refused", client_seq: op.client_seq, code: "forbidden", message: "no pen" });
    expect(board.notice.value).toEqual({ key: "board.refused.no_pen", code: "forbidden" });
    expect(board.client.value!.board().page("relay:1")!.shapes).toEqual([]);
  });

  it("follows the teacher's page", () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome());
    socket().receive(boardSnapshot(1));
    expect(classroom.board.currentPage.value).toBe("relay:1");
    socket().receive({ type: "board_op", op: { author: "t-1", client_seq: 1, server_seq: 2, action: { type: "add_page" } } });
    socket().receive({
      type: "board_op",
      op: { author: "t-1", client_seq: 2, server_seq: 3, action: { type: "set_current_page", page: "t-1:1" } },
    });
    expect(classroom.board.currentPage.value).toBe("t-1:1");
    expect(classroom.board.pageIndex.value).toBe(1);
  });

  it("catches up after a reconnect and sends what was drawn meanwhile", async () => {
    vi.useFakeTimers();
    try {
      const { classroom, socket } = open();
      const { board } = classroom;
      socket().open();
      socket().receive(welcome());
      socket().receive({ type: "board_grants", grants: [{ peer: "s-ana", scope: { type: "board" } }] });
      socket().receive(boardSnapshot(1));
      const first = socket();
      first.readyState = 3;
      first.onclose?.();
      expect(board.state.value).toBe("offline");
      const op = board.client.value!.local(line);
      board.sent(op);
      expect(first.sent.filter((m) => m.type === "board_op")).toEqual([]);

      await vi.advanceTimersByTimeAsync(60_000);
      expect(socket()).not.toBe(first);
      socket().open();
      socket().receive(welcome());
      expect(socket().sent).toEqual([{ v: 1, type: "board_sync", since: 1, epoch: 7 }]);
      socket().receive({ type: "board_grants", grants: [{ peer: "s-ana", scope: { type: "board" } }] });
      socket().receive({ type: "board_ops", ops: [] });
      expect(socket().sent.at(-1)).toEqual({ v: 1, type: "board_op", op });
      expect(board.state.value).toBe("live");
    } finally {
      vi.useRealTimers();
    }
  });

  it("publishes the camera and microphone on stage, and stops the moment the student leaves", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome([teacherCam]));
    socket().receive({ type: "invited", by: "t-1" });
    classroom.answerInvite(true);
    await settle();
    expect(whipPosts()).toHaveLength(0);

    socket().receive({ type: "stage", peers: ["s-ana"] });
    await settle();
    expect(whipPosts()).toEqual([
      {
        url: "http://r:8686/whip/math",
        method: "POST",
        headers: { Authorization: "Bearer tok", "Content-Type": "application/sdp" },
      },
    ]);
    expect(tracks.map((t) => t.kind)).toEqual(["audio", "video"]);
    expect(classroom.publishStatus.value).toBe("connecting");
    expect(classroom.selfStream.value).not.toBeNull();
    expect(classroom.captured.value).toMatchObject({ audio: null, video: null });

    classroom.leaveStage();
    expect(socket().sent.at(-1)).toEqual({ v: 1, type: "leave_stage" });
    await settle();
    expect(deleted()).toEqual(["http://r:8686/whip/math/p1"]);
    expect(tracks.every((t) => t.readyState === "ended")).toBe(true);
    expect(classroom.publishStatus.value).toBe("idle");
    expect(classroom.selfStream.value).toBeNull();

    // The relay confirms; going on stage again publishes again.
    socket().receive({ type: "stage", peers: [] });
    await settle();
    socket().receive({ type: "stage", peers: ["s-ana"] });
    await settle();
    expect(whipPosts()).toHaveLength(2);
  });

  it("stops publishing when the teacher takes the student off the stage", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome());
    socket().receive({ type: "stage", peers: ["s-ana"] });
    await settle();
    expect(whipPosts()).toHaveLength(1);
    socket().receive({ type: "participant", participant: { ...ana, on_stage: false } });
    await settle();
    expect(deleted()).toEqual(["http://r:8686/whip/math/p1"]);
    expect(tracks.every((t) => t.readyState === "ended")).toBe(true);
    expect(classroom.onStage.value).toBe(false);
  });

  it("keeps publishing through a signaling reconnect, and stops when another tab takes over", async () => {
    vi.useFakeTimers();
    try {
      const { classroom, socket } = open();
      socket().open();
      socket().receive(welcome());
      socket().receive({ type: "stage", peers: ["s-ana"] });
      await vi.advanceTimersByTimeAsync(0);
      const first = socket();
      first.readyState = 3;
      first.onclose?.();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(deleted()).toEqual([]);
      socket().open();
      socket().receive({ ...welcome(), you: { ...ana, on_stage: true }, roster: [{ ...ana, on_stage: true }] });
      await vi.advanceTimersByTimeAsync(0);
      expect(whipPosts()).toHaveLength(1);
      expect(classroom.publishStatus.value).not.toBe("idle");

      socket().receive({ type: "bye", reason: "replaced" });
      await vi.advanceTimersByTimeAsync(0);
      expect(deleted()).toEqual(["http://r:8686/whip/math/p1"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("mutes at the teacher's request, and only asks to unmute", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive(welcome());
    // Off stage there is no microphone to mute.
    socket().receive({ type: "mute_requested", muted: true });
    expect(classroom.mic.value).toEqual({ on: true, notice: null });

    socket().receive({ type: "stage", peers: ["s-ana"] });
    await settle();
    const audio = tracks.find((t) => t.kind === "audio")!;
    expect(audio.enabled).toBe(true);

    socket().receive({ type: "mute_requested", muted: true });
    expect(classroom.mic.value).toEqual({ on: false, notice: "muted" });
    expect(audio.enabled).toBe(false);

    socket().receive({ type: "mute_requested", muted: false });
    expect(classroom.mic.value).toEqual({ on: false, notice: "unmute" });
    expect(audio.enabled).toBe(false);

    classroom.unmuteMic();
    expect(classroom.mic.value).toEqual({ on: true, notice: null });
    expect(audio.enabled).toBe(true);

    classroom.toggleMic();
    expect(audio.enabled).toBe(false);
    classroom.toggleMic();
    expect(audio.enabled).toBe(true);
  });

  it("watches classmates on stage, never itself, and stops when they stop publishing or leave", async () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive({ ...welcome([teacherCam, benCam]), roster: [ana, ben] });
    await settle();
    // Not before the start button, as for the teacher.
    expect(whepPosts()).toHaveLength(0);
    expect(classroom.stageStrip.value).toEqual([]);

    classroom.join();
    await settle();
    expect(whepPosts().map((r) => r.url).sort()).toEqual([
      "http://r:8686/whep/math",
      "http://r:8686/whep/math?peer=s-ben",
    ]);
    expect(whepPosts().every((r) => (r.headers as Record<string, string>).Authorization === "Bearer tok")).toBe(true);
    expect(classroom.stageStrip.value.map((t) => [t.peer, t.name, t.state])).toEqual([["s-ben", "Ben", "connecting"]]);

    // On stage beside Ben, Ana publishes and still watches only him.
    socket().receive({ type: "stage", peers: ["s-ben", "s-ana"] });
    socket().receive({ type: "publisher_added", publisher: { ...benCam, peer: "s-ana", name: "Ana" } });
    await settle();
    expect(whepPosts().filter((r) => r.url.includes("peer=s-ana"))).toEqual([]);
    expect(classroom.stageStrip.value.map((t) => t.peer)).toEqual(["s-ben"]);

    // Ben's browser publishes again: the old watch ends and a new one starts.
    socket().receive({ type: "publisher_removed", peer: "s-ben" });
    socket().receive({ type: "publisher_added", publisher: { ...benCam, transport: "rtmp" } });
    await settle();
    expect(deleted()).toEqual(["http://r:8686/whep/math/s-ben"]);
    expect(whepPosts().filter((r) => r.url.includes("peer=s-ben"))).toHaveLength(2);
    expect(classroom.stageStrip.value[0]).toMatchObject({ peer: "s-ben", transport: "rtmp", state: "connecting" });
    expect(await classroom.stats()).toMatchObject({
      stage: [{ peer: "s-ben", framesDecoded: 0, audioEnergy: 0, connectionState: "new" }],
    });

    // Stopped publishing but still on stage: the tile stays, the watch goes.
    socket().receive({ type: "publisher_removed", peer: "s-ben" });
    await settle();
    expect(deleted()).toHaveLength(2);
    expect(classroom.stageStrip.value.map((t) => [t.peer, t.publishing, t.state])).toEqual([
      ["s-ben", false, "connecting"],
    ]);

    socket().receive({ type: "publisher_added", publisher: benCam });
    await settle();
    socket().receive({ type: "stage", peers: ["s-ana"] });
    await settle();
    expect(deleted()).toHaveLength(3);
    expect(classroom.stageStrip.value).toEqual([]);
    expect((await classroom.stats()).stage).toEqual([]);
  });

  it("plays classmates with sound, or muted until a tap when the browser insists", async () => {
    vi.stubGlobal("MediaStream", class { addTrack() {} });
    const { classroom, socket } = open();
    socket().open();
    socket().receive({ ...welcome([teacherCam, benCam]), roster: [ana, ben] });
    classroom.join();
    await settle();
    let allowed = false;
    const played: boolean[] = [];
    const tile = {
      srcObject: null as unknown,
      muted: false,
      play: vi.fn(async () => {
        played.push(tile.muted);
        if (!tile.muted && !allowed) throw new DOMException("no sound yet", "NotAllowedError");
      }),
    };
    classroom.stageVideo("s-ben", tile as unknown as HTMLVideoElement);
    // The stream arrives with its first track (the teacher's too, which this test ignores).
    for (const pc of FakePc.all) (pc.ontrack as unknown as ((e: { track: object }) => void) | null)?.({ track: {} });
    await settle();
    expect(tile.srcObject).not.toBeNull();
    expect(played).toEqual([false, true]);
    expect(tile.muted).toBe(true);
    expect(classroom.stageSoundBlocked.value).toBe(true);

    allowed = true;
    classroom.enableSound();
    await settle();
    expect(tile.muted).toBe(false);
    expect(classroom.stageSoundBlocked.value).toBe(false);

    classroom.stageVideo("s-ben", null);
    expect(classroom.stageSoundBlocked.value).toBe(false);
  });

  it("gives observers no board", () => {
    const { classroom, socket } = open();
    socket().open();
    socket().receive({ ...welcome(), you: { ...ana, role: "observer" }, roster: [{ ...ana, role: "observer" }] });
    expect(socket().sent).toEqual([]);
    expect(classroom.board.client.value).toBeNull();
  });
});

const line = {
  type: "add_shape",
  page: "relay:1",
  style: { color: "#2563eb", width: 4, opacity: 1, highlighter: false },
  shape: { type: "line", from: { x: 0, y: 0 }, to: { x: 10, y: 10 } },
} as const;

/** The board as a relay first makes it: one page by `relay`. */
function boardSnapshot(seq: number) {
  return {
    type: "board_snapshot",
    epoch: 7,
    snapshot: {
      version: 1,
      seq,
      board: {
        pages: [{ id: "relay:1", shapes: [] }],
        current: "relay:1",
        clocks: { relay: 1 },
        history: { relay: { undo: [[{ type: "page_added", page: "relay:1" }]], redo: [] } },
      },
    },
  };
}
