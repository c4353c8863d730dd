// Helpers for the board tests and the bench: a seeded PRNG, op builders, a stub 2D
// context. Not used by the app.

import { Board } from "./model";
import type { BoardAction, BoardOp, Point, Style } from "./types";

/** mulberry32: small, fast, good enough to drive randomised tests reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const STYLE: Style = { color: "#202020", width: 3, opacity: 1, highlighter: false };

export function pts(n: number, x0 = 0, y0 = 0): Point[] {
  return Array.from({ length: n }, (_, i) => ({ x: x0 + i, y: y0 + i / 2, pressure: 0.5 }));
}

/** Applies `action` as `who`'s next op; returns the op. */
export function run(board: Board, who: string, action: BoardAction): BoardOp {
  const op: BoardOp = { author: who, client_seq: board.lastClientSeq(who) + 1, action };
  board.apply(op);
  return op;
}

export function addPage(board: Board, who: string): string {
  const op = run(board, who, { type: "add_page" });
  return `${op.author}:${op.client_seq}`;
}

export function stroke(board: Board, who: string, page: string, n: number, x0 = 0, y0 = 0): string {
  const op = run(board, who, { type: "begin_stroke", page, style: STYLE, smooth: true, points: pts(n, x0, y0) });
  const id = `${op.author}:${op.client_seq}`;
  run(board, who, { type: "end_stroke", page, stroke: id });
  return id;
}

export function rectShape(board: Board, who: string, page: string): string {
  const op = run(board, who, {
    type: "add_shape",
    page,
    style: STYLE,
    shape: { type: "rectangle", rect: { x: 10, y: 10, w: 100, h: 50 } },
  });
  return `${op.author}:${op.client_seq}`;
}

export function ids(board: Board, page: string): string[] {
  return board.page(page)!.shapes.map((s) => s.id);
}

/** The board as JSON text, history included: what "equal boards" means in Rust. */
export function dump(board: Board): string {
  return JSON.stringify(board.toJSON());
}

/**
 * A 2D context that records method calls by name and accepts any property; enough for
 * the renderer's cache logic.
 */
export function stubContext(): { ctx: CanvasRenderingContext2D; calls: Map<string, number>; reset(): void } {
  const calls = new Map<string, number>();
  const props: Record<string | symbol, unknown> = {};
  const ctx = new Proxy(props, {
    get(target, key) {
      if (key in target) return target[key];
      return (..._args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
      };
    },
    set(target, key, value) {
      target[key] = value;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
  return { ctx, calls, reset: () => calls.clear() };
}
