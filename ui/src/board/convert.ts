// Office documents on the board: the console converts them to PDF through LibreOffice
// (the `board_convert` command) and imports the PDF. This module holds what the panel
// needs to know about that without depending on Tauri.

import { ImportError } from "./importPdf";

/** Types LibreOffice converts for us (as `lectern_convert::SUPPORTED`). */
export const OFFICE_EXTENSIONS = ["pptx", "ppt", "pps", "ppsx", "odp", "key", "docx", "doc", "odt", "rtf"] as const;

/** Turns an office file into a PDF; rejects with an `ImportError`. */
export type ConvertDocument = (file: File) => Promise<Blob>;

/** Whether `name` is an office document (by extension) rather than a PDF. */
export function isOffice(name: string): boolean {
  const ext = name.toLowerCase().split(".").pop() ?? "";
  return name.includes(".") && (OFFICE_EXTENSIONS as readonly string[]).includes(ext);
}

/** The `accept` list of the file picker: PDFs, plus office files when they convert. */
export function acceptList(office: boolean): string {
  const pdf = "application/pdf,.pdf";
  return office ? `${pdf},${OFFICE_EXTENSIONS.map((e) => `.${e}`).join(",")}` : pdf;
}

/** The import error for a failed conversion, from the command's error code. */
export function conversionError(code: string, message: string): ImportError {
  const ours: Record<string, string> = {
    not_found: "office_missing",
    invalid_input: "office_unsupported",
    busy: "office_timeout",
    too_large: "too_large",
  };
  return new ImportError(ours[code] ?? "office_failed", message);
}

/** `name` with its extension replaced by `.pdf`. */
export function pdfName(name: string): string {
  const dot = name.lastIndexOf(".");
  return `${dot > 0 ? name.slice(0, dot) : name}.pdf`;
}
