import { createCanvas } from "@napi-rs/canvas";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { AssetError, assetUrl, fetchAsset, uploadAsset, uploadUrl, type UploadRequest } from "./assets";
import { BackgroundLoader, densityStep, fitInPage, type BackgroundOptions } from "./backgrounds";
import { paintPage } from "./export";
import { pageLook } from "./pageStrip";
import { pdfjsDataUrls, pdfjsOpener, type PdfOpener } from "./pdf";
import { BoardRenderer, type Layer } from "./render";
import { STYLE, makePdf, stubContext } from "./testing";
import { PAGE_HEIGHT, PAGE_WIDTH, type Background } from "./types";

let opener: PdfOpener;
beforeAll(async () => {
  const lib = await import("pdfjs-dist/legacy/build/pdf.mjs");
  const data = fileURLToPath(new URL("../../node_modules/pdfjs-dist/", import.meta.url));
  opener = pdfjsOpener(lib, pdfjsDataUrls(data));
});

const nodeLayer = (w: number, h: number): Layer => {
  const canvas = createCanvas(w, h);
  return { canvas: canvas as unknown as OffscreenCanvas, ctx: canvas.getContext("2d") as unknown as OffscreenCanvasRenderingContext2D };
};

/** Resolves once `changed()` has been called `n` more times. */
function loader(files: Record<string, Uint8Array>, extra: Partial<BackgroundOptions> = {}) {
  let changes = 0;
  let waiters: (() => void)[] = [];
  const fetched: string[] = [];
  const l = new BackgroundLoader({
    fetch: async (asset) => {
      fetched.push(asset);
      const f = files[asset];
      if (!f) throw new AssetError("not_found", "no such asset");
      return f;
    },
    pdf: async () => opener,
    createLayer: nodeLayer,
    decodeImage: async () => ({ width: 400, height: 300 }) as unknown as CanvasImageSource,
    changed: () => {
      changes++;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
    failedNote: "This page could not be shown",
    ...extra,
  });
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { l, fetched, changed, changes: () => changes };
}

/** Draws `bg` until the loader has a picture, as the renderer would, settling loads. */
async function settle(l: BackgroundLoader, changed: () => Promise<void>, bg: Parameters<BackgroundLoader["background"]>[0], px: number) {
  for (let i = 0; i < 10; i++) {
    const got = l.background(bg, px);
    if (got) return got as unknown as { width: number; height: number };
    await changed();
  }
  throw new Error("never loaded");
}

describe("fitting and steps", () => {
  it("fits pictures into the 16:9 page, centred, keeping proportions", () => {
    expect(fitInPage(1600, 900)).toEqual({ x: 0, y: 0, w: PAGE_WIDTH, h: PAGE_HEIGHT });
    // A4 portrait: full height, centred across.
    const a4 = fitInPage(595, 842);
    expect(a4.h).toBeCloseTo(900);
    expect(a4.x).toBeCloseTo((1600 - (595 * 900) / 842) / 2);
    // 4:3 slides: full height too.
    expect(fitInPage(1024, 768).w).toBeCloseTo(1200);
    // Very wide: full width, centred down.
    expect(fitInPage(3200, 900)).toEqual({ x: 0, y: 225, w: 1600, h: 450 });
    expect(fitInPage(0, 0)).toEqual({ x: 0, y: 0, w: PAGE_WIDTH, h: PAGE_HEIGHT });
  });

  it("renders at steps of √2, never below what the view shows", () => {
    expect(densityStep(1)).toBeCloseTo(1);
    expect(densityStep(1.1)).toBeCloseTo(Math.SQRT2);
    expect(densityStep(1.5)).toBeCloseTo(2);
    expect(densityStep(0.5)).toBeCloseTo(0.5);
    expect(densityStep(0.6)).toBeCloseTo(Math.SQRT1_2);
    for (const d of [0.3, 0.9, 1.7, 3.3, 7.9]) {
      expect(densityStep(d)).toBeGreaterThanOrEqual(d - 1e-9);
      expect(densityStep(d)).toBeLessThan(d * Math.SQRT2 + 1e-9);
    }
  });

  it("the renderer draws a background fitted into the page", () => {
    const { ctx } = stubContext();
    const drawn: number[][] = [];
    (ctx as unknown as { drawImage: (...a: unknown[]) => void }).drawImage = (...a: unknown[]) => {
      if (a.length === 5) drawn.push(a.slice(1) as number[]);
    };
    const asked: number[] = [];
    const r = new BoardRenderer(ctx, {
      createLayer: () => ({ canvas: {} as OffscreenCanvas, ctx: ctx as unknown as OffscreenCanvasRenderingContext2D }),
      resolvers: {
        background: (_bg, px) => (asked.push(px), { width: 595, height: 842 } as unknown as CanvasImageSource),
      },
    });
    r.resize(800, 450, 2);
    r.render({ id: "p", shapes: [], background: { type: "document", doc: "d", page: 0 } }, 0);
    expect(asked).toEqual([1600]); // 800 css px × dpr 2
    expect(drawn).toHaveLength(1);
    const [x, y, w, h] = drawn[0];
    expect(y).toBe(0);
    expect(h).toBe(900);
    expect(w).toBeCloseTo((595 * 900) / 842);
    expect(x + w / 2).toBeCloseTo(800);
  });
});

describe("exporting a page", () => {
  it("paints its background fitted, when it is at hand", () => {
    const { ctx } = stubContext();
    const drawn: number[][] = [];
    (ctx as unknown as { drawImage: (...a: unknown[]) => void }).drawImage = (...a: unknown[]) =>
      void drawn.push(a.slice(1) as number[]);
    const page = { id: "p", shapes: [], background: { type: "image" as const, asset: "a" } };
    paintPage(ctx, page, 2, { background: (_bg, px) => (expect(px).toBe(3200), { width: 800, height: 900 } as unknown as CanvasImageSource) });
    expect(drawn).toEqual([[400, 0, 800, 900]]);
    drawn.length = 0;
    paintPage(ctx, page, 1, { background: () => null });
    paintPage(ctx, page);
    expect(drawn).toEqual([]);
  });
});

describe("BackgroundLoader", () => {
  const doc = makePdf(["one", "two", "three"]);

  it("fetches a document once, renders its pages, and sharper as the view zooms in", async () => {
    const { l, fetched, changed } = loader({ d: doc });
    const bg = { type: "document" as const, doc: "d", page: 1 };
    expect(l.background(bg, 1600)).toBeNull(); // loading
    const first = await settle(l, changed, bg, 1600);
    // A4 landscape (842×595) fitted into 1600×900 at 1 px per page unit.
    expect(first.height).toBe(900);
    expect(first.width).toBe(Math.round((842 * 900) / 595));

    // Zoomed in: the old bitmap until the sharper one is ready.
    expect(l.background(bg, 3200)).toBe(first);
    await changed();
    const sharp = l.background(bg, 3200) as unknown as { width: number; height: number };
    expect(sharp.height).toBe(1800);
    // Zoomed out again: the sharp one serves, no new render.
    expect(l.background(bg, 1000)).toBe(sharp);

    await settle(l, changed, { type: "document", doc: "d", page: 0 }, 1600);
    expect(fetched).toEqual(["d"]);

    // Something was drawn on the page: not just white.
    const px = (first as unknown as ReturnType<typeof createCanvas>).getContext("2d").getImageData(0, 0, first.width, first.height).data;
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] < 128) ink++;
    expect(ink).toBeGreaterThan(20);
    l.dispose();
  });

  it("keeps bitmaps within the pixel budget", async () => {
    const { l, changed } = loader({ d: doc }, { maxPixels: 400 * 300 });
    const got = await settle(l, changed, { type: "document", doc: "d", page: 0 }, 6400);
    expect(got.width * got.height).toBeLessThanOrEqual(400 * 300 * 1.02);
    // Capped renders are not retried frame after frame.
    expect(l.background({ type: "document", doc: "d", page: 0 }, 6400)).toBe(got);
    l.dispose();
  });

  it("a document or page that cannot be shown is a blank page with a note", async () => {
    const { l, changed } = loader({ broken: new TextEncoder().encode("%PDF-1.4 garbage"), d: doc });
    const missing = await settle(l, changed, { type: "document", doc: "gone", page: 0 }, 1600);
    const broken = await settle(l, changed, { type: "document", doc: "broken", page: 0 }, 1600);
    const beyond = await settle(l, changed, { type: "document", doc: "d", page: 7 }, 1600);
    expect(broken).toBe(missing);
    expect(beyond).toBe(missing);
    expect(missing.width / missing.height).toBeCloseTo(16 / 9);
    l.dispose();
  });

  it("loads image backgrounds once", async () => {
    const { l, fetched, changed } = loader({ png: new Uint8Array([1]) });
    const got = await settle(l, changed, { type: "image", asset: "png" }, 1600);
    expect(got.width).toBe(400);
    l.background({ type: "image", asset: "png" }, 3200);
    expect(fetched).toEqual(["png"]);
  });

  it("holds a bounded number of page bitmaps", async () => {
    const many = makePdf(Array.from({ length: 5 }, (_, i) => `p${i}`));
    const { l, changed } = loader({ d: many }, { keep: 2 });
    const pages = [];
    for (let i = 0; i < 5; i++) pages.push(await settle(l, changed, { type: "document", doc: "d", page: i }, 800));
    // Page 4 and 3 are kept; page 0 was dropped and renders again.
    expect(l.background({ type: "document", doc: "d", page: 4 }, 800)).toBe(pages[4]);
    expect(l.background({ type: "document", doc: "d", page: 0 }, 800)).toBeNull();
    l.dispose();
  });
});

describe("assets over HTTP", () => {
  const access = { base: "http://127.0.0.1:8686/", room: "math 7", token: "lt1.a.b" };

  it("builds the relay's addresses", () => {
    expect(uploadUrl(access)).toBe("http://127.0.0.1:8686/board-assets/math%207");
    expect(assetUrl(access, "sha256-ab")).toBe("http://127.0.0.1:8686/board-assets/math%207/sha256-ab?token=lt1.a.b");
  });

  it("fetches with the token and reports the relay's error codes", async () => {
    const ok = (async (url: string) => {
      expect(url).toContain("?token=lt1.a.b");
      return new Response(new Uint8Array([1, 2, 3]));
    }) as typeof fetch;
    expect(await fetchAsset(access, "sha256-ab", ok)).toEqual(new Uint8Array([1, 2, 3]));
    const refused = (async () =>
      new Response(JSON.stringify({ code: "forbidden", message: "board" }), { status: 403 })) as typeof fetch;
    await expect(fetchAsset(access, "x", refused)).rejects.toMatchObject({ code: "forbidden" });
    const down = (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch;
    await expect(fetchAsset(access, "x", down)).rejects.toMatchObject({ code: "unreachable" });
  });

  it("uploads with the teacher's token and the type, reporting progress", async () => {
    const headers: Record<string, string> = {};
    let sentBody: Blob | null = null;
    const req: UploadRequest & { status: number; responseText: string } = {
      status: 0,
      responseText: "",
      onload: null,
      onerror: null,
      upload: { onprogress: null },
      open: (method, url) => {
        expect(method).toBe("POST");
        expect(url).toBe(uploadUrl(access));
      },
      setRequestHeader: (k, v) => void (headers[k] = v),
      send: (body) => {
        sentBody = body;
        req.upload.onprogress?.({ loaded: 5, total: 10, lengthComputable: true });
        req.status = 201;
        req.responseText = JSON.stringify({ asset: "sha256-ab", bytes: 10, type: "application/pdf" });
        req.onload?.();
      },
    };
    const progress: number[] = [];
    const file = new Blob(["%PDF-1.4"]);
    const got = await uploadAsset(access, file, "application/pdf", (p) => progress.push(p), () => req);
    expect(got).toEqual({ asset: "sha256-ab", bytes: 10, type: "application/pdf" });
    expect(headers).toEqual({ Authorization: "Bearer lt1.a.b", "Content-Type": "application/pdf" });
    expect(sentBody).toBe(file);
    expect(progress).toEqual([0.5, 1]);

    req.send = () => {
      req.status = 413;
      req.responseText = JSON.stringify({ code: "too_large", message: "files are at most 50 MiB" });
      req.onload?.();
    };
    await expect(uploadAsset(access, file, "application/pdf", undefined, () => req)).rejects.toMatchObject({
      code: "too_large",
    });
    req.send = () => req.onerror?.();
    await expect(uploadAsset(access, file, "application/pdf", undefined, () => req)).rejects.toMatchObject({
      code: "unreachable",
    });
  });
});

describe("thumbnails", () => {
  it("have a cache of their own and never push out the page being shown", async () => {
    const many = makePdf(Array.from({ length: 6 }, (_, i) => `p${i}`));
    const { l, changed } = loader({ d: many }, { keep: 1 });
    const shown = await settle(l, changed, { type: "document", doc: "d", page: 0 }, 1600);
    for (let i = 0; i < 6; i++) {
      const thumb = await settle(
        { background: (bg: Background, px: number) => l.thumbnail(bg, px) } as unknown as BackgroundLoader,
        changed,
        { type: "document", doc: "d", page: i },
        240,
      );
      expect(thumb.width * thumb.height).toBeLessThanOrEqual(320 * 180);
    }
    expect(l.background({ type: "document", doc: "d", page: 0 }, 1600)).toBe(shown);
    l.dispose();
  });

  it("renders two pages at a time, however many are asked for", async () => {
    const many = makePdf(Array.from({ length: 8 }, (_, i) => `p${i}`));
    let running = 0;
    let most = 0;
    // pdf.js as it is, but counting the renders in flight.
    const counting: PdfOpener = async (bytes) => {
      const doc = await opener(bytes);
      return {
        ...doc,
        pageCount: doc.pageCount,
        page: async (i) => {
          const p = await doc.page(i);
          return {
            ...p,
            width: p.width,
            height: p.height,
            render: async (ctx, scale) => {
              most = Math.max(most, ++running);
              try {
                await p.render(ctx, scale);
              } finally {
                running--;
              }
            },
          };
        },
      };
    };
    const { l, changed, changes } = loader({ d: many }, { pdf: async () => counting });
    l.background({ type: "document", doc: "d", page: 0 }, 800);
    await changed(); // the document is open
    for (let i = 0; i < 8; i++) l.background({ type: "document", doc: "d", page: i }, 800);
    while (changes() < 9) await changed();
    expect(most).toBe(2);
    for (let i = 0; i < 8; i++) expect(l.background({ type: "document", doc: "d", page: i }, 800)).not.toBeNull();
    l.dispose();
  });

  it("are painted again only when the page looks different", () => {
    const page = { id: "p", shapes: [] as import("./types").Shape[] };
    const empty = pageLook(page);
    const stroke = {
      id: "a:1",
      author: "a",
      style: STYLE,
      kind: { type: "stroke" as const, points: [{ x: 1, y: 1, pressure: 0.5 }], smooth: true, finished: false },
    };
    page.shapes.push(stroke);
    const drawing = pageLook(page);
    expect(drawing).not.toBe(empty);
    stroke.kind.points.push({ x: 2, y: 2, pressure: 0.5 });
    const longer = pageLook(page);
    expect(longer).not.toBe(drawing);
    stroke.kind.finished = true;
    expect(pageLook(page)).not.toBe(longer);
    const finished = pageLook(page);
    (stroke as { transform?: object }).transform = { dx: 5, dy: 0, scale: 1, rotation: 0 };
    expect(pageLook(page)).not.toBe(finished);
    expect(pageLook({ ...page, background: { type: "image", asset: "x" } })).not.toBe(pageLook(page));
    expect(pageLook(page)).toBe(pageLook({ ...page }));
  });
});
