// Which relay errors the page explains, and which of them are worth retrying.

import type { ApiError } from "./protocol";

/** Codes with their own sentence under `student.error.*`; the rest read `student.error.generic`. */
export const EXPLAINED_CODES = [
  "unauthorized",
  "token_expired",
  "wrong_room",
  "forbidden",
  "not_found",
  "capacity",
  "rate_limited",
  "stage_full",
  "unsupported_version",
  // Not from the relay: this browser cannot play WebRTC at all.
  "no_webrtc",
] as const;

/** The i18n key of the sentence shown for an error code. */
export function errorMessageKey(code: string): string {
  return (EXPLAINED_CODES as readonly string[]).includes(code)
    ? `student.error.${code}`
    : "student.error.generic";
}

/** Codes that trying again with the same link cannot fix: the student needs a new link. */
const LINK_CODES: readonly string[] = ["unauthorized", "token_expired", "wrong_room", "forbidden"];

/** True when the link itself is refused, so retrying would only hammer the relay. */
export function isLinkError(error: ApiError): boolean {
  return LINK_CODES.includes(error.code);
}

/**
 * True when a failed WHEP request may succeed later: the teacher is between sessions
 * (`not_found`), the relay is busy, or the network or relay failed without a code.
 */
export function isRetryable(error: ApiError): boolean {
  return ["not_found", "capacity", "rate_limited", "internal", "network"].includes(error.code);
}

/**
 * True when a failed WHIP publish may succeed later: what WHEP retries, and
 * `not_on_stage`, which the relay says when the publish overtook its own `stage` news
 * (the page stops trying as soon as signaling says it is off stage).
 */
export function isPublishRetryable(error: ApiError): boolean {
  return isRetryable(error) || error.code === "not_on_stage";
}
