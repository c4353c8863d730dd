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

/**
 * A valid PDF written by hand: one page per entry of `pages`, each showing its text in
 * Helvetica (lines split on "\n"), with a correct cross-reference table. `size` is the
 * page size in points (default A4 landscape).
 */
export function makePdf(pages: readonly string[], size: { w: number; h: number } = { w: 842, h: 595 }): Uint8Array {
  const objects: string[] = [];
  const font = 3 + pages.length * 2;
  const kids = pages.map((_, i) => `${3 + i * 2} 0 R`).join(" ");
  objects.push("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  for (const [i, text] of pages.entries()) {
    const esc = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
    const lines = text.split("\n").map((l, k) => `1 0 0 1 72 ${size.h - 96 - k * 40} Tm (${esc(l)}) Tj`);
    const content = `BT /F1 28 Tf ${lines.join(" ")} ET`;
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${size.w} ${size.h}] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${4 + i * 2} 0 R >>`,
    );
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  }
  objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  // ASCII only, so string length is byte length.
  return new TextEncoder().encode(out);
}

/**
 * A one-page PDF whose text uses a CJK font the file does not embed (STSong-Light with
 * the predefined CMap UniGB-UCS2-H), as many Chinese documents do: readers need the
 * CMap files to make sense of it.
 */
export function makeCjkPdf(text: string): Uint8Array {
  const hex = [...text].map((c) => c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
  const content = `BT /F1 28 Tf 1 0 0 1 72 480 Tm <${hex}> Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
    "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R >>",
    "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}
