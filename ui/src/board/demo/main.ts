// The whiteboard demo page (board-demo.html): a teacher and a student canvas side by side,
// joined through an in-memory relay with delay. For development and for the render bench
// (`window.lecternBoardBench()`), not shipped to users.
import { createApp } from "vue";
import { applyLanguage, browserLanguage, i18n } from "../../i18n";
import { benchRender } from "../bench";
import BoardDemo from "./BoardDemo.vue";
import "../../styles/base.css";

applyLanguage(browserLanguage());

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
