import { describe, expect, it } from "vitest";
import type { PublishStats } from "../bindings";
import { HISTORY_SECONDS, graphMax, linkTone, networkWarning, pushStats, sparkline } from "./stats";

function stats(over: Partial<PublishStats> = {}): PublishStats {
  return {
    at_s: 0,
    send_kbps: 0,
    fec_kbps: 0,
    video_kbps: 0,
    audio_kbps: 0,
    estimate_kbps: 0,
    fps: 0,
    width: 0,
    height: 0,
    rtt_ms: null,
    loss_percent: null,
    nacks: 0,
    plis: 0,
    keyframes: 0,
    frames_skipped: 0,
    encode_ms: 0,
    ...over,
  };
}

describe("publish stats", () => {
  it("keeps a bounded history", () => {
    let h: PublishStats[] = [];
    for (let i = 0; i < HISTORY_SECONDS + 10; i++) h = pushStats(h, stats({ at_s: i }));
    expect(h).toHaveLength(HISTORY_SECONDS);
    expect(h[0].at_s).toBe(10);
  });

  it("draws the newest point at the right edge and scales to the maximum", () => {
    const line = sparkline([0, 500, 1000], 1000, 590, 100).split(" ");
    expect(line).toHaveLength(3);
    expect(line[2]).toBe("590.0,0.0");
    expect(line[0].endsWith(",100.0")).toBe(true);
    expect(sparkline([], 1000, 100, 100)).toBe("");
  });

  it("rounds the scale up", () => {
    expect(graphMax([stats({ send_kbps: 120 })])).toBe(500);
    expect(graphMax([stats({ estimate_kbps: 2100 })])).toBe(3000);
  });

  it("names the link's tone and network trouble", () => {
    expect(linkTone(null)).toBe("idle");
    expect(
      linkTone({ state: "reconnecting", attempt: 2, retry_in_ms: 500, error: null, reconnects: 0 }),
    ).toBe("warn");
    expect(networkWarning(stats({ loss_percent: 7 }))).toBe("loss");
    expect(networkWarning(stats({ rtt_ms: 450 }))).toBe("rtt");
    expect(networkWarning(stats({ loss_percent: 1, rtt_ms: 20 }))).toBeNull();
  });
});
