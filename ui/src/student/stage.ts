// What this page does on stage, decided by pure functions: when to publish, what the
// microphone does on the teacher's requests, and which sentences explain what the camera,
// the microphone and the relay did. `useClassroom.ts` carries the decisions out.

import type { SignalingStatus } from "./status";
import type { Capture, CaptureProblem } from "./whip";

export interface PublishInput {
  /** Signaling says this page is on stage. */
  onStage: boolean;
  /** The student pressed "leave stage" and the relay has not confirmed it yet. */
  leaving: boolean;
  signaling: SignalingStatus;
  /** The link was refused: nothing can work. */
  linkRefused: boolean;
}

/**
 * Publish exactly while on stage. A signaling reconnect does not stop it (the relay keeps
 * the seat for a while, and the room state keeps saying "on stage" until a new `welcome`
 * says otherwise); another tab taking over (`replaced`) does, as that tab publishes now.
 * Pressing "leave" stops at once, before the relay answers: the camera goes off when the
 * student asks, not a round trip later.
 */
export function shouldPublish(input: PublishInput): boolean {
  return (
    input.onStage &&
    !input.leaving &&
    !input.linkRefused &&
    input.signaling !== "replaced" &&
    input.signaling !== "stopped"
  );
}

/** The microphone while on stage, and what the teacher last asked. */
export interface MicState {
  /** The audio track is enabled. */
  on: boolean;
  /** A teacher's request still on screen: `muted` (done), `unmute` (asked, not done). */
  notice: "muted" | "unmute" | null;
}

export type MicEvent =
  /** The page went on stage: the student accepted to be heard. */
  | { type: "stage_entered" }
  /** `mute_requested {muted}` arrived. */
  | { type: "teacher"; muted: boolean }
  /** The student pressed the mic button. */
  | { type: "toggle" }
  /** The student pressed "unmute" on a notice. */
  | { type: "unmute" }
  /** The student closed the notice. */
  | { type: "dismiss" };

export const MIC_ON: MicState = { on: true, notice: null };

/**
 * The microphone after one event. The teacher may turn it off, never on: an unmute request
 * only asks, and the student decides (a page that switched a microphone on by remote
 * control would be a listening device).
 *
 * Driven by `mute_requested` messages, not by the room's `muteRequested`: the teacher may
 * mute twice in a row with the student unmuting between, which the stored value would not
 * show as a change.
 */
export function micReduce(state: MicState, event: MicEvent): MicState {
  switch (event.type) {
    case "stage_entered":
      return MIC_ON;
    case "teacher":
      if (event.muted) return { on: false, notice: "muted" };
      return state.on ? { on: true, notice: null } : { on: false, notice: "unmute" };
    case "toggle":
      return { on: !state.on, notice: null };
    case "unmute":
      return { on: true, notice: null };
    case "dismiss":
      return state.notice === null ? state : { ...state, notice: null };
  }
}

/** What the capture gave, as the page explains it; null when both devices are in use. */
export interface CaptureNotice {
  /** `audio_only`: no camera; `video_only`: no microphone; `none`: neither. */
  kind: "audio_only" | "video_only" | "none";
  /** Why the missing device (or, for `none`, the devices) gave nothing. */
  reason: CaptureProblem;
  /** i18n key of the sentence saying what is sent. */
  titleKey: string;
  /** i18n key of the sentence saying why, and what to do; its `{device}` is `deviceKey`. */
  bodyKey: string;
  /** i18n key naming the missing device(s). */
  deviceKey: string;
}

/** The problems in the order worth telling: the first one the student can act on. */
const REASON_ORDER: readonly CaptureProblem[] = ["insecure", "denied", "busy", "absent", "unsupported", "failed"];

export function captureNotice(capture: Capture | null): CaptureNotice | null {
  if (capture === null) return null;
  const { audio, video } = capture;
  if (audio === null && video === null) return null;
  const kind = audio === null ? "audio_only" : video === null ? "video_only" : "none";
  const reasons = [audio, video].filter((r): r is CaptureProblem => r !== null);
  const reason = REASON_ORDER.find((r) => reasons.includes(r)) ?? "failed";
  const device = kind === "audio_only" ? "camera" : kind === "video_only" ? "microphone" : "devices";
  return {
    kind,
    reason,
    titleKey: `student.publish.capture.${kind}`,
    bodyKey: `student.publish.reason.${reason}`,
    deviceKey: `student.publish.device.${device}`,
  };
}

/** Every reason `captureNotice` may give, for the catalog test. */
export const CAPTURE_REASONS = REASON_ORDER;

/** Publish failures with their own sentence under `student.publish.error.*`. */
export const PUBLISH_EXPLAINED_CODES = [
  "not_on_stage",
  "unsupported_codec",
  "forbidden",
  "token_expired",
  "capacity",
  "rate_limited",
  "network",
  "no_webrtc",
] as const;

/** The i18n key of the sentence shown when publishing fails (or is being retried). */
export function publishErrorKey(code: string): string {
  return (PUBLISH_EXPLAINED_CODES as readonly string[]).includes(code)
    ? `student.publish.error.${code}`
    : "student.publish.error.generic";
}
