import { describe, expect, it } from "vitest";
import { createSSRApp } from "vue";
import { renderToString } from "vue/server-renderer";
import { createI18n } from "vue-i18n";
import en from "../../locales/en.json";
import zhCN from "../../locales/zh-CN.json";
import type { StageTile } from "../stagePeers";
import StageStrip from "./StageStrip.vue";

// What an end-to-end test finds on a student's page for classmates on stage (the test ids
// and their attributes), and that every line the strip shows has a message in both languages.

const tile = (peer: string, over: Partial<StageTile> = {}): StageTile => ({
  peer,
  name: peer,
  publishing: true,
  transport: "whip",
  video: true,
  audio: true,
  state: "live",
  level: 0,
  speaking: false,
  ...over,
});

async function render(tiles: StageTile[], soundBlocked = false, locale: "en" | "zh-CN" = "en") {
  const missing: string[] = [];
  const i18n = createI18n({
    legacy: false,
    locale,
    messages: { en, "zh-CN": zhCN },
    missing: (_, key) => void missing.push(key),
  });
  const app = createSSRApp(StageStrip, { tiles, soundBlocked });
  app.use(i18n);
  return { html: await renderToString(app), missing };
}

describe("StageStrip", () => {
  it("carries the test ids and attributes end-to-end tests read", async () => {
    const { html } = await render([
      tile("s-ben", { name: "Ben", speaking: true, level: 0.2 }),
      tile("s-chen", { state: "connecting", publishing: false, transport: null }),
      tile("s-dee", { state: "retrying" }),
    ]);
    expect(html).toContain('data-testid="stage-strip"');
    expect(html).toMatch(/data-testid="stage-peer" data-peer="s-ben" data-state="live" data-speaking="true"/);
    expect(html).toMatch(/data-testid="stage-peer" data-peer="s-chen" data-state="connecting"/);
    expect(html).toMatch(/data-testid="stage-peer" data-peer="s-dee" data-state="retrying"/);
    expect(html.match(/data-testid="stage-peer-video"/g)).toHaveLength(3);
    // The classmate's sound plays from the tile's own element: never muted by the page.
    expect(html).not.toMatch(/<video[^>]*muted/);
    expect(html).toContain('aria-label="Ben is speaking"');
    expect(html).toContain(">Ben<");
    expect(html).toContain("Getting ready…");
    expect(html).not.toContain('data-testid="stage-sound-enable"');
  });

  it("offers a tap for sound when the browser plays classmates muted", async () => {
    expect((await render([tile("s-ben")], true)).html).toContain('data-testid="stage-sound-enable"');
  });

  it.each(["en", "zh-CN"] as const)("has every message it shows in %s", async (locale) => {
    const { missing } = await render(
      [
        tile("a", { state: "connecting" }),
        tile("b", { state: "connecting", publishing: false, transport: null }),
        tile("c", { state: "retrying" }),
        tile("d", { state: "failed" }),
        tile("e", { video: false, transport: "rtmp" }),
        tile("f", { audio: false }),
        tile("g", { speaking: true, level: 0.4 }),
      ],
      true,
      locale,
    );
    expect(missing).toEqual([]);
  });
});
