// The join link: `/room/{room}?token=…`, and the relay endpoints it leads to.

import type { RoomId } from "./protocol";

/** What the page learns from its own address. */
export interface JoinLink {
  /** The room from the path, or null when the path is not `/room/{valid id}`. */
  room: RoomId | null;
  /** The token from `?token=`, or null when it is missing or blank. */
  token: string | null;
}

/** 1–64 of `A–Z a–z 0–9 - _ .`, as the relay checks room names and peer ids. */
export function isValidId(s: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(s);
}

/** Reads the room and token from `location.pathname` and `location.search`. */
export function parseJoinLink(pathname: string, search: string): JoinLink {
  let room: string | null = null;
  const match = /^\/room\/([^/]+)\/?$/.exec(pathname);
  if (match) {
    try {
      const decoded = decodeURIComponent(match[1]);
      room = isValidId(decoded) ? decoded : null;
    } catch {
      room = null;
    }
  }
  const token = new URLSearchParams(search).get("token")?.trim() || null;
  return { room, token };
}

/** The part of `Location` the endpoints are built from. */
export interface Origin {
  protocol: string;
  host: string;
}

/** The signaling WebSocket on the page's own origin, `wss:` when the page is `https:`. */
export function signalingUrl(origin: Origin, room: RoomId, token: string): string {
  const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${origin.host}/ws/${encodeURIComponent(room)}?token=${encodeURIComponent(token)}`;
}

/** The same endpoint over plain HTTP, asked why when the WebSocket cannot even open. */
export function signalingProbeUrl(origin: Origin, room: RoomId, token: string): string {
  return `${origin.protocol}//${origin.host}/ws/${encodeURIComponent(room)}?token=${encodeURIComponent(token)}`;
}

/** This page's own address, which the relay answers with 401 when the token is refused. */
export function pageUrl(origin: Origin, room: RoomId, token: string): string {
  return `${origin.protocol}//${origin.host}/room/${encodeURIComponent(room)}?token=${encodeURIComponent(token)}`;
}

/** `POST` here to watch the room's teacher. */
export function whepUrl(origin: Origin, room: RoomId): string {
  return `${origin.protocol}//${origin.host}/whep/${encodeURIComponent(room)}`;
}

/** `POST` here to watch another publisher of the room: a classmate on stage. */
export function whepPeerUrl(origin: Origin, room: RoomId, peer: string): string {
  return `${whepUrl(origin, room)}?peer=${encodeURIComponent(peer)}`;
}

/** `POST` here to publish this page's camera and microphone while on stage. */
export function whipUrl(origin: Origin, room: RoomId): string {
  return `${origin.protocol}//${origin.host}/whip/${encodeURIComponent(room)}`;
}
