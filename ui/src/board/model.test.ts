import { describe, expect, it } from "vitest";
import { Board, Snapshot } from "./model";
import { MAX_UNDO_DEPTH } from "./limits";
import { BoardError, type BoardAction } from "./types";
import { STYLE, addPage, dump, ids, pts, rectShape, run, stroke } from "./testing";

/** Asserts `action` is refused with `code` and the board is exactly as before. */
function refused(b: Board, who: string, action: BoardAction, code: string): void {
  const before = dump(b);
  let got: unknown;
  try {
    run(b, who, action);
  } catch (e) {
    got = e;
  }
  expect(got).toBeInstanceOf(BoardError);
  expect((got as BoardError).code).toBe(code);
  expect(dump(b)).toBe(before);
}

describe("Board", () => {
  it("adds pages where asked; the first becomes current", () => {
    const b = new Board();
    const p1 = addPage(b, "t");
    expect(p1).toBe("t:1");
    expect(b.currentPage()).toBe("t:1");
    run(b, "t", { type: "add_page", index: 0 });
    expect(b.pages().map((p) => p.id)).toEqual(["t:2", "t:1"]);
    expect(b.currentPage()).toBe("t:1");
    run(b, "t", { type: "add_page", index: 99 });
    expect(b.pages().map((p) => p.id)).toEqual(["t:2", "t:1", "t:3"]);
  });

  it("removing the current page moves current to its neighbour, undo brings it back", () => {
    const b = new Board();
    addPage(b, "t");
    const p2 = addPage(b, "t");
    addPage(b, "t");
    run(b, "t", { type: "set_current_page", page: p2 });
    run(b, "t", { type: "remove_page", page: p2 });
    expect(b.currentPage()).toBe("t:3");
    run(b, "t", { type: "undo" });
    expect(b.pages().map((p) => p.id)).toEqual(["t:1", "t:2", "t:3"]);
    expect(b.currentPage()).toBe("t:2");
  });

  it("streams a stroke in batches and pen-up makes it one undo step", () => {
    const b = new Board();
    const p = addPage(b, "t");
    const begin = run(b, "t", { type: "begin_stroke", page: p, style: STYLE, smooth: true, points: pts(3) });
    const id = `t:${begin.client_seq}`;
    run(b, "t", { type: "append_stroke", page: p, stroke: id, points: pts(2, 10) });
    refused(b, "s", { type: "append_stroke", page: p, stroke: id, points: pts(1) }, "not_your_stroke");
    run(b, "t", { type: "end_stroke", page: p, stroke: id });
    refused(b, "t", { type: "append_stroke", page: p, stroke: id, points: pts(1) }, "stroke_finished");
    const s = b.page(p)!.shapes[0];
    expect(s.kind.type === "stroke" && s.kind.points.length).toBe(5);
    expect(s.kind.type === "stroke" && s.kind.finished).toBe(true);
    run(b, "t", { type: "undo" });
    expect(ids(b, p)).toEqual([]);
    run(b, "t", { type: "redo" });
    expect(ids(b, p)).toEqual([id]);
  });

  it("checks limits like the relay", () => {
    const b = new Board();
    const p = addPage(b, "t");
    refused(b, "t", { type: "begin_stroke", page: p, style: STYLE, smooth: true, points: [] }, "empty");
    refused(b, "t", { type: "begin_stroke", page: p, style: STYLE, smooth: true, points: pts(1025) }, "batch_too_large");
    refused(b, "t", { type: "begin_stroke", page: p, style: { ...STYLE, width: 0 }, smooth: true, points: pts(1) }, "bad_number");
    refused(
      b,
      "t",
      { type: "begin_stroke", page: p, style: STYLE, smooth: true, points: [{ x: 5000, y: 0, pressure: 1 }] },
      "out_of_bounds",
    );
    refused(b, "t", { type: "begin_stroke", page: "x:1", style: STYLE, smooth: true, points: pts(1) }, "page_not_found");
    refused(
      b,
      "t",
      { type: "add_shape", page: p, style: STYLE, shape: { type: "text", at: { x: 1, y: 1 }, text: "", size: 10 } },
      "empty",
    );
    refused(
      b,
      "t",
      { type: "add_shape", page: p, style: STYLE, shape: { type: "text", at: { x: 1, y: 1 }, text: "字".repeat(4001), size: 10 } },
      "text_too_long",
    );
    refused(b, "t", { type: "transform_shape", page: p, shape: "t:1", transform: { dx: 0, dy: 0, scale: 0, rotation: 0 } }, "bad_number");
  });

  it("partial erase leaves pieces with ids from the op, in the stroke's z-place", () => {
    const b = new Board();
    const p = addPage(b, "t");
    const before = rectShape(b, "t", p);
    const s = stroke(b, "t", p, 10);
    const after = rectShape(b, "t", p);
    const original = (b.page(p)!.shapes[1].kind as { points: unknown[] }).points;
    const cut = (ranges: [number, number][]): BoardAction => ({
      type: "partial_erase",
      page: p,
      stroke: s,
      ranges: ranges.map(([start, end]) => ({ start, end })),
    });
    const op = run(b, "e", cut([[0, 2], [4, 5], [8, 10]]));
    expect(`${op.author}:${op.client_seq}`).toBe("e:1");
    expect(ids(b, p)).toEqual([before, "e:1/0", "e:1/1", after]);
    const pieces = b.page(p)!.shapes;
    expect((pieces[1].kind as { points: unknown[] }).points).toEqual(original.slice(2, 4));
    expect((pieces[2].kind as { points: unknown[] }).points).toEqual(original.slice(5, 8));
    expect(pieces[1].author).toBe("t");
    run(b, "e", { type: "undo" });
    expect(ids(b, p)).toEqual([before, s, after]);
    refused(b, "e", cut([[3, 2]]), "bad_range");
    refused(b, "e", cut([[0, 4], [3, 5]]), "bad_range");
    refused(b, "e", cut([[5, 11]]), "bad_range");
    refused(b, "e", cut([]), "empty");
    run(b, "e", cut([[0, 10]]));
    expect(ids(b, p)).toEqual([before, after]);
  });

  it("clear page is one step that restores the order", () => {
    const b = new Board();
    const p = addPage(b, "t");
    stroke(b, "s", p, 2);
    rectShape(b, "t", p);
    stroke(b, "s", p, 4);
    const all = ids(b, p);
    run(b, "t", { type: "clear_page", page: p });
    expect(ids(b, p)).toEqual([]);
    run(b, "t", { type: "undo" });
    expect(ids(b, p)).toEqual(all);
    run(b, "t", { type: "redo" });
    expect(ids(b, p)).toEqual([]);
  });

  it("undo is per author even when ops interleave", () => {
    const b = new Board();
    const p = addPage(b, "t");
    const a1 = stroke(b, "a", p, 2);
    const b1 = stroke(b, "b", p, 2);
    const a2 = stroke(b, "a", p, 2);
    const b2 = stroke(b, "b", p, 2);
    run(b, "a", { type: "undo" });
    expect(ids(b, p)).toEqual([a1, b1, b2]);
    run(b, "b", { type: "undo" });
    expect(ids(b, p)).toEqual([a1, b1]);
    expect(b.canRedo("a")).toBe(true);
    run(b, "a", { type: "redo" });
    expect(ids(b, p)).toEqual([a1, b1, a2]);
    refused(b, "a", { type: "redo" }, "nothing_to_redo");
    refused(b, "z", { type: "undo" }, "nothing_to_undo");
  });

  it("a new edit ends redo, navigation does not; undo skips what others took away", () => {
    const b = new Board();
    const p = addPage(b, "t");
    stroke(b, "t", p, 2);
    run(b, "t", { type: "undo" });
    run(b, "t", { type: "set_current_page", page: p });
    expect(b.canRedo("t")).toBe(true);
    stroke(b, "t", p, 2);
    expect(b.canRedo("t")).toBe(false);

    const c = new Board();
    const q = addPage(c, "t");
    const first = stroke(c, "s", q, 2);
    const second = stroke(c, "s", q, 2);
    run(c, "t", { type: "erase_shapes", page: q, shapes: [second] });
    run(c, "s", { type: "undo" });
    expect(ids(c, q)).toEqual([]);
    expect(c.canUndo("s")).toBe(false);
    run(c, "s", { type: "redo" });
    expect(ids(c, q)).toEqual([first]);
  });

  it("transforms are set whole and undo restores the exact previous value", () => {
    const b = new Board();
    const p = addPage(b, "t");
    const r = rectShape(b, "t", p);
    const t1 = { dx: 10, dy: 5, scale: 2, rotation: 0.5 };
    run(b, "t", { type: "transform_shape", page: p, shape: r, transform: t1 });
    run(b, "t", { type: "transform_shape", page: p, shape: r, transform: { dx: 1, dy: 1, scale: 1, rotation: 0 } });
    run(b, "t", { type: "undo" });
    expect(b.page(p)!.shapes[0].transform).toEqual(t1);
    run(b, "t", { type: "undo" });
    expect(b.page(p)!.shapes[0].transform).toBeUndefined();
  });

  it("applies an op once per author counter; counters may skip", () => {
    const b = new Board();
    const p = addPage(b, "t");
    const before = dump(b);
    expect(() => b.apply({ author: "t", client_seq: 1, action: { type: "clear_page", page: p } })).toThrow("stale_op");
    expect(dump(b)).toBe(before);
    b.apply({ author: "t", client_seq: 10, action: { type: "clear_page", page: p } });
    expect(b.lastClientSeq("t")).toBe(10);
  });

  it("bounds the undo history", () => {
    const b = new Board();
    const p = addPage(b, "t");
    for (let i = 0; i < MAX_UNDO_DEPTH + 5; i++) rectShape(b, "t", p);
    let undone = 0;
    while (b.canUndo("t")) {
      run(b, "t", { type: "undo" });
      undone++;
    }
    expect(undone).toBe(MAX_UNDO_DEPTH);
  });

  it("clones share data but never leak writes", () => {
    const a = new Board();
    const p = addPage(a, "t");
    const begin = run(a, "t", { type: "begin_stroke", page: p, style: STYLE, smooth: false, points: pts(2) });
    const sid = `t:${begin.client_seq}`;
    const snap = dump(a);
    const b = a.clone();
    run(b, "t", { type: "append_stroke", page: p, stroke: sid, points: pts(3, 50) });
    run(b, "t", { type: "end_stroke", page: p, stroke: sid });
    run(b, "t", { type: "undo" });
    expect(dump(a)).toBe(snap);
    run(a, "t", { type: "append_stroke", page: p, stroke: sid, points: pts(1, 70) });
    expect(ids(b, p)).toEqual([]);
    const s = a.page(p)!.shapes[0];
    expect(s.kind.type === "stroke" && s.kind.points.length).toBe(3);
  });

  it("round-trips through the snapshot JSON the relay writes", () => {
    const b = new Board();
    const p = addPage(b, "t");
    stroke(b, "t", p, 3);
    run(b, "t", { type: "set_background", page: p, background: { type: "document", doc: "doc1", page: 0 } });
    run(b, "t", { type: "undo" });
    const json = JSON.stringify(new Snapshot(7, b).toJSON());
    expect(json.startsWith('{"version":1,"seq":7,"board":{"pages":[{"id":"t:1"')).toBe(true);
    const back = Snapshot.fromJSON(json);
    expect(back.seq).toBe(7);
    expect(dump(back.board)).toBe(dump(b));
    // Redo works on the loaded copy the same way.
    run(back.board, "t", { type: "redo" });
    run(b, "t", { type: "redo" });
    expect(dump(back.board)).toBe(dump(b));
    expect(() => Snapshot.fromJSON('{"version":2,"seq":0,"board":{"pages":[]}}')).toThrow("unsupported_version");
  });

  it("fills in serde defaults when loading", () => {
    const json =
      '{"version":1,"seq":1,"board":{"pages":[{"id":"t:1","shapes":[{"id":"t:2","author":"t","style":{"color":"#000000","width":2.0},"kind":{"type":"stroke","points":[{"x":1.0,"y":2.0}],"smooth":true}}]}],"current":"t:1"}}';
    const b = Snapshot.fromJSON(json).board;
    const s = b.page("t:1")!.shapes[0];
    expect(s.style.opacity).toBe(1);
    expect(s.style.highlighter).toBe(false);
    expect(s.kind.type === "stroke" && s.kind.points[0].pressure).toBe(1);
    expect(s.kind.type === "stroke" && s.kind.finished).toBe(false);
  });
});
