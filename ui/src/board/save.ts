// How a page hands over a file it made. The console saves through Rust into the
// Downloads folder (its webview may ignore `<a download>`) and says where; a browser
// (the student page) offers a download.

import { download } from "./export";

/** Saves `blob` as `name`; resolves to the saved path, or null for a browser download. */
export type SaveFile = (blob: Blob, name: string) => Promise<string | null>;

export const browserSave: SaveFile = async (blob, name) => {
  download(blob, name);
  return null;
};

/** The bytes of `blob` as base64, built in slices so a large file fits the call stack. */
export async function blobBase64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const SLICE = 0x8000;
  let binary = "";
  for (let i = 0; i < bytes.length; i += SLICE) {
    binary += String.fromCharCode(...bytes.subarray(i, i + SLICE));
  }
  return btoa(binary);
}

/** base64 text back to bytes. */
export function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
