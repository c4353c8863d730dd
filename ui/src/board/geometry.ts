// Shape geometry shared by the canvas renderer, the SVG export and the eraser: outlines
// are built once against a small path interface so the canvas and the SVG draw the same
// curves.

import { IDENTITY, type Point, type Pos, type Rect, type Shape, type ShapeKind, type Transform } from "./types";

/** The subset of CanvasPath the geometry needs; an SVG path builder implements it too. */
export interface PathSink {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  quadraticCurveTo(cx: number, cy: number, x: number, y: number): void;
  closePath(): void;
  /** A full circle as its own subpath, wound like a stroke outline (see `strokeOutline`). */
  circle(x: number, y: number, r: number): void;
}

/** Width of a freehand stroke at `pressure`: full width at full pressure. */
export function pressureWidth(width: number, pressure: number): number {
  return width * (0.35 + 0.65 * pressure);
}

/** Whether every point has the same pressure, so one stroked path with one width will do. */
export function uniformPressure(points: readonly Point[]): boolean {
  const p0 = points[0]?.pressure;
  for (let i = 1; i < points.length; i++) if (points[i].pressure !== p0) return false;
  return true;
}

/** A centre line through the points: quadratic curves through midpoints when smooth. */
export function centerLine(sink: PathSink, pts: readonly Pos[], smooth: boolean): void {
  const n = pts.length;
  if (n === 0) return;
  sink.moveTo(pts[0].x, pts[0].y);
  if (n === 1) {
    sink.lineTo(pts[0].x + 0.01, pts[0].y);
    return;
  }
  if (!smooth || n < 3) {
    for (let i = 1; i < n; i++) sink.lineTo(pts[i].x, pts[i].y);
    return;
  }
  for (let i = 1; i < n - 1; i++) {
    const p = pts[i];
    const q = pts[i + 1];
    sink.quadraticCurveTo(p.x, p.y, (p.x + q.x) / 2, (p.y + q.y) / 2);
  }
  sink.lineTo(pts[n - 1].x, pts[n - 1].y);
}

/**
 * A filled outline for a stroke whose width follows pressure: the left edge forward, the
 * right edge back, round ends as circles. The circles are wound the same way as the band
 * (`PathSink.circle` draws them anticlockwise), so a nonzero fill never cuts holes where
 * they overlap.
 */
export function strokeOutline(sink: PathSink, pts: readonly Point[], width: number, smooth: boolean): void {
  const n = pts.length;
  if (n === 0) return;
  const half = (i: number) => pressureWidth(width, pts[i].pressure) / 2;
  if (n === 1) {
    sink.circle(pts[0].x, pts[0].y, half(0));
    return;
  }
  const left: Pos[] = new Array(n);
  const right: Pos[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const a = pts[Math.max(0, i - 1)];
    const b = pts[Math.min(n - 1, i + 1)];
    let dx = b.x - a.x;
    let dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    dx /= len;
    dy /= len;
    const w = half(i);
    left[i] = { x: pts[i].x - dy * w, y: pts[i].y + dx * w };
    right[i] = { x: pts[i].x + dy * w, y: pts[i].y - dx * w };
  }
  centerLine(sink, left, smooth);
  right.reverse();
  if (smooth && n >= 3) {
    sink.lineTo(right[0].x, right[0].y);
    for (let i = 1; i < n - 1; i++) {
      const p = right[i];
      const q = right[i + 1];
      sink.quadraticCurveTo(p.x, p.y, (p.x + q.x) / 2, (p.y + q.y) / 2);
    }
    sink.lineTo(right[n - 1].x, right[n - 1].y);
  } else {
    for (const p of right) sink.lineTo(p.x, p.y);
  }
  sink.closePath();
  sink.circle(pts[0].x, pts[0].y, half(0));
  sink.circle(pts[n - 1].x, pts[n - 1].y, half(n - 1));
}

/** The two strokes of an arrow head at `to`, pointing away from `from`. */
export function arrowHead(from: Pos, to: Pos, width: number): [Pos, Pos] {
  const ang = Math.atan2(to.y - from.y, to.x - from.x);
  const len = Math.max(12, width * 4);
  const spread = Math.PI / 7;
  return [
    { x: to.x - len * Math.cos(ang - spread), y: to.y - len * Math.sin(ang - spread) },
    { x: to.x - len * Math.cos(ang + spread), y: to.y - len * Math.sin(ang + spread) },
  ];
}

const EMPTY: Rect = { x: 0, y: 0, w: 0, h: 0 };

function rectOf(pts: readonly Pos[]): Rect {
  if (pts.length === 0) return EMPTY;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of pts) {
    if (p.x < x0) x0 = p.x;
    if (p.x > x1) x1 = p.x;
    if (p.y < y0) y0 = p.y;
    if (p.y > y1) y1 = p.y;
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Lines of a text shape, and a rough width from the character count (no font metrics). */
export function textLines(text: string): string[] {
  return text.split("\n");
}

export const TEXT_LINE_HEIGHT = 1.25;

/** The shape's own bounding box before its transform: what the transform turns about. */
export function kindBounds(kind: ShapeKind): Rect {
  switch (kind.type) {
    case "stroke":
      return rectOf(kind.points);
    case "line":
    case "arrow":
      return rectOf([kind.from, kind.to]);
    case "rectangle":
    case "ellipse":
    case "image":
      return kind.rect;
    case "text": {
      const lines = textLines(kind.text);
      const w = Math.max(...lines.map((l) => l.length)) * kind.size * 0.6;
      return { x: kind.at.x, y: kind.at.y, w, h: lines.length * kind.size * TEXT_LINE_HEIGHT };
    }
  }
}

const boundsCache = new WeakMap<object, Rect>();

/** Bounds of the untransformed kind; cached for finished shapes, which never change. */
export function shapeKindBounds(s: Shape): Rect {
  const open = s.kind.type === "stroke" && !s.kind.finished;
  if (!open) {
    const hit = boundsCache.get(s.kind);
    if (hit) return hit;
  }
  const r = kindBounds(s.kind);
  if (!open) boundsCache.set(s.kind, r);
  return r;
}

/** The 2D affine matrix [a, b, c, d, e, f] of a shape transform about the box centre. */
export function transformMatrix(t: Transform, box: Rect): [number, number, number, number, number, number] {
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const cos = Math.cos(t.rotation) * t.scale;
  const sin = Math.sin(t.rotation) * t.scale;
  // p' = R·S·(p − c) + c + d
  return [cos, sin, -sin, cos, cx + t.dx - (cos * cx - sin * cy), cy + t.dy - (sin * cx + cos * cy)];
}

/** Page-space bounds of a shape including its transform and half its line width. */
export function shapeBounds(s: Shape): Rect {
  const box = shapeKindBounds(s);
  const pad = s.style.width / 2 + (s.kind.type === "arrow" ? Math.max(12, s.style.width * 4) : 0);
  const t = s.transform ?? IDENTITY;
  if (t === IDENTITY || (t.dx === 0 && t.dy === 0 && t.scale === 1 && t.rotation === 0)) {
    return { x: box.x - pad, y: box.y - pad, w: box.w + 2 * pad, h: box.h + 2 * pad };
  }
  const [a, b, c, d, e, f] = transformMatrix(t, box);
  const corners = [
    [box.x - pad, box.y - pad],
    [box.x + box.w + pad, box.y - pad],
    [box.x - pad, box.y + box.h + pad],
    [box.x + box.w + pad, box.y + box.h + pad],
  ].map(([x, y]) => ({ x: a * x + c * y + e, y: b * x + d * y + f }));
  return rectOf(corners);
}

/** Maps a page point into the shape's own (untransformed) space. */
export function toShapeSpace(s: Shape, p: Pos): Pos {
  const t = s.transform;
  if (!t) return p;
  const [a, b, c, d, e, f] = transformMatrix(t, shapeKindBounds(s));
  const det = a * d - b * c || 1;
  const x = p.x - e;
  const y = p.y - f;
  return { x: (d * x - c * y) / det, y: (a * y - b * x) / det };
}

export function rectsOverlap(r: Rect, s: Rect): boolean {
  return r.x <= s.x + s.w && s.x <= r.x + r.w && r.y <= s.y + s.h && s.y <= r.y + r.h;
}

/** Distance from p to the segment a–b. */
export function segmentDistance(p: Pos, a: Pos, b: Pos): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Whether a circle of radius r at page point p touches the shape. */
export function hitShape(s: Shape, p: Pos, r: number): boolean {
  const b = shapeBounds(s);
  if (p.x < b.x - r || p.x > b.x + b.w + r || p.y < b.y - r || p.y > b.y + b.h + r) return false;
  const scale = s.transform?.scale ?? 1;
  const q = toShapeSpace(s, p);
  const reach = r / scale + s.style.width / 2;
  const k = s.kind;
  switch (k.type) {
    case "stroke": {
      const pts = k.points;
      if (pts.length === 1) return Math.hypot(q.x - pts[0].x, q.y - pts[0].y) <= reach;
      for (let i = 1; i < pts.length; i++) if (segmentDistance(q, pts[i - 1], pts[i]) <= reach) return true;
      return false;
    }
    case "line":
    case "arrow":
      return segmentDistance(q, k.from, k.to) <= reach;
    case "rectangle":
    case "ellipse": {
      const { x, y, w, h } = k.rect;
      if (s.style.fill) return q.x >= x - reach && q.x <= x + w + reach && q.y >= y - reach && q.y <= y + h + reach;
      if (k.type === "ellipse") {
        const rx = w / 2;
        const ry = h / 2;
        const nx = (q.x - x - rx) / (rx || 1);
        const ny = (q.y - y - ry) / (ry || 1);
        const dist = Math.hypot(nx, ny);
        return Math.abs(dist - 1) * Math.min(rx, ry) <= reach;
      }
      const c: Pos[] = [
        { x, y },
        { x: x + w, y },
        { x: x + w, y: y + h },
        { x, y: y + h },
      ];
      return c.some((a, i) => segmentDistance(q, a, c[(i + 1) % 4]) <= reach);
    }
    case "text":
    case "image": {
      const box = shapeKindBounds(s);
      return q.x >= box.x - reach && q.x <= box.x + box.w + reach && q.y >= box.y - reach && q.y <= box.y + box.h + reach;
    }
  }
}
