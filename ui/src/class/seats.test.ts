import { describe, expect, it } from "vitest";
import type { StageSeat } from "../bindings";
import type { Participant, Publisher, ServerMessage } from "../student/protocol";
import { initialRoomState, reduce, type RoomState } from "../student/room";
import {
  flipListen,
  keepOnStage,
  listenFailed,
  listening,
  stageSeats,
  watchChanges,
  watchedPeers,
  type ListenChoices,
  type MuteRequests,
} from "./seats";

const teacher: Participant = { id: "t-1", name: "Ms Li", role: "teacher", hand: false, on_stage: false };
const student = (id: string, name: string, on_stage = true): Participant => ({
  id,
  name,
  role: "student",
  hand: false,
  on_stage,
});
const ana = student("s-ana", "Ana");
const bo = student("s-bo", "Bo");
const cai = student("s-cai", "蔡");
const publisher = (peer: string, over: Partial<Publisher> = {}): Publisher => ({
  peer,
  name: peer,
  role: "student",
  audio: true,
  video: true,
  transport: "whip",
  ...over,
});
const teacherCam = publisher("t-1", { role: "teacher" });

function room(roster: Participant[], publishers: Publisher[], ...more: ServerMessage[]): RoomState {
  const welcome: ServerMessage = {
    type: "welcome",
    room: "math",
    you: teacher,
    roster: [teacher, ...roster],
    publishers: [teacherCam, ...publishers],
    chat: [],
    max_stage: 6,
  };
  return [welcome, ...more].reduce(reduce, initialRoomState);
}

const seat = (peer: string, over: Partial<StageSeat> = {}): StageSeat => ({
  peer,
  state: "live",
  level: 0,
  width: 640,
  height: 480,
  fps: 15,
  audio: true,
  video: true,
  error: null,
  ...over,
});

const none: MuteRequests = new Map();
const iceFailed = { code: "connection_failed", message: "ICE failed" } as const;

describe("whom the console watches", () => {
  it("watches students on stage who publish, in stage order, never the teacher", () => {
    const s = room([ana, bo, cai, student("s-dan", "Dan", false)], [publisher("s-cai"), publisher("s-ana"), publisher("s-dan")]);
    expect(s.stage).toEqual(["s-ana", "s-bo", "s-cai"]);
    expect(watchedPeers(s)).toEqual(["s-ana", "s-cai"]);
  });

  it("follows publishing and the stage", () => {
    let s = room([ana], []);
    expect(watchedPeers(s)).toEqual([]);
    s = reduce(s, { type: "publisher_added", publisher: publisher("s-ana") });
    expect(watchedPeers(s)).toEqual(["s-ana"]);
    s = reduce(s, { type: "stage", peers: [] });
    expect(watchedPeers(s)).toEqual([]);
  });

  it("starts the new and stops the gone", () => {
    expect(watchChanges(["a", "b"], ["b", "c"])).toEqual({ start: ["c"], stop: ["a"] });
    expect(watchChanges([], [])).toEqual({ start: [], stop: [] });
    expect(watchChanges(new Set(["a"]), [])).toEqual({ start: [], stop: ["a"] });
  });
});

describe("stage seats", () => {
  it("shows a student who has not published yet as joining", () => {
    const [tile] = stageSeats(room([ana], []), [], none);
    expect(tile).toMatchObject({ peer: "s-ana", name: "Ana", state: "joining", transport: null, speaking: false });
  });

  it("is connecting until the back end reports the seat", () => {
    const [tile] = stageSeats(room([ana], [publisher("s-ana", { transport: "rtmp" })]), [], none);
    expect(tile).toMatchObject({ state: "connecting", transport: "rtmp", error: null });
  });

  it("takes the state, size and level from the seat report", () => {
    const s = room([ana, bo], [publisher("s-ana"), publisher("s-bo")]);
    const tiles = stageSeats(s, [seat("s-bo", { level: 0.2 }), seat("s-ana", { level: 0.01 })], none);
    expect(tiles.map((t) => [t.peer, t.state, t.speaking])).toEqual([
      ["s-ana", "live", false],
      ["s-bo", "live", true],
    ]);
    expect(tiles[0]).toMatchObject({ media: "video", width: 640, height: 480, fps: 15, audio: true });
  });

  it("keeps the error only while reconnecting", () => {
    const s = room([ana], [publisher("s-ana")]);
    expect(stageSeats(s, [seat("s-ana", { state: "reconnecting", error: iceFailed })], none)[0]).toMatchObject({
      state: "reconnecting",
      error: iceFailed,
      speaking: false,
    });
    expect(stageSeats(s, [seat("s-ana", { error: iceFailed })], none)[0].error).toBeNull();
  });

  it("shows a watch that could not start as reconnecting, until the back end reports the seat", () => {
    const s = room([ana], [publisher("s-ana")]);
    const notFound = { code: "not_found", message: "no such publisher" } as const;
    const errors = new Map([["s-ana", notFound]]);
    expect(stageSeats(s, [], none, errors)[0]).toMatchObject({ state: "reconnecting", error: notFound });
    expect(stageSeats(s, [seat("s-ana")], none, errors)[0]).toMatchObject({ state: "live", error: null });
  });

  it("tells pictures, sound only, a camera turned off and no picture yet apart", () => {
    const s = room([ana, bo], [publisher("s-ana"), publisher("s-bo", { video: false })]);
    const media = (ana: Partial<StageSeat>, bo: Partial<StageSeat> = { video: false, width: 0, height: 0 }) =>
      stageSeats(s, [seat("s-ana", ana), seat("s-bo", bo)], none).map((t) => t.media);
    expect(media({})).toEqual(["video", "audio_only"]);
    expect(media({ video: false, audio: false })).toEqual(["camera_off", "audio_only"]);
    expect(media({ video: false, audio: false, width: 0, height: 0 })).toEqual(["no_picture", "audio_only"]);
    expect(media({ video: false }, { video: false, audio: false, width: 0 })).toEqual(["audio_only", "camera_off"]);
    expect(stageSeats(s, [], none).map((t) => t.media)).toEqual(["no_picture", "camera_off"]);
  });

  it("is not speaking without sound, or above the level that counts", () => {
    const s = room([ana], [publisher("s-ana")]);
    expect(stageSeats(s, [seat("s-ana", { level: 0.3, audio: false })], none)[0].speaking).toBe(false);
    expect(stageSeats(s, [seat("s-ana", { level: 0.05 })], none)[0].speaking).toBe(false);
    expect(stageSeats(s, [seat("s-ana", { level: 7 })], none)[0]).toMatchObject({ speaking: true, level: 1 });
  });

  it("names a student by the roster, then the publication, then the id", () => {
    const s = room([student("s-ana", ""), student("s-x", "")], [publisher("s-ana", { name: "Ana P" })]);
    expect(stageSeats(s, [], none).map((t) => t.name)).toEqual(["Ana P", "s-x"]);
  });

  it("shows the teacher's last mute request", () => {
    const s = room([ana, bo], []);
    const tiles = stageSeats(s, [], new Map([["s-ana", true], ["s-bo", false]]));
    expect(tiles.map((t) => t.muteRequested)).toEqual([true, false]);
    expect(stageSeats(s, [], none)[0].muteRequested).toBeNull();
  });

  it("hears every student unless silenced here, and keeps showing their level", () => {
    const s = room([ana, bo], [publisher("s-ana"), publisher("s-bo")]);
    const seats = [seat("s-ana", { level: 0.2 }), seat("s-bo")];
    expect(stageSeats(s, seats, none).map((t) => t.listening)).toEqual([true, true]);
    const tiles = stageSeats(s, seats, none, new Map(), new Map([["s-ana", false], ["s-bo", true]]));
    expect(tiles.map((t) => t.listening)).toEqual([false, true]);
    expect(tiles[0]).toMatchObject({ speaking: true, level: 0.2 });
  });

  it("has no tile for a student who left the stage, or for seats no longer on it", () => {
    const s = room([ana, bo], [publisher("s-ana"), publisher("s-bo")], { type: "left", peer: "s-bo" });
    expect(stageSeats(s, [seat("s-ana"), seat("s-bo")], none).map((t) => t.peer)).toEqual(["s-ana"]);
  });
});

describe("mute requests", () => {
  it("forgets students who left the stage, and keeps the same map otherwise", () => {
    const requests: MuteRequests = new Map([
      ["s-ana", true],
      ["s-bo", false],
    ]);
    expect(keepOnStage(requests, ["s-ana", "s-bo", "s-cai"])).toBe(requests);
    expect([...keepOnStage(requests, ["s-bo"])]).toEqual([["s-bo", false]]);
    expect(keepOnStage(requests, []).size).toBe(0);
  });
});

describe("listening here", () => {
  const silenced: ListenChoices = new Map([["s-ana", false]]);

  it("hears a student no choice was made for", () => {
    expect(listening(new Map(), "s-ana")).toBe(true);
    expect(listening(silenced, "s-ana")).toBe(false);
    expect(listening(silenced, "s-bo")).toBe(true);
  });

  it("flips between heard and silenced, and says what to send", () => {
    const first = flipListen(new Map(), "s-ana");
    expect(first.on).toBe(false);
    expect(listening(first.choices, "s-ana")).toBe(false);
    const second = flipListen(first.choices, "s-ana");
    expect(second.on).toBe(true);
    expect(listening(second.choices, "s-ana")).toBe(true);
    // The maps it was given are left alone.
    expect(listening(first.choices, "s-ana")).toBe(false);
  });

  it("puts the toggle back to what the speakers still do when sending failed", () => {
    expect(listening(listenFailed(silenced, "s-ana", false, true), "s-ana")).toBe(true);
    const heardAgain: ListenChoices = new Map([["s-ana", true]]);
    expect(listening(listenFailed(heardAgain, "s-ana", true, false), "s-ana")).toBe(false);
    // Already what the speakers do: nothing to put back.
    expect(listenFailed(heardAgain, "s-ana", true, true)).toBe(heardAgain);
  });

  it("leaves a choice that moved on since the failed send alone", () => {
    // Flipped while the student was not watched, so nothing was sent for it.
    const heardAgain: ListenChoices = new Map([["s-ana", true]]);
    expect(listenFailed(heardAgain, "s-ana", false, true)).toBe(heardAgain);
    // The student left the stage, which forgot the choice.
    const forgotten: ListenChoices = new Map();
    expect(listenFailed(forgotten, "s-ana", false, true)).toBe(forgotten);
    expect(listenFailed(forgotten, "s-ana", true, false)).toBe(forgotten);
  });

  it("is forgotten when the student leaves the stage", () => {
    const choices: ListenChoices = new Map([["s-ana", false], ["s-bo", false]]);
    expect(keepOnStage(choices, ["s-ana", "s-bo"])).toBe(choices);
    expect(listening(keepOnStage(choices, ["s-bo"]), "s-ana")).toBe(true);
    expect(listening(keepOnStage(choices, ["s-bo"]), "s-bo")).toBe(false);
  });
});
