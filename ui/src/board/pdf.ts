// PDF documents through pdf.js, behind the small surface the board uses.
//
// Why pdf.js in the page rather than rasterizing in Rust: one renderer serves the console
// and the student page (a browser, where Rust does not run), pages stay vector and are
// rendered at whatever zoom the viewer is at, and the relay and the app need no native
// PDF library. pdf.js is loaded on first use, so a class without documents never
// downloads it.
//
// The legacy build is used everywhere: the student page targets older mobile browsers
// (see `build.target` in vite.config.ts), and it is the build pdf.js supports in Node,
// where the tests run it.

/** One page, as the board uses it. */
export interface PdfPage {
  /** Size at scale 1, in PDF points. */
  readonly width: number;
  readonly height: number;
  /** Draws the page into `ctx`, scaled by `scale` (device pixels per point). */
  render(ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, scale: number): Promise<void>;
  /** The page's text in reading order as pdf.js extracts it, lines joined by "\n". */
  text(): Promise<string>;
}

/** An opened document. */
export interface PdfDocument {
  readonly pageCount: number;
  /** Page `index`, from 0. */
  page(index: number): Promise<PdfPage>;
  /** Frees the worker's copy. */
  close(): Promise<void>;
}

/** Opens documents; the bytes are copied, never transferred away from the caller. */
export type PdfOpener = (data: Uint8Array) => Promise<PdfDocument>;

/** Why a document could not be opened. */
export class PdfError extends Error {
  constructor(
    /** `invalid_pdf` (not a PDF, or damaged beyond repair), `password` (encrypted). */
    readonly code: "invalid_pdf" | "password",
    message: string,
  ) {
    super(message);
    this.name = "PdfError";
  }
}

type Pdfjs = typeof import("pdfjs-dist/legacy/build/pdf.mjs");

/** Where pdf.js finds its data files (directory URLs, with the trailing slash). */
export interface PdfjsData {
  /** CMaps: CJK documents name them without embedding; without them their text is lost. */
  cMapUrl?: string;
  /** Fonts documents name but do not embed (browsers fall back to system fonts). */
  standardFontDataUrl?: string;
  iccUrl?: string;
  /** WebAssembly image decoders (JPEG 2000, JBIG2), with a JavaScript fallback. */
  wasmUrl?: string;
}

/** The data files' directory URLs under `base` (see `pdfjsData()` in vite.config.ts). */
export function pdfjsDataUrls(base: string): PdfjsData {
  return {
    cMapUrl: `${base}cmaps/`,
    standardFontDataUrl: `${base}standard_fonts/`,
    iccUrl: `${base}iccs/`,
    wasmUrl: `${base}wasm/`,
  };
}

/** Wraps a loaded pdf.js module. */
export function pdfjsOpener(lib: Pdfjs, data: PdfjsData = {}): PdfOpener {
  return async (bytes) => {
    const task = lib.getDocument({
      ...data,
      cMapPacked: true,
      // pdf.js transfers the buffer to its worker: give it a copy.
      data: bytes.slice(),
      // Documents come from a class's teacher, but are still untrusted input.
      isEvalSupported: false,
      verbosity: lib.VerbosityLevel.ERRORS,
      enableXfa: false,
      stopAtErrors: false,
    });
    let doc: Awaited<typeof task.promise>;
    try {
      doc = await task.promise;
    } catch (e) {
      const name = (e as { name?: string }).name;
      const message = (e as Error).message ?? String(e);
      throw new PdfError(name === "PasswordException" ? "password" : "invalid_pdf", message);
    }
    return {
      pageCount: doc.numPages,
      async page(index) {
        const p = await doc.getPage(index + 1);
        const base = p.getViewport({ scale: 1 });
        return {
          width: base.width,
          height: base.height,
          async render(ctx, scale) {
            const viewport = p.getViewport({ scale });
            // An offscreen context (or a Node canvas in tests) is drawn into as it is.
            await p.render({ canvas: null, canvasContext: ctx as CanvasRenderingContext2D, viewport }).promise;
          },
          async text() {
            const content = await p.getTextContent();
            let out = "";
            for (const item of content.items) {
              if (!("str" in item)) continue;
              out += item.str;
              if (item.hasEOL) out += "\n";
            }
            return out.trim();
          },
        };
      },
      close: () => doc.destroy(),
    };
  };
}

let browser: Promise<PdfOpener> | null = null;

/** The opener for pages built by Vite: pdf.js and its worker load on first use. */
export function browserPdfOpener(): Promise<PdfOpener> {
  browser ??= (async () => {
    const [lib, worker] = await Promise.all([
      import("pdfjs-dist/legacy/build/pdf.mjs"),
      // Emitted into dist/assets for both entries, served by Tauri and the relay alike.
      import("pdfjs-dist/legacy/build/pdf.worker.min.mjs?url"),
    ]);
    lib.GlobalWorkerOptions.workerSrc = worker.default;
    return pdfjsOpener(lib, pdfjsDataUrls(__PDFJS_DATA__));
  })();
  return browser;
}
