import { describe, expect, it } from "vitest";
import { errorMessageKey, EXPLAINED_CODES, isLinkError, isPublishRetryable, isRetryable } from "./errors";

describe("errorMessageKey", () => {
  it("names a sentence for each code a student can meet", () => {
    for (const code of [
      "unauthorized",
      "token_expired",
      "wrong_room",
      "forbidden",
      "not_found",
      "capacity",
      "rate_limited",
    ]) {
      expect(errorMessageKey(code)).toBe(`student.error.${code}`);
    }
    expect(errorMessageKey("stage_full")).toBe("student.error.stage_full");
  });

  it("falls back to the generic sentence for anything else", () => {
    for (const code of ["internal", "bad_sdp", "http_404", "network", "", "no_such_code", "title", "generic"]) {
      expect(errorMessageKey(code), code).toBe("student.error.generic");
    }
  });

  it("explains each code once", () => {
    expect(new Set(EXPLAINED_CODES).size).toBe(EXPLAINED_CODES.length);
  });
});

describe("which errors end the visit", () => {
  const e = (code: string) => ({ code, message: "" });

  it("stops on a refused link", () => {
    for (const code of ["unauthorized", "token_expired", "wrong_room", "forbidden"]) {
      expect(isLinkError(e(code))).toBe(true);
      expect(isRetryable(e(code))).toBe(false);
    }
  });

  it("retries what time can fix", () => {
    for (const code of ["not_found", "capacity", "rate_limited", "internal", "network"]) {
      expect(isRetryable(e(code))).toBe(true);
      expect(isLinkError(e(code))).toBe(false);
    }
    for (const code of ["bad_sdp", "unsupported_codec", "http_415", "no_webrtc"]) {
      expect(isRetryable(e(code))).toBe(false);
    }
  });

  it("retries a publish that overtook the stage news, and nothing a retry cannot fix", () => {
    expect(isRetryable(e("not_on_stage"))).toBe(false);
    expect(isPublishRetryable(e("not_on_stage"))).toBe(true);
    for (const code of ["capacity", "network", "internal"]) expect(isPublishRetryable(e(code))).toBe(true);
    for (const code of ["forbidden", "unsupported_codec", "bad_sdp", "token_expired"]) {
      expect(isPublishRetryable(e(code))).toBe(false);
    }
  });
});
