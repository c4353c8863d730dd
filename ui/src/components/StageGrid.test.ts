import { describe, expect, it } from "vitest";
import { computed, createSSRApp } from "vue";
import { renderToString } from "vue/server-renderer";
import { createI18n } from "vue-i18n";
import type { SeatView } from "../class/seats";
import type { Stage } from "../class/useStage";
import en from "../locales/en.json";
import zhCN from "../locales/zh-CN.json";
import StageGrid from "./StageGrid.vue";

// What a WebDriver test finds on the page (the test ids and their attributes), and that
// every line the grid shows has a message in both languages.

const view = (peer: string, over: Partial<SeatView> = {}): SeatView => ({
  peer,
  name: peer,
  transport: "whip",
  state: "live",
  media: "video",
  audio: true,
  speaking: false,
  level: 0,
  width: 640,
  height: 480,
  fps: 15,
  error: null,
  muteRequested: null,
  listening: true,
  ...over,
});

async function render(tiles: SeatView[], locale: "en" | "zh-CN" = "en") {
  const missing: string[] = [];
  const i18n = createI18n({
    legacy: false,
    locale,
    messages: { en, "zh-CN": zhCN },
    missing: (_, key) => void missing.push(key),
  });
  const stage = {
    tiles: computed(() => tiles),
    onStage: computed(() => tiles.length),
    maxStage: computed(() => 6),
    toggleMute: () => true,
    toggleListen: () => undefined,
    attach: () => () => undefined,
  } as unknown as Stage;
  const app = createSSRApp(StageGrid, { stage });
  app.use(i18n);
  const html = await renderToString(app);
  return { html, missing };
}

describe("StageGrid", () => {
  it("carries the test ids and attributes end-to-end tests read", async () => {
    const { html } = await render([
      view("s-ana", { name: "Ana", muteRequested: true }),
      view("s-bo", { state: "joining", transport: null }),
    ]);
    expect(html).toContain('data-testid="stage-grid"');
    expect(html).toContain('data-testid="stage-count"');
    expect(html).toMatch(/data-testid="stage-tile" data-peer="s-ana" data-state="live"/);
    expect(html).toMatch(/data-testid="stage-tile" data-peer="s-bo" data-state="joining"/);
    expect(html.match(/data-testid="stage-video"[^>]*data-frames="0"/g)).toHaveLength(2);
    expect(html.match(/data-testid="stage-mute"/g)).toHaveLength(2);
    expect(html.match(/data-testid="stage-remove"/g)).toHaveLength(2);
    expect(html).toContain('data-testid="stage-mute-requested"');
    expect(html).toContain('aria-label="Ask Ana to unmute"');
    expect(html).toContain('aria-label="Move Ana off the stage"');
    expect(html.match(/data-testid="stage-listen"/g)).toHaveLength(2);
    expect(html).toMatch(/data-on="true" data-testid="stage-listen"/);
    expect(html).toContain('aria-label="Silence Ana on this computer"');
    expect(html).toContain("2 / 6 on stage");
    expect(html).toContain("Joining the stage…");
    expect(html).toMatch(/data-testid="stage-name"[^>]*>Ana</);
  });

  it.each(["en", "zh-CN"] as const)("has every message it shows in %s", async (locale) => {
    const { missing } = await render(
      [
        view("a", { state: "connecting" }),
        view("b", { state: "reconnecting", error: { code: "connection_failed", message: "ICE failed" } }),
        view("c", { state: "joining", transport: null }),
        view("d", { media: "audio_only", speaking: true, level: 0.2, transport: "rtmp", muteRequested: true }),
        view("e", { media: "camera_off", audio: false }),
        view("f", { media: "no_picture", muteRequested: false, listening: false }),
      ],
      locale,
    );
    expect(missing).toEqual([]);
    expect((await render([], locale)).missing).toEqual([]);
  });

  it("tells silencing on this computer from asking the student to mute", async () => {
    const { html } = await render([view("s-ana", { name: "Ana", listening: false, muteRequested: true })]);
    expect(html).toMatch(/data-on="false" data-testid="stage-listen"/);
    expect(html).toContain('aria-label="Hear Ana on this computer"');
    expect(html).toContain("the class hears them either way");
    expect(html).toContain('data-testid="stage-silenced-here"');
    expect(html).toContain("Silenced here");
    expect(html).toContain('aria-label="Ask Ana to unmute"');
    expect((await render([view("s-ana")])).html).not.toContain('data-testid="stage-silenced-here"');
  });

  it("says when no one is on stage", async () => {
    const { html } = await render([]);
    expect(html).toContain("0 / 6 on stage");
    expect(html).not.toContain('data-testid="stage-tile"');
  });
});
