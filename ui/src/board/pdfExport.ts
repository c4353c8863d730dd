// The whole board as one PDF: each page painted as the PNG export paints it (background
// document or image, then the drawing), JPEG-encoded, and placed full-page on a 16:9 PDF
// page. A small writer of our own: the format needed here is a catalog, pages, one image
// and one content stream per page, and a cross-reference table — a few dozen lines,
// not a dependency.

import { paintPage } from "./export";
import type { Resolvers } from "./render";
import { PAGE_HEIGHT, PAGE_WIDTH, type Page } from "./types";

/** A JPEG picture of one page and its pixel size. */
export interface PageImage {
  jpeg: Uint8Array;
  width: number;
  height: number;
}

/** PDF page size in points (1/72 inch): 16:9 like the board, A4's long side wide. */
export const PDF_PAGE = { width: 842, height: Math.round((842 * PAGE_HEIGHT) / PAGE_WIDTH) };

const enc = new TextEncoder();

/** A PDF text string: ASCII as a literal, anything else as UTF-16BE hex with a BOM. */
function pdfString(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;
  let hex = "FEFF";
  for (let i = 0; i < s.length; i++) hex += s.charCodeAt(i).toString(16).padStart(4, "0").toUpperCase();
  return `<${hex}>`;
}

/**
 * Writes a PDF with one page per image, each image stretched over the whole page.
 * Throws on no pages or an image that is not a JPEG.
 */
export function buildPdf(images: PageImage[], title: string): Uint8Array {
  if (images.length === 0) throw new Error("a PDF needs at least one page");
  const parts: Uint8Array[] = [];
  const offsets: number[] = [];
  let length = 0;
  const put = (chunk: string | Uint8Array) => {
    const bytes = typeof chunk === "string" ? enc.encode(chunk) : chunk;
    parts.push(bytes);
    length += bytes.length;
  };
  // Object numbers: 1 catalog, 2 page tree, 3 info, then per page: page, image, content.
  const pageObj = (i: number) => 4 + i * 3;
  const object = (n: number, body: string) => {
    offsets[n] = length;
    put(`${n} 0 obj\n${body}\nendobj\n`);
  };

  // A binary comment after the header tells tools the file holds binary data.
  put("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
  object(1, "<< /Type /Catalog /Pages 2 0 R >>");
  const kids = images.map((_, i) => `${pageObj(i)} 0 R`).join(" ");
  object(2, `<< /Type /Pages /Kids [${kids}] /Count ${images.length} >>`);
  object(3, `<< /Title ${pdfString(title)} /Producer (Lectern) >>`);
  const { width: W, height: H } = PDF_PAGE;
  images.forEach((img, i) => {
    const n = pageObj(i);
    if (img.jpeg.length < 3 || img.jpeg[0] !== 0xff || img.jpeg[1] !== 0xd8) {
      throw new Error(`page ${i + 1}: not a JPEG`);
    }
    object(
      n,
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${W} ${H}] ` +
        `/Resources << /XObject << /P ${n + 1} 0 R >> >> /Contents ${n + 2} 0 R >>`,
    );
    offsets[n + 1] = length;
    put(
      `${n + 1} 0 obj\n<< /Type /XObject /Subtype /Image /Width ${img.width} /Height ${img.height} ` +
        `/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length ${img.jpeg.length} >>\nstream\n`,
    );
    put(img.jpeg);
    put("\nendstream\nendobj\n");
    const content = `q ${W} 0 0 ${H} 0 0 cm /P Do Q`;
    object(n + 2, `<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  });

  const count = pageObj(images.length);
  const xref = length;
  let table = `xref\n0 ${count}\n0000000000 65535 f \n`;
  for (let n = 1; n < count; n++) table += `${String(offsets[n]).padStart(10, "0")} 00000 n \n`;
  put(table);
  put(`trailer\n<< /Size ${count} /Root 1 0 R /Info 3 0 R >>\nstartxref\n${xref}\n%%EOF\n`);

  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Paints each page at `scale` × 1600 × 900 and encodes it as a JPEG. */
export async function pageJpeg(page: Page, scale: number, resolvers: Resolvers): Promise<PageImage> {
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(PAGE_WIDTH * scale);
  canvas.height = Math.round(PAGE_HEIGHT * scale);
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  paintPage(ctx, page, scale, resolvers);
  const blob = await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the canvas gave no JPEG"))), "image/jpeg", 0.9),
  );
  return { jpeg: new Uint8Array(await blob.arrayBuffer()), width: canvas.width, height: canvas.height };
}

/** The board's pages as one PDF, in order; `progress(done, total)` after each page. */
export async function boardPdfBlob(
  pages: readonly Page[],
  title: string,
  resolvers: Resolvers,
  progress?: (done: number, total: number) => void,
): Promise<Blob> {
  const images: PageImage[] = [];
  for (const page of pages) {
    images.push(await pageJpeg(page, 1, resolvers));
    progress?.(images.length, pages.length);
  }
  return new Blob([buildPdf(images, title) as BlobPart], { type: "application/pdf" });
}
