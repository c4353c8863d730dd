// An in-memory stand-in for the relay's board hub, for the demo page: it orders ops with
// the TypeScript model (the real relay uses crates/board), answers refusals to the sender
// only, and delivers everything after an artificial delay, in order per connection.

import { Board, Snapshot } from "../model";
import type { BoardEphemeral, BoardOp, PeerId } from "../types";

export interface Peer {
  id: PeerId;
  onOp(op: BoardOp): void;
  onRefused(clientSeq: number, code: string): void;
  onEphemeral(from: PeerId, e: BoardEphemeral): void;
}

export class FakeRelay {
  private board = new Board();
  private seq = 0;
  private peers: Peer[] = [];
  /** Each connection's queue keeps order even with jittered delays. */
  private lastDelivery = new Map<PeerId, number>();

  /** Stands in for the relay's permission check. */
  allow: (from: PeerId, op: BoardOp) => boolean = () => true;

  constructor(public delayMs = 120) {}

  join(peer: Peer): Snapshot {
    this.peers.push(peer);
    return this.snapshot();
  }

  send(from: PeerId, op: BoardOp): void {
    this.later(from, () => {
      try {
        if (!this.allow(from, op)) throw { code: "forbidden" };
        this.board.apply(op);
      } catch (e) {
        const code = (e as { code?: string }).code ?? "malformed";
        const sender = this.peers.find((p) => p.id === from);
        if (sender) this.later(from, () => sender.onRefused(op.client_seq, code));
        return;
      }
      const ordered: BoardOp = { ...op, server_seq: ++this.seq };
      const wire = JSON.stringify(ordered);
      for (const p of this.peers) this.later(p.id, () => p.onOp(JSON.parse(wire)));
    });
  }

  ephemeral(from: PeerId, e: BoardEphemeral): void {
    for (const p of this.peers) if (p.id !== from) this.later(p.id, () => p.onEphemeral(from, e));
  }

  /** The board now, as a late joiner or a client that lost its place would get it. */
  snapshot(): Snapshot {
    return Snapshot.fromJSON(JSON.stringify(new Snapshot(this.seq, this.board.clone()).toJSON()));
  }

  private queues = new Map<PeerId, { at: number; fn: () => void }[]>();

  /** Delivers on `peer`'s connection after a jittered delay, never overtaking. */
  private later(peer: PeerId, fn: () => void): void {
    const now = performance.now();
    const at = Math.max(now + this.delayMs * (0.5 + Math.random()), this.lastDelivery.get(peer) ?? 0);
    this.lastDelivery.set(peer, at);
    let q = this.queues.get(peer);
    if (!q) {
      q = [];
      this.queues.set(peer, q);
    }
    q.push({ at, fn });
    if (q.length === 1) this.pump(peer);
  }

  private pump(peer: PeerId): void {
    const q = this.queues.get(peer)!;
    if (q.length === 0) return;
    setTimeout(() => {
      while (q.length > 0 && q[0].at <= performance.now()) q.shift()!.fn();
      this.pump(peer);
    }, Math.max(0, q[0].at - performance.now()));
  }
}
