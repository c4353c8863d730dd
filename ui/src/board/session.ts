// The board's side of a signaling connection, sans-IO: the host feeds it what the relay
// sent and when the connection opened or dropped, and drains what to send and what to
// show. It never touches a socket or a clock, so the tests drive it message by message.
//
// What it guarantees (docs/protocol.md, "Whiteboard"):
// - Nothing of the board is heard until `board_sync`; it asks again on every connection,
//   with the seq and epoch of its confirmed board once it has one, so a reconnect gets
//   only the ops it missed and a late joiner a snapshot.
// - Local ops made while not live stay pending in the `ClientBoard` and are sent, in
//   order, once the sync is answered. They are never sent before that answer: the relay
//   keeps one counter per author, and a newer op ordered first would make the older
//   pending ones stale.
// - A gap in `server_seq` asks for the ops since the confirmed seq; an ordered op that
//   does not apply asks for a snapshot.

import type { ClientMessage, GrantScope, PenGrant, ServerMessage } from "../student/protocol";
import { ClientBoard } from "./client";
import { Snapshot } from "./model";
import { BoardError, type BoardAction, type BoardEphemeral, type BoardOp, type PageId, type PeerId } from "./types";

export type BoardClientMessage = Extract<ClientMessage, { type: `board_${string}` }>;

/**
 * - `offline`: no connection; local ops wait.
 * - `syncing`: `board_sync` sent, its answer not yet here; local ops wait.
 * - `live`: ops go out as they are made.
 */
export type SessionState = "offline" | "syncing" | "live";

export type BoardOutput =
  /** Send this on the signaling socket. */
  | { kind: "send"; message: BoardClientMessage }
  /** Someone else's laser or cursor, for the canvas. */
  | { kind: "ephemeral"; peer: PeerId; e: BoardEphemeral }
  /** A change of ours was refused; `code` is a board or relay refusal code. */
  | { kind: "refused"; code: string };

/** Refusals the user is not told about. */
const SILENT: ReadonlySet<string> = new Set([
  // A repeat after a reconnect: the relay already has the op.
  "stale_op",
  // The buttons are disabled for these; a keyboard shortcut may still try.
  "nothing_to_undo",
  "nothing_to_redo",
]);

/** The message that hands `peer` the pen (`scope`) or takes it back (`null`). */
export function grantMessage(peer: PeerId, scope: GrantScope | null): BoardClientMessage {
  // Without `scope` the relay takes the pen back; the doc spells it without the field.
  return scope ? { type: "board_grant", peer, scope } : { type: "board_grant", peer };
}

/** Whether `grant` lets its holder draw on `page` (any page when absent). */
export function grantCovers(scope: GrantScope | undefined, page: PageId | undefined): boolean {
  if (!scope) return false;
  if (scope.type === "board") return true;
  if (scope.type === "pages") return page !== undefined && scope.pages.includes(page);
  // A kind of scope this page does not know: safer to show no pen.
  return false;
}

export class BoardSession {
  private clientBoard: ClientBoard | null = null;
  private epochN: number | null = null;
  private stateS: SessionState = "offline";
  private grantList: readonly PenGrant[] = [];
  private out: BoardOutput[] = [];

  /**
   * @param me the token subject the relay knows us by (`welcome.you.id`)
   * @param teacher the teacher may always draw; students only with the pen
   */
  constructor(
    readonly me: PeerId,
    readonly teacher: boolean,
  ) {}

  /** The board, once the relay sent one. A new one when the relay's board changed. */
  get client(): ClientBoard | null {
    return this.clientBoard;
  }

  get state(): SessionState {
    return this.stateS;
  }

  /** The epoch of the relay's board the client started from. */
  get epoch(): number | null {
    return this.epochN;
  }

  /** Who holds the pen, as the relay last said. */
  get grants(): readonly PenGrant[] {
    return this.grantList;
  }

  /** The pen `peer` holds, if any. */
  grantOf(peer: PeerId): GrantScope | undefined {
    return this.grantList.find((g) => g.peer === peer)?.scope;
  }

  /** Whether we may draw on `page` now (the relay decides in the end). */
  canDraw(page: PageId | undefined): boolean {
    if (!this.clientBoard) return false;
    return this.teacher || grantCovers(this.grantOf(this.me), page);
  }

  /** Everything to do since the last call, in order. */
  drain(): BoardOutput[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** The signaling connection is open (the relay said `welcome`). */
  connected(): void {
    this.sync(this.clientBoard !== null && this.epochN !== null);
  }

  /** The connection dropped; what is made meanwhile waits for the next one. */
  disconnected(): void {
    this.stateS = "offline";
  }

  /** A message from the relay; false when it is not the board's. */
  receive(message: ServerMessage): boolean {
    switch (message.type) {
      case "board_snapshot":
        this.snapshot(message.epoch, message.snapshot);
        return true;
      case "board_ops":
        // Only ever the answer to our sync with `since`.
        if (this.stateS === "syncing" && this.clientBoard) {
          if (this.apply(message.ops)) this.goLive();
        }
        return true;
      case "board_op":
        // While a sync is unanswered, an op is either in its answer or after it.
        if (this.stateS === "live") this.apply([message.op]);
        return true;
      case "board_refused":
        this.clientBoard?.refused(message.client_seq);
        this.refused(message.code);
        return true;
      case "board_ephemeral":
        if (this.clientBoard) this.out.push({ kind: "ephemeral", peer: message.peer, e: message.e });
        return true;
      case "board_grants":
        this.grantList = message.grants;
        return true;
      default:
        return false;
    }
  }

  /** An op the canvas already applied to `client` (`ClientBoard.local`). */
  sent(op: BoardOp): void {
    if (this.stateS === "live") this.out.push({ kind: "send", message: { type: "board_op", op } });
  }

  /**
   * Applies a toolbar action (undo, a page change, …) and sends it. Returns the refusal
   * code when the board refused it locally, which is also reported as `refused`.
   */
  act(action: BoardAction): string | null {
    const client = this.clientBoard;
    if (!client) return "page_not_found";
    try {
      this.sent(client.local(action));
      return null;
    } catch (e) {
      const code = e instanceof BoardError ? e.code : "malformed";
      this.refused(code);
      return code;
    }
  }

  /** The canvas refused a local action (`BoardCanvas` `refused`). */
  localRefused(code: string): void {
    this.refused(code);
  }

  /** A laser trail or cursor of ours; dropped unless live (it is stale a moment later). */
  ephemeral(e: BoardEphemeral): void {
    if (this.stateS === "live") this.out.push({ kind: "send", message: { type: "board_ephemeral", e } });
  }

  /** The teacher hands `peer` the pen, or takes it back with `null`. */
  grant(peer: PeerId, scope: GrantScope | null): void {
    this.out.push({ kind: "send", message: grantMessage(peer, scope) });
  }

  private sync(since: boolean): void {
    const c = this.clientBoard;
    const message: BoardClientMessage =
      since && c && this.epochN !== null
        ? { type: "board_sync", since: c.confirmedSeq(), epoch: this.epochN }
        : { type: "board_sync" };
    this.stateS = "syncing";
    this.out.push({ kind: "send", message });
  }

  private snapshot(epoch: number, json: unknown): void {
    let snapshot: Snapshot;
    try {
      snapshot = Snapshot.fromJSON(json as never);
    } catch (e) {
      // A board this page cannot read (a newer document version): stay without one.
      this.refused(e instanceof BoardError ? e.code : "malformed");
      return;
    }
    if (this.clientBoard && this.epochN === epoch) {
      this.clientBoard.resync(snapshot);
    } else {
      // Another board (the relay restarted, or the room was forgotten): pending ops were
      // meant for the old one.
      this.clientBoard = new ClientBoard(this.me, snapshot);
    }
    this.epochN = epoch;
    this.goLive();
  }

  /** Applies ordered ops; on a gap or desync asks again and returns false. */
  private apply(ops: readonly BoardOp[]): boolean {
    const client = this.clientBoard;
    if (!client) return false;
    for (const op of ops) {
      try {
        client.receive(op);
      } catch (e) {
        // A gap is filled with the ops since our seq; a board we cannot follow any more
        // is replaced by a snapshot.
        this.sync(e instanceof BoardError && e.code === "seq_gap");
        return false;
      }
    }
    return true;
  }

  private goLive(): void {
    this.stateS = "live";
    for (const op of this.clientBoard?.pending() ?? []) {
      this.out.push({ kind: "send", message: { type: "board_op", op } });
    }
  }

  private refused(code: string): void {
    if (!SILENT.has(code)) this.out.push({ kind: "refused", code });
  }
}

/** The catalog key that explains a refusal to the user (`board.refused.*`). */
export function refusalKey(code: string, teacher: boolean): string {
  switch (code) {
    case "forbidden":
      return teacher ? "board.refused.forbidden" : "board.refused.no_pen";
    case "rate_limited":
      return "board.refused.rate_limited";
    case "too_many_pages":
    case "too_many_shapes":
    case "batch_too_large":
    case "stroke_too_long":
    case "text_too_long":
      return "board.refused.too_big";
    case "page_not_found":
    case "shape_not_found":
    case "not_a_stroke":
    case "stroke_finished":
    case "not_your_stroke":
    case "id_taken":
      return "board.refused.changed";
    case "unsupported_version":
      return "board.refused.unsupported";
    default:
      return "board.refused.generic";
  }
}
