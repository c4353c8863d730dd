// WHEP (watching over WebRTC-HTTP) as the relay speaks it: one offer, one answer with all
// of the relay's candidates (it is ICE-lite), `DELETE` on the session to leave.

import { parseApiError, type ApiError } from "./protocol";

/** A refused or failed WHEP request. `code` is the relay's, or `network` / `http_<status>`. */
export class WhepError extends Error {
  constructor(
    readonly error: ApiError,
    readonly status: number,
  ) {
    super(`${error.code}: ${error.message}`);
    this.name = "WhepError";
  }
}

export interface WhepAnswer {
  sdp: string;
  /** The session's absolute URL, from `Location`; null if the relay sent none. */
  session: string | null;
}

/** POSTs an offer; resolves to the answer or throws a `WhepError`. */
export async function postOffer(
  fetchFn: typeof fetch,
  url: string,
  token: string,
  offer: string,
): Promise<WhepAnswer> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/sdp" },
      body: offer,
      cache: "no-store",
    });
  } catch (e) {
    throw new WhepError({ code: "network", message: e instanceof Error ? e.message : String(e) }, 0);
  }
  const body = await response.text().catch(() => "");
  if (!response.ok) {
    const error = parseApiError(body) ?? {
      code: response.status >= 500 ? "internal" : `http_${response.status}`,
      message: body.slice(0, 200),
    };
    throw new WhepError(error, response.status);
  }
  const location = response.headers.get("Location");
  return { sdp: body, session: location ? new URL(location, url).toString() : null };
}

/** Ends a session. With `keepalive` the request outlives the page (for `pagehide`). */
export async function deleteSession(
  fetchFn: typeof fetch,
  session: string,
  token: string,
  keepalive = false,
): Promise<void> {
  try {
    await fetchFn(session, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${token}` },
      keepalive,
    });
  } catch {
    // The relay drops sessions whose peer goes quiet; a lost DELETE only takes longer.
  }
}

type Gathering = Pick<RTCPeerConnection, "iceGatheringState" | "addEventListener" | "removeEventListener">;

/**
 * Resolves when ICE gathering completes, or after `timeoutMs`, whichever is first. The
 * offer then carries the candidates gathered so far; the relay needs no trickle.
 */
export function waitForIceGathering(pc: Gathering, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export interface MediaCounters {
  /** Video frames decoded so far (inbound-rtp video `framesDecoded`). */
  framesDecoded: number;
  /** Audio energy received so far (inbound-rtp audio `totalAudioEnergy`). */
  audioEnergy: number;
}

/** Sums the counters of a `getStats()` report; 0 when a stream has none yet. */
export function summarizeStats(report: Iterable<unknown>): MediaCounters {
  let framesDecoded = 0;
  let audioEnergy = 0;
  for (const entry of report) {
    if (typeof entry !== "object" || entry === null) continue;
    const s = entry as Record<string, unknown>;
    if (s.type !== "inbound-rtp") continue;
    // Older browsers name the kind `mediaType`.
    const kind = s.kind ?? s.mediaType;
    if (kind === "video" && typeof s.framesDecoded === "number") framesDecoded += s.framesDecoded;
    if (kind === "audio" && typeof s.totalAudioEnergy === "number") audioEnergy += s.totalAudioEnergy;
  }
  return { framesDecoded, audioEnergy };
}
