// Board assets on the relay (`docs/protocol.md`, "Board assets"): PDFs and images a
// page shows as its background, uploaded by the teacher and read by everyone in the room
// with their own token.

import type { AssetRef } from "./types";

/** Where a page reaches its room's assets, and as whom. */
export interface AssetAccess {
  /** The relay's origin, e.g. `http://127.0.0.1:8686` (no trailing slash). */
  base: string;
  room: string;
  token: string;
}

/** What an upload answers. */
export interface UploadedAsset {
  asset: AssetRef;
  bytes: number;
  type: string;
}

/** A refused or failed request; `code` is the relay's error code or `unreachable`. */
export class AssetError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AssetError";
  }
}

function base(a: AssetAccess): string {
  return `${a.base.replace(/\/+$/, "")}/board-assets/${encodeURIComponent(a.room)}`;
}

/** The address of one asset, token included (usable as an `<img src>`). */
export function assetUrl(a: AssetAccess, asset: AssetRef): string {
  return `${base(a)}/${encodeURIComponent(asset)}?token=${encodeURIComponent(a.token)}`;
}

/** The upload endpoint. */
export function uploadUrl(a: AssetAccess): string {
  return base(a);
}

function errorOf(status: number, body: string): AssetError {
  try {
    const e = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof e.code === "string") return new AssetError(e.code, String(e.message ?? ""));
  } catch {
    // not the relay's JSON: fall through
  }
  return new AssetError(status === 0 ? "unreachable" : "internal", `HTTP ${status}`);
}

/** Fetches an asset's bytes. */
export async function fetchAsset(
  a: AssetAccess,
  asset: AssetRef,
  fetchImpl: typeof fetch = fetch,
): Promise<Uint8Array> {
  let resp: Response;
  try {
    resp = await fetchImpl(assetUrl(a, asset));
  } catch (e) {
    throw new AssetError("unreachable", String(e));
  }
  if (!resp.ok) throw errorOf(resp.status, await resp.text().catch(() => ""));
  return new Uint8Array(await resp.arrayBuffer());
}

/** The part of `XMLHttpRequest` an upload uses (fetch reports no upload progress). */
export interface UploadRequest {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  readonly status: number;
  readonly responseText: string;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  readonly upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
}

/**
 * Uploads `file` as `type` (`application/pdf`, `image/png`, `image/jpeg`), reporting the
 * share sent so far (0..1) as it goes.
 */
export function uploadAsset(
  a: AssetAccess,
  file: Blob,
  type: string,
  onProgress: (sent: number) => void = () => {},
  makeRequest: () => UploadRequest = () => new XMLHttpRequest() as unknown as UploadRequest,
): Promise<UploadedAsset> {
  return new Promise((resolve, reject) => {
    const req = makeRequest();
    req.open("POST", uploadUrl(a));
    req.setRequestHeader("Authorization", `Bearer ${a.token}`);
    req.setRequestHeader("Content-Type", type);
    req.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.min(1, e.loaded / e.total));
    };
    req.onload = () => {
      if (req.status === 200 || req.status === 201) {
        try {
          const v = JSON.parse(req.responseText) as UploadedAsset;
          if (typeof v.asset === "string") {
            onProgress(1);
            resolve(v);
            return;
          }
        } catch {
          // fall through
        }
        reject(new AssetError("internal", "the relay's answer was not understood"));
      } else {
        reject(errorOf(req.status, req.responseText));
      }
    };
    req.onerror = () => reject(new AssetError("unreachable", "the upload did not reach the relay"));
    req.send(file);
  });
}
