// Pointer input to ops. Sans-IO: the caller feeds page-space samples with the time and
// gets actions through a `ToolSink`; nothing here reads a clock or touches the DOM, so the
// batching can be tested with virtual time.

import { hitShape, shapeBounds, toShapeSpace } from "./geometry";
import { MAX_LASER_POINTS, MAX_POINTS_PER_BATCH, MAX_POINTS_PER_STROKE } from "./limits";
import {
  PAGE_HEIGHT,
  PAGE_WIDTH,
  opShapeId,
  roundTo,
  type BoardAction,
  type BoardEphemeral,
  type BoardOp,
  type Color,
  type Page,
  type Point,
  type PointRange,
  type Pos,
  type Rect,
  type Shape,
  type ShapeKind,
  type Style,
} from "./types";

export type ToolKind =
  | "pen"
  | "highlighter"
  | "line"
  | "arrow"
  | "rectangle"
  | "ellipse"
  | "text"
  | "eraser"
  | "partial_eraser"
  | "laser";

export const TOOLS: readonly ToolKind[] = [
  "pen",
  "highlighter",
  "line",
  "arrow",
  "rectangle",
  "ellipse",
  "text",
  "eraser",
  "partial_eraser",
  "laser",
];

export interface ToolStyle {
  color: Color;
  /** Line width in page units. */
  width: number;
  fill?: Color;
}

/** Where a tool's output goes. `submit` applies an action locally and returns the op. */
export interface ToolSink {
  submit(action: BoardAction): BoardOp | null;
  ephemeral(e: BoardEphemeral): void;
  /** The page being drawn on, as shown now. */
  page(): Page | undefined;
  /** The text tool asks the host for text to place at `at`. */
  requestText?(at: Pos): void;
}

/** Points closer than this to the last kept point are dropped. */
export const MIN_POINT_DISTANCE = 0.75;
/** Stroke points are sent at least this often while drawing... */
export const FLUSH_MS = 50;
/** ...or as soon as this many are waiting. */
export const FLUSH_POINTS = 32;
/** Highlighters draw this much wider than the chosen width, see-through. */
export const HIGHLIGHTER_SCALE = 4;
export const HIGHLIGHTER_OPACITY = 0.35;

/** Keeps a value inside what the model accepts, rounded so it survives the relay's f32. */
function coord(v: number, page: number): number {
  return roundTo(Math.min(2 * page, Math.max(-page, v)), 2);
}

export function pagePoint(x: number, y: number, pressure: number): Point {
  return {
    x: coord(x, PAGE_WIDTH),
    y: coord(y, PAGE_HEIGHT),
    pressure: roundTo(Math.min(1, Math.max(0, pressure)), 3),
  };
}

/**
 * Pressure of a pointer sample. The wire says "1 for a mouse" (`Point` in
 * `crates/proto/src/board.rs`); browsers report 0.5 for a pressed mouse button, which
 * would draw every mouse stroke thinner than the chosen width. A pen or touch that reports
 * 0 while in contact has no pressure sensor: 0.5 for those.
 */
export function pointerPressure(pointerType: string, pressure: number): number {
  if (pointerType === "mouse") return 1;
  return pressure > 0 ? pressure : 0.5;
}

function rectBetween(a: Pos, b: Pos): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: roundTo(Math.abs(b.x - a.x), 2), h: roundTo(Math.abs(b.y - a.y), 2) };
}

/** Index ranges of the points within `r` of `at` (points in the stroke's own space). */
export function rangesNear(points: readonly Pos[], at: Pos, r: number): PointRange[] {
  const out: PointRange[] = [];
  let start = -1;
  for (let i = 0; i < points.length; i++) {
    const hit = Math.hypot(points[i].x - at.x, points[i].y - at.y) <= r;
    if (hit && start < 0) start = i;
    if (!hit && start >= 0) {
      out.push({ start, end: i });
      start = -1;
    }
  }
  if (start >= 0) out.push({ start, end: points.length });
  return out;
}

function isOpenStroke(s: Shape): boolean {
  return s.kind.type === "stroke" && !s.kind.finished;
}

/**
 * One user's tool: call `down`, `move`, `up` with page-space samples and the time, and
 * `tick` once a frame so stroke batches go out on time even when the pen rests.
 */
export class ToolInput {
  tool: ToolKind = "pen";
  style: ToolStyle = { color: "#1f2937", width: 4 };
  /** Eraser radius in page units (the host scales it with the zoom). */
  eraserRadius = 10;
  textSize = 36;

  private active = false;
  private pageId: string | null = null;
  private stroke: { id: string; count: number } | null = null;
  private buffer: Point[] = [];
  private lastKept: Point | null = null;
  private lastFlush = 0;
  private dragFrom: Pos | null = null;
  private dragTo: Pos | null = null;
  private laser: Pos[] = [];
  private laserSentLast: Pos | null = null;
  private erased = new Set<string>();

  constructor(private readonly sink: ToolSink) {}

  /** A shape drawn over the page while dragging (line, rectangle …), not yet an op. */
  preview(): Shape | null {
    if (!this.active || !this.dragFrom || !this.dragTo) return null;
    const kind = this.dragKind(this.dragFrom, this.dragTo);
    return kind ? { id: "preview", author: "", style: this.shapeStyle(), kind } : null;
  }

  isActive(): boolean {
    return this.active;
  }

  down(p: Point, now: number): void {
    const page = this.sink.page();
    if (!page) return;
    this.cancel();
    this.active = true;
    this.pageId = page.id;
    const q = pagePoint(p.x, p.y, p.pressure);
    switch (this.tool) {
      case "pen":
      case "highlighter":
        this.beginStroke(q, now);
        break;
      case "line":
      case "arrow":
      case "rectangle":
      case "ellipse":
        this.dragFrom = q;
        this.dragTo = q;
        break;
      case "text":
        this.active = false;
        this.sink.requestText?.({ x: q.x, y: q.y });
        break;
      case "eraser":
      case "partial_eraser":
        this.erased.clear();
        this.erase(q);
        break;
      case "laser":
        this.laser = [{ x: q.x, y: q.y }];
        this.laserSentLast = null;
        this.lastFlush = now;
        this.flushLaser();
        break;
    }
  }

  /** One or more samples (coalesced pointer events), oldest first. */
  move(points: readonly Point[], now: number): void {
    if (!this.active) return;
    for (const p of points) {
      const q = pagePoint(p.x, p.y, p.pressure);
      switch (this.tool) {
        case "pen":
        case "highlighter":
          this.addStrokePoint(q, now);
          break;
        case "line":
        case "arrow":
        case "rectangle":
        case "ellipse":
          this.dragTo = q;
          break;
        case "eraser":
        case "partial_eraser":
          this.erase(q);
          break;
        case "laser":
          this.laser.push({ x: q.x, y: q.y });
          break;
        default:
          break;
      }
    }
    this.tick(now);
  }

  /** Sends what is due: stroke batches every FLUSH_MS, laser trails likewise. */
  tick(now: number): void {
    if (!this.active) return;
    if (this.stroke && this.buffer.length > 0 && now - this.lastFlush >= FLUSH_MS) this.flushStroke(now);
    if (this.tool === "laser" && now - this.lastFlush >= FLUSH_MS) {
      this.flushLaser();
      this.lastFlush = now;
    }
  }

  up(now: number): void {
    if (!this.active) return;
    if (this.stroke) {
      this.flushStroke(now);
      this.endStroke();
    } else if (this.dragFrom && this.dragTo) {
      const kind = this.dragKind(this.dragFrom, this.dragTo);
      if (kind && this.pageId) this.sink.submit({ type: "add_shape", page: this.pageId, style: this.shapeStyle(), shape: kind });
    } else if (this.tool === "laser") {
      this.flushLaser();
    }
    this.reset();
  }

  /** The pointer was lost: a stroke in progress is still ended, so it is not left open. */
  cancel(): void {
    if (this.stroke) {
      this.flushStroke(0);
      this.endStroke();
    }
    this.reset();
  }

  /** Places a text shape (after `requestText`). */
  placeText(at: Pos, text: string): BoardOp | null {
    const page = this.sink.page();
    const body = text.replace(/\r\n?/g, "\n");
    if (!page || body.trim().length === 0) return null;
    return this.sink.submit({
      type: "add_shape",
      page: page.id,
      style: { color: this.style.color, width: 1, opacity: 1, highlighter: false },
      shape: { type: "text", at: { x: coord(at.x, PAGE_WIDTH), y: coord(at.y, PAGE_HEIGHT) }, text: body, size: this.textSize },
    });
  }

  private reset(): void {
    this.active = false;
    this.stroke = null;
    this.buffer = [];
    this.lastKept = null;
    this.dragFrom = null;
    this.dragTo = null;
    this.laser = [];
    this.laserSentLast = null;
  }

  private strokeStyle(): Style {
    if (this.tool === "highlighter") {
      return {
        color: this.style.color,
        width: Math.min(200, this.style.width * HIGHLIGHTER_SCALE),
        opacity: HIGHLIGHTER_OPACITY,
        highlighter: true,
      };
    }
    return { color: this.style.color, width: this.style.width, opacity: 1, highlighter: false };
  }

  private shapeStyle(): Style {
    const s: Style = { color: this.style.color, width: this.style.width, opacity: 1, highlighter: false };
    if (this.style.fill && (this.tool === "rectangle" || this.tool === "ellipse")) s.fill = this.style.fill;
    return s;
  }

  private dragKind(a: Pos, b: Pos): ShapeKind | null {
    if (Math.hypot(b.x - a.x, b.y - a.y) < 2) return null;
    const from = { x: a.x, y: a.y };
    const to = { x: b.x, y: b.y };
    switch (this.tool) {
      case "line":
        return { type: "line", from, to };
      case "arrow":
        return { type: "arrow", from, to };
      case "rectangle":
        return { type: "rectangle", rect: rectBetween(a, b) };
      case "ellipse":
        return { type: "ellipse", rect: rectBetween(a, b) };
      default:
        return null;
    }
  }

  private beginStroke(first: Point, now: number): void {
    if (!this.pageId) return;
    const op = this.sink.submit({
      type: "begin_stroke",
      page: this.pageId,
      style: this.strokeStyle(),
      smooth: true,
      points: [first],
    });
    this.stroke = op ? { id: opShapeId(op.author, op.client_seq), count: 1 } : null;
    this.active = !!op;
    this.lastKept = first;
    this.lastFlush = now;
  }

  private addStrokePoint(q: Point, now: number): void {
    const last = this.lastKept;
    if (last && Math.hypot(q.x - last.x, q.y - last.y) < MIN_POINT_DISTANCE) return;
    this.lastKept = q;
    this.buffer.push(q);
    if (this.buffer.length >= FLUSH_POINTS) this.flushStroke(now);
  }

  private flushStroke(now: number): void {
    this.lastFlush = now;
    while (this.stroke && this.buffer.length > 0 && this.pageId) {
      const room = MAX_POINTS_PER_STROKE - this.stroke.count;
      if (room <= 0) {
        // A stroke is full: finish it and carry on in a new one from the last point.
        const carry = this.lastPointOf();
        this.endStroke();
        if (carry) this.beginStroke(carry, now);
        continue;
      }
      const batch = this.buffer.splice(0, Math.min(room, MAX_POINTS_PER_BATCH));
      const op = this.sink.submit({ type: "append_stroke", page: this.pageId, stroke: this.stroke.id, points: batch });
      if (!op) {
        // Refused locally (someone erased the stroke): stop drawing into it.
        this.stroke = null;
        this.buffer = [];
        this.active = false;
        return;
      }
      this.stroke.count += batch.length;
    }
  }

  private lastPointOf(): Point | null {
    const page = this.sink.page();
    const s = page?.shapes.find((x) => x.id === this.stroke?.id);
    if (s?.kind.type !== "stroke") return null;
    return s.kind.points[s.kind.points.length - 1] ?? null;
  }

  private endStroke(): void {
    if (this.stroke && this.pageId) this.sink.submit({ type: "end_stroke", page: this.pageId, stroke: this.stroke.id });
    this.stroke = null;
  }

  private erase(at: Point): void {
    const page = this.sink.page();
    if (!page || page.id !== this.pageId) return;
    const r = this.eraserRadius;
    const hits: Shape[] = [];
    for (const s of page.shapes) {
      if (isOpenStroke(s) || this.erased.has(s.id)) continue;
      const b = shapeBounds(s);
      if (at.x < b.x - r || at.x > b.x + b.w + r || at.y < b.y - r || at.y > b.y + b.h + r) continue;
      if (hitShape(s, at, r)) hits.push(s);
    }
    if (hits.length === 0) return;
    if (this.tool === "eraser") {
      const ids = hits.map((s) => s.id).slice(0, 1000);
      ids.forEach((id) => this.erased.add(id));
      this.sink.submit({ type: "erase_shapes", page: page.id, shapes: ids });
      return;
    }
    const whole: string[] = [];
    for (const s of hits) {
      if (s.kind.type !== "stroke") continue;
      const scale = s.transform?.scale ?? 1;
      const local = toShapeSpace(s, at);
      const ranges = rangesNear(s.kind.points, local, r / scale + s.style.width / 2);
      if (ranges.length === 0) continue;
      if (ranges.length === 1 && ranges[0].start === 0 && ranges[0].end === s.kind.points.length) {
        whole.push(s.id);
      } else {
        this.sink.submit({ type: "partial_erase", page: page.id, stroke: s.id, ranges: ranges.slice(0, 256) });
      }
    }
    if (whole.length > 0) this.sink.submit({ type: "erase_shapes", page: page.id, shapes: whole });
  }

  private flushLaser(): void {
    if (!this.pageId || this.laser.length === 0) return;
    // The last point sent leads the next trail, so the receiver's line has no gaps.
    const trail = (this.laserSentLast ? [this.laserSentLast, ...this.laser] : this.laser).slice(-MAX_LASER_POINTS);
    this.laserSentLast = trail[trail.length - 1];
    this.laser = [];
    this.sink.ephemeral({ type: "laser", page: this.pageId, trail });
  }
}
