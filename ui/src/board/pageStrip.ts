// What a page thumbnail needs to be painted again: a cheap look at the page rather than a
// deep compare, since the strip checks every page whenever the board changes.

import type { Page } from "./types";

/** Changes whenever the page would look different (shapes added, removed, moved, a
 * stroke growing or finishing, another background). */
export function pageLook(page: Page): string {
  const shapes = page.shapes;
  let sum = 0;
  for (const s of shapes) {
    const k = s.kind;
    const n = k.type === "stroke" ? k.points.length * 2 + (k.finished ? 1 : 0) : 1;
    const m = s.transform;
    const t = m ? m.dx * 3 + m.dy * 7 + m.scale * 11 + m.rotation * 13 : 0;
    sum = (sum * 31 + n + t + s.id.length) % 1_000_000_007;
  }
  return `${JSON.stringify(page.background ?? null)}|${shapes.length}|${shapes.at(-1)?.id ?? ""}|${sum}`;
}
