import { describe, expect, it } from "vitest";
import { studentState, type StatusInput } from "./status";

const base: StatusInput = {
  linkOk: true,
  signaling: "open",
  welcomed: true,
  fatal: false,
  teacherLive: false,
  joined: false,
  player: "idle",
};
const at = (over: Partial<StatusInput>) => studentState({ ...base, ...over });

describe("studentState", () => {
  it("asks for the link first", () => {
    expect(at({ linkOk: false, signaling: "idle", welcomed: false })).toBe("no-token");
  });

  it("connects, then waits for the teacher", () => {
    expect(at({ signaling: "connecting", welcomed: false })).toBe("connecting");
    expect(at({})).toBe("waiting");
    expect(at({ joined: true })).toBe("waiting");
  });

  it("is live when the teacher publishes, before and after the start button", () => {
    expect(at({ teacherLive: true })).toBe("live");
    expect(at({ teacherLive: true, joined: true, player: "connecting" })).toBe("connecting");
    expect(at({ teacherLive: true, joined: true, player: "live" })).toBe("live");
    expect(at({ teacherLive: true, joined: true, player: "retrying" })).toBe("reconnecting");
  });

  it("says reconnecting whenever signaling is dialling again", () => {
    expect(at({ signaling: "reconnecting" })).toBe("reconnecting");
    expect(at({ signaling: "reconnecting", welcomed: false })).toBe("reconnecting");
    expect(at({ signaling: "reconnecting", teacherLive: true, joined: true, player: "live" })).toBe("reconnecting");
  });

  it("ends in replaced or error", () => {
    expect(at({ signaling: "replaced", fatal: true })).toBe("replaced");
    expect(at({ signaling: "stopped", fatal: true })).toBe("error");
    expect(at({ teacherLive: true, joined: true, player: "failed" })).toBe("error");
  });
});
