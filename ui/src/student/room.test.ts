import { describe, expect, it } from "vitest";
import type { ChatLine, Participant, Publisher, ServerMessage } from "./protocol";
import {
  CHAT_HISTORY,
  initialRoomState,
  invitationAnswered,
  isOnStage,
  me,
  reduce,
  rosterView,
  teacherPublisher,
  type RoomState,
} from "./room";

const teacher: Participant = { id: "t-1", name: "Ms Li", role: "teacher", hand: false, on_stage: false };
const ana: Participant = { id: "s-ana", name: "Ana", role: "student", hand: false, on_stage: false };
const bo: Participant = { id: "s-bo", name: "Bo", role: "student", hand: false, on_stage: false };
const teacherCam: Publisher = {
  peer: "t-1",
  name: "Ms Li",
  role: "teacher",
  audio: true,
  video: true,
  transport: "whip",
};
const line = (text: string, at_ms: number, from = "t-1"): ChatLine => ({ from, name: "Ms Li", text, at_ms });

const welcome = (overrides: Partial<Extract<ServerMessage, { type: "welcome" }>> = {}): ServerMessage => ({
  type: "welcome",
  room: "math",
  you: ana,
  roster: [teacher, ana],
  publishers: [],
  chat: [line("hello", 1)],
  max_stage: 6,
  ...overrides,
});

const play = (...messages: ServerMessage[]): RoomState => messages.reduce(reduce, initialRoomState);

describe("reduce", () => {
  it("takes the room from welcome", () => {
    const s = play(welcome({ publishers: [teacherCam] }));
    expect(s.welcomed).toBe(true);
    expect(s.room).toBe("math");
    expect(s.you).toBe("s-ana");
    expect(s.roster.map((p) => p.id)).toEqual(["t-1", "s-ana"]);
    expect(s.chat).toEqual([line("hello", 1)]);
    expect(teacherPublisher(s)).toEqual(teacherCam);
    expect(me(s)).toEqual(ana);
    expect(s.maxStage).toBe(6);
  });

  it("adds itself to the roster if welcome leaves it out", () => {
    const s = play(welcome({ roster: [teacher] }));
    expect(s.roster.map((p) => p.id)).toEqual(["t-1", "s-ana"]);
  });

  it("starts afresh on a second welcome (after a reconnect)", () => {
    const s = play(
      welcome({ publishers: [teacherCam] }),
      { type: "invited", by: "t-1" },
      { type: "error", code: "rate_limited", message: "slow down" },
      welcome({ roster: [ana], chat: [] }),
    );
    expect(s.roster).toEqual([ana]);
    expect(s.publishers).toEqual([]);
    expect(s.chat).toEqual([]);
    expect(s.invitedBy).toBeNull();
    expect(s.lastError).toBeNull();
  });

  it("adds someone who joins and updates someone who changes, in place", () => {
    const s = play(
      welcome(),
      { type: "participant", participant: bo },
      { type: "participant", participant: { ...ana, hand: true } },
    );
    expect(s.roster.map((p) => p.id)).toEqual(["t-1", "s-ana", "s-bo"]);
    expect(me(s)?.hand).toBe(true);
  });

  it("follows the stage through participant updates", () => {
    const s = play(welcome(), { type: "participant", participant: { ...bo, on_stage: true } });
    expect(s.stage).toEqual(["s-bo"]);
    const off = reduce(s, { type: "participant", participant: bo });
    expect(off.stage).toEqual([]);
  });

  it("removes someone who leaves, but not their publication", () => {
    const s = play(
      welcome({ publishers: [teacherCam] }),
      { type: "participant", participant: { ...bo, on_stage: true } },
      { type: "left", peer: "s-bo" },
      { type: "left", peer: "t-1" },
    );
    expect(s.roster.map((p) => p.id)).toEqual(["s-ana"]);
    expect(s.stage).toEqual([]);
    expect(teacherPublisher(s)).toEqual(teacherCam);
  });

  it("appends chat and keeps only the latest lines", () => {
    let s = play(welcome(), { type: "chat", line: line("second", 2, "s-bo") });
    expect(s.chat.map((l) => l.text)).toEqual(["hello", "second"]);
    for (let i = 0; i < CHAT_HISTORY + 10; i++) s = reduce(s, { type: "chat", line: line(`n${i}`, 10 + i) });
    expect(s.chat).toHaveLength(CHAT_HISTORY);
    expect(s.chat.at(-1)?.text).toBe(`n${CHAT_HISTORY + 9}`);
  });

  it("takes the stage as the relay orders it and marks the roster", () => {
    const s = play(welcome(), { type: "participant", participant: bo }, { type: "stage", peers: ["s-bo", "s-ana"] });
    expect(s.stage).toEqual(["s-bo", "s-ana"]);
    expect(s.roster.filter((p) => p.on_stage).map((p) => p.id)).toEqual(["s-ana", "s-bo"]);
    expect(isOnStage(s)).toBe(true);
    const after = reduce(s, { type: "stage", peers: ["s-bo"] });
    expect(isOnStage(after)).toBe(false);
    expect(me(after)?.on_stage).toBe(false);
  });

  it("keeps an invitation until it is answered or the stage takes us", () => {
    const invited = play(welcome(), { type: "invited", by: "t-1" });
    expect(invited.invitedBy).toBe("t-1");
    expect(invitationAnswered(invited).invitedBy).toBeNull();
    expect(reduce(invited, { type: "stage", peers: ["s-ana"] }).invitedBy).toBeNull();
    expect(reduce(invited, { type: "stage", peers: ["s-bo"] }).invitedBy).toBe("t-1");
    expect(reduce(invited, { type: "participant", participant: { ...ana, on_stage: true } }).invitedBy).toBeNull();
  });

  it("adds, replaces and removes publishers", () => {
    const s = play(welcome(), { type: "publisher_added", publisher: teacherCam });
    expect(teacherPublisher(s)).toEqual(teacherCam);
    const again = reduce(s, { type: "publisher_added", publisher: { ...teacherCam, video: false } });
    expect(again.publishers).toHaveLength(1);
    expect(teacherPublisher(again)?.video).toBe(false);
    const student = reduce(again, {
      type: "publisher_added",
      publisher: { ...teacherCam, peer: "s-bo", name: "Bo", role: "student" },
    });
    expect(student.publishers.map((p) => p.peer)).toEqual(["t-1", "s-bo"]);
    const gone = reduce(student, { type: "publisher_removed", peer: "t-1" });
    expect(teacherPublisher(gone)).toBeNull();
    expect(gone.publishers.map((p) => p.peer)).toEqual(["s-bo"]);
  });

  it("remembers the last error, the mute request and a bye", () => {
    const s = play(
      welcome(),
      { type: "error", code: "rate_limited", message: "slow down" },
      { type: "mute_requested", muted: true },
      { type: "bye", reason: "replaced" },
    );
    expect(s.lastError).toEqual({ code: "rate_limited", message: "slow down" });
    expect(s.muteRequested).toBe(true);
    expect(s.bye).toBe("replaced");
  });

  it("leaves the state untouched for pong and the teacher's invite answers", () => {
    const s = play(welcome());
    expect(reduce(s, { type: "pong", id: 3 })).toBe(s);
    expect(reduce(s, { type: "invite_answered", peer: "s-bo", accept: true })).toBe(s);
  });

  it("never mutates the state it is given", () => {
    const s = play(welcome({ publishers: [teacherCam] }));
    const frozen = JSON.parse(JSON.stringify(s));
    play(welcome());
    reduce(s, { type: "participant", participant: bo });
    reduce(s, { type: "left", peer: "t-1" });
    reduce(s, { type: "chat", line: line("x", 5) });
    reduce(s, { type: "stage", peers: ["s-ana"] });
    reduce(s, { type: "publisher_removed", peer: "t-1" });
    expect(s).toEqual(frozen);
  });
});

describe("rosterView", () => {
  it("lists teachers first, then students and observers, by name", () => {
    const zed: Participant = { id: "o-z", name: "Zed", role: "observer", hand: false, on_stage: false };
    const s = play(welcome({ roster: [zed, bo, ana, teacher] }));
    expect(rosterView(s).map((p) => p.id)).toEqual(["t-1", "s-ana", "s-bo", "o-z"]);
  });

  it("sorts names as people read them: case and numbers", () => {
    const s = (name: string, id: string): Participant => ({ ...bo, id, name });
    const state = play(welcome({ roster: [s("student 10", "a"), s("Student 9", "b"), s("anna", "c")] }));
    expect(rosterView(state, "en").map((p) => p.name)).toEqual(["Ana", "anna", "Student 9", "student 10"]);
  });
});
