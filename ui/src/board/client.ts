// A client's side: draw at once, then settle on the relay's order. A port of
// `crates/board/src/client.rs`; read the invariants there.

import { Board, Snapshot, jsonEqual, type Applied } from "./model";
import { BoardError, normalizeOp, type BoardAction, type BoardOp, type PeerId } from "./types";

/** What a change to the client's view touched, for a renderer or a UI to react to. */
export interface ViewChange {
  /** The view was rebuilt from the confirmed board: redraw everything. */
  rebuilt: boolean;
  /** Set when the view took one op on top of itself; neither set: an op of ours was confirmed. */
  applied?: Applied;
}

/**
 * A client's copy of the board. Local ops apply at once to the board the user sees and
 * wait as pending until the relay's ordered copy of them comes back. Ordered ops apply to
 * the confirmed board; when someone else's op lands before ours, the view is rebuilt as
 * the confirmed board plus the pending ops that still apply. Once every pending op is
 * confirmed or refused, the view equals the relay's board.
 */
export class ClientBoard {
  private confirmedBoard: Board;
  private confirmedSeqN: number;
  private view: Board;
  private pendingOps: BoardOp[] = [];
  private nextClientSeq: number;
  private listeners = new Set<(c: ViewChange) => void>();

  constructor(
    readonly me: PeerId,
    snapshot: Snapshot = new Snapshot(0, new Board()),
  ) {
    this.confirmedBoard = snapshot.board;
    this.confirmedSeqN = snapshot.seq;
    this.view = snapshot.board.clone();
    this.nextClientSeq = snapshot.board.lastClientSeq(me) + 1;
  }

  /** The board to show: confirmed plus pending. Replaced on a rebase; do not keep it. */
  board(): Board {
    return this.view;
  }

  /** The board as the relay has ordered it so far. */
  confirmed(): Board {
    return this.confirmedBoard;
  }

  /** The server seq the confirmed board is at; ask for ops since this after a reconnect. */
  confirmedSeq(): number {
    return this.confirmedSeqN;
  }

  /** Local ops not yet confirmed, oldest first; resend them after a reconnect. */
  pending(): readonly BoardOp[] {
    return this.pendingOps;
  }

  /** Called after every change to the view. Returns an unsubscribe function. */
  subscribe(fn: (c: ViewChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: ViewChange): void {
    for (const fn of this.listeners) fn(c);
  }

  /** Makes and applies a local op; returns it to send. Throws `BoardError` if refused. */
  local(action: BoardAction): BoardOp {
    const op: BoardOp = { author: this.me, client_seq: this.nextClientSeq, action };
    const applied = this.view.apply(op);
    // Only an op that applied uses up a number, so the relay sees no gap to explain.
    this.nextClientSeq++;
    this.pendingOps.push(op);
    this.emit({ rebuilt: false, applied });
    return op;
  }

  /**
   * Applies an op in the relay's order. Returns false for one already applied (a repeat
   * after a reconnect). Throws `seq_gap` (ask for the ops since `confirmedSeq()`) or
   * `desync` (ask for a snapshot).
   */
  receive(wire: BoardOp): boolean {
    const op = normalizeOp(wire);
    const seq = op.server_seq;
    if (seq == null) throw new BoardError("seq_gap", `expected ${this.confirmedSeqN + 1}, got 0`);
    if (seq <= this.confirmedSeqN) return false;
    if (seq !== this.confirmedSeqN + 1) {
      throw new BoardError("seq_gap", `expected ${this.confirmedSeqN + 1}, got ${seq}`);
    }
    try {
      this.confirmedBoard.apply(op);
    } catch (e) {
      throw new BoardError("desync", e instanceof BoardError ? e.code : String(e));
    }
    this.confirmedSeqN = seq;

    if (op.author === this.me) {
      // The relay may write an op in our name (it ends our open strokes when we lose the
      // pen or the connection) with a number we have not used yet: never reuse it, or
      // every later local op would be refused as stale.
      this.nextClientSeq = Math.max(this.nextClientSeq, op.client_seq + 1);
      // The relay orders one sender's ops as sent, so ours that are older than this one
      // and still pending were refused.
      let dropped = false;
      while (this.pendingOps.length > 0 && this.pendingOps[0].client_seq < op.client_seq) {
        this.pendingOps.shift();
        dropped = true;
      }
      const front = this.pendingOps[0];
      const sameSeq = front !== undefined && front.client_seq === op.client_seq;
      // The same number with another action is an op from an earlier session of ours;
      // the pending one of that number will be refused as a repeat.
      const ours = sameSeq && jsonEqual(front.action, op.action);
      if (sameSeq) this.pendingOps.shift();
      // The view already is the confirmed board plus this op plus the rest; only the
      // count of pending ops changed.
      if (ours && !dropped) {
        this.emit({ rebuilt: false });
        return true;
      }
    } else if (this.pendingOps.length === 0) {
      // Nothing of ours to replay: the view takes the op the same way.
      try {
        const applied = this.view.apply(op);
        this.emit({ rebuilt: false, applied });
      } catch {
        this.view = this.confirmedBoard.clone();
        this.emit({ rebuilt: true });
      }
      return true;
    }
    this.rebase();
    return true;
  }

  /** The relay refused our op `clientSeq`: forget it and rebuild the view without it. */
  refused(clientSeq: number): void {
    const before = this.pendingOps.length;
    this.pendingOps = this.pendingOps.filter((p) => p.client_seq !== clientSeq);
    if (this.pendingOps.length !== before) this.rebase();
  }

  /** Starts over from a fresh snapshot, keeping pending ops that still apply on top. */
  resync(snapshot: Snapshot): void {
    this.confirmedBoard = snapshot.board;
    this.confirmedSeqN = snapshot.seq;
    const mine = this.confirmedBoard.lastClientSeq(this.me);
    // Ours that the snapshot already holds were confirmed in the ops we missed.
    this.pendingOps = this.pendingOps.filter((p) => p.client_seq > mine);
    this.nextClientSeq = Math.max(this.nextClientSeq, mine + 1);
    this.rebase();
  }

  /** Whether an undo / redo by me would change anything in the view. */
  canUndo(): boolean {
    return this.view.canUndo(this.me);
  }

  canRedo(): boolean {
    return this.view.canRedo(this.me);
  }

  private rebase(): void {
    const view = this.confirmedBoard.clone();
    this.pendingOps = this.pendingOps.filter((op) => {
      try {
        view.apply(op);
        return true;
      } catch {
        return false;
      }
    });
    this.view = view;
    this.emit({ rebuilt: true });
  }
}
