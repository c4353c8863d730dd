// The publish figures the Class page shows: a bounded history for the graph, and how
// to read the link's state.

import type { PublishStats, PublishStatus } from "../bindings";

/** Seconds of history the graph keeps. */
export const HISTORY_SECONDS = 60;

/** Appends one second of figures, keeping the last `HISTORY_SECONDS`. */
export function pushStats(history: PublishStats[], stats: PublishStats): PublishStats[] {
  const next = history.length >= HISTORY_SECONDS ? history.slice(1) : history.slice();
  next.push(stats);
  return next;
}

/** An SVG polyline `points` attribute for `values` in a `width`×`height` box, 0 at the bottom. */
export function sparkline(values: number[], max: number, width: number, height: number): string {
  if (values.length === 0 || max <= 0) return "";
  const step = values.length > 1 ? width / (HISTORY_SECONDS - 1) : 0;
  const offset = width - step * (values.length - 1);
  return values
    .map((v, i) => {
      const x = offset + i * step;
      const y = height - (Math.min(Math.max(v, 0), max) / max) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

/** A round top for the graph's scale: the next of 500, 1000, 2000, 3000 … kbit/s. */
export function graphMax(history: PublishStats[]): number {
  const peak = Math.max(0, ...history.flatMap((s) => [s.send_kbps, s.estimate_kbps]));
  if (peak <= 500) return 500;
  return Math.ceil(peak / 1000) * 1000;
}

export type LinkTone = "ok" | "warn" | "bad" | "idle";

/** How the link's badge looks. */
export function linkTone(status: PublishStatus | null): LinkTone {
  switch (status?.state) {
    case "live":
      return "ok";
    case "connecting":
    case "reconnecting":
      return "warn";
    case "failed":
      return "bad";
    default:
      return "idle";
  }
}

/** Whether the network is struggling enough to say so (loss or a high round trip). */
export function networkWarning(stats: PublishStats | null): "loss" | "rtt" | null {
  if (!stats) return null;
  if ((stats.loss_percent ?? 0) >= 5) return "loss";
  if ((stats.rtt_ms ?? 0) >= 300) return "rtt";
  return null;
}
