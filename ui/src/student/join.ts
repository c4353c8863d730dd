// A class link is shared by the whole class; each student trades it once, with the name
// they type, for a token of their own (`POST /join/{room}`, docs/protocol.md). The token is
// kept in this browser so a reload, or a second tab, is the same student again.

import type { ApiError, RoomId } from "./protocol";
import type { Origin } from "./link";

/** The parts of a token's claims the page needs before the relay has seen it. */
export interface LinkClaims {
  room: string;
  name: string;
  /** Seconds since the Unix epoch. */
  exp: number;
  /** A class link: it must be exchanged before it opens anything. */
  invite: boolean;
}

/** `POST /join/{room}`'s answer. */
export interface Joined {
  token: string;
  peer: string;
  name: string;
  exp: number;
}

/** Where the page keeps joins: `localStorage`, or nothing when the browser refuses it. */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const MAX_NAME_CHARS = 64;
const NAME_KEY = "lectern.student.name";

/**
 * Reads a token's claims without checking them (the relay does that): `lt1.<claims>.<mac>`
 * with base64url JSON in the middle. Null for anything else.
 */
export function readClaims(token: string): LinkClaims | null {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== "lt1") return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) =>
      c.charCodeAt(0),
    );
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== "object" || claims === null) return null;
    const c = claims as Record<string, unknown>;
    if (typeof c.room !== "string" || typeof c.exp !== "number") return null;
    return {
      room: c.room,
      name: typeof c.name === "string" ? c.name : "",
      exp: c.exp,
      invite: c.invite === true,
    };
  } catch {
    return null;
  }
}

/** What the student typed, as the relay will take it; null when it would be refused. */
export function cleanName(raw: string): string | null {
  const name = raw.trim();
  if (name.length === 0 || [...name].length > MAX_NAME_CHARS) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return null;
  return name;
}

/** One key per room and link (its signature part), so a new link is a new join. */
function joinKey(room: RoomId, link: string): string {
  return `lectern.join.${room}.${link.slice(link.lastIndexOf(".") + 1)}`;
}

/** This browser's earlier join with this link, unless it has expired. */
export function savedJoin(store: KeyValue, room: RoomId, link: string, nowS: number): Joined | null {
  const key = joinKey(room, link);
  try {
    const raw = store.getItem(key);
    if (raw === null) return null;
    const joined = JSON.parse(raw) as Joined;
    if (typeof joined.token === "string" && typeof joined.exp === "number" && joined.exp > nowS) {
      return joined;
    }
    store.removeItem(key);
  } catch {
    // Unreadable or unavailable storage: join again.
  }
  return null;
}

/** Keeps a join (and the name, to suggest next time); silently skipped without storage. */
export function saveJoin(store: KeyValue, room: RoomId, link: string, joined: Joined): void {
  try {
    store.setItem(joinKey(room, link), JSON.stringify(joined));
    store.setItem(NAME_KEY, joined.name);
  } catch {
    // Private mode or a full quota: the join still works for this page.
  }
}

/** The name this browser joined with last time, to fill in. */
export function lastName(store: KeyValue): string {
  try {
    return store.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

/** `POST` here with the class link as the bearer token. */
export function joinUrl(origin: Origin, room: RoomId): string {
  return `${origin.protocol}//${origin.host}/join/${encodeURIComponent(room)}`;
}

export type JoinResult = { ok: true; joined: Joined } | { ok: false; error: ApiError };

/** Trades the class link for the student's own token. Never throws. */
export async function joinClass(
  fetchFn: typeof fetch,
  origin: Origin,
  room: RoomId,
  link: string,
  name: string,
): Promise<JoinResult> {
  let response: Response;
  try {
    response = await fetchFn(joinUrl(origin, room), {
      method: "POST",
      headers: { Authorization: `Bearer ${link}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
      cache: "no-store",
    });
  } catch (e) {
    return { ok: false, error: { code: "network", message: String(e) } };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Handled below: no JSON is an error whatever the status.
  }
  const b = (body ?? {}) as Record<string, unknown>;
  if (response.ok && typeof b.token === "string" && typeof b.exp === "number") {
    return {
      ok: true,
      joined: { token: b.token, peer: String(b.peer ?? ""), name: String(b.name ?? name), exp: b.exp },
    };
  }
  return {
    ok: false,
    error: {
      code: typeof b.code === "string" ? b.code : "internal",
      message: typeof b.message === "string" ? b.message : `HTTP ${response.status}`,
    },
  };
}
