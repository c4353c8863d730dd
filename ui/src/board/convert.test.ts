import { describe, expect, it } from "vitest";
import { acceptList, conversionError, isOffice, pdfName } from "./convert";
import { importErrorKey } from "./importPdf";

describe("office documents", () => {
  it("are told from PDFs by extension", () => {
    expect(isOffice("Lesson 3.PPTX")).toBe(true);
    expect(isOffice("notes.docx")).toBe(true);
    expect(isOffice("slides.pdf")).toBe(false);
    expect(isOffice("pptx")).toBe(false);
    expect(acceptList(false)).toBe("application/pdf,.pdf");
    expect(acceptList(true)).toContain(".pptx");
    expect(pdfName("Lesson 3.pptx")).toBe("Lesson 3.pdf");
    expect(pdfName(".hidden")).toBe(".hidden.pdf");
  });

  it("turn conversion failures into sentences of their own", () => {
    const cases: [string, string][] = [
      ["not_found", "office_missing"],
      ["invalid_input", "office_unsupported"],
      ["busy", "office_timeout"],
      ["too_large", "too_large"],
      ["internal", "office_failed"],
    ];
    for (const [api, code] of cases) {
      const e = conversionError(api, "m");
      expect(e.code).toBe(code);
      expect(importErrorKey(e.code)).toBe(`board.import.error.${code}`);
    }
  });
});
