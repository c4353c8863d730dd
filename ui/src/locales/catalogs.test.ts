import { describe, expect, it } from "vitest";
import { createI18n } from "vue-i18n";
import { IMPORT_ERROR_CODES, importErrorKey } from "../board/importPdf";
import { SWATCHES } from "../board/palette";
import { refusalKey } from "../board/session";
import { TOOLS } from "../board/tools";
import { FINDING_CODES, FINDING_PARAMS } from "../lib/findings";
import { EXPLAINED_CODES } from "../student/errors";
import en from "./en.json";
import zhCN from "./zh-CN.json";

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string") out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

/** The `{name}` placeholders of a message, or null if its braces are not plain placeholders. */
function placeholders(message: string): string[] | null {
  const names: string[] = [];
  const rest = message.replace(/\{([a-z_][a-z0-9_]*)\}/gi, (_, name: string) => {
    names.push(name);
    return "";
  });
  return /[{}]/.test(rest) ? null : names.sort();
}

const catalogs = { en: flatten(en as Tree), "zh-CN": flatten(zhCN as Tree) };

const REQUIRED = [
  ...["ready", "ready_with_warnings", "not_ready"].flatMap((v) => [
    `verdict.${v}`,
    `verdict.${v}_hint`,
  ]),
  ...["camera", "microphone", "speakers", "encoder", "network"].map((a) => `area.${a}`),
  ...["ok", "info", "warning", "blocker"].map((s) => `severity.${s}`),
  ...FINDING_CODES.flatMap((c) => [`finding.${c}.title`, `finding.${c}.fix`]),
  ...["devices", "camera_and_microphone", "speakers", "encoder", "network", "done"].map(
    (s) => `stage.${s}`,
  ),
  ...["udp", "tcp_only", "unreachable"].map((t) => `network.transport_${t}`),
  ...[
    "device_not_found",
    "device_unavailable",
    "storage",
    "not_found",
    "io",
    "invalid_input",
    "busy",
    "internal",
  ].map((c) => `error.${c}`),
  // The student page: a sentence per explained error code, and one per status.
  ...[...EXPLAINED_CODES, "generic", "title"].map((c) => `student.error.${c}`),
  ...["no_token", "connecting", "waiting", "live", "reconnecting", "error", "replaced"].map(
    (s) => `student.status.${s}`,
  ),
  // The whiteboard: every tool and colour, and the sentence for every refusal it explains.
  ...TOOLS.map((k) => `board.tool.${k}`),
  ...SWATCHES.map((s) => `board.colours.${s.name}`),
  ...["forbidden", "rate_limited", "too_many_pages", "shape_not_found", "unsupported_version", "x"].flatMap(
    (code) => [refusalKey(code, true), refusalKey(code, false)],
  ),
  // Importing a document: every error it explains, and the fallback.
  ...[...IMPORT_ERROR_CODES, "x"].map(importErrorKey),
  "board.background_failed",
];

describe("catalogs", () => {
  it("have exactly the same keys", () => {
    expect([...catalogs["zh-CN"].keys()].sort()).toEqual([...catalogs.en.keys()].sort());
  });

  it.each(Object.entries(catalogs))("%s has every required key, non-empty", (_, messages) => {
    for (const key of REQUIRED) expect(messages.get(key)?.trim(), key).toBeTruthy();
  });

  it.each(Object.entries(catalogs))("%s uses only plain {name} placeholders", (_, messages) => {
    for (const [key, message] of messages) {
      expect(message, key).not.toMatch(/[@|]/);
      expect(placeholders(message), key).not.toBeNull();
    }
  });

  it("use the same placeholders in both languages", () => {
    for (const [key, message] of catalogs.en) {
      expect(placeholders(catalogs["zh-CN"].get(key) ?? ""), key).toEqual(placeholders(message));
    }
  });

  it("only use the parameters each finding code carries", () => {
    for (const messages of Object.values(catalogs)) {
      for (const code of FINDING_CODES) {
        for (const part of ["title", "fix"]) {
          const used = placeholders(messages.get(`finding.${code}.${part}`) ?? "") ?? [];
          for (const name of used) expect(FINDING_PARAMS[code], `${code}.${part}`).toContain(name);
        }
      }
    }
  });

  it("render through vue-i18n with every placeholder filled", () => {
    const i18n = createI18n({ legacy: false, locale: "en", messages: { en, "zh-CN": zhCN } });
    for (const [locale, messages] of Object.entries(catalogs)) {
      i18n.global.locale.value = locale as "en" | "zh-CN";
      for (const [key, message] of messages) {
        const params = Object.fromEntries((placeholders(message) ?? []).map((n) => [n, `<${n}>`]));
        const out = i18n.global.t(key, params);
        expect(out, key).not.toMatch(/[{}]/);
        for (const name of Object.keys(params)) expect(out, key).toContain(`<${name}>`);
      }
    }
  });
});
