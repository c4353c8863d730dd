import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { effectScope } from "vue";
import { AssetError, type UploadedAsset } from "./assets";
import { DocumentTexts, IMPORT_BATCH, ImportError, extractText, importErrorKey, importPdf, type ImportDeps } from "./importPdf";
import { Board, Snapshot } from "./model";
import { PdfError, pdfjsDataUrls, pdfjsOpener, type PdfOpener } from "./pdf";
import type { BoardClientMessage } from "./session";
import { makeCjkPdf, makePdf } from "./testing";
import { useBoard } from "./useBoard";

// pdf.js itself, under Node (its legacy build, as the app uses), parsing PDFs written by
// hand in `makePdf`.
let open: PdfOpener;
beforeAll(async () => {
  const lib = await import("pdfjs-dist/legacy/build/pdf.mjs");
  const data = fileURLToPath(new URL("../../node_modules/pdfjs-dist/", import.meta.url));
  open = pdfjsOpener(lib, pdfjsDataUrls(data));
});

let scopes: ReturnType<typeof effectScope>[] = [];
afterEach(() => {
  for (const s of scopes) s.stop();
  scopes = [];
});

/** A teacher's board synced to the relay's first page, sending into `sent`. */
function teacherBoard() {
  const scope = effectScope();
  scopes.push(scope);
  const sent: BoardClientMessage[] = [];
  const board = scope.run(() => useBoard((m) => (sent.push(m), true)))!;
  board.welcomed("t1", true);
  const first = new Board();
  first.apply({ author: "relay", client_seq: 1, action: { type: "add_page" } });
  board.receive({ type: "board_snapshot", epoch: 9, snapshot: new Snapshot(1, first).toJSON() });
  sent.length = 0;
  return { board, sent };
}

const ASSET = "sha256-" + "ab".repeat(32);

/** Dependencies that upload nowhere: they record what was uploaded and when. */
function deps(overrides: Partial<ImportDeps> = {}) {
  const log: string[] = [];
  const uploads: Blob[] = [];
  const d: ImportDeps = {
    open,
    upload: async (file, onProgress) => {
      uploads.push(file);
      log.push("upload");
      onProgress(0.5);
      onProgress(1);
      return { asset: ASSET, bytes: file.size, type: "application/pdf" } satisfies UploadedAsset;
    },
    pause: async (ms) => void log.push(`pause ${ms}`),
    ...overrides,
  };
  return { d, log, uploads };
}

const pdfFile = (pages: string[]) => new Blob([makePdf(pages) as BlobPart], { type: "application/pdf" });

describe("importPdf", () => {
  it("adds a page per document page after the current one and turns everyone to the first", async () => {
    const { board, sent } = teacherBoard();
    const { d, uploads } = deps();
    const phases: string[] = [];
    const file = pdfFile(["Fractions", "One half (1/2)\nis 0.5", "Homework: p. 12"]);
    const result = await importPdf(file, board.importTarget, d, (phase, done) => phases.push(`${phase} ${done}`));

    expect(result.pages).toEqual(["t1:1", "t1:2", "t1:3"]);
    expect(result.asset).toBe(ASSET);
    const bg = (page: number) => ({ type: "document", doc: ASSET, page });
    // Exactly these ops, in this order, on the wire.
    expect(sent).toEqual([
      { type: "board_op", op: { author: "t1", client_seq: 1, action: { type: "add_page", index: 1, background: bg(0) } } },
      { type: "board_op", op: { author: "t1", client_seq: 2, action: { type: "add_page", index: 2, background: bg(1) } } },
      { type: "board_op", op: { author: "t1", client_seq: 3, action: { type: "add_page", index: 3, background: bg(2) } } },
      { type: "board_op", op: { author: "t1", client_seq: 4, action: { type: "set_current_page", page: "t1:1" } } },
    ]);
    expect(board.pages.value.map((p) => p.background ?? null)).toEqual([null, bg(0), bg(1), bg(2)]);
    expect(board.currentPage.value).toBe("t1:1");

    // The file went up as it is, as a PDF.
    expect(uploads).toHaveLength(1);
    expect(uploads[0].type).toBe("application/pdf");
    expect(new Uint8Array(await uploads[0].arrayBuffer())).toEqual(makePdf(["Fractions", "One half (1/2)\nis 0.5", "Homework: p. 12"]));
    expect(phases).toEqual([
      "reading 0",
      "uploading 0",
      "uploading 0.5",
      "uploading 1",
      `adding ${1 / 3}`,
      `adding ${2 / 3}`,
      "adding 1",
    ]);
    // Each page's text, lines kept.
    expect(result.text).toEqual(["Fractions", "One half (1/2)\nis 0.5", "Homework: p. 12"]);
  });

  it("inserts after the page the teacher is on", async () => {
    const { board, sent } = teacherBoard();
    board.addPage(); // t1:1 after relay:1, now current
    board.showPage("relay:1");
    sent.length = 0;
    const result = await importPdf(pdfFile(["a", "b"]), board.importTarget, deps().d);
    expect(board.pages.value.map((p) => p.id)).toEqual(["relay:1", ...result.pages, "t1:1"]);
  });

  it("refuses a damaged PDF before uploading and leaves the board alone", async () => {
    const { board, sent } = teacherBoard();
    const { d, uploads } = deps();
    const good = makePdf(["x"]);
    for (const bytes of [
      new TextEncoder().encode("%PDF-1.4\nthis is not a document\n"),
      new TextEncoder().encode("<html>not a pdf</html>"),
      good.slice(0, 40),
      new Uint8Array(0),
    ]) {
      const err = await importPdf(new Blob([bytes as BlobPart]), board.importTarget, d).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImportError);
      expect((err as ImportError).code).toBe("invalid_pdf");
      expect(importErrorKey((err as ImportError).code)).toBe("board.import.error.invalid_pdf");
    }
    expect(uploads).toEqual([]);
    expect(sent).toEqual([]);
    expect(board.pages.value).toHaveLength(1);
  });

  it("adds nothing when the upload fails, and says why in the relay's words", async () => {
    const { board, sent } = teacherBoard();
    const { d } = deps({
      upload: async () => {
        throw new AssetError("too_large", "files are at most 52428800 bytes");
      },
    });
    const err = await importPdf(pdfFile(["a"]), board.importTarget, d).catch((e: unknown) => e);
    expect((err as ImportError).code).toBe("too_large");
    expect(importErrorKey("too_large")).toBe("board.import.error.too_large");
    expect(importErrorKey("something_new")).toBe("board.import.error.generic");
    expect(sent).toEqual([]);
  });

  it("refuses a document that would pass the page limit, before uploading", async () => {
    const { board } = teacherBoard();
    const target = { ...board.importTarget, pageCount: () => 499 };
    const { d, uploads } = deps();
    const err = await importPdf(pdfFile(["a", "b"]), target, d).catch((e: unknown) => e);
    expect((err as ImportError).code).toBe("too_many_pages");
    expect(uploads).toEqual([]);
  });

  it("paces long documents so the relay's op budget holds", async () => {
    const added: number[] = [];
    const target = {
      pageCount: () => 1,
      insertAt: () => 1,
      addPage: (index: number) => (added.push(index), `t1:${index}`),
      showPage: () => {},
    };
    const { d, log } = deps();
    const n = IMPORT_BATCH * 2 + 3;
    const doc = makePdf(Array.from({ length: n }, (_, i) => `page ${i + 1}`));
    const result = await importPdf(new Blob([doc as BlobPart]), target, d);
    expect(added).toEqual(Array.from({ length: n }, (_, i) => 1 + i));
    expect(log).toEqual(["upload", "pause 1000", "pause 1000"]);
    expect(result.text[n - 1]).toBe(`page ${n}`);
  });
});

describe("extractText and DocumentTexts", () => {
  it("keeps each page's text by asset and page, for the class record", async () => {
    const doc = await open(makePdf(["Chapter 1\nAtoms", "", "Chapter 2 (cont.)"]));
    const text = await extractText(doc);
    expect(text).toEqual(["Chapter 1\nAtoms", "", "Chapter 2 (cont.)"]);
    await doc.close();

    const texts = new DocumentTexts();
    texts.set(ASSET, text);
    expect(texts.ofBackground({ type: "document", doc: ASSET, page: 2 })).toBe("Chapter 2 (cont.)");
    expect(texts.ofBackground({ type: "image", asset: ASSET })).toBeUndefined();
    expect(texts.ofBackground(undefined)).toBeUndefined();
    expect(JSON.parse(JSON.stringify(texts))).toEqual({ [ASSET]: text });
  });

  it("reads Chinese text set in a font the document does not embed (with pdf.js's CMaps)", async () => {
    const doc = await open(makeCjkPdf("分数的加法"));
    expect(await extractText(doc)).toEqual(["分数的加法"]);
    await doc.close();
  });

  it("a useBoard keeps the texts until the class is reset", () => {
    const { board } = teacherBoard();
    board.texts.set(ASSET, ["x"]);
    expect(board.texts.get(ASSET)).toEqual(["x"]);
    board.reset();
    expect(board.texts.get(ASSET)).toBeUndefined();
  });

  it("names a password-protected document apart from a damaged one", () => {
    expect(new PdfError("password", "x").code).toBe("password");
    expect(importErrorKey("password")).toBe("board.import.error.password");
  });
});
