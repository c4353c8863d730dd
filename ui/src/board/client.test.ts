import { describe, expect, it } from "vitest";
import { ClientBoard } from "./client";
import { Board, Snapshot } from "./model";
import { BoardError, type BoardAction, type BoardOp } from "./types";
import { STYLE, dump, prng } from "./testing";

/** The relay's side as far as ordering goes: apply, number, log (no permissions). */
class FakeRelay {
  board = new Board();
  log: BoardOp[] = [];
  submit(op: BoardOp): BoardOp | BoardError {
    try {
      this.board.apply(op);
    } catch (e) {
      return e as BoardError;
    }
    const ordered = { ...op, server_seq: this.log.length + 1 };
    this.log.push(ordered);
    return JSON.parse(JSON.stringify(ordered)) as BoardOp;
  }
}

type Down = { kind: "op"; op: BoardOp } | { kind: "refused"; clientSeq: number };

/** A random action that mostly makes sense for what `c` shows now. */
function randomAction(c: ClientBoard, rnd: () => number, open: Map<string, string>): BoardAction | null {
  const b = c.board();
  const pages = b.pages();
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const page = pick(pages);
  const r = rnd();
  const pt = () => ({ x: Math.round(rnd() * 160000) / 100, y: Math.round(rnd() * 90000) / 100, pressure: Math.round(rnd() * 1000) / 1000 });
  const mine = open.get(c.me);
  if (mine && page && r < 0.5) {
    // Keep drawing into our open stroke (which may have been erased meanwhile).
    const [pg, id] = mine.split("|");
    if (rnd() < 0.3) {
      open.delete(c.me);
      return { type: "end_stroke", page: pg, stroke: id };
    }
    return { type: "append_stroke", page: pg, stroke: id, points: [pt(), pt()] };
  }
  if (!page || r < 0.05) return { type: "add_page", index: rnd() < 0.5 ? undefined : Math.floor(rnd() * 4) };
  const shapes = page.shapes;
  const shape = pick(shapes);
  if (r < 0.3) return { type: "begin_stroke", page: page.id, style: STYLE, smooth: true, points: [pt(), pt(), pt(), pt()] };
  if (r < 0.4) return { type: "add_shape", page: page.id, style: STYLE, shape: { type: "ellipse", rect: { x: 10, y: 20, w: 30, h: 40 } } };
  if (r < 0.47 && shape) return { type: "erase_shapes", page: page.id, shapes: [shape.id] };
  if (r < 0.55 && shape && shape.kind.type === "stroke") {
    const n = shape.kind.points.length;
    const start = Math.floor(rnd() * n);
    return { type: "partial_erase", page: page.id, stroke: shape.id, ranges: [{ start, end: Math.min(n, start + 1 + Math.floor(rnd() * 2)) }] };
  }
  if (r < 0.62 && shape) {
    return { type: "transform_shape", page: page.id, shape: shape.id, transform: { dx: Math.round(rnd() * 100), dy: 3, scale: 1.5, rotation: 0.25 } };
  }
  if (r < 0.72) return { type: "undo" };
  if (r < 0.8) return { type: "redo" };
  if (r < 0.84) return { type: "clear_page", page: page.id };
  if (r < 0.87) return { type: "remove_page", page: page.id };
  if (r < 0.9) return { type: "reorder_page", page: page.id, index: Math.floor(rnd() * 3) };
  if (r < 0.94) return { type: "set_background", page: page.id, background: rnd() < 0.5 ? null : { type: "image", asset: "img1" } };
  return { type: "set_current_page", page: page.id };
}

function simulate(seed: number, clients: number, steps: number): void {
  const rnd = prng(seed);
  const relay = new FakeRelay();
  const peers = Array.from({ length: clients }, (_, i) => new ClientBoard(`p${i}`, new Snapshot(0, new Board())));
  const up: BoardOp[][] = peers.map(() => []);
  const down: Down[][] = peers.map(() => []);
  const open = new Map<string, string>();

  const deliverUp = (i: number) => {
    const op = up[i].shift()!;
    const res = relay.submit(op);
    if (res instanceof BoardError) down[i].push({ kind: "refused", clientSeq: op.client_seq });
    else for (const q of down) q.push({ kind: "op", op: res });
  };
  const deliverDown = (i: number) => {
    const m = down[i].shift()!;
    if (m.kind === "op") peers[i].receive(m.op);
    else peers[i].refused(m.clientSeq);
  };

  for (let step = 0; step < steps; step++) {
    const i = Math.floor(rnd() * clients);
    const r = rnd();
    if (r < 0.4) {
      const action = randomAction(peers[i], rnd, open);
      if (!action) continue;
      try {
        const op = peers[i].local(action);
        up[i].push(op);
        if (action.type === "begin_stroke") open.set(peers[i].me, `${action.page}|${op.author}:${op.client_seq}`);
      } catch {
        if (action.type === "append_stroke" || action.type === "end_stroke") open.delete(peers[i].me);
      }
    } else if (r < 0.7) {
      if (up[i].length > 0) deliverUp(i);
    } else if (down[i].length > 0) {
      deliverDown(i);
    }
  }
  // Drain: everything sent arrives, in per-connection order.
  for (let i = 0; i < clients; i++) while (up[i].length > 0) deliverUp(i);
  for (let i = 0; i < clients; i++) while (down[i].length > 0) deliverDown(i);

  const want = dump(relay.board);
  for (const c of peers) {
    expect(c.pending()).toHaveLength(0);
    expect(c.confirmedSeq()).toBe(relay.log.length);
    expect(dump(c.board())).toBe(want);
    expect(dump(c.confirmed())).toBe(want);
  }
  // A late joiner from a snapshot equals the others too.
  const late = new ClientBoard("late", Snapshot.fromJSON(JSON.stringify(new Snapshot(relay.log.length, relay.board.clone()).toJSON())));
  expect(dump(late.board())).toBe(want);
}

describe("ClientBoard", () => {
  it("confirms its own op without a rebase", () => {
    const relay = new FakeRelay();
    const c = new ClientBoard("a");
    let rebuilt = 0;
    c.subscribe((ch) => (rebuilt += ch.rebuilt ? 1 : 0));
    const op = c.local({ type: "add_page" });
    expect(c.board().pages()).toHaveLength(1);
    c.receive(relay.submit(op) as BoardOp);
    expect(c.pending()).toHaveLength(0);
    expect(rebuilt).toBe(0);
    expect(c.receive({ ...op, server_seq: 1 })).toBe(false);
  });

  it("rebases pending ops over someone else's and drops refused ones", () => {
    const relay = new FakeRelay();
    const a = new ClientBoard("a");
    const b = new ClientBoard("b");
    const page = a.local({ type: "add_page" });
    const ordered = relay.submit(page) as BoardOp;
    a.receive(ordered);
    b.receive(ordered);
    const mine = a.local({ type: "add_shape", page: "a:1", style: STYLE, shape: { type: "line", from: { x: 0, y: 0 }, to: { x: 5, y: 5 } } });
    const theirs = b.local({ type: "clear_page", page: "a:1" });
    const o1 = relay.submit(theirs) as BoardOp;
    a.receive(o1);
    // a's line is still shown: it was ordered after the clear.
    expect(a.board().page("a:1")!.shapes.map((s) => s.id)).toEqual(["a:2"]);
    a.refused(mine.client_seq);
    expect(a.board().page("a:1")!.shapes).toHaveLength(0);
    expect(a.pending()).toHaveLength(0);
  });

  it("reports gaps and desyncs", () => {
    const c = new ClientBoard("a");
    expect(() => c.receive({ author: "b", client_seq: 1, server_seq: 2, action: { type: "add_page" } })).toThrow("seq_gap");
    expect(() => c.receive({ author: "b", client_seq: 1, server_seq: 1, action: { type: "undo" } })).toThrow("desync");
  });

  it("resyncs from a snapshot keeping pending ops that still apply", () => {
    const relay = new FakeRelay();
    const a = new ClientBoard("a");
    const p = relay.submit({ author: "t", client_seq: 1, action: { type: "add_page" } }) as BoardOp;
    a.receive(p);
    const first = a.local({ type: "add_shape", page: "t:1", style: STYLE, shape: { type: "line", from: { x: 0, y: 0 }, to: { x: 5, y: 5 } } });
    relay.submit(first);
    a.local({ type: "add_shape", page: "t:1", style: STYLE, shape: { type: "line", from: { x: 1, y: 0 }, to: { x: 5, y: 5 } } });
    a.resync(new Snapshot(relay.log.length, relay.board.clone()));
    expect(a.pending().map((o) => o.client_seq)).toEqual([2]);
    expect(a.board().page("t:1")!.shapes.map((s) => s.id)).toEqual(["a:1", "a:2"]);
  });

  it("does not reuse a number the relay used in its name", () => {
    // The teacher takes the pen back mid-stroke: the relay ends the stroke as `a` with
    // a's next number. a must draw on with the number after it, not be refused as stale.
    const relay = new FakeRelay();
    const a = new ClientBoard("a");
    a.receive(relay.submit({ author: "t", client_seq: 1, action: { type: "add_page" } }) as BoardOp);
    const begin = a.local({ type: "begin_stroke", page: "t:1", style: STYLE, smooth: true, points: [{ x: 1, y: 1, pressure: 1 }] });
    a.receive(relay.submit(begin) as BoardOp);
    a.receive(relay.submit({ author: "a", client_seq: 2, action: { type: "end_stroke", page: "t:1", stroke: "a:1" } }) as BoardOp);
    const next = a.local({ type: "add_shape", page: "t:1", style: STYLE, shape: { type: "line", from: { x: 0, y: 0 }, to: { x: 5, y: 5 } } });
    expect(next.client_seq).toBe(3);
    expect(relay.submit(next)).not.toBeInstanceOf(BoardError);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`converges with the relay over a random interleaving (seed ${seed})`, () => {
      simulate(seed, 2 + (seed % 3), 1500);
    });
  }
});
