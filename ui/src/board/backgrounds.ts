// Page backgrounds for the renderer: imported document pages and images, fetched from
// the relay once and drawn as bitmaps at the resolution the view needs.
//
// - Each asset is fetched once (a document is opened once and its pages rendered on
//   demand); a failed fetch or render is remembered and shown as a blank page with a
//   small note, so one broken page never breaks the board.
// - A document page is rendered at the smallest step of √2 at or above the view's pixel
//   density (so zooming re-renders at most every √2 of zoom, once the view settles, as
//   the renderer asks after a zoom), capped at `maxPixels`. Until the sharper bitmap is
//   ready the renderer gets the one it has, drawn scaled.
// - At most `keep` page bitmaps are held, least recently used dropped first: a long
//   document costs a few bitmaps, not one per page. Thumbnails (`thumbnail`) have a cache
//   of their own, so a strip of them never pushes out the page being shown.
// - At most two pages render at once: importing or scrolling through a long document
//   queues its pages instead of stalling the page with dozens of renders.

import type { PdfDocument, PdfOpener } from "./pdf";
import type { Layer } from "./render";
import { PAGE_HEIGHT, PAGE_WIDTH, type AssetRef, type Background } from "./types";

export interface BackgroundOptions {
  /** The asset's bytes (the page's own token is in here). */
  fetch(asset: AssetRef): Promise<Uint8Array>;
  /** Opens PDFs; loaded on first use. */
  pdf(): Promise<PdfOpener>;
  /** An offscreen canvas to render into. */
  createLayer(width: number, height: number): Layer;
  /** Decodes an image background. */
  decodeImage(bytes: Uint8Array): Promise<CanvasImageSource>;
  /** Something finished loading: redraw (the canvas's `invalidate`). */
  changed(): void;
  /** The note a page that cannot be shown carries (already translated). */
  failedNote: string;
  /** Largest bitmap, in pixels (default 3840×2160). */
  maxPixels?: number;
  /** Page bitmaps kept (default 8). */
  keep?: number;
}

/** Largest thumbnail bitmap, in pixels. */
const THUMB_PIXELS = 320 * 180;
/** Thumbnail bitmaps kept: a strip paints each once and keeps the picture itself. */
const THUMB_KEEP = 24;
/** Page renders running at once. */
const RENDERS_AT_ONCE = 2;

interface PageCache {
  entries: Map<string, PageEntry>;
  keep: number;
  maxPixels: number;
}

interface Rendered {
  /** Device pixels per page unit the bitmap was made for. */
  density: number;
  image: CanvasImageSource;
}

interface PageEntry {
  best: Rendered | null;
  busy: boolean;
  failed: boolean;
}

type Loading<T> = { state: "loading" } | { state: "ready"; value: T } | { state: "failed" };

/** The rectangle (in page units) a w×h picture takes when fitted into the page, centred. */
export function fitInPage(w: number, h: number): { x: number; y: number; w: number; h: number } {
  if (!(w > 0 && h > 0)) return { x: 0, y: 0, w: PAGE_WIDTH, h: PAGE_HEIGHT };
  const s = Math.min(PAGE_WIDTH / w, PAGE_HEIGHT / h);
  return { x: (PAGE_WIDTH - w * s) / 2, y: (PAGE_HEIGHT - h * s) / 2, w: w * s, h: h * s };
}

/** The density to render at for a view of `density` device pixels per page unit. */
export function densityStep(density: number): number {
  const d = Math.max(1 / 8, density);
  return Math.SQRT2 ** Math.ceil(Math.log(d) / Math.log(Math.SQRT2) - 1e-9);
}

export class BackgroundLoader {
  private readonly docs = new Map<AssetRef, Loading<PdfDocument>>();
  private readonly images = new Map<AssetRef, Loading<CanvasImageSource>>();
  private readonly pages: PageCache;
  private readonly thumbs: PageCache = { entries: new Map(), keep: THUMB_KEEP, maxPixels: THUMB_PIXELS };
  private failedImage: CanvasImageSource | null = null;
  private disposed = false;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: BackgroundOptions) {
    this.pages = { entries: new Map(), keep: opts.keep ?? 8, maxPixels: opts.maxPixels ?? 3840 * 2160 };
  }

  /**
   * What to draw for `bg` at `pixelWidth` device pixels across the page, or null while
   * it loads (`changed()` is called when there is something, or something sharper).
   */
  background(bg: Background, pixelWidth: number): CanvasImageSource | null {
    if (bg.type === "image") return this.image(bg.asset);
    if (bg.type === "document") return this.documentPage(this.pages, bg.doc, bg.page, pixelWidth / PAGE_WIDTH);
    return null;
  }

  /** Like `background`, for a small picture of the page (its own cache). */
  thumbnail(bg: Background, pixelWidth: number): CanvasImageSource | null {
    if (bg.type === "image") return this.image(bg.asset);
    if (bg.type === "document") return this.documentPage(this.thumbs, bg.doc, bg.page, pixelWidth / PAGE_WIDTH);
    return null;
  }

  /** Drops every document and bitmap (the class ended). */
  dispose(): void {
    this.disposed = true;
    for (const d of this.docs.values()) if (d.state === "ready") void d.value.close().catch(() => {});
    this.docs.clear();
    this.images.clear();
    this.pages.entries.clear();
    this.thumbs.entries.clear();
  }

  private image(asset: AssetRef): CanvasImageSource | null {
    const got = this.images.get(asset);
    if (got?.state === "ready") return got.value;
    if (got?.state === "failed") return this.failed();
    if (!got) {
      this.images.set(asset, { state: "loading" });
      void this.opts
        .fetch(asset)
        .then((bytes) => this.opts.decodeImage(bytes))
        .then(
          (value) => this.settle(this.images, asset, { state: "ready", value }),
          () => this.settle(this.images, asset, { state: "failed" }),
        );
    }
    return null;
  }

  private documentPage(cache: PageCache, doc: AssetRef, index: number, density: number): CanvasImageSource | null {
    const d = this.docs.get(doc);
    if (!d) {
      this.docs.set(doc, { state: "loading" });
      void this.opts
        .fetch(doc)
        .then(async (bytes) => (await this.opts.pdf())(bytes))
        .then(
          (value) => this.settle(this.docs, doc, { state: "ready", value }),
          () => this.settle(this.docs, doc, { state: "failed" }),
        );
      return null;
    }
    if (d.state === "loading") return null;
    if (d.state === "failed" || index < 0 || index >= d.value.pageCount) return this.failed();

    const key = `${doc}#${index}`;
    let entry = cache.entries.get(key);
    if (entry) {
      // Most recently used last.
      cache.entries.delete(key);
    } else {
      entry = { best: null, busy: false, failed: false };
    }
    cache.entries.set(key, entry);
    while (cache.entries.size > cache.keep) cache.entries.delete(cache.entries.keys().next().value as string);
    if (entry.failed) return this.failed();
    const want = densityStep(density);
    if (!entry.busy && (!entry.best || entry.best.density < want)) {
      entry.busy = true;
      const document = d.value;
      void this.inTurn(() => this.renderPage(document, index, want, cache.maxPixels)).then(
        (rendered) => {
          entry.busy = false;
          if (this.disposed) return;
          if (rendered && (!entry.best || rendered.density > entry.best.density || rendered.density === want)) {
            entry.best = rendered;
          }
          if (!rendered) entry.failed = true;
          this.opts.changed();
        },
        () => {
          entry.busy = false;
          entry.failed = true;
          if (!this.disposed) this.opts.changed();
        },
      );
    }
    return entry.best?.image ?? null;
  }

  /** Runs `f` when fewer than `RENDERS_AT_ONCE` renders are running. */
  private async inTurn<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= RENDERS_AT_ONCE) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async renderPage(doc: PdfDocument, index: number, want: number, maxPixels: number): Promise<Rendered | null> {
    const page = await doc.page(index);
    const fit = fitInPage(page.width, page.height);
    let density = want;
    // Keep within the pixel budget.
    const area = fit.w * fit.h * density * density;
    if (area > maxPixels) density *= Math.sqrt(maxPixels / area);
    const w = Math.max(1, Math.round(fit.w * density));
    const h = Math.max(1, Math.round(fit.h * density));
    const layer = this.opts.createLayer(w, h);
    layer.ctx.fillStyle = "#ffffff";
    layer.ctx.fillRect(0, 0, w, h);
    await page.render(layer.ctx, w / page.width);
    // Report the density asked for, so a capped render is not retried at every frame.
    return { density: want, image: layer.canvas };
  }

  /** A blank page with a small note in its corner, drawn once. */
  private failed(): CanvasImageSource {
    if (this.failedImage) return this.failedImage;
    const w = PAGE_WIDTH / 2;
    const h = PAGE_HEIGHT / 2;
    const { canvas, ctx } = this.opts.createLayer(w, h);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = "#9ca3af";
    ctx.font = "14px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    ctx.fillText(this.opts.failedNote, 12, h - 10);
    this.failedImage = canvas;
    return canvas;
  }

  private settle<T>(map: Map<AssetRef, Loading<T>>, key: AssetRef, value: Loading<T>): void {
    if (this.disposed) {
      if (value.state === "ready" && map === (this.docs as Map<AssetRef, unknown>)) {
        void (value.value as PdfDocument).close().catch(() => {});
      }
      return;
    }
    map.set(key, value);
    this.opts.changed();
  }

}

/** An image decoded the way browsers do it off the main thread. */
export async function decodeImageBitmap(bytes: Uint8Array): Promise<CanvasImageSource> {
  return createImageBitmap(new Blob([bytes as BlobPart]));
}
