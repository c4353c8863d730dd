import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeClientMessage, parseServerMessage, type GrantScope, type ServerMessage } from "../student/protocol";
import { Board, Snapshot } from "./model";
import { BoardSession, grantMessage, refusalKey, type BoardClientMessage, type BoardOutput } from "./session";
import { STYLE, dump } from "./testing";
import type { BoardAction, BoardOp } from "./types";

/**
 * The relay's board hub as far as a client can tell (crates/relay/src/room/board.rs):
 * a first page by `relay`, one order, grants, catch-up by ops or snapshot. Messages go
 * through the real JSON encoding and parsing, so the wire shapes are exercised too.
 */
class Hub {
  board = new Board();
  log: BoardOp[] = [];
  epoch = 1767000000000;
  grants = new Map<string, GrantScope>();
  /** Per connection: what the relay sent it, not yet delivered. */
  inbox = new Map<string, ServerMessage[]>();
  synced = new Set<string>();

  constructor() {
    this.order({ author: "relay", client_seq: 1, action: { type: "add_page" } });
  }

  private order(op: BoardOp): BoardOp {
    this.board.apply(op);
    const ordered = { ...op, server_seq: this.log.length + 1 };
    this.log.push(ordered);
    return ordered;
  }

  private push(conn: string, message: object): void {
    const wire = JSON.stringify({ v: 1, ...message });
    const parsed = parseServerMessage(wire);
    expect(parsed, wire).not.toBeNull();
    this.inbox.get(conn)!.push(parsed!);
  }

  connect(conn: string): void {
    this.inbox.set(conn, []);
    this.synced.delete(conn);
  }

  /** One frame a client sent, as the relay reads it. */
  handle(conn: string, frame: string, teacher: boolean): void {
    const m = JSON.parse(frame) as BoardClientMessage & { v: number };
    expect(m.v).toBe(1);
    switch (m.type) {
      case "board_sync": {
        this.synced.add(conn);
        this.push(conn, { type: "board_grants", grants: this.grantList() });
        const since = m.since;
        if (since !== undefined && m.epoch === this.epoch && since <= this.log.length) {
          this.push(conn, { type: "board_ops", ops: this.log.slice(since) });
        } else {
          const snapshot = new Snapshot(this.log.length, this.board.clone()).toJSON();
          this.push(conn, { type: "board_snapshot", epoch: this.epoch, snapshot });
        }
        return;
      }
      case "board_op": {
        const allowed = teacher || this.grants.has(m.op.author);
        let ordered: BoardOp;
        try {
          if (!allowed) throw { code: "forbidden" };
          ordered = this.order(m.op);
        } catch (e) {
          const code = (e as { code: string }).code;
          this.push(conn, { type: "board_refused", client_seq: m.op.client_seq, code, message: code });
          return;
        }
        for (const c of this.synced) this.push(c, { type: "board_op", op: ordered });
        return;
      }
      case "board_grant":
        if (m.scope) this.grants.set(m.peer, m.scope);
        else this.grants.delete(m.peer);
        for (const c of this.synced) this.push(c, { type: "board_grants", grants: this.grantList() });
        return;
      case "board_ephemeral":
        return;
    }
  }

  private grantList() {
    return [...this.grants].map(([peer, scope]) => ({ peer, scope }));
  }
}

/** A session on one side of the hub; `online` decides whether frames reach it. */
class Peer {
  session: BoardSession;
  online = false;
  sent: BoardClientMessage[] = [];
  shown: BoardOutput[] = [];

  constructor(
    readonly hub: Hub,
    readonly id: string,
    readonly teacher: boolean,
  ) {
    this.session = new BoardSession(id, teacher);
  }

  connect(): void {
    this.online = true;
    this.hub.connect(this.id);
    this.session.connected();
    this.flush();
  }

  drop(): void {
    this.online = false;
    this.session.disconnected();
  }

  /** Delivers what the hub has for this peer, and whatever that makes it send. */
  deliver(filter: (m: ServerMessage) => boolean = () => true): void {
    const inbox = this.hub.inbox.get(this.id) ?? [];
    this.hub.inbox.set(this.id, []);
    for (const m of inbox) if (filter(m)) this.session.receive(m);
    this.flush();
  }

  flush(): void {
    for (const o of this.session.drain()) {
      if (o.kind !== "send") this.shown.push(o);
      else {
        this.sent.push(o.message);
        if (this.online) this.hub.handle(this.id, encodeClientMessage(o.message), this.teacher);
      }
    }
  }

  draw(action: BoardAction): BoardOp {
    const op = this.session.client!.local(action);
    this.session.sent(op);
    this.flush();
    return op;
  }

  sentTypes(): string[] {
    return this.sent.map((m) => (m.type === "board_op" ? `op#${m.op.client_seq}` : m.type));
  }
}

const line = (y: number): BoardAction => ({
  type: "add_shape",
  page: "relay:1",
  style: STYLE,
  shape: { type: "line", from: { x: 0, y }, to: { x: 100, y } },
});

const shapeIds = (p: Peer) => p.session.client!.board().page("relay:1")!.shapes.map((s) => s.id);

describe("BoardSession", () => {
  it("asks for the board on connect and goes live on the snapshot", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    t.connect();
    expect(t.sent).toEqual([{ type: "board_sync" }]);
    expect(t.session.state).toBe("syncing");
    expect(t.session.client).toBeNull();
    t.deliver();
    expect(t.session.state).toBe("live");
    expect(t.session.epoch).toBe(hub.epoch);
    expect(t.session.client!.board().currentPage()).toBe("relay:1");
  });

  it("gives a late joiner the board as it is and the ops after it", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    t.connect();
    t.deliver();
    t.draw(line(10));
    t.draw(line(20));
    t.deliver();
    const s = new Peer(hub, "s1", false);
    s.connect();
    s.deliver();
    expect(shapeIds(s)).toEqual(["t1:1", "t1:2"]);
    t.draw(line(30));
    s.deliver();
    expect(shapeIds(s)).toEqual(["t1:1", "t1:2", "t1:3"]);
    expect(dump(s.session.client!.board())).toBe(dump(hub.board));
  });

  it("reconnects with since/epoch and resends only what the relay lacks, in order", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    const s = new Peer(hub, "s1", false);
    t.connect();
    t.deliver();
    s.connect();
    s.deliver();
    t.draw(line(10)); // reaches the relay; the ack is lost with the connection
    t.drop();
    t.draw(line(20)); // made offline
    t.draw(line(30));
    expect(t.sentTypes()).toEqual(["board_sync", "op#1"]); // the rest wait
    expect(hub.log).toHaveLength(2);
    s.deliver();

    t.sent = [];
    t.connect();
    expect(t.sent).toEqual([{ type: "board_sync", since: 1, epoch: hub.epoch }]);
    // Drawn while the sync is unanswered: waits behind the older pending ops.
    t.draw(line(40));
    expect(t.sentTypes()).toEqual(["board_sync"]);
    t.deliver();
    expect(t.sentTypes()).toEqual(["board_sync", "op#2", "op#3", "op#4"]);
    t.deliver();
    s.deliver();
    expect(t.session.client!.pending()).toHaveLength(0);
    expect(shapeIds(t)).toEqual(["t1:1", "t1:2", "t1:3", "t1:4"]);
    expect(dump(t.session.client!.board())).toBe(dump(hub.board));
    expect(dump(s.session.client!.board())).toBe(dump(hub.board));
    expect(t.shown).toEqual([]);
  });

  it("surfaces a refusal and takes the refused op off the view", () => {
    const hub = new Hub();
    const s = new Peer(hub, "s1", false);
    s.connect();
    s.deliver();
    expect(s.session.canDraw("relay:1")).toBe(false);
    s.draw(line(10));
    expect(shapeIds(s)).toEqual(["s1:1"]);
    s.deliver();
    expect(shapeIds(s)).toEqual([]);
    expect(s.session.client!.pending()).toHaveLength(0);
    expect(s.shown).toEqual([{ kind: "refused", code: "forbidden" }]);
    expect(refusalKey("forbidden", false)).toBe("board.refused.no_pen");
  });

  it("keeps a repeat after a reconnect quiet", () => {
    const s = new BoardSession("s1", false);
    s.receive({ type: "board_refused", client_seq: 3, code: "stale_op", message: "" });
    expect(s.drain()).toEqual([]);
    s.receive({ type: "board_refused", client_seq: 4, code: "rate_limited", message: "" });
    expect(s.drain()).toEqual([{ kind: "refused", code: "rate_limited" }]);
  });

  it("asks for the ops since its seq on a gap, ignoring ops until they come", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    const s = new Peer(hub, "s1", false);
    t.connect();
    t.deliver();
    s.connect();
    s.deliver();
    t.draw(line(10));
    t.draw(line(20));
    t.draw(line(30));
    // The first ordered op is lost on the way to s; the next shows the gap, the one
    // after it comes while the sync is unanswered (and is in its answer).
    let skipped = false;
    s.deliver((m) => {
      if (m.type === "board_op" && !skipped) return !(skipped = true);
      return true;
    });
    expect(s.sent.filter((m) => m.type === "board_sync")).toEqual([
      { type: "board_sync" },
      { type: "board_sync", since: 1, epoch: hub.epoch },
    ]);
    expect(s.session.state).toBe("syncing");
    expect(shapeIds(s)).toEqual([]);
    t.draw(line(40)); // broadcast after the sync: arrives after its answer
    s.deliver();
    expect(s.session.state).toBe("live");
    expect(shapeIds(s)).toEqual(["t1:1", "t1:2", "t1:3", "t1:4"]);
    expect(dump(s.session.client!.board())).toBe(dump(hub.board));
  });

  it("asks for a snapshot when an ordered op does not apply, keeping its pending ops", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    t.connect();
    t.deliver();
    t.drop();
    t.draw(line(10));
    t.session.connected();
    expect(t.session.drain()).toEqual([{ kind: "send", message: { type: "board_sync", since: 1, epoch: hub.epoch } }]);
    // An op that cannot apply to this client's board (an undo by someone with nothing
    // to undo): this copy has lost its place.
    const bad: BoardOp = { author: "x", client_seq: 1, server_seq: 2, action: { type: "undo" } };
    t.session.receive({ type: "board_ops", ops: [bad] });
    expect(t.session.drain()).toEqual([{ kind: "send", message: { type: "board_sync" } }]);
    const snapshot = new Snapshot(1, hub.board.clone()).toJSON();
    t.session.receive({ type: "board_snapshot", epoch: hub.epoch, snapshot });
    expect(t.session.state).toBe("live");
    const out = t.session.drain();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: "send", message: { type: "board_op", op: { client_seq: 1 } } });
  });

  it("starts a new board when the relay's epoch changed", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    t.connect();
    t.deliver();
    t.draw(line(10));
    t.deliver();
    const before = t.session.client;
    t.drop();
    const fresh = new Hub();
    fresh.epoch = hub.epoch + 1;
    (t as { hub: Hub }).hub = fresh;
    t.connect();
    expect(t.sent.at(-1)).toEqual({ type: "board_sync", since: 2, epoch: hub.epoch });
    t.deliver();
    expect(t.session.client).not.toBe(before);
    expect(shapeIds(t)).toEqual([]);
    expect(t.session.epoch).toBe(fresh.epoch);
  });

  it("lets a student draw only where the pen covers", () => {
    const s = new BoardSession("s1", false);
    s.connected();
    s.receive({ type: "board_snapshot", epoch: 1, snapshot: new Snapshot(0, new Board()).toJSON() });
    expect(s.canDraw("relay:1")).toBe(false);
    s.receive({ type: "board_grants", grants: [{ peer: "s1", scope: { type: "pages", pages: ["relay:1"] } }] });
    expect(s.canDraw("relay:1")).toBe(true);
    expect(s.canDraw("t1:5")).toBe(false);
    s.receive({ type: "board_grants", grants: [{ peer: "s2", scope: { type: "board" } }] });
    expect(s.canDraw("relay:1")).toBe(false);
    s.receive({ type: "board_grants", grants: [{ peer: "s1", scope: { type: "board" } }] });
    expect(s.canDraw("t1:5")).toBe(true);
    expect(new BoardSession("t1", true).canDraw("relay:1")).toBe(false); // no board yet
  });

  it("hands the pen over and back through the relay", () => {
    const hub = new Hub();
    const t = new Peer(hub, "t1", true);
    const s = new Peer(hub, "s1", false);
    t.connect();
    t.deliver();
    s.connect();
    s.deliver();
    t.session.grant("s1", { type: "board" });
    t.flush();
    s.deliver();
    t.deliver();
    expect(t.session.grantOf("s1")).toEqual({ type: "board" });
    expect(s.session.canDraw("relay:1")).toBe(true);
    s.draw(line(5));
    s.deliver();
    expect(s.shown).toEqual([]);
    t.session.grant("s1", null);
    t.flush();
    s.deliver();
    expect(s.session.canDraw("relay:1")).toBe(false);
  });
});

describe("grant messages", () => {
  // docs/protocol.md is what a mini-program author reads: our frames must be its examples.
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
  const examples = [...doc.matchAll(/^\{"v": 1, "type": "board_grant".*\}$/gm)].map((m) => JSON.parse(m[0]));

  it("are spelled as the protocol's examples", () => {
    expect(examples).toHaveLength(3);
    const ours = [
      grantMessage("s1", { type: "board" }),
      grantMessage("s1", { type: "pages", pages: ["relay:1"] }),
      grantMessage("s1", null),
    ].map((m) => JSON.parse(encodeClientMessage(m)));
    expect(ours).toEqual(examples);
  });
});
