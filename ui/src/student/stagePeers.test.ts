import { describe, expect, it } from "vitest";
import type { Participant, Publisher } from "./protocol";
import {
  audioLevel,
  audioTotals,
  isSpeaking,
  SPEAKING_LEVEL,
  stagePeers,
  stagePeerState,
  stageTiles,
  watchedPeers,
  type StagePlayback,
  type StageWatchInput,
} from "./stagePeers";
import type { PlayerStatus, SignalingStatus } from "./status";

const person = (id: string, name: string, role: Participant["role"] = "student"): Participant => ({
  id,
  name,
  role,
  hand: false,
  on_stage: true,
});
const publishing = (peer: string, extra: Partial<Publisher> = {}): Publisher => ({
  peer,
  name: peer,
  role: "student",
  audio: true,
  video: true,
  transport: "whip",
  ...extra,
});

const teacher = person("t-1", "Ms Li", "teacher");
const ana = person("s-ana", "Ana");
const ben = person("s-ben", "Ben");
const chen = person("s-chen", "陈晨");

/** Ana's page, with Ben (browser) and Chen (mini-program) on stage beside her. */
const input: StageWatchInput = {
  room: {
    you: "s-ana",
    stage: ["s-ben", "s-ana", "s-chen"],
    roster: [teacher, ana, ben, chen],
    publishers: [
      publishing("t-1", { role: "teacher" }),
      publishing("s-ana"),
      publishing("s-ben"),
      publishing("s-chen", { transport: "rtmp" }),
    ],
  },
  joined: true,
  signaling: "open",
  linkRefused: false,
};

describe("stagePeers", () => {
  it("shows everyone on stage but this page, in order, with their names and transports", () => {
    expect(stagePeers(input)).toEqual([
      { peer: "s-ben", name: "Ben", publishing: true, transport: "whip", video: true, audio: true },
      { peer: "s-chen", name: "陈晨", publishing: true, transport: "rtmp", video: true, audio: true },
    ]);
    expect(watchedPeers(stagePeers(input))).toEqual(["s-ben", "s-chen"]);
  });

  it("never watches this page itself, on stage or not", () => {
    const off = { ...input, room: { ...input.room, stage: ["s-ben", "s-chen"] } };
    expect(watchedPeers(stagePeers(off))).toEqual(["s-ben", "s-chen"]);
    const alone = { ...input, room: { ...input.room, stage: ["s-ana"] } };
    expect(stagePeers(alone)).toEqual([]);
  });

  it("shows a classmate who has not published yet, but watches only those who publish", () => {
    const room = { ...input.room, publishers: input.room.publishers.filter((p) => p.peer !== "s-chen") };
    const peers = stagePeers({ ...input, room });
    expect(peers.map((p) => [p.peer, p.publishing, p.transport])).toEqual([
      ["s-ben", true, "whip"],
      ["s-chen", false, null],
    ]);
    expect(watchedPeers(peers)).toEqual(["s-ben"]);
  });

  it("stops watching whoever leaves the stage, even while they still publish", () => {
    const room = { ...input.room, stage: ["s-ana", "s-chen"] };
    expect(watchedPeers(stagePeers({ ...input, room }))).toEqual(["s-chen"]);
  });

  it("does not watch a publisher who is not on stage, nor the teacher", () => {
    const room = { ...input.room, stage: ["t-1", "s-ben"], publishers: [...input.room.publishers, publishing("s-dee")] };
    expect(watchedPeers(stagePeers({ ...input, room }))).toEqual(["s-ben"]);
  });

  it("says what the publication lacks, and falls back to the publisher's name or the id", () => {
    const room = {
      ...input.room,
      stage: ["s-ben", "s-dee", "s-eve"],
      roster: [ana, ben],
      publishers: [publishing("s-ben", { video: false }), publishing("s-dee", { name: "Dee", audio: false })],
    };
    expect(stagePeers({ ...input, room })).toEqual([
      { peer: "s-ben", name: "Ben", publishing: true, transport: "whip", video: false, audio: true },
      { peer: "s-dee", name: "Dee", publishing: true, transport: "whip", video: true, audio: false },
      { peer: "s-eve", name: "s-eve", publishing: false, transport: null, video: true, audio: true },
    ]);
  });

  it("shows at most six, and each once", () => {
    const ids = ["s-1", "s-2", "s-2", "s-3", "s-4", "s-5", "s-6", "s-7"];
    const room = { ...input.room, stage: ids, publishers: ids.map((id) => publishing(id)) };
    expect(watchedPeers(stagePeers({ ...input, room }))).toEqual(["s-1", "s-2", "s-3", "s-4", "s-5", "s-6"]);
  });

  it("watches nobody before the start button, after another tab took over, or with a refused link", () => {
    expect(stagePeers({ ...input, joined: false })).toEqual([]);
    for (const signaling of ["replaced", "stopped"] as SignalingStatus[]) {
      expect(stagePeers({ ...input, signaling })).toEqual([]);
    }
    expect(stagePeers({ ...input, linkRefused: true })).toEqual([]);
  });

  it("keeps watching through a signaling reconnect", () => {
    expect(watchedPeers(stagePeers({ ...input, signaling: "reconnecting" }))).toEqual(["s-ben", "s-chen"]);
  });
});

describe("stagePeerState", () => {
  it("connects until the classmate publishes and the watch plays", () => {
    expect(stagePeerState(false, undefined)).toBe("connecting");
    expect(stagePeerState(false, "live")).toBe("connecting");
    const cases: [PlayerStatus | undefined, string][] = [
      [undefined, "connecting"],
      ["idle", "connecting"],
      ["connecting", "connecting"],
      ["live", "live"],
      ["retrying", "retrying"],
      ["failed", "failed"],
    ];
    for (const [status, state] of cases) expect(stagePeerState(true, status), String(status)).toBe(state);
  });
});

describe("stageTiles", () => {
  const peers = stagePeers(input);
  const playing = (status: PlayerStatus, level = 0): StagePlayback => ({ status, error: null, level });

  it("joins each classmate to their watch, speaking only when live and loud", () => {
    const tiles = stageTiles(
      peers,
      new Map([
        ["s-ben", playing("live", 0.2)],
        ["s-chen", playing("retrying", 0.2)],
      ]),
    );
    expect(tiles.map((t) => [t.peer, t.state, t.level, t.speaking])).toEqual([
      ["s-ben", "live", 0.2, true],
      ["s-chen", "retrying", 0, false],
    ]);
  });

  it("is quiet below the threshold, and without a microphone", () => {
    const quiet = stageTiles(peers, new Map([["s-ben", playing("live", SPEAKING_LEVEL)]]));
    expect(quiet[0].speaking).toBe(false);
    const noMic = stageTiles(
      [{ ...peers[0], audio: false }],
      new Map([["s-ben", playing("live", 0.5)]]),
    );
    expect(noMic[0].speaking).toBe(false);
  });

  it("ignores a leftover watch of a classmate who no longer publishes", () => {
    const tiles = stageTiles([{ ...peers[0], publishing: false }], new Map([["s-ben", playing("live", 0.5)]]));
    expect(tiles[0]).toMatchObject({ state: "connecting", level: 0, speaking: false });
  });
});

describe("audio level", () => {
  it("sums the inbound audio totals of a stats report", () => {
    const report = [
      { type: "inbound-rtp", kind: "audio", totalAudioEnergy: 0.25, totalSamplesDuration: 10 },
      { type: "inbound-rtp", kind: "video", framesDecoded: 300 },
      { type: "outbound-rtp", kind: "audio", totalAudioEnergy: 9 },
      { type: "inbound-rtp", mediaType: "audio", totalAudioEnergy: 0.05, totalSamplesDuration: 2 },
      null,
    ];
    expect(audioTotals(report)).toEqual({ energy: 0.3, duration: 12 });
    expect(audioTotals([])).toEqual({ energy: 0, duration: 0 });
  });

  it("is the RMS between two readings", () => {
    // A steady level of 0.1 for half a second adds 0.1² × 0.5 of energy.
    const before = { energy: 1, duration: 10 };
    expect(audioLevel(before, { energy: 1 + 0.01 * 0.5, duration: 10.5 })).toBeCloseTo(0.1, 6);
    expect(isSpeaking(0.1)).toBe(true);
    expect(isSpeaking(0.01)).toBe(false);
  });

  it("is 0 without an earlier reading, without time played, or when the counters went back", () => {
    expect(audioLevel(null, { energy: 5, duration: 5 })).toBe(0);
    expect(audioLevel({ energy: 1, duration: 10 }, { energy: 1, duration: 10 })).toBe(0);
    expect(audioLevel({ energy: 1, duration: 10 }, { energy: 0.1, duration: 1 })).toBe(0);
  });

  it("never goes above 1", () => {
    expect(audioLevel({ energy: 0, duration: 0 }, { energy: 4, duration: 1 })).toBe(1);
  });
});
