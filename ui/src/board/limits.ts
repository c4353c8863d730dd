// What one op may carry, checked before the board looks at its own state. A copy of
// `crates/board/src/limits.rs`: every replica must refuse exactly what the relay refuses,
// so these are constants and must change together with the Rust ones.

import {
  BoardError,
  PAGE_HEIGHT,
  PAGE_WIDTH,
  isBoardId,
  isColor,
  type BoardAction,
  type BoardEphemeral,
  type Point,
  type Pos,
  type Rect,
  type ShapeKind,
  type Style,
  type Transform,
} from "./types";

export const MAX_PAGES = 500;
export const MAX_SHAPES_PER_PAGE = 10_000;
export const MAX_POINTS_PER_BATCH = 1_024;
export const MAX_POINTS_PER_STROKE = 20_000;
export const MAX_ERASE_BATCH = 1_000;
export const MAX_ERASE_RANGES = 256;
export const MAX_TEXT_CHARS = 4_000;
export const MAX_LASER_POINTS = 128;
export const MAX_UNDO_DEPTH = 100;
export const MAX_WIDTH = 200;
export const MAX_TEXT_SIZE = 400;
export const SCALE_RANGE: readonly [number, number] = [0.01, 100];

const fail = (code: ConstructorParameters<typeof BoardError>[0], detail?: string): never => {
  throw new BoardError(code, detail);
};

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function inReach(x: unknown, y: unknown): void {
  if (!finite(x) || !finite(y)) fail("bad_number", "coordinate");
  const fx = x as number;
  const fy = y as number;
  if (fx < -PAGE_WIDTH || fx > 2 * PAGE_WIDTH || fy < -PAGE_HEIGHT || fy > 2 * PAGE_HEIGHT) {
    fail("out_of_bounds");
  }
}

function within(what: string, v: unknown, lo: number, hi: number): void {
  if (!finite(v) || v < lo || v > hi) fail("bad_number", what);
}

function pos(p: Pos): void {
  if (!p || typeof p !== "object") fail("malformed", "position");
  inReach(p.x, p.y);
}

function point(p: Point): void {
  pos(p);
  within("pressure", p.pressure, 0, 1);
}

export function checkPoints(ps: Point[]): void {
  if (!Array.isArray(ps)) fail("malformed", "points");
  if (ps.length === 0) fail("empty");
  if (ps.length > MAX_POINTS_PER_BATCH) fail("batch_too_large");
  for (const p of ps) point(p);
}

function rect(r: Rect): void {
  if (!r || typeof r !== "object") fail("malformed", "rect");
  inReach(r.x, r.y);
  within("rect size", r.w, 0, 3 * PAGE_WIDTH);
  within("rect size", r.h, 0, 3 * PAGE_HEIGHT);
  inReach(r.x + r.w, r.y + r.h);
}

// Colours are checked by serde when the relay parses the op; checked here so that a
// local op the relay would refuse as malformed is refused locally too.
function style(s: Style): void {
  if (!s || !isColor(s.color) || (s.fill !== undefined && !isColor(s.fill))) fail("malformed", "colour");
  if (!finite(s.width) || s.width <= 0 || s.width > MAX_WIDTH) fail("bad_number", "width");
  within("opacity", s.opacity, 0, 1);
}

export function checkTransform(t: Transform): void {
  if (!t || typeof t !== "object") fail("malformed", "transform");
  within("dx", t.dx, -2 * PAGE_WIDTH, 2 * PAGE_WIDTH);
  within("dy", t.dy, -2 * PAGE_HEIGHT, 2 * PAGE_HEIGHT);
  within("scale", t.scale, SCALE_RANGE[0], SCALE_RANGE[1]);
  within("rotation", t.rotation, -4 * Math.PI, 4 * Math.PI);
}

/** Counts code points (Rust `chars()`), stopping at the limit so huge text stays cheap. */
function longerThan(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let n = 0;
  for (const _ of text) {
    if (++n > max) return true;
  }
  return false;
}

export function checkShape(kind: ShapeKind): void {
  if (!kind || typeof kind !== "object") fail("malformed", "shape");
  switch (kind.type) {
    case "stroke":
      return checkPoints(kind.points);
    case "line":
    case "arrow":
      pos(kind.from);
      return pos(kind.to);
    case "rectangle":
    case "ellipse":
      return rect(kind.rect);
    case "image":
      if (!isBoardId(kind.asset)) fail("malformed", "asset");
      return rect(kind.rect);
    case "text":
      pos(kind.at);
      if (!finite(kind.size) || kind.size <= 0 || kind.size > MAX_TEXT_SIZE) fail("bad_number", "text size");
      if (typeof kind.text !== "string") fail("malformed", "text");
      if (kind.text.length === 0) fail("empty");
      if (longerThan(kind.text, MAX_TEXT_CHARS)) fail("text_too_long");
      return;
    default:
      // A kind from a newer build: its fields cannot be checked, so it is refused.
      fail("forbidden");
  }
}

function pageId(id: unknown): void {
  if (!isBoardId(id)) fail("malformed", "page id");
}

/** Checks the values an action carries, without looking at the board. */
export function checkAction(a: BoardAction): void {
  if (!a || typeof a !== "object") fail("malformed", "action");
  if ("page" in a) pageId(a.page);
  switch (a.type) {
    case "begin_stroke":
      style(a.style);
      return checkPoints(a.points);
    case "append_stroke":
      return checkPoints(a.points);
    case "add_shape":
      style(a.style);
      return checkShape(a.shape);
    case "transform_shape":
      return checkTransform(a.transform);
    case "erase_shapes":
      if (!Array.isArray(a.shapes)) fail("malformed", "shapes");
      if (a.shapes.length === 0) fail("empty");
      if (a.shapes.length > MAX_ERASE_BATCH) fail("batch_too_large");
      return;
    case "partial_erase": {
      if (!Array.isArray(a.ranges)) fail("malformed", "ranges");
      if (a.ranges.length === 0) fail("empty");
      if (a.ranges.length > MAX_ERASE_RANGES) fail("batch_too_large");
      // Sorted, non-empty and apart, so the pieces left between them are well defined.
      let lastEnd: number | undefined;
      for (const r of a.ranges) {
        if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0) fail("malformed", "range");
        if (r.start >= r.end || (lastEnd !== undefined && r.start < lastEnd)) fail("bad_range");
        lastEnd = r.end;
      }
      return;
    }
    default:
      return;
  }
}

/** Checks a laser trail or cursor before it is sent. */
export function checkEphemeral(e: BoardEphemeral): void {
  switch (e.type) {
    case "laser":
      if (e.trail.length > MAX_LASER_POINTS) fail("batch_too_large");
      for (const p of e.trail) pos(p);
      return;
    case "cursor":
      if (e.at) pos(e.at);
      return;
    default:
      fail("forbidden");
  }
}
