// Importing a PDF onto the board: check it opens, upload it, add one page per document
// page with that page as its background, and turn everyone to the first of them. The
// text of each page is extracted on the way and kept (`DocumentTexts`) for search and
// for the class record.
//
// Order matters: the file is opened here first, so a damaged PDF is refused before it
// costs an upload, and nothing touches the board until the relay has the file (a page
// whose background nobody can fetch would be worse than no page).

import { AssetError, type UploadedAsset } from "./assets";
import { MAX_PAGES } from "./limits";
import { PdfError, type PdfDocument, type PdfOpener } from "./pdf";
import type { AssetRef, Background, PageId } from "./types";

/** Pages added before pausing for a second: the relay takes 60 ops a second sustained
 * (`BOARD_OPS_PER_SEC`), 200 at once, and the teacher may be drawing meanwhile. */
export const IMPORT_BATCH = 50;

/** What an import does to the board (`useBoard` provides it). */
export interface ImportTarget {
  /** Pages on the board now. */
  pageCount(): number;
  /** Where the first imported page goes: after the current page. */
  insertAt(): number;
  /** Adds a page at `index` showing `background`; its id, or null when refused. */
  addPage(index: number, background: Background): PageId | null;
  /** Turns everyone to `page`. */
  showPage(page: PageId): void;
}

export interface ImportDeps {
  open: PdfOpener;
  upload(file: Blob, onProgress: (sent: number) => void): Promise<UploadedAsset>;
  /** Waits between batches of pages (a timer; instant in tests). */
  pause(ms: number): Promise<void>;
}

export type ImportPhase = "reading" | "uploading" | "adding";

/** Why an import did nothing (or stopped): a code for `board.import.error.*`. */
export class ImportError extends Error {
  constructor(
    /** `invalid_pdf`, `password`, `empty`, `too_many_pages`, `refused`, or the relay's
     * code for a failed upload (`too_large`, `unreachable`, …). */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ImportError";
  }
}

/** The codes that have their own sentence (`board.import.error.<code>`). */
export const IMPORT_ERROR_CODES = [
  "invalid_pdf",
  "password",
  "empty",
  "too_many_pages",
  "too_large",
  "capacity",
  "unreachable",
  "forbidden",
  "not_found",
  "refused",
  "office_missing",
  "office_unsupported",
  "office_timeout",
  "office_failed",
] as const;

/** The catalog key of the sentence for an import error `code`. */
export function importErrorKey(code: string): string {
  return (IMPORT_ERROR_CODES as readonly string[]).includes(code)
    ? `board.import.error.${code}`
    : "board.import.error.generic";
}

export interface ImportResult {
  asset: AssetRef;
  /** The pages made, in document order. */
  pages: PageId[];
  /** Each document page's text ("" where it had none or could not be read). */
  text: string[];
}

/** Every page's text, in order; a page that fails to give it gives "". */
export async function extractText(doc: PdfDocument): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < doc.pageCount; i++) {
    try {
      out.push(await (await doc.page(i)).text());
    } catch {
      out.push("");
    }
  }
  return out;
}

/** Imports `file` (a PDF) onto the board through `target`. */
export async function importPdf(
  file: Blob,
  target: ImportTarget,
  deps: ImportDeps,
  progress: (phase: ImportPhase, done: number) => void = () => {},
): Promise<ImportResult> {
  progress("reading", 0);
  const bytes = new Uint8Array(await file.arrayBuffer());
  let doc: PdfDocument;
  try {
    doc = await deps.open(bytes);
  } catch (e) {
    if (e instanceof PdfError) throw new ImportError(e.code, e.message);
    throw new ImportError("invalid_pdf", String(e));
  }
  try {
    const n = doc.pageCount;
    if (n === 0) throw new ImportError("empty", "the document has no pages");
    if (target.pageCount() + n > MAX_PAGES) {
      throw new ImportError("too_many_pages", `a board holds at most ${MAX_PAGES} pages`);
    }
    progress("uploading", 0);
    const [uploaded, text] = await Promise.all([
      deps
        .upload(new Blob([bytes as BlobPart], { type: "application/pdf" }), (sent) => progress("uploading", sent))
        .catch((e: unknown) => {
          const code = e instanceof AssetError ? e.code : "unreachable";
          throw new ImportError(code, e instanceof Error ? e.message : String(e));
        }),
      extractText(doc),
    ]);
    const at = target.insertAt();
    const pages: PageId[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % IMPORT_BATCH === 0) await deps.pause(1000);
      const id = target.addPage(at + i, { type: "document", doc: uploaded.asset, page: i });
      if (id === null) {
        if (pages.length === 0) throw new ImportError("refused", "the board refused the new page");
        break;
      }
      pages.push(id);
      progress("adding", (i + 1) / n);
    }
    target.showPage(pages[0]);
    return { asset: uploaded.asset, pages, text };
  } finally {
    void doc.close().catch(() => {});
  }
}

/** The text of imported documents, by asset and page: what search and the class record
 * read. Kept for the class; the board itself stores only the asset's name. */
export class DocumentTexts {
  private readonly docs = new Map<AssetRef, readonly string[]>();

  set(asset: AssetRef, pages: readonly string[]): void {
    this.docs.set(asset, [...pages]);
  }

  /** A document's pages' text, or undefined when it was not imported here. */
  get(asset: AssetRef): readonly string[] | undefined {
    return this.docs.get(asset);
  }

  /** The text of a page's background, when it is an imported document page. */
  ofBackground(bg: Background | undefined): string | undefined {
    return bg?.type === "document" ? this.docs.get(bg.doc)?.[bg.page] : undefined;
  }

  /** Everything, for storing: `{ asset: [page text, …] }`. */
  toJSON(): Record<AssetRef, readonly string[]> {
    return Object.fromEntries(this.docs);
  }

  clear(): void {
    this.docs.clear();
  }
}
