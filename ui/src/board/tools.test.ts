import { describe, expect, it } from "vitest";
import { ClientBoard } from "./client";
import { FLUSH_MS, FLUSH_POINTS, ToolInput, pointerPressure, rangesNear } from "./tools";
import type { BoardEphemeral, BoardOp, Point } from "./types";

function setup() {
  const client = new ClientBoard("t");
  client.local({ type: "add_page" });
  const sent: BoardOp[] = [];
  const eph: BoardEphemeral[] = [];
  let asked: unknown = null;
  const tool = new ToolInput({
    submit: (action) => {
      try {
        const op = client.local(action);
        sent.push(op);
        return op;
      } catch {
        return null;
      }
    },
    ephemeral: (e) => eph.push(e),
    page: () => client.board().page(client.board().currentPage()!),
    requestText: (at) => (asked = at),
  });
  return { client, sent, eph, tool, asked: () => asked };
}

const p = (x: number, y: number, pressure = 1): Point => ({ x, y, pressure });

describe("ToolInput", () => {
  it("streams a pen stroke: begin, batches by time and by count, end", () => {
    const { sent, tool, client } = setup();
    tool.down(p(10, 10), 0);
    expect(sent.map((o) => o.action.type)).toEqual(["begin_stroke"]);
    // Three points in 20 ms: not yet due.
    tool.move([p(12, 10), p(14, 10), p(16, 10)], 20);
    expect(sent).toHaveLength(1);
    tool.tick(FLUSH_MS);
    expect(sent.map((o) => o.action.type)).toEqual(["begin_stroke", "append_stroke"]);
    const batch = sent[1].action;
    expect(batch.type === "append_stroke" && batch.points.length).toBe(3);
    expect(batch.type === "append_stroke" && batch.stroke).toBe("t:2");
    // A burst of points goes out as soon as FLUSH_POINTS are waiting.
    const burst = Array.from({ length: FLUSH_POINTS }, (_, i) => p(20 + i * 2, 20));
    tool.move(burst, FLUSH_MS + 1);
    expect(sent).toHaveLength(3);
    const b2 = sent[2].action;
    expect(b2.type === "append_stroke" && b2.points.length).toBe(FLUSH_POINTS);
    tool.up(FLUSH_MS + 2);
    expect(sent[sent.length - 1].action.type).toBe("end_stroke");
    const s = client.board().page("t:1")!.shapes[0];
    expect(s.kind.type === "stroke" && s.kind.finished).toBe(true);
    expect(s.kind.type === "stroke" && s.kind.points.length).toBe(1 + 3 + FLUSH_POINTS);
  });

  it("drops points closer than 0.75 page units and rounds to what f32 keeps", () => {
    const { sent, tool } = setup();
    tool.down(p(10, 10), 0);
    tool.move([p(10.2, 10.2), p(10.5, 10.1), p(11.123456, 10)], 10);
    tool.up(20);
    const a = sent[1].action;
    expect(a.type === "append_stroke" && a.points).toEqual([{ x: 11.12, y: 10, pressure: 1 }]);
  });

  it("highlighter strokes are wide, see-through and marked", () => {
    const { sent, tool } = setup();
    tool.tool = "highlighter";
    tool.style = { color: "#ffdd00", width: 5 };
    tool.down(p(1, 1), 0);
    tool.up(1);
    const a = sent[0].action;
    expect(a.type === "begin_stroke" && a.style).toEqual({ color: "#ffdd00", width: 20, opacity: 0.35, highlighter: true });
  });

  it("drags shapes and ignores clicks", () => {
    const { sent, tool } = setup();
    tool.tool = "rectangle";
    tool.down(p(100, 100), 0);
    tool.move([p(50, 160)], 10);
    expect(tool.preview()?.kind).toEqual({ type: "rectangle", rect: { x: 50, y: 100, w: 50, h: 60 } });
    tool.up(20);
    expect(sent[0].action).toMatchObject({ type: "add_shape", shape: { type: "rectangle", rect: { x: 50, y: 100, w: 50, h: 60 } } });
    tool.tool = "arrow";
    tool.down(p(5, 5), 30);
    tool.up(31);
    expect(sent).toHaveLength(1);
  });

  it("whole-stroke eraser sends erase_shapes once per shape", () => {
    const { sent, tool } = setup();
    tool.down(p(100, 100), 0);
    tool.move([p(200, 100)], 60);
    tool.up(61);
    tool.tool = "eraser";
    tool.down(p(150, 102), 100);
    tool.move([p(151, 101), p(152, 100)], 110);
    tool.up(120);
    const erases = sent.filter((o) => o.action.type === "erase_shapes");
    expect(erases).toHaveLength(1);
    expect(erases[0].action).toMatchObject({ shapes: ["t:2"] });
  });

  it("partial eraser cuts the points under it, leaving pieces", () => {
    const { sent, tool, client } = setup();
    tool.down(p(0, 100), 0);
    tool.move(Array.from({ length: 20 }, (_, i) => p(10 * (i + 1), 100)), 60);
    tool.up(61);
    tool.tool = "partial_eraser";
    tool.eraserRadius = 6;
    tool.down(p(100, 100), 100);
    tool.up(101);
    const cut = sent.find((o) => o.action.type === "partial_erase")!;
    expect(cut.action).toMatchObject({ stroke: "t:2", ranges: [{ start: 10, end: 11 }] });
    expect(client.board().page("t:1")!.shapes.map((s) => s.id)).toEqual([`t:${cut.client_seq}/0`, `t:${cut.client_seq}/1`]);
  });

  it("ranges group neighbouring points", () => {
    const line = Array.from({ length: 10 }, (_, i) => ({ x: i, y: 0 }));
    expect(rangesNear(line, { x: 4.5, y: 0 }, 1)).toEqual([{ start: 4, end: 6 }]);
    expect(rangesNear(line, { x: 0, y: 0 }, 20)).toEqual([{ start: 0, end: 10 }]);
  });

  it("text asks the host, then places a shape", () => {
    const { sent, tool, asked } = setup();
    tool.tool = "text";
    tool.down(p(30, 40), 0);
    expect(asked()).toEqual({ x: 30, y: 40 });
    tool.placeText({ x: 30, y: 40 }, "你好\r\nworld");
    expect(sent[0].action).toMatchObject({ type: "add_shape", shape: { type: "text", text: "你好\nworld", at: { x: 30, y: 40 } } });
    expect(tool.placeText({ x: 0, y: 0 }, "   ")).toBeNull();
  });

  it("laser trails are ephemeral and overlap by one point", () => {
    const { sent, eph, tool } = setup();
    tool.tool = "laser";
    tool.down(p(1, 1), 0);
    tool.move([p(2, 2), p(3, 3)], 10);
    tool.move([p(4, 4)], 60);
    tool.up(70);
    expect(sent).toHaveLength(0);
    expect(eph.map((e) => e.type === "laser" && e.trail)).toEqual([[{ x: 1, y: 1 }], [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 3 }, { x: 4, y: 4 }]]);
  });

  it("mouse draws at full pressure; pens without a sensor at half", () => {
    expect(pointerPressure("mouse", 0.5)).toBe(1);
    expect(pointerPressure("pen", 0.8)).toBe(0.8);
    expect(pointerPressure("touch", 0)).toBe(0.5);
  });

  it("a stroke that someone erased stops cleanly", () => {
    const { client, sent, tool } = setup();
    tool.down(p(10, 10), 0);
    client.local({ type: "erase_shapes", page: "t:1", shapes: ["t:2"] });
    tool.move([p(20, 20)], 60);
    expect(tool.isActive()).toBe(false);
    tool.up(70);
    expect(sent.map((o) => o.action.type)).toEqual(["begin_stroke"]);
  });
});
