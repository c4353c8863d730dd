import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { effectScope, nextTick, shallowRef } from "vue";
import type { StageSeat } from "../bindings";
import type { Participant, Publisher, ServerMessage } from "../student/protocol";
import { initialRoomState, reduce, type RoomState } from "../student/room";

// The stage's wiring, with the Tauri commands and the browser's image decoder faked.

const ipc = vi.hoisted(() => ({
  calls: [] as { cmd: string; args: { peer: string; on?: boolean; frames?: { onmessage: (m: unknown) => void } } }[],
  fail: new Set<string>(),
  /** Which `stage_listen` calls (counted from 0) fail. */
  failListen: [] as number[],
  inTauri: true,
}));

vi.mock("@tauri-apps/api/core", () => ({
  Channel: class {
    onmessage: (m: unknown) => void = () => undefined;
  },
  invoke: async (cmd: string, args: (typeof ipc.calls)[number]["args"]) => {
    ipc.calls.push({ cmd, args });
    if (cmd === "stage_watch" && ipc.fail.has(args.peer)) throw { code: "not_found", message: "no such publisher" };
    const nth = ipc.calls.filter((c) => c.cmd === "stage_listen").length - 1;
    if (cmd === "stage_listen" && ipc.failListen.includes(nth)) throw { code: "not_found", message: "no class is running" };
  },
}));
vi.mock("../lib/env", () => ({ inTauri: () => ipc.inTauri }));

const { useStage } = await import("./useStage");

const teacher: Participant = { id: "t-1", name: "Ms Li", role: "teacher", hand: false, on_stage: false };
const ana: Participant = { id: "s-ana", name: "Ana", role: "student", hand: false, on_stage: true };
const bo: Participant = { id: "s-bo", name: "Bo", role: "student", hand: false, on_stage: true };
const cam = (peer: string): Publisher => ({ peer, name: peer, role: "student", audio: true, video: true, transport: "whip" });

function welcome(publishers: Publisher[]): ServerMessage {
  return { type: "welcome", room: "math", you: teacher, roster: [teacher, ana, bo], publishers, chat: [], max_stage: 6 };
}

/** Lets promise callbacks and watchers run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await nextTick();
}

let decodes: { resolve: () => void }[];
let scope: ReturnType<typeof effectScope>;
let muteSent: [string, boolean][];
let signalingUp: boolean;

function setup(publishers: Publisher[]) {
  const room = shallowRef<RoomState>(reduce(initialRoomState, welcome(publishers)));
  const seats = shallowRef<StageSeat[]>([]);
  scope = effectScope();
  const stage = scope.run(() =>
    useStage(room, seats, (peer, muted) => {
      if (signalingUp) muteSent.push([peer, muted]);
      return signalingUp;
    }),
  )!;
  return { room, seats, stage };
}

const commands = (cmd: string) => ipc.calls.filter((c) => c.cmd === cmd).map((c) => c.args.peer);
const listens = () => ipc.calls.filter((c) => c.cmd === "stage_listen").map((c) => [c.args.peer, c.args.on]);
const channelOf = (peer: string) => ipc.calls.filter((c) => c.cmd === "stage_watch" && c.args.peer === peer).at(-1)!.args.frames!;

beforeEach(() => {
  ipc.calls = [];
  ipc.fail = new Set();
  ipc.failListen = [];
  ipc.inTauri = true;
  decodes = [];
  muteSent = [];
  signalingUp = true;
  vi.stubGlobal(
    "createImageBitmap",
    () =>
      new Promise((resolve) => {
        decodes.push({ resolve: () => resolve({ width: 2, height: 2, close: () => undefined }) });
      }),
  );
});

afterEach(() => {
  scope.stop();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("useStage", () => {
  it("watches students on stage who publish, and unwatches them when they go", async () => {
    const { room } = setup([cam("s-ana")]);
    await settle();
    expect(commands("stage_watch")).toEqual(["s-ana"]);

    room.value = reduce(room.value, { type: "publisher_added", publisher: cam("s-bo") });
    await settle();
    expect(commands("stage_watch")).toEqual(["s-ana", "s-bo"]);

    room.value = reduce(room.value, { type: "stage", peers: ["s-bo"] });
    await settle();
    expect(commands("stage_unwatch")).toEqual(["s-ana"]);

    // Chat and the like do not restart anything.
    room.value = reduce(room.value, { type: "chat", line: { from: "t-1", name: "Ms Li", text: "hi", at_ms: 1 } });
    await settle();
    expect(commands("stage_watch")).toEqual(["s-ana", "s-bo"]);

    scope.stop();
    expect(commands("stage_unwatch")).toEqual(["s-ana", "s-bo"]);
  });

  it("unwatches everyone when the class stops", async () => {
    const { room } = setup([cam("s-ana"), cam("s-bo")]);
    await settle();
    room.value = initialRoomState;
    await settle();
    expect(commands("stage_unwatch")).toEqual(["s-ana", "s-bo"]);
  });

  it("keeps one frame in flight: draws, then acks; drops what arrives meanwhile", async () => {
    const { stage } = setup([cam("s-ana")]);
    await settle();
    const drawn: unknown[] = [];
    const detach = stage.attach("s-ana", (frame) => drawn.push(frame));
    const frames = channelOf("s-ana");

    frames.onmessage(new ArrayBuffer(4));
    frames.onmessage(new ArrayBuffer(4));
    expect(decodes).toHaveLength(1);
    expect(commands("stage_ack")).toEqual([]);

    decodes[0].resolve();
    await settle();
    expect(drawn).toHaveLength(1);
    expect(commands("stage_ack")).toEqual(["s-ana"]);

    // With no tile to draw it, a frame is acked at once, undecoded.
    detach();
    frames.onmessage(new ArrayBuffer(4));
    expect(decodes).toHaveLength(1);
    expect(commands("stage_ack")).toEqual(["s-ana", "s-ana"]);
  });

  it("never draws a frame decoded after its student left the stage", async () => {
    const { room, stage } = setup([cam("s-ana")]);
    await settle();
    const drawn: unknown[] = [];
    stage.attach("s-ana", (frame) => drawn.push(frame));
    channelOf("s-ana").onmessage(new ArrayBuffer(4));
    room.value = reduce(room.value, { type: "stage", peers: [] });
    await settle();
    decodes[0].resolve();
    await settle();
    expect(drawn).toHaveLength(0);
    expect(commands("stage_ack")).toEqual([]);
  });

  it("tries again when a watch cannot start, showing why", async () => {
    vi.useFakeTimers();
    ipc.fail.add("s-ana");
    const { stage } = setup([cam("s-ana")]);
    await settle();
    expect(stage.tiles.value[0]).toMatchObject({
      state: "reconnecting",
      error: { code: "not_found", message: "no such publisher" },
    });

    ipc.fail.clear();
    await vi.advanceTimersByTimeAsync(1000);
    expect(commands("stage_watch")).toEqual(["s-ana", "s-ana"]);
    expect(stage.tiles.value[0]).toMatchObject({ state: "connecting", error: null });
  });

  it("shows the back end's seat reports", async () => {
    const { seats, stage } = setup([cam("s-ana")]);
    seats.value = [
      { peer: "s-ana", state: "live", level: 0.3, width: 640, height: 360, fps: 15, audio: true, video: true, error: null },
    ];
    await settle();
    expect(stage.tiles.value[0]).toMatchObject({ state: "live", speaking: true, media: "video" });
    expect(stage.onStage.value).toBe(2);
    expect(stage.maxStage.value).toBe(6);
  });

  it("remembers the last mute request until the student leaves the stage", async () => {
    const { room, stage } = setup([]);
    await settle();
    expect(stage.toggleMute("s-ana")).toBe(true);
    expect(stage.tiles.value[0].muteRequested).toBe(true);
    stage.toggleMute("s-ana");
    expect(muteSent).toEqual([
      ["s-ana", true],
      ["s-ana", false],
    ]);
    expect(stage.tiles.value[0].muteRequested).toBe(false);

    signalingUp = false;
    expect(stage.toggleMute("s-bo")).toBe(false);
    expect(stage.tiles.value[1].muteRequested).toBeNull();

    signalingUp = true;
    stage.toggleMute("s-bo");
    room.value = reduce(room.value, { type: "stage", peers: ["s-ana"] });
    await settle();
    room.value = reduce(room.value, { type: "stage", peers: ["s-ana", "s-bo"] });
    await settle();
    expect(stage.tiles.value.map((t) => t.muteRequested)).toEqual([false, null]);
  });

  it("silences a student on this console only, and hears them again", async () => {
    const { stage } = setup([cam("s-ana")]);
    await settle();
    expect(stage.tiles.value[0].listening).toBe(true);

    stage.toggleListen("s-ana");
    expect(stage.tiles.value[0].listening).toBe(false);
    stage.toggleListen("s-ana");
    await settle();
    expect(listens()).toEqual([
      ["s-ana", false],
      ["s-ana", true],
    ]);
    expect(stage.tiles.value[0].listening).toBe(true);
    // Nothing is asked of the student.
    expect(muteSent).toEqual([]);
  });

  it("puts the toggle back, quietly, when the back end refuses", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { stage } = setup([cam("s-ana")]);
    await settle();
    ipc.failListen = [0, 2];
    stage.toggleListen("s-ana");
    expect(stage.tiles.value[0].listening).toBe(false);
    await settle();
    expect(stage.tiles.value[0].listening).toBe(true);
    expect(warn).toHaveBeenCalledOnce();
    expect(stage.tiles.value[0].error).toBeNull();

    // Silenced, then hearing them again fails: still silenced.
    stage.toggleListen("s-ana");
    await settle();
    stage.toggleListen("s-ana");
    await settle();
    expect(listens()).toEqual([
      ["s-ana", false],
      ["s-ana", false],
      ["s-ana", true],
    ]);
    expect(stage.tiles.value[0].listening).toBe(false);
  });

  it("sends quick clicks in order, and only the last one's failure counts", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { stage } = setup([cam("s-ana")]);
    await settle();
    ipc.failListen = [0];
    stage.toggleListen("s-ana");
    stage.toggleListen("s-ana");
    stage.toggleListen("s-ana");
    await settle();
    expect(listens()).toEqual([
      ["s-ana", false],
      ["s-ana", true],
      ["s-ana", false],
    ]);
    expect(stage.tiles.value[0].listening).toBe(false);

    // All of them fail: back to what the speakers did before.
    ipc.failListen = [3, 4, 5];
    stage.toggleListen("s-ana");
    stage.toggleListen("s-ana");
    stage.toggleListen("s-ana");
    await settle();
    expect(stage.tiles.value[0].listening).toBe(false);
  });

  it("tells each new watch of a student silenced here; forgets them when they leave the stage", async () => {
    const { room, stage } = setup([]);
    await settle();
    // Not watched yet: nothing to tell the back end until the watch starts.
    stage.toggleListen("s-ana");
    await settle();
    expect(listens()).toEqual([]);

    room.value = reduce(room.value, { type: "publisher_added", publisher: cam("s-ana") });
    await settle();
    expect(commands("stage_watch")).toEqual(["s-ana"]);
    expect(listens()).toEqual([["s-ana", false]]);

    // Publishing again is a new watch, still silenced.
    room.value = reduce(room.value, { type: "publisher_removed", peer: "s-ana" });
    await settle();
    room.value = reduce(room.value, { type: "publisher_added", publisher: cam("s-ana") });
    await settle();
    expect(listens()).toEqual([
      ["s-ana", false],
      ["s-ana", false],
    ]);

    // Off the stage and back: heard, as every watch starts.
    room.value = reduce(room.value, { type: "stage", peers: ["s-bo"] });
    await settle();
    room.value = reduce(room.value, { type: "stage", peers: ["s-bo", "s-ana"] });
    await settle();
    expect(commands("stage_watch")).toEqual(["s-ana", "s-ana", "s-ana"]);
    expect(listens()).toHaveLength(2);
    expect(stage.tiles.value.find((t) => t.peer === "s-ana")?.listening).toBe(true);
  });

  it("does nothing outside the app", async () => {
    ipc.inTauri = false;
    setup([cam("s-ana")]);
    await settle();
    expect(ipc.calls).toEqual([]);
  });
});
