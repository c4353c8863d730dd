// Saving one page as a picture: SVG from `exportSvg`, PNG drawn at the page's own size
// (1600 × 900) with the same `drawShape` the canvas uses.
//
// A browser gets the file as a download (`<a download>` on a blob URL); the console hands
// it to Rust, which saves it into the Downloads folder (`save.ts`), because the macOS and
// Linux webviews of Tauri ignore download links.

import { fitInPage } from "./backgrounds";
import { drawShape, sourceSize, type Ctx2D, type Resolvers } from "./render";
import { exportSvg } from "./svg";
import { PAGE_HEIGHT, PAGE_WIDTH, type Page } from "./types";

/**
 * A file name for page `index` (0-based) of `room`, `math-7a-page-2.png`, or for the
 * whole board when `index` is negative, `math-7a-board.pdf`.
 */
export function exportFileName(room: string, index: number, ext: "png" | "svg" | "pdf"): string {
  const safe = room.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "") || "board";
  return index < 0 ? `${safe}-board.${ext}` : `${safe}-page-${index + 1}.${ext}`;
}

export function pageSvgBlob(page: Page): Blob {
  return new Blob([exportSvg(page)], { type: "image/svg+xml" });
}

/** Paints `page` on white into `ctx`, which is PAGE_WIDTH × PAGE_HEIGHT at `scale`, with
 * its background when `resolvers` has it at hand (one still loading is left out). */
export function paintPage(ctx: Ctx2D, page: Page, scale = 1, resolvers: Resolvers = {}): void {
  ctx.save();
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, PAGE_WIDTH, PAGE_HEIGHT);
  const bg = page.background ? resolvers.background?.(page.background, PAGE_WIDTH * scale) : null;
  if (bg) {
    const [w, h] = sourceSize(bg);
    const r = fitInPage(w, h);
    ctx.drawImage(bg, r.x, r.y, r.w, r.h);
  }
  for (const s of page.shapes) drawShape(ctx, s, resolvers);
  ctx.restore();
}

export async function pagePngBlob(page: Page, scale = 1, resolvers: Resolvers = {}): Promise<Blob> {
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(PAGE_WIDTH * scale);
  canvas.height = Math.round(PAGE_HEIGHT * scale);
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  paintPage(ctx, page, scale, resolvers);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the canvas gave no PNG"))), "image/png"),
  );
}

/** Offers `blob` as a download named `name`. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  // The click starts the download asynchronously; keep the URL alive a while.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
