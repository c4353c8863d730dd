import { describe, expect, it } from "vitest";
import type { Finding, FindingCode, Severity } from "../bindings";
import { readFileSync } from "node:fs";
import { FINDING_CODES, formatParam, formatParams, groupFindings } from "./findings";
import { meterFraction, meterZone } from "./meter";

// The Rust source of the finding codes, read from the workspace (the single source of truth).
const rustSelfcheck = readFileSync(new URL("../../../crates/proto/src/selfcheck.rs", import.meta.url), "utf8");

function finding(code: FindingCode, severity: Severity, params: Finding["params"] = {}): Finding {
  const area = code.startsWith("camera")
    ? "camera"
    : code.startsWith("mic")
      ? "microphone"
      : code.startsWith("speakers")
        ? "speakers"
        : code.startsWith("network")
          ? "network"
          : "encoder";
  return { code, area, severity, params };
}

describe("formatParam", () => {
  it("rounds levels and durations to whole numbers", () => {
    expect(formatParam("rms", -23.456)).toBe("-23");
    expect(formatParam("floor", -47.6)).toBe("-48");
    expect(formatParam("delay_ms", 41.7)).toBe("42");
    expect(formatParam("ms", 12.3)).toBe("12");
    expect(formatParam("width", 1280)).toBe("1280");
    expect(formatParam("rtt", 54.2)).toBe("54");
    expect(formatParam("upload", 1499.6)).toBe("1500");
    expect(formatParam("loss", 10.17)).toBe("10.2");
  });

  it("keeps one decimal elsewhere and drops a trailing zero", () => {
    expect(formatParam("fps", 29.97)).toBe("30");
    expect(formatParam("fps", 12.34)).toBe("12.3");
    expect(formatParam("requested", 30)).toBe("30");
    expect(formatParam("seconds", 2.25)).toBe("2.3");
  });

  it("shows shares as percentages", () => {
    expect(formatParam("ratio", 0.934)).toBe("93%");
    expect(formatParam("ratio", 1)).toBe("100%");
    expect(formatParam("ratio", 45)).toBe("45%");
  });

  it("passes text through untouched and never groups digits", () => {
    expect(formatParam("resolution", "720p")).toBe("720p");
    expect(formatParam("reason", "Permission denied (os error 13)")).toBe(
      "Permission denied (os error 13)",
    );
    expect(formatParam("width", 12345, "en")).toBe("12345");
  });

  it("formats a whole params map and skips missing values", () => {
    expect(formatParams({ fps: 12.04, requested: 30, device: "Cam", gone: undefined })).toEqual({
      fps: "12",
      requested: "30",
      device: "Cam",
    });
  });
});

describe("groupFindings", () => {
  it("puts the area with a blocker first and the worst finding first in each area", () => {
    const groups = groupFindings([
      finding("camera_ok", "ok"),
      finding("encoder_ok", "ok"),
      finding("mic_noisy", "warning"),
      finding("mic_silent", "blocker"),
      finding("speakers_not_heard", "info"),
    ]);
    expect(groups.map((g) => g.area)).toEqual(["microphone", "speakers", "camera", "encoder"]);
    expect(groups[0].findings.map((f) => f.code)).toEqual(["mic_silent", "mic_noisy"]);
    expect(groups[0].worst).toBe("blocker");
  });

  it("puts the network after the devices when it is no worse", () => {
    const groups = groupFindings([
      finding("network_tcp_only", "warning"),
      finding("camera_black", "warning"),
      finding("encoder_ok", "ok"),
    ]);
    expect(groups.map((g) => g.area)).toEqual(["camera", "network", "encoder"]);
  });

  it("returns nothing for no findings", () => {
    expect(groupFindings([])).toEqual([]);
  });
});

describe("finding codes", () => {
  it("match the codes the Rust side serializes", () => {
    const rust = [...rustSelfcheck.matchAll(/\w+ => "([a-z_]+)"/g)]
      .map((m) => m[1])
      .filter((code) => /^(camera|mic|speakers|encoder|network)_/.test(code));
    expect(new Set(rust)).toEqual(new Set(FINDING_CODES));
  });
});

describe("meter", () => {
  it("maps −60…0 dBFS onto 0…1 and clamps outside", () => {
    expect(meterFraction(-120)).toBe(0);
    expect(meterFraction(-30)).toBeCloseTo(0.5);
    expect(meterFraction(3)).toBe(1);
    expect(meterFraction(Number.NaN)).toBe(0);
  });

  it("names the zone a level falls in", () => {
    expect(meterZone(-120)).toBe("silent");
    expect(meterZone(-30)).toBe("green");
    expect(meterZone(-12)).toBe("amber");
    expect(meterZone(-1)).toBe("red");
  });
});
