// The whiteboard demo page (board-demo.html): a teacher and a student canvas side by side,
// joined through an in-memory relay with delay. For development and for the render bench
// (`window.lecternBoardBench()`), not shipped to users.
import { createApp } from "vue";
import { createI18n } from "vue-i18n";
import { benchRender } from "../bench";
import { boardMessages } from "../messages";
import BoardDemo from "./BoardDemo.vue";
import "../../styles/base.css";

const zh = navigator.language.toLowerCase().startsWith("zh");
const i18n = createI18n({
  legacy: false,
  locale: zh ? "zh-CN" : "en",
  fallbackLocale: "en",
  messages: { en: { ...boardMessages.en }, "zh-CN": { ...boardMessages["zh-CN"] } },
});

(window as unknown as { lecternBoardBench: typeof benchRender }).lecternBoardBench = benchRender;
createApp(BoardDemo).use(i18n).mount("#app");

// `board-demo.html?bench` runs the render bench on load and prints the result into the
// page, so `chromium --headless --dump-dom --virtual-time-budget=60000 URL` reports it.
if (new URLSearchParams(location.search).has("bench")) {
  const out = document.createElement("pre");
  out.id = "bench";
  document.body.append(out);
  out.textContent = "running";
  benchRender().then(
    (r) => (out.textContent = JSON.stringify(r)),
    (e) => (out.textContent = `error: ${String(e)}`),
  );
}
