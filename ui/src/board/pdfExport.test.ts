import { describe, expect, it } from "vitest";
import { PDF_PAGE, buildPdf, type PageImage } from "./pdfExport";

// A real 16 × 9 JPEG (one blue colour, made by ffmpeg), which pdf.js decodes.
const BLUE_16X9 = "/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgQEBMQExYWFhYWFhoYGhsbGxoaGhobGxsdHR0iIiIdHR0bGx0dICAiIiUmJSMjIiMmJigoKDAwLi44ODpFRVP/xABMAAEBAAAAAAAAAAAAAAAAAAAABgEBAQAAAAAAAAAAAAAAAAAABgcQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAIABADASIAAhEAAxEA/9oADAMBAAIRAxEAPwCeAU8Vf//Z";
const jpeg = (): PageImage => ({
  jpeg: Uint8Array.from(atob(BLUE_16X9), (c) => c.charCodeAt(0)),
  width: 16,
  height: 9,
});

async function openWithPdfjs(bytes: Uint8Array) {
  const lib = await import("pdfjs-dist/legacy/build/pdf.mjs");
  // pdf.js takes the buffer over: give it a copy.
  return lib.getDocument({ data: bytes.slice(), isEvalSupported: false, useSystemFonts: false }).promise;
}

describe("the board as a PDF", () => {
  it("has one 16:9 page per board page, which pdf.js reads, with the title", async () => {
    const pdf = buildPdf([jpeg(), jpeg(), jpeg()], "数学 7A");
    const doc = await openWithPdfjs(pdf);
    expect(doc.numPages).toBe(3);
    for (let i = 1; i <= 3; i++) {
      const page = await doc.getPage(i);
      const vp = page.getViewport({ scale: 1 });
      expect([vp.width, vp.height]).toEqual([PDF_PAGE.width, PDF_PAGE.height]);
      const ops = await page.getOperatorList();
      // Each page paints exactly one picture, the 16 × 9 JPEG, decoded.
      const lib = await import("pdfjs-dist/legacy/build/pdf.mjs");
      const paints = ops.fnArray.flatMap((f, k) => (f === lib.OPS.paintImageXObject ? [ops.argsArray[k]] : []));
      expect(paints.length).toBe(1);
      expect(paints[0].slice(1, 3)).toEqual([16, 9]);
    }
    const meta = await doc.getMetadata();
    expect((meta.info as { Title?: string }).Title).toBe("数学 7A");
    await doc.destroy();
  });

  it("writes a cross-reference table that points at every object", () => {
    const pdf = buildPdf([jpeg(), jpeg()], "algebra (part 1)");
    const text = new TextDecoder("latin1").decode(pdf);
    const xrefAt = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)?.[1]);
    expect(text.slice(xrefAt, xrefAt + 4)).toBe("xref");
    const rows = text.slice(xrefAt).split("\n").slice(2);
    const count = Number(/^xref\n0 (\d+)/.exec(text.slice(xrefAt))?.[1]);
    expect(count).toBe(3 + 2 * 3 + 1);
    for (let n = 1; n < count; n++) {
      const offset = Number(rows[n].slice(0, 10));
      expect(text.slice(offset, offset + `${n} 0 obj`.length)).toBe(`${n} 0 obj`);
    }
    // ASCII titles stay literal, with parentheses escaped.
    expect(text).toContain("/Title (algebra \\(part 1\\))");
  });

  it("refuses an empty board and a picture that is not a JPEG", () => {
    expect(() => buildPdf([], "x")).toThrow(/at least one page/);
    const png = { jpeg: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), width: 1, height: 1 };
    expect(() => buildPdf([jpeg(), png], "x")).toThrow(/page 2: not a JPEG/);
  });
});
