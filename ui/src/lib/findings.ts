import type { Area, Finding, FindingCode, ParamValue, Severity } from "../bindings";

/** Every finding code with the parameters its messages may use (mirrors the Rust side). */
export const FINDING_PARAMS: Record<FindingCode, readonly string[]> = {
  camera_ok: ["fps", "width", "height"],
  camera_missing: [],
  camera_busy: ["device"],
  camera_open_failed: ["device", "reason"],
  camera_no_format: ["device"],
  camera_stopped: ["device", "seconds"],
  camera_low_fps: ["fps", "requested"],
  camera_low_resolution: ["width", "height", "requested_width", "requested_height"],
  camera_black: ["ratio"],
  camera_frozen: ["ratio"],
  camera_dark: ["luma"],
  camera_backlit: [],
  mic_ok: ["rms", "peak"],
  mic_missing: [],
  mic_busy: ["device"],
  mic_open_failed: ["device", "reason"],
  mic_stopped: ["device", "seconds"],
  mic_muted: ["device"],
  mic_silent: ["rms"],
  mic_quiet: ["rms"],
  mic_clipping: ["runs"],
  mic_noisy: ["floor"],
  speakers_heard: ["delay_ms", "level"],
  speakers_echo_risk: ["level"],
  speakers_not_heard: [],
  speakers_ask_user: [],
  speakers_confirmed: [],
  speakers_not_confirmed: [],
  speakers_missing: [],
  speakers_open_failed: ["device", "reason"],
  encoder_ok: ["resolution", "ms"],
  encoder_slow: ["ms"],
  encoder_failed: ["reason"],
  network_ok: ["rtt", "upload"],
  network_high_latency: ["rtt", "rtt95"],
  network_jitter: ["jitter"],
  network_loss: ["loss"],
  network_upload_low: ["upload", "resolution"],
  network_upload_too_low: ["upload"],
  network_tcp_only: ["relay"],
  network_unreachable: ["relay"],
};

export const FINDING_CODES = Object.keys(FINDING_PARAMS) as FindingCode[];
export const AREAS: readonly Area[] = ["camera", "microphone", "speakers", "encoder", "network"];

const SEVERITY_RANK: Record<Severity, number> = { blocker: 3, warning: 2, info: 1, ok: 0 };

/** Higher is worse. */
export function severityRank(severity: Severity): number {
  return SEVERITY_RANK[severity];
}

function trimNumber(value: number, decimals: number, locale: string): string {
  return new Intl.NumberFormat(locale, {
    maximumFractionDigits: decimals,
    useGrouping: false,
  }).format(value);
}

/**
 * How one parameter reads in a message. Levels in dBFS and durations are whole numbers,
 * shares (0–1) become percentages, and everything else keeps at most one decimal,
 * like the Rust side's `Display`.
 */
export function formatParam(name: string, value: ParamValue, locale = "en"): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  switch (name) {
    case "ratio": {
      // A share of frames: 0–1 from the back end; a value above 1 is already a percentage.
      const percent = value <= 1 ? value * 100 : value;
      return `${trimNumber(Math.round(percent), 0, locale)}%`;
    }
    case "rms":
    case "peak":
    case "floor":
    case "level":
    case "luma":
    case "ms":
    case "delay_ms":
    case "width":
    case "height":
    case "requested_width":
    case "requested_height":
    case "runs":
    case "rtt":
    case "rtt95":
    case "jitter":
    case "upload":
      return trimNumber(Math.round(value), 0, locale);
    default:
      return trimNumber(value, 1, locale);
  }
}

/** All parameters of a finding, formatted for interpolation. */
export function formatParams(
  params: Finding["params"],
  locale = "en",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) out[name] = formatParam(name, value, locale);
  }
  return out;
}

export interface AreaGroup {
  area: Area;
  worst: Severity;
  findings: Finding[];
}

/**
 * Findings grouped by area: the area with the worst finding comes first (blockers lead),
 * ties keep the fixed camera → microphone → speakers → encoder → network order; inside a group
 * the worst finding comes first.
 */
export function groupFindings(findings: readonly Finding[]): AreaGroup[] {
  const groups: AreaGroup[] = [];
  for (const area of AREAS) {
    const inArea = findings
      .filter((f) => f.area === area)
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
    if (inArea.length > 0) groups.push({ area, worst: inArea[0].severity, findings: inArea });
  }
  return groups.sort((a, b) => severityRank(b.worst) - severityRank(a.worst));
}
