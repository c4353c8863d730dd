// The stage as the teacher's console shows it: who to watch, and what each seat's tile
// says, from the room (who is on stage, who publishes), the back end's seat reports, the
// mute requests the teacher sent and whom the teacher silenced on this console's speakers.
// Pure; `useStage.ts` does the watching.

import type { ApiError, SeatState, StageSeat } from "../bindings";
import type { PeerId, Transport } from "../student/protocol";
import type { RoomState } from "../student/room";

/** Above this audio level (0–1) a student counts as talking. */
export const SPEAKING_LEVEL = 0.05;

/** What a tile says, and its `data-state`: the seat's state, or "joining" before the student publishes. */
export type SeatViewState = SeatState | "joining";

/**
 * What reaches the console from a student: pictures, only sound, nothing after pictures
 * came (or from a publication without video), or nothing yet.
 */
export type SeatMedia = "video" | "audio_only" | "camera_off" | "no_picture";

/** The last mute request the teacher sent each student on stage. Students do not answer. */
export type MuteRequests = ReadonlyMap<PeerId, boolean>;

/** Why a watch could not start, by student, until it starts. */
export type WatchErrors = ReadonlyMap<PeerId, ApiError>;

/**
 * Whether this console plays each student on stage through its speakers, for those the
 * teacher chose for; anyone else is heard, as every watch starts. Unlike a mute request it
 * is never sent to the student, and the class still hears them.
 */
export type ListenChoices = ReadonlyMap<PeerId, boolean>;

export interface SeatView {
  peer: PeerId;
  name: string;
  /** How the student publishes; null until they do. */
  transport: Transport | null;
  state: SeatViewState;
  media: SeatMedia;
  /** Sound arrived in the last second. */
  audio: boolean;
  speaking: boolean;
  /** Audio level, 0–1. */
  level: number;
  width: number;
  height: number;
  fps: number;
  /** The last connection error, while reconnecting. */
  error: ApiError | null;
  /** The teacher's last request: true to mute, false to unmute, null for none. */
  muteRequested: boolean | null;
  /** This console's speakers play the student; false when the teacher silenced them here. */
  listening: boolean;
}

/** Students on stage, in order of arrival (never this console itself). */
export function stagePeers(room: RoomState): PeerId[] {
  return room.stage.filter((peer) => peer !== room.you);
}

/** Whom to watch: students on stage who publish, in order of arrival on stage. */
export function watchedPeers(room: RoomState): PeerId[] {
  return stagePeers(room).filter((peer) => room.publishers.some((p) => p.peer === peer));
}

/** What to start and stop watching to go from `watching` to `wanted`. */
export function watchChanges(watching: Iterable<PeerId>, wanted: readonly PeerId[]): { start: PeerId[]; stop: PeerId[] } {
  const current = new Set(watching);
  return {
    start: wanted.filter((peer) => !current.has(peer)),
    stop: [...current].filter((peer) => !wanted.includes(peer)),
  };
}

/**
 * The requests (or listen choices) for students still on stage: leaving the stage forgets
 * them. The same map when none left.
 */
export function keepOnStage<T>(byPeer: ReadonlyMap<PeerId, T>, stage: readonly PeerId[]): ReadonlyMap<PeerId, T> {
  if ([...byPeer.keys()].every((peer) => stage.includes(peer))) return byPeer;
  return new Map([...byPeer].filter(([peer]) => stage.includes(peer)));
}

/** Whether this console plays `peer` through its speakers: yes, unless silenced here. */
export function listening(choices: ListenChoices, peer: PeerId): boolean {
  return choices.get(peer) ?? true;
}

/** The teacher flips `peer` between heard and silenced here: the new choices, and the `on` to send. */
export function flipListen(choices: ListenChoices, peer: PeerId): { choices: ListenChoices; on: boolean } {
  const on = !listening(choices, peer);
  return { choices: new Map(choices).set(peer, on), on };
}

/**
 * The choices after the last `on` sent for `peer` failed, the speakers still doing `still`:
 * back to that, unless the choice moved on meanwhile (the student left the stage, or it
 * changed while they were not watched). The same map then.
 */
export function listenFailed(choices: ListenChoices, peer: PeerId, on: boolean, still: boolean): ListenChoices {
  if (choices.get(peer) !== on || on === still) return choices;
  return new Map(choices).set(peer, still);
}

function mediaOf(seat: StageSeat | undefined, publishesVideo: boolean): SeatMedia {
  if (seat?.video) return "video";
  if (seat?.audio) return "audio_only";
  // Pictures came before (the size is known) but stopped, or there never was a camera.
  if (!publishesVideo || (seat !== undefined && seat.width > 0)) return "camera_off";
  return "no_picture";
}

/** What the console shows for each student on stage, in order of arrival. */
export function stageSeats(
  room: RoomState,
  seats: readonly StageSeat[],
  muteRequests: MuteRequests,
  watchErrors: WatchErrors = new Map(),
  listenChoices: ListenChoices = new Map(),
): SeatView[] {
  return stagePeers(room).map((peer) => {
    const publisher = room.publishers.find((p) => p.peer === peer);
    const seat = publisher ? seats.find((s) => s.peer === peer) : undefined;
    const watchError = publisher && !seat ? (watchErrors.get(peer) ?? null) : null;
    const name = room.roster.find((p) => p.id === peer)?.name || publisher?.name || peer;
    const state: SeatViewState = !publisher
      ? "joining"
      : seat
        ? seat.state
        : watchError !== null
          ? "reconnecting"
          : "connecting";
    const live = state === "live";
    const level = live ? Math.min(Math.max(seat?.level ?? 0, 0), 1) : 0;
    const audio = live && (seat?.audio ?? false);
    return {
      peer,
      name,
      transport: publisher?.transport ?? null,
      state,
      media: mediaOf(seat, publisher?.video ?? true),
      audio,
      speaking: audio && level > SPEAKING_LEVEL,
      level,
      width: seat?.width ?? 0,
      height: seat?.height ?? 0,
      fps: seat?.fps ?? 0,
      error: state === "reconnecting" ? (seat?.error ?? watchError) : null,
      muteRequested: muteRequests.get(peer) ?? null,
      listening: listening(listenChoices, peer),
    };
  });
}
