// The room as this page knows it, folded from the relay's messages by a pure reducer.
//
// `reduce` never mutates its input and never throws on a well-formed message, so the
// whole of signaling can be replayed in a test from a list of frames.

import {
  MAX_STAGE,
  type ApiError,
  type ByeReason,
  type ChatLine,
  type Participant,
  type PeerId,
  type Publisher,
  type RoomId,
  type ServerMessage,
} from "./protocol";

/** Chat lines kept in memory; older ones scroll away. */
export const CHAT_HISTORY = 200;

export interface RoomState {
  /** False until the first `welcome`; everything below is empty before it. */
  welcomed: boolean;
  room: RoomId | null;
  /** This page's participant id (from the token). */
  you: PeerId | null;
  /** Everyone in the room, this page included, in order of arrival. */
  roster: Participant[];
  publishers: Publisher[];
  chat: ChatLine[];
  /** Who is on stage, in order of arrival. */
  stage: PeerId[];
  maxStage: number;
  /** The teacher who invited this page to the stage, until it answers. */
  invitedBy: PeerId | null;
  /** The teacher's last mute request (for when the browser publishes). */
  muteRequested: boolean | null;
  /** The relay's last refusal of something this page sent. */
  lastError: ApiError | null;
  /** Why the relay ended the connection, if it did. */
  bye: ByeReason | null;
}

export const initialRoomState: RoomState = {
  welcomed: false,
  room: null,
  you: null,
  roster: [],
  publishers: [],
  chat: [],
  stage: [],
  maxStage: MAX_STAGE,
  invitedBy: null,
  muteRequested: null,
  lastError: null,
  bye: null,
};

function upsert<T>(list: T[], item: T, same: (a: T) => boolean): T[] {
  const i = list.findIndex(same);
  if (i < 0) return [...list, item];
  const next = list.slice();
  next[i] = item;
  return next;
}

function keepLast<T>(list: T[], n: number): T[] {
  return list.length > n ? list.slice(list.length - n) : list;
}

/** The room after one message from the relay. */
export function reduce(state: RoomState, message: ServerMessage): RoomState {
  switch (message.type) {
    case "welcome": {
      // A fresh snapshot: after a reconnect it replaces everything we knew.
      const roster = message.roster.some((p) => p.id === message.you.id)
        ? message.roster
        : [...message.roster, message.you];
      return {
        ...initialRoomState,
        welcomed: true,
        room: message.room,
        you: message.you.id,
        roster,
        publishers: message.publishers,
        chat: keepLast(message.chat, CHAT_HISTORY),
        stage: roster.filter((p) => p.on_stage).map((p) => p.id),
        maxStage: message.max_stage,
      };
    }
    case "participant": {
      const p = message.participant;
      const roster = upsert(state.roster, p, (q) => q.id === p.id);
      const onStage = state.stage.includes(p.id);
      const stage =
        p.on_stage === onStage
          ? state.stage
          : p.on_stage
            ? [...state.stage, p.id]
            : state.stage.filter((id) => id !== p.id);
      const invitedBy = p.id === state.you && p.on_stage ? null : state.invitedBy;
      return { ...state, roster, stage, invitedBy };
    }
    case "left":
      // Publishers are left alone: the relay announces `publisher_removed` on its own, and
      // a teacher whose signaling blips keeps publishing.
      return {
        ...state,
        roster: state.roster.filter((p) => p.id !== message.peer),
        stage: state.stage.filter((id) => id !== message.peer),
      };
    case "chat":
      return { ...state, chat: keepLast([...state.chat, message.line], CHAT_HISTORY) };
    case "invited":
      return { ...state, invitedBy: message.by };
    case "stage": {
      const peers = message.peers;
      const roster = state.roster.map((p) =>
        p.on_stage === peers.includes(p.id) ? p : { ...p, on_stage: peers.includes(p.id) },
      );
      const invitedBy = state.you !== null && peers.includes(state.you) ? null : state.invitedBy;
      return { ...state, stage: peers, roster, invitedBy };
    }
    case "mute_requested":
      return { ...state, muteRequested: message.muted };
    case "publisher_added": {
      const pub = message.publisher;
      return { ...state, publishers: upsert(state.publishers, pub, (q) => q.peer === pub.peer) };
    }
    case "publisher_removed":
      return { ...state, publishers: state.publishers.filter((p) => p.peer !== message.peer) };
    case "error":
      return { ...state, lastError: { code: message.code, message: message.message } };
    case "bye":
      return { ...state, bye: message.reason };
    case "invite_answered": // for the teacher
    case "pong":
    // The whiteboard keeps its own state (`ui/src/board`).
    case "board_op":
    case "board_ops":
    case "board_refused":
    case "board_ephemeral":
    case "board_grants":
    case "board_snapshot":
      return state;
  }
}

/** The state after this page answered its invitation (the relay confirms with `stage`). */
export function invitationAnswered(state: RoomState): RoomState {
  return state.invitedBy === null ? state : { ...state, invitedBy: null };
}

/** This page's own roster entry. */
export function me(state: RoomState): Participant | null {
  return state.roster.find((p) => p.id === state.you) ?? null;
}

/** The teacher's live publication, if the teacher is publishing. */
export function teacherPublisher(state: RoomState): Publisher | null {
  return state.publishers.find((p) => p.role === "teacher") ?? null;
}

export function isOnStage(state: RoomState): boolean {
  return state.you !== null && state.stage.includes(state.you);
}

const ROLE_ORDER = { teacher: 0, student: 1, observer: 2 } as const;

/** The roster as the page lists it: teachers, then students, then observers, by name. */
export function rosterView(state: RoomState, locale?: string): Participant[] {
  const byName = new Intl.Collator(locale, { sensitivity: "base", numeric: true });
  return state.roster
    .slice()
    .sort(
      (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || byName.compare(a.name, b.name) || (a.id < b.id ? -1 : 1),
    );
}
