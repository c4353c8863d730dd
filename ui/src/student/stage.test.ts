import { describe, expect, it } from "vitest";
import en from "../locales/en.json";
import zhCN from "../locales/zh-CN.json";
import {
  CAPTURE_REASONS,
  captureNotice,
  MIC_ON,
  micReduce,
  PUBLISH_EXPLAINED_CODES,
  publishErrorKey,
  shouldPublish,
  type MicEvent,
  type MicState,
  type PublishInput,
} from "./stage";
import type { SignalingStatus } from "./status";
import type { Capture } from "./whip";

describe("shouldPublish", () => {
  const on: PublishInput = { onStage: true, leaving: false, signaling: "open", linkRefused: false };

  it("publishes while on stage, through a signaling reconnect", () => {
    expect(shouldPublish(on)).toBe(true);
    expect(shouldPublish({ ...on, signaling: "reconnecting" })).toBe(true);
    expect(shouldPublish({ ...on, onStage: false })).toBe(false);
  });

  it("stops as soon as the student presses leave, before the relay confirms", () => {
    expect(shouldPublish({ ...on, leaving: true })).toBe(false);
  });

  it("stops when another tab takes over, the page stops, or the link is refused", () => {
    for (const signaling of ["replaced", "stopped"] as SignalingStatus[]) {
      expect(shouldPublish({ ...on, signaling })).toBe(false);
    }
    expect(shouldPublish({ ...on, linkRefused: true })).toBe(false);
  });
});

describe("micReduce", () => {
  const play = (...events: MicEvent[]): MicState => events.reduce(micReduce, MIC_ON);

  it("starts on when the student goes on stage, whatever it was before", () => {
    expect(play({ type: "toggle" }, { type: "stage_entered" })).toEqual(MIC_ON);
  });

  it("mutes at the teacher's request and says so", () => {
    expect(play({ type: "teacher", muted: true })).toEqual({ on: false, notice: "muted" });
  });

  it("never turns the microphone on for the teacher: it asks the student", () => {
    const asked = play({ type: "teacher", muted: true }, { type: "teacher", muted: false });
    expect(asked).toEqual({ on: false, notice: "unmute" });
    expect(micReduce(asked, { type: "unmute" })).toEqual({ on: true, notice: null });
    expect(micReduce(asked, { type: "dismiss" })).toEqual({ on: false, notice: null });
  });

  it("lets the student unmute after the teacher muted, and shows a second mute again", () => {
    const muted = play({ type: "teacher", muted: true });
    const back = micReduce(muted, { type: "toggle" });
    expect(back).toEqual({ on: true, notice: null });
    expect(micReduce(back, { type: "teacher", muted: true })).toEqual({ on: false, notice: "muted" });
  });

  it("ignores an unmute request when the microphone is already on", () => {
    expect(play({ type: "teacher", muted: false })).toEqual(MIC_ON);
  });

  it("asks when the student had muted themselves", () => {
    expect(play({ type: "toggle" }, { type: "teacher", muted: false })).toEqual({ on: false, notice: "unmute" });
  });

  it("keeps the same state when there is nothing to dismiss", () => {
    expect(micReduce(MIC_ON, { type: "dismiss" })).toBe(MIC_ON);
  });
});

describe("captureNotice", () => {
  const got = (audio: Capture["audio"], video: Capture["video"]): Capture => ({ tracks: [], audio, video });

  it("says nothing when both devices are sent, or nothing was captured yet", () => {
    expect(captureNotice(null)).toBeNull();
    expect(captureNotice(got(null, null))).toBeNull();
  });

  it("names what is sent and why the rest is not", () => {
    expect(captureNotice(got(null, "absent"))).toEqual({
      kind: "audio_only",
      reason: "absent",
      titleKey: "student.publish.capture.audio_only",
      bodyKey: "student.publish.reason.absent",
      deviceKey: "student.publish.device.camera",
    });
    expect(captureNotice(got("busy", null))).toMatchObject({
      kind: "video_only",
      reason: "busy",
      deviceKey: "student.publish.device.microphone",
    });
  });

  it("gives the reason the student can act on when neither works", () => {
    expect(captureNotice(got("absent", "denied"))).toMatchObject({
      kind: "none",
      reason: "denied",
      deviceKey: "student.publish.device.devices",
    });
    expect(captureNotice(got("insecure", "insecure"))).toMatchObject({ kind: "none", reason: "insecure" });
  });
});

describe("publishErrorKey", () => {
  it("explains known codes and falls back to a generic sentence", () => {
    expect(publishErrorKey("unsupported_codec")).toBe("student.publish.error.unsupported_codec");
    expect(publishErrorKey("not_on_stage")).toBe("student.publish.error.not_on_stage");
    expect(publishErrorKey("something_new")).toBe("student.publish.error.generic");
  });
});

describe("the sentences exist", () => {
  type Tree = { [key: string]: string | Tree };
  const lookup = (tree: Tree, key: string): unknown =>
    key.split(".").reduce<unknown>((node, part) => (node as Tree | undefined)?.[part], tree);
  const keys = [
    ...PUBLISH_EXPLAINED_CODES.map(publishErrorKey),
    publishErrorKey("x"),
    ...CAPTURE_REASONS.map((r) => `student.publish.reason.${r}`),
    ...["audio_only", "video_only", "none"].map((k) => `student.publish.capture.${k}`),
    ...["camera", "microphone", "devices"].map((d) => `student.publish.device.${d}`),
    ...["connecting", "live", "retrying", "failed"].map((s) => `student.publish.state.${s}`),
  ];

  it.each([
    ["en", en],
    ["zh-CN", zhCN],
  ])("in %s", (_, catalog) => {
    for (const key of keys) {
      const message = lookup(catalog as Tree, key);
      expect(typeof message === "string" && message.trim().length > 0, key).toBe(true);
      if (key.startsWith("student.publish.reason.")) expect(message, key).toContain("{device}");
    }
  });
});
