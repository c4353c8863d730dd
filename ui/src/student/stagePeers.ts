// The other students on stage, as this page shows and hears them: who gets a tile, whom
// to watch, what each tile says, and who is talking. Pure; `stageWatch.ts` does the
// watching and `useClassroom.ts` wires it to the page.

import { MAX_STAGE, type ApiError, type PeerId, type Transport } from "./protocol";
import type { RoomState } from "./room";
import type { PlayerStatus, SignalingStatus } from "./status";

/**
 * Above this audio level (0–1, RMS as WebRTC reports it) a classmate counts as talking;
 * the teacher's console uses the same threshold for its own stage tiles.
 */
export const SPEAKING_LEVEL = 0.05;

export interface StageWatchInput {
  room: Pick<RoomState, "you" | "stage" | "publishers" | "roster">;
  /** The student pressed the start button: sound may play, as for the teacher. */
  joined: boolean;
  signaling: SignalingStatus;
  /** The link was refused: nothing can work. */
  linkRefused: boolean;
}

/** A classmate on stage, with what the relay says of their publication. */
export interface StagePeer {
  peer: PeerId;
  name: string;
  /** The relay announced their publication (`publisher_added`): there is something to watch. */
  publishing: boolean;
  /** How they publish (a browser over WHIP, a mini-program over RTMP); null until they do. */
  transport: Transport | null;
  /** Their publication has a camera / a microphone (assumed until it says otherwise). */
  video: boolean;
  audio: boolean;
}

/**
 * The classmates this page shows, in order of arrival on stage: everyone on stage but this
 * page itself (its own picture is the self-view) and the teacher (already the big picture),
 * at most `MAX_STAGE`. None before the start button, as the teacher is not played before
 * it either, and none once another tab took over or the link was refused.
 */
export function stagePeers(input: StageWatchInput): StagePeer[] {
  const { room } = input;
  if (!input.joined || input.linkRefused || input.signaling === "replaced" || input.signaling === "stopped") {
    return [];
  }
  const peers: StagePeer[] = [];
  for (const peer of room.stage) {
    if (peers.length === MAX_STAGE) break;
    if (peer === room.you || peers.some((p) => p.peer === peer)) continue;
    const member = room.roster.find((p) => p.id === peer);
    const publisher = room.publishers.find((p) => p.peer === peer);
    if (member?.role === "teacher" || publisher?.role === "teacher") continue;
    peers.push({
      peer,
      name: member?.name || publisher?.name || peer,
      publishing: publisher !== undefined,
      transport: publisher?.transport ?? null,
      video: publisher?.video ?? true,
      audio: publisher?.audio ?? true,
    });
  }
  return peers;
}

/** Whom to watch: the classmates shown who publish. One subscription each. */
export function watchedPeers(peers: readonly StagePeer[]): PeerId[] {
  return peers.filter((p) => p.publishing).map((p) => p.peer);
}

/**
 * A tile's `data-state`. `connecting` until the first picture and sound (also while the
 * classmate has not started publishing), `retrying` once a live watch dropped, and `failed`
 * only when the relay refused the watch for good (the link itself, or no WebRTC here).
 */
export type StagePeerState = "connecting" | "live" | "retrying" | "failed";

export function stagePeerState(publishing: boolean, player: PlayerStatus | undefined): StagePeerState {
  if (!publishing) return "connecting";
  switch (player) {
    case "live":
    case "retrying":
    case "failed":
      return player;
    default:
      return "connecting";
  }
}

/** One classmate's watch, as `stageWatch.ts` reports it. */
export interface StagePlayback {
  status: PlayerStatus;
  /** The last failure (retried or not), or null once playing. */
  error: ApiError | null;
  /** Audio level over the last reading, 0–1. */
  level: number;
}

/** What one tile of the strip shows. */
export interface StageTile extends StagePeer {
  state: StagePeerState;
  /** Audio level, 0–1; 0 unless live. */
  level: number;
  speaking: boolean;
}

/** The strip: each classmate shown, with how their watch is going. */
export function stageTiles(peers: readonly StagePeer[], watching: ReadonlyMap<PeerId, StagePlayback>): StageTile[] {
  return peers.map((p) => {
    const playback = p.publishing ? watching.get(p.peer) : undefined;
    const state = stagePeerState(p.publishing, playback?.status);
    const level = state === "live" ? Math.min(Math.max(playback?.level ?? 0, 0), 1) : 0;
    return {
      ...p,
      state,
      level,
      speaking: p.audio && isSpeaking(level),
    };
  });
}

/** Running audio totals of one watch, from `getStats()`. */
export interface AudioTotals {
  /** inbound-rtp audio `totalAudioEnergy`. */
  energy: number;
  /** inbound-rtp audio `totalSamplesDuration`, in seconds. */
  duration: number;
}

/** The audio totals in a `getStats()` report; zeros when there is no audio yet. */
export function audioTotals(report: Iterable<unknown>): AudioTotals {
  let energy = 0;
  let duration = 0;
  for (const entry of report) {
    if (typeof entry !== "object" || entry === null) continue;
    const s = entry as Record<string, unknown>;
    if (s.type !== "inbound-rtp" || (s.kind ?? s.mediaType) !== "audio") continue;
    if (typeof s.totalAudioEnergy === "number") energy += s.totalAudioEnergy;
    if (typeof s.totalSamplesDuration === "number") duration += s.totalSamplesDuration;
  }
  return { energy, duration };
}

/**
 * The audio level (RMS, 0–1) between two readings of the totals: the square root of the
 * energy over the time it covers, as the WebRTC statistics define it. 0 without an earlier
 * reading, when no audio was played out between them, or when the counters went back (a
 * new connection).
 */
export function audioLevel(before: AudioTotals | null, after: AudioTotals): number {
  if (before === null) return 0;
  const duration = after.duration - before.duration;
  const energy = after.energy - before.energy;
  if (!(duration > 0) || !(energy > 0)) return 0;
  return Math.min(1, Math.sqrt(energy / duration));
}

export function isSpeaking(level: number): boolean {
  return level > SPEAKING_LEVEL;
}
