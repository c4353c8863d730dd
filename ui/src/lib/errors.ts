import type { ApiError, ErrorCode } from "../bindings";

const CODES: readonly ErrorCode[] = [
  "device_not_found",
  "device_unavailable",
  "storage",
  "not_found",
  "io",
  "invalid_input",
  "busy",
  "internal",
  "unreachable",
  "connection_failed",
  "forbidden",
  "not_on_stage",
  "unauthorized",
  "token_expired",
  "wrong_room",
  "capacity",
];

/** Anything a command rejected with, as an ApiError the UI can name by code. */
export function toApiError(e: unknown): ApiError {
  if (typeof e === "object" && e !== null && "code" in e) {
    const { code, message } = e as { code: unknown; message?: unknown };
    if (typeof code === "string" && (CODES as readonly string[]).includes(code)) {
      return { code: code as ErrorCode, message: String(message ?? "") };
    }
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: "internal", message };
}

/** The i18n key for an error's main text. */
export function errorKey(error: ApiError): string {
  return `error.${error.code}`;
}
