// One canvas renderer for the teacher console and the student page.
//
// Caching: finished shapes are drawn once into a layer (an offscreen canvas the size of
// the visible canvas, at the current view) together with the page and its background.
// A frame blits that layer and draws on top only what is still changing: shapes from the
// first unfinished stroke upwards (z-order must hold, so anything above an open stroke
// stays live until it closes), laser trails and cursors. New finished shapes are added to
// the layer incrementally; the layer is rebuilt only when a cached shape changed or went
// away, the page or background changed, or the view settled after a zoom/pan (during the
// gesture the stale layer is drawn scaled, which is cheap and looks right at once).

import {
  arrowHead,
  centerLine,
  pressureWidth,
  shapeKindBounds,
  strokeOutline,
  textLines,
  transformMatrix,
  TEXT_LINE_HEIGHT,
  uniformPressure,
  type PathSink,
} from "./geometry";
import { fitInPage } from "./backgrounds";
import { jsonEqual } from "./model";
import { PAGE_HEIGHT, PAGE_WIDTH, type AssetRef, type Background, type Page, type PeerId, type Pos, type Shape } from "./types";

export { exportSvg } from "./svg";

/** Loads pictures for the renderer; return null until loaded, then call `invalidate()`. */
export interface Resolvers {
  /**
   * The picture for a page background, wanted at `pixelWidth` device pixels across the
   * page (documents render sharper as the view zooms in). Drawn fitted into the page,
   * centred, keeping its proportions.
   */
  background?(bg: Background, pixelWidth: number): CanvasImageSource | null;
  image?(asset: AssetRef): CanvasImageSource | null;
}

/** A 2D context as far as the renderer uses it (a stub in tests implements this). */
export type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

export interface Layer {
  canvas: HTMLCanvasElement | OffscreenCanvas;
  ctx: Ctx2D;
}

export interface RendererOptions {
  resolvers?: Resolvers;
  /** Makes an offscreen layer; the default uses OffscreenCanvas or a detached canvas. */
  createLayer?(width: number, height: number): Layer;
  /** How long after the last zoom/pan the layer is re-rendered sharp, in ms. */
  settleMs?: number;
}

/** Zoom and pan: page point p is drawn at css pixel `p * scale + (x, y)`. */
export interface ViewTransform {
  scale: number;
  x: number;
  y: number;
}

export interface FrameStats {
  /** The layer was rendered from scratch this frame. */
  rebuilt: boolean;
  /** Shapes drawn into the layer this frame (all of them on a rebuild). */
  layerDrawn: number;
  /** Shapes drawn live on top of the layer. */
  live: number;
  /** Another frame is needed soon (fading laser, a settle pending). */
  again: boolean;
}

export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 8;
export const LASER_FADE_MS = 1000;
const CURSOR_IDLE_MS = 8000;
const PAPER = "#ffffff";
const DESK = "#e8eaee";

interface LaserPoint extends Pos {
  t: number;
}

function sinkFor(ctx: Ctx2D): PathSink {
  return {
    moveTo: (x, y) => ctx.moveTo(x, y),
    lineTo: (x, y) => ctx.lineTo(x, y),
    quadraticCurveTo: (cx, cy, x, y) => ctx.quadraticCurveTo(cx, cy, x, y),
    closePath: () => ctx.closePath(),
    circle: (x, y, r) => {
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2, true);
    },
  };
}

/** Whether a cached drawing of `a` still shows `b`. Ids are never reused, and a shape
 * with a given id changes only its transform (and an open stroke its points). */
export function sameLook(a: Shape, b: Shape): boolean {
  if (a === b) return true;
  if (a.id !== b.id || a.kind.type !== b.kind.type) return false;
  if (!jsonEqual(a.transform ?? null, b.transform ?? null)) return false;
  if (a.kind.type === "stroke" && b.kind.type === "stroke") {
    return a.kind.finished === b.kind.finished && a.kind.points.length === b.kind.points.length;
  }
  return true;
}

/** Draws one shape in page coordinates. Returns false when a picture was not loaded yet. */
export function drawShape(ctx: Ctx2D, s: Shape, resolvers: Resolvers = {}): boolean {
  let complete = true;
  ctx.save();
  if (s.transform) {
    const m = transformMatrix(s.transform, shapeKindBounds(s));
    ctx.transform(m[0], m[1], m[2], m[3], m[4], m[5]);
  }
  const st = s.style;
  ctx.globalAlpha = st.opacity;
  if (st.highlighter) ctx.globalCompositeOperation = "multiply";
  ctx.strokeStyle = st.color;
  ctx.fillStyle = st.color;
  ctx.lineWidth = st.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const k = s.kind;
  switch (k.type) {
    case "stroke": {
      const pts = k.points;
      if (pts.length === 0) break;
      ctx.beginPath();
      if (st.highlighter || uniformPressure(pts)) {
        // Highlighters keep an even width: pressure would make the overlap bands uneven.
        ctx.lineWidth = st.highlighter ? st.width : pressureWidth(st.width, pts[0].pressure);
        centerLine(sinkFor(ctx), pts, k.smooth);
        ctx.stroke();
      } else {
        strokeOutline(sinkFor(ctx), pts, st.width, k.smooth);
        ctx.fill();
      }
      break;
    }
    case "line":
    case "arrow": {
      ctx.beginPath();
      ctx.moveTo(k.from.x, k.from.y);
      ctx.lineTo(k.to.x, k.to.y);
      if (k.type === "arrow") {
        const [h1, h2] = arrowHead(k.from, k.to, st.width);
        ctx.moveTo(h1.x, h1.y);
        ctx.lineTo(k.to.x, k.to.y);
        ctx.lineTo(h2.x, h2.y);
      }
      ctx.stroke();
      break;
    }
    case "rectangle":
    case "ellipse": {
      const { x, y, w, h } = k.rect;
      ctx.beginPath();
      if (k.type === "rectangle") ctx.rect(x, y, w, h);
      else ctx.ellipse(x + w / 2, y + h / 2, w / 2, h / 2, 0, 0, Math.PI * 2);
      if (st.fill) {
        ctx.fillStyle = st.fill;
        ctx.fill();
      }
      ctx.stroke();
      break;
    }
    case "text": {
      ctx.font = `${k.size}px system-ui, "PingFang SC", "Microsoft YaHei", sans-serif`;
      ctx.textBaseline = "top";
      textLines(k.text).forEach((line, i) => ctx.fillText(line, k.at.x, k.at.y + i * k.size * TEXT_LINE_HEIGHT));
      break;
    }
    case "image": {
      const img = resolvers.image?.(k.asset) ?? null;
      const { x, y, w, h } = k.rect;
      if (img) {
        ctx.drawImage(img, x, y, w, h);
      } else {
        complete = false;
        ctx.globalAlpha = 0.3;
        ctx.lineWidth = 1;
        ctx.strokeStyle = "#888888";
        ctx.strokeRect(x, y, w, h);
      }
      break;
    }
  }
  ctx.restore();
  return complete;
}

/** An offscreen canvas (OffscreenCanvas where there is one, else a detached canvas). */
export function defaultLayer(w: number, h: number): Layer {
  if (typeof OffscreenCanvas !== "undefined") {
    const canvas = new OffscreenCanvas(w, h);
    return { canvas, ctx: canvas.getContext("2d")! };
  }
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  return { canvas, ctx: canvas.getContext("2d")! };
}

/**
 * Draws one page of the board, with zoom/pan, into a canvas. Call `render(page, now)`
 * from requestAnimationFrame whenever the board, the view or the ephemerals changed, or
 * while the last frame said `again`.
 */
export class BoardRenderer {
  private cssW = 1;
  private cssH = 1;
  private dpr = 1;
  private view: ViewTransform = { scale: 1, x: 0, y: 0 };
  private fitted = true;
  private lastViewChange = -Infinity;
  private layer: Layer | null = null;
  private layerView: ViewTransform | null = null;
  private layerPage: string | null = null;
  private layerBg: Background | undefined;
  private layerShapes: Shape[] = [];
  private layerIncomplete = false;
  private dirty = true;
  private lasers = new Map<PeerId, { page: string; points: LaserPoint[] }>();
  private cursors = new Map<PeerId, { page: string; at: Pos; label: string; t: number }>();
  private readonly resolvers: Resolvers;
  private readonly makeLayer: (w: number, h: number) => Layer;
  private readonly settleMs: number;

  constructor(
    private readonly ctx: Ctx2D,
    opts: RendererOptions = {},
  ) {
    this.resolvers = opts.resolvers ?? {};
    this.makeLayer = opts.createLayer ?? defaultLayer;
    this.settleMs = opts.settleMs ?? 150;
  }

  /** The canvas's css size and device pixel ratio; the caller sizes the canvas itself. */
  resize(cssWidth: number, cssHeight: number, dpr: number): void {
    const w = Math.max(1, cssWidth);
    const h = Math.max(1, cssHeight);
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return;
    const centre = this.screenToPage(this.cssW / 2, this.cssH / 2);
    const zoom = this.zoom();
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
    this.layer = null;
    if (this.fitted) {
      this.resetView();
    } else {
      // Keep what was in the middle in the middle, at the same zoom.
      const s = this.fitScale() * zoom;
      this.view = { scale: s, x: w / 2 - centre.x * s, y: h / 2 - centre.y * s };
    }
  }

  private fitScale(): number {
    return Math.min(this.cssW / PAGE_WIDTH, this.cssH / PAGE_HEIGHT);
  }

  /** Zoom relative to "the page fits the canvas". */
  zoom(): number {
    return this.view.scale / this.fitScale();
  }

  viewTransform(): Readonly<ViewTransform> {
    return this.view;
  }

  /** Fits the whole page in the canvas, centred. */
  resetView(): void {
    const s = this.fitScale();
    this.view = { scale: s, x: (this.cssW - PAGE_WIDTH * s) / 2, y: (this.cssH - PAGE_HEIGHT * s) / 2 };
    this.fitted = true;
    this.lastViewChange = -Infinity;
    this.dirty = true;
  }

  /** Zooms by `factor` keeping the css point (cx, cy) still. */
  zoomAt(factor: number, cx: number, cy: number, now: number): void {
    const fit = this.fitScale();
    const s = Math.min(MAX_ZOOM * fit, Math.max(MIN_ZOOM * fit, this.view.scale * factor));
    const k = s / this.view.scale;
    this.view = { scale: s, x: cx - (cx - this.view.x) * k, y: cy - (cy - this.view.y) * k };
    this.viewMoved(now);
  }

  panBy(dx: number, dy: number, now: number): void {
    this.view = { ...this.view, x: this.view.x + dx, y: this.view.y + dy };
    this.viewMoved(now);
  }

  private viewMoved(now: number): void {
    this.fitted = false;
    this.lastViewChange = now;
  }

  screenToPage(x: number, y: number): Pos {
    return { x: (x - this.view.x) / this.view.scale, y: (y - this.view.y) / this.view.scale };
  }

  pageToScreen(p: Pos): Pos {
    return { x: p.x * this.view.scale + this.view.x, y: p.y * this.view.scale + this.view.y };
  }

  /** Forget the layer (a picture finished loading, fonts changed). */
  invalidate(): void {
    this.dirty = true;
  }

  /** A peer's newest laser samples (oldest first); they fade over `LASER_FADE_MS`. */
  addLaser(peer: PeerId, page: string, trail: readonly Pos[], now: number): void {
    let l = this.lasers.get(peer);
    if (!l || l.page !== page) {
      l = { page, points: [] };
      this.lasers.set(peer, l);
    }
    for (const p of trail) {
      const last = l.points[l.points.length - 1];
      if (last && last.x === p.x && last.y === p.y) continue;
      l.points.push({ x: p.x, y: p.y, t: now });
    }
  }

  /** A peer's pointer; `at` null hides it. */
  setCursor(peer: PeerId, page: string, at: Pos | null, label: string, now: number): void {
    if (!at) this.cursors.delete(peer);
    else this.cursors.set(peer, { page, at, label, t: now });
  }

  /**
   * Draws `page` (or an empty desk) as of `now` (ms, any monotonic clock), with `overlay`
   * (a shape being dragged out, not yet an op) on top.
   */
  render(page: Page | undefined, now: number, overlay: readonly Shape[] = []): FrameStats {
    const ctx = this.ctx;
    const W = Math.round(this.cssW * this.dpr);
    const H = Math.round(this.cssH * this.dpr);
    const stats: FrameStats = { rebuilt: false, layerDrawn: 0, live: 0, again: false };
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = DESK;
    ctx.fillRect(0, 0, W, H);
    if (!page) return stats;

    const shapes = page.shapes;
    const settling = now - this.lastViewChange < this.settleMs;
    const viewSame = this.layerView !== null && sameView(this.layerView, this.view);
    let stale =
      this.dirty ||
      !this.layer ||
      this.layerPage !== page.id ||
      !jsonEqual(this.layerBg ?? null, page.background ?? null) ||
      !viewSame;
    // Cached shapes must still be the page's bottom shapes, in order.
    if (!stale) {
      const cached = this.layerShapes;
      if (cached.length > shapes.length) stale = true;
      else for (let i = 0; i < cached.length && !stale; i++) if (!sameLook(cached[i], shapes[i])) stale = true;
    }

    let liveFrom: number;
    const onlyViewMoved = stale && !this.dirty && !!this.layer && this.layerPage === page.id && !viewSame && settling;
    if (onlyViewMoved && this.layerPrefixIntact(shapes)) {
      // Mid-gesture: scale the old layer; re-render sharp once the view settles.
      const v0 = this.layerView!;
      const k = this.view.scale / v0.scale;
      ctx.setTransform(k, 0, 0, k, this.dpr * (this.view.x - k * v0.x), this.dpr * (this.view.y - k * v0.y));
      ctx.drawImage(this.layer!.canvas, 0, 0);
      liveFrom = this.layerShapes.length;
      stats.again = true;
    } else {
      if (stale) {
        this.rebuildLayer(page, W, H);
        stats.rebuilt = true;
      }
      const layerCtx = this.layer!.ctx;
      this.setPageTransform(layerCtx);
      const before = this.layerShapes.length;
      const committed = committedEnd(shapes, before);
      for (let i = this.layerShapes.length; i < committed; i++) {
        if (!drawShape(layerCtx, shapes[i], this.resolvers)) this.layerIncomplete = true;
        this.layerShapes.push(shapes[i]);
      }
      stats.layerDrawn = this.layerShapes.length - before;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(this.layer!.canvas, 0, 0);
      liveFrom = this.layerShapes.length;
    }

    this.setPageTransform(ctx);
    for (let i = liveFrom; i < shapes.length; i++) {
      drawShape(ctx, shapes[i], this.resolvers);
      stats.live++;
    }
    for (const s of overlay) drawShape(ctx, s, this.resolvers);
    if (this.drawEphemerals(ctx, page.id, now)) stats.again = true;
    return stats;
  }

  private layerPrefixIntact(shapes: readonly Shape[]): boolean {
    const cached = this.layerShapes;
    if (cached.length > shapes.length) return false;
    for (let i = 0; i < cached.length; i++) if (!sameLook(cached[i], shapes[i])) return false;
    return true;
  }

  private setPageTransform(ctx: Ctx2D): void {
    const s = this.view.scale * this.dpr;
    ctx.setTransform(s, 0, 0, s, this.view.x * this.dpr, this.view.y * this.dpr);
  }

  private rebuildLayer(page: Page, W: number, H: number): void {
    if (!this.layer || this.layer.canvas.width !== W || this.layer.canvas.height !== H) {
      this.layer = this.makeLayer(W, H);
    }
    const ctx = this.layer.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, W, H);
    this.setPageTransform(ctx);
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, PAGE_WIDTH, PAGE_HEIGHT);
    this.layerIncomplete = false;
    if (page.background) {
      const img = this.resolvers.background?.(page.background, PAGE_WIDTH * this.view.scale * this.dpr) ?? null;
      if (img) {
        const [w, h] = sourceSize(img);
        const r = fitInPage(w, h);
        ctx.drawImage(img, r.x, r.y, r.w, r.h);
      } else this.layerIncomplete = true;
    }
    this.layerShapes = [];
    this.layerPage = page.id;
    this.layerBg = page.background;
    this.layerView = { ...this.view };
    this.dirty = false;
  }

  /** Whether pictures were missing when the layer was drawn (call `invalidate` on load). */
  missingPictures(): boolean {
    return this.layerIncomplete;
  }

  private drawEphemerals(ctx: Ctx2D, pageId: string, now: number): boolean {
    let again = false;
    const px = 1 / this.view.scale;
    ctx.save();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const [peer, l] of this.lasers) {
      l.points = l.points.filter((p) => now - p.t < LASER_FADE_MS);
      if (l.points.length === 0) {
        this.lasers.delete(peer);
        continue;
      }
      if (l.page !== pageId) continue;
      again = true;
      const pts = l.points;
      for (let i = 1; i < pts.length; i++) {
        const a = 1 - (now - pts[i].t) / LASER_FADE_MS;
        ctx.globalAlpha = Math.max(0, a);
        ctx.strokeStyle = "#ff2d2d";
        ctx.lineWidth = 4 * px * (0.4 + 0.6 * a);
        ctx.beginPath();
        ctx.moveTo(pts[i - 1].x, pts[i - 1].y);
        ctx.lineTo(pts[i].x, pts[i].y);
        ctx.stroke();
      }
      const head = pts[pts.length - 1];
      ctx.globalAlpha = Math.max(0, 1 - (now - head.t) / LASER_FADE_MS);
      ctx.fillStyle = "#ff2d2d";
      ctx.beginPath();
      ctx.arc(head.x, head.y, 6 * px, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    for (const [peer, c] of this.cursors) {
      if (now - c.t > CURSOR_IDLE_MS) {
        this.cursors.delete(peer);
        continue;
      }
      if (c.page !== pageId) continue;
      ctx.fillStyle = "#2563eb";
      ctx.beginPath();
      ctx.arc(c.at.x, c.at.y, 4 * px, 0, Math.PI * 2);
      ctx.fill();
      if (c.label) {
        ctx.font = `${12 * px}px system-ui, sans-serif`;
        ctx.textBaseline = "top";
        ctx.fillText(c.label, c.at.x + 6 * px, c.at.y + 6 * px);
      }
    }
    ctx.restore();
    return again;
  }
}

/** A picture's own size in pixels (0×0 when it does not say). */
export function sourceSize(img: CanvasImageSource): [number, number] {
  if (typeof HTMLImageElement !== "undefined" && img instanceof HTMLImageElement) return [img.naturalWidth, img.naturalHeight];
  if (typeof HTMLVideoElement !== "undefined" && img instanceof HTMLVideoElement) return [img.videoWidth, img.videoHeight];
  const s = img as { width?: unknown; height?: unknown };
  const w = typeof s.width === "number" ? s.width : 0;
  const h = typeof s.height === "number" ? s.height : 0;
  return [w, h];
}

function sameView(a: ViewTransform, b: ViewTransform): boolean {
  return a.scale === b.scale && a.x === b.x && a.y === b.y;
}

/** Where the committed prefix ends: the first open stroke at or after `from`. */
function committedEnd(shapes: readonly Shape[], from: number): number {
  for (let i = from; i < shapes.length; i++) {
    const k = shapes[i].kind;
    if (k.type === "stroke" && !k.finished) return i;
  }
  return shapes.length;
}
