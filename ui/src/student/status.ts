// The one word that says where the student is, shown in the header and exposed to tests
// as `data-state` on `[data-testid=student-status]`.

export type StudentState =
  | "no-token"
  | "connecting"
  | "waiting"
  | "live"
  | "reconnecting"
  | "error"
  | "replaced";

/** Where the signaling connection is. */
export type SignalingStatus = "idle" | "connecting" | "open" | "reconnecting" | "replaced" | "stopped";

/** Where playback of the teacher is. */
export type PlayerStatus = "idle" | "connecting" | "live" | "retrying" | "failed";

/** Where this page's own publish (on stage) is; `data-state` of `stage-publish` but `idle`. */
export type PublishStatus = "idle" | "connecting" | "live" | "retrying" | "failed";

export interface StatusInput {
  /** The link has a valid room and a token. */
  linkOk: boolean;
  signaling: SignalingStatus;
  /** A `welcome` arrived on some connection. */
  welcomed: boolean;
  /** The link was refused (or playback failed for good). */
  fatal: boolean;
  /** The teacher is publishing. */
  teacherLive: boolean;
  /** The student pressed the start button. */
  joined: boolean;
  player: PlayerStatus;
}

export function studentState(s: StatusInput): StudentState {
  if (!s.linkOk) return "no-token";
  if (s.signaling === "replaced") return "replaced";
  if (s.fatal || s.player === "failed") return "error";
  if (s.signaling === "reconnecting") return "reconnecting";
  if (!s.welcomed || s.signaling !== "open") return "connecting";
  if (!s.teacherLive) return "waiting";
  // Before the start button the class is live; the page just has not joined the video yet.
  if (!s.joined || s.player === "live") return "live";
  if (s.player === "retrying") return "reconnecting";
  return "connecting";
}
