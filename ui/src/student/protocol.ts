// Room signaling, version 1, as it travels (docs/protocol.md; Rust: crates/proto/src/signal.rs).
//
// Written by hand because the student page is served by the relay, not by the Tauri app,
// and has no generated bindings. `protocol.test.ts` reads the Rust source and fails when
// the two lists of message types or error codes drift apart.

import type { BoardEphemeral, BoardOp, PageId, SnapshotJson } from "../board/types";

/** The signaling protocol version this page speaks. */
export const PROTOCOL_VERSION = 1;

/** Longest chat message, in characters (Unicode scalar values, as Rust counts them). */
export const MAX_CHAT_CHARS = 500;

/** Most students on stage at once. */
export const MAX_STAGE = 6;

/** 1–64 of `A–Z a–z 0–9 - _ .` (checked by `isValidId` in `link.ts`). */
export type RoomId = string;
/** A participant's stable id, the token's subject; same alphabet as a room. */
export type PeerId = string;

export type Role = "teacher" | "student" | "observer";

export interface Participant {
  id: PeerId;
  name: string;
  role: Role;
  /** Hand raised. */
  hand: boolean;
  /** On the stage (may publish). */
  on_stage: boolean;
}

export interface ChatLine {
  from: PeerId;
  name: string;
  text: string;
  /** When the relay received it, in milliseconds since the Unix epoch. */
  at_ms: number;
}

export type Transport = "whip" | "rtmp";

export interface Publisher {
  peer: PeerId;
  name: string;
  role: Role;
  audio: boolean;
  video: boolean;
  transport: Transport;
}

export type ByeReason = "replaced" | "shutdown" | "misbehaving";

/** Every error code the relay and the app send (crates/proto/src/error.rs). */
export const ERROR_CODES = [
  "device_not_found",
  "device_unavailable",
  "storage",
  "not_found",
  "io",
  "invalid_input",
  "busy",
  "internal",
  "unauthorized",
  "token_expired",
  "wrong_room",
  "forbidden",
  "bad_sdp",
  "unsupported_codec",
  "too_large",
  "stage_full",
  "not_on_stage",
  "rate_limited",
  "unsupported_version",
  "capacity",
  "unreachable",
  "connection_failed",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error as HTTP bodies and `error` messages carry it. The code stays a string: a newer
 * relay may send codes this page does not know, and those fall back to a generic message.
 */
export interface ApiError {
  code: string;
  message: string;
}

/** The pen a student holds: on every page, present and future, or on these pages. */
export type GrantScope = { type: "board" } | { type: "pages"; pages: PageId[] };

export interface PenGrant {
  peer: PeerId;
  scope: GrantScope;
}

/** What a participant sends. */
export type ClientMessage =
  | { type: "raise_hand"; raised: boolean }
  | { type: "chat"; text: string }
  | { type: "invite"; peer: PeerId }
  | { type: "answer_invite"; accept: boolean }
  | { type: "remove_from_stage"; peer: PeerId }
  | { type: "leave_stage" }
  | { type: "request_mute"; peer: PeerId; muted: boolean }
  | { type: "ping"; id?: number }
  // The whiteboard's messages (docs/protocol.md#whiteboard); `ui/src/board` speaks them.
  | { type: "board_sync"; since?: number; epoch?: number }
  | { type: "board_op"; op: BoardOp }
  | { type: "board_ephemeral"; e: BoardEphemeral }
  | { type: "board_grant"; peer: PeerId; scope?: GrantScope | null };

/** What the relay sends. */
export type ServerMessage =
  | {
      type: "welcome";
      room: RoomId;
      you: Participant;
      roster: Participant[];
      publishers: Publisher[];
      chat: ChatLine[];
      max_stage: number;
    }
  | { type: "participant"; participant: Participant }
  | { type: "left"; peer: PeerId }
  | { type: "chat"; line: ChatLine }
  | { type: "invited"; by: PeerId }
  | { type: "invite_answered"; peer: PeerId; accept: boolean }
  | { type: "stage"; peers: PeerId[] }
  | { type: "mute_requested"; muted: boolean }
  | { type: "publisher_added"; publisher: Publisher }
  | { type: "publisher_removed"; peer: PeerId }
  | { type: "error"; code: string; message: string }
  | { type: "pong"; id: number }
  | { type: "bye"; reason: ByeReason }
  | { type: "board_op"; op: BoardOp }
  | { type: "board_ops"; ops: BoardOp[] }
  | { type: "board_refused"; client_seq: number; code: string; message: string }
  | { type: "board_ephemeral"; peer: PeerId; e: BoardEphemeral }
  | { type: "board_grants"; grants: PenGrant[] }
  // Not a `ServerMessage` variant in Rust: the relay writes it itself (signal.rs says why).
  | { type: "board_snapshot"; epoch: number; snapshot: SnapshotJson };

export const CLIENT_MESSAGE_TYPES: readonly ClientMessage["type"][] = [
  "raise_hand",
  "chat",
  "invite",
  "answer_invite",
  "remove_from_stage",
  "leave_stage",
  "request_mute",
  "ping",
  "board_sync",
  "board_op",
  "board_ephemeral",
  "board_grant",
];

export const SERVER_MESSAGE_TYPES: readonly ServerMessage["type"][] = [
  "welcome",
  "participant",
  "left",
  "chat",
  "invited",
  "invite_answered",
  "stage",
  "mute_requested",
  "publisher_added",
  "publisher_removed",
  "error",
  "pong",
  "bye",
  "board_op",
  "board_ops",
  "board_refused",
  "board_ephemeral",
  "board_grants",
];

/** Messages the relay writes outside its `ServerMessage` enum; the page reads them too. */
export const RELAY_WRITTEN_TYPES: readonly ServerMessage["type"][] = ["board_snapshot"];

/** One frame for the WebSocket: `{"v":1,"type":...,...}`. */
export function encodeClientMessage(message: ClientMessage): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...message });
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === "string";
const isBool = (x: unknown): x is boolean => typeof x === "boolean";
const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const ROLES: readonly string[] = ["teacher", "student", "observer"];
const isRole = (x: unknown): x is Role => isString(x) && ROLES.includes(x);

function isParticipant(x: unknown): x is Participant {
  return (
    isObject(x) && isString(x.id) && isString(x.name) && isRole(x.role) && isBool(x.hand) && isBool(x.on_stage)
  );
}

function isChatLine(x: unknown): x is ChatLine {
  return isObject(x) && isString(x.from) && isString(x.name) && isString(x.text) && isNumber(x.at_ms);
}

function isPublisher(x: unknown): x is Publisher {
  return (
    isObject(x) &&
    isString(x.peer) &&
    isString(x.name) &&
    isRole(x.role) &&
    isBool(x.audio) &&
    isBool(x.video) &&
    isString(x.transport)
  );
}

function isPenGrant(x: unknown): x is PenGrant {
  if (!isObject(x) || !isString(x.peer) || !isObject(x.scope)) return false;
  // A scope of a kind this page does not know is kept; the board treats it as no pen.
  return isString(x.scope.type);
}

const listOf =
  <T>(guard: (x: unknown) => x is T) =>
  (x: unknown): x is T[] =>
    Array.isArray(x) && x.every(guard);

/** The fields each server message must carry for this page to act on it. */
const SHAPES: Record<ServerMessage["type"], (m: Json) => boolean> = {
  welcome: (m) =>
    isString(m.room) &&
    isParticipant(m.you) &&
    listOf(isParticipant)(m.roster) &&
    listOf(isPublisher)(m.publishers) &&
    listOf(isChatLine)(m.chat) &&
    isNumber(m.max_stage),
  participant: (m) => isParticipant(m.participant),
  left: (m) => isString(m.peer),
  chat: (m) => isChatLine(m.line),
  invited: (m) => isString(m.by),
  invite_answered: (m) => isString(m.peer) && isBool(m.accept),
  stage: (m) => Array.isArray(m.peers) && m.peers.every(isString),
  mute_requested: (m) => isBool(m.muted),
  publisher_added: (m) => isPublisher(m.publisher),
  publisher_removed: (m) => isString(m.peer),
  error: (m) => isString(m.code),
  pong: () => true,
  bye: (m) => isString(m.reason),
  // The board client checks ops itself against the model (`ui/src/board`).
  board_op: (m) => isObject(m.op),
  board_ops: (m) => Array.isArray(m.ops) && m.ops.every(isObject),
  board_refused: (m) => isNumber(m.client_seq) && isString(m.code),
  board_ephemeral: (m) => isString(m.peer) && isObject(m.e),
  board_grants: (m) => Array.isArray(m.grants) && m.grants.every(isPenGrant),
  board_snapshot: (m) => isNumber(m.epoch) && isObject(m.snapshot) && isObject(m.snapshot.board),
};

/**
 * Reads one frame from the relay. Returns null for anything this page cannot act on: not
 * JSON, another protocol version, an unknown type (newer relays may add some), or a known
 * type missing a field. Unknown extra fields are kept and ignored.
 */
export function parseServerMessage(text: string): ServerMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(raw) || raw.v !== PROTOCOL_VERSION || !isString(raw.type)) return null;
  const shape = (SHAPES as Record<string, ((m: Json) => boolean) | undefined>)[raw.type];
  if (!shape || !shape(raw)) return null;
  if (raw.type === "error" && !isString(raw.message)) raw.message = "";
  if (raw.type === "pong" && !isNumber(raw.id)) raw.id = 0;
  return raw as unknown as ServerMessage;
}

/** Reads an HTTP error body `{code, message}`; null when it is not one. */
export function parseApiError(body: string): ApiError | null {
  try {
    const raw: unknown = JSON.parse(body);
    if (isObject(raw) && isString(raw.code)) {
      return { code: raw.code, message: isString(raw.message) ? raw.message : "" };
    }
  } catch {
    // Not JSON: a proxy's HTML error page, for instance.
  }
  return null;
}

/** Length as the relay counts it: Unicode scalar values, not UTF-16 units. */
export function chatLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
