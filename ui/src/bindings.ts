// Hand-written stand-in for the file tauri-specta generates from `crates/proto`.
// It will be overwritten by the generated bindings; keep the shape identical.

/** user-defined commands **/

export const commands = {
  async listDevices(): Promise<DeviceList> {
    return await TAURI_INVOKE("list_devices");
  },
  async systemLanguage(): Promise<Language> {
    return await TAURI_INVOKE("system_language");
  },
  async getSettings(): Promise<Result<Settings, ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("get_settings") };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async saveSettings(settings: Settings): Promise<Result<null, ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("save_settings", { settings }) };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async runSelfcheck(
    selection: DeviceSelection,
    seconds: number,
    progress: TAURI_CHANNEL<SelfCheckProgress>,
  ): Promise<Result<SelfCheckReport, ApiError>> {
    try {
      return {
        status: "ok",
        data: await TAURI_INVOKE("run_selfcheck", { selection, seconds, progress }),
      };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async selfcheckHistory(limit: number): Promise<Result<ReportSummary[], ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("selfcheck_history", { limit }) };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async getReport(id: number): Promise<Result<SelfCheckReport, ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("get_report", { id }) };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async exportReport(id: number): Promise<Result<string, ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("export_report", { id }) };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
  async playTestTone(speaker: string | null): Promise<Result<null, ApiError>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("play_test_tone", { speaker }) };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
};

/** user-defined types **/

/** The error shape of every IPC command and HTTP endpoint: `{ code, message }`. */
export type ApiError = { code: ErrorCode; message: string };
/** Which part of the set-up a finding is about. */
export type Area = "camera" | "microphone" | "speakers" | "encoder";
/** What the camera delivered during the check. */
export type CameraStats = {
  device: string;
  requested_width: number;
  requested_height: number;
  requested_fps: number;
  width: number;
  height: number;
  delivered_fps: number;
  frames: number;
  /** Share of frames with mean luma below 20. */
  black_ratio: number;
  /** Share of frames nearly identical to the one before. */
  frozen_ratio: number;
  /** Mean luma over all frames, 0–255. */
  mean_luma: number;
};
/** One capture or playback device, real or synthetic. */
export type DeviceInfo = {
  /** Stable across runs where the platform allows; `synthetic:*` for Lectern's test devices. */
  id: string;
  /** What the operating system calls the device. */
  name: string;
  kind: DeviceKind;
  /** True for Lectern's synthetic test devices. */
  synthetic: boolean;
  /** True for the system's default device of this kind. */
  is_default: boolean;
};
/** What a device does for the class. */
export type DeviceKind = "camera" | "microphone" | "speaker";
/** Every device Lectern can use right now, by kind. */
export type DeviceList = {
  cameras: DeviceInfo[];
  microphones: DeviceInfo[];
  speakers: DeviceInfo[];
};
/** The devices the teacher picked; `None` means "the default, or the first one there is". */
export type DeviceSelection = {
  camera: string | null;
  microphone: string | null;
  speaker: string | null;
};
/** Measured encode speed at one resolution. */
export type EncodeSpeed = { resolution: PublishResolution; ms_per_frame: number };
/** What the encoder probe measured. */
export type EncoderStats = {
  speeds: EncodeSpeed[];
  /** The largest resolution encoded within half the 30 fps frame budget. */
  sustainable: PublishResolution | null;
};
/** Stable error codes the UI matches on; the message is for logs and humans, never parsed. */
export type ErrorCode =
  | "device_not_found"
  | "device_unavailable"
  | "storage"
  | "not_found"
  | "io"
  | "invalid_input"
  | "busy"
  | "internal";
/** One thing the self-check found, with the values its message needs. */
export type Finding = {
  code: FindingCode;
  area: Area;
  severity: Severity;
  /** Values for the message and the fix, e.g. `{"fps": 12.0, "requested": 30.0}`. */
  params: Partial<{ [key in string]: ParamValue }>;
};
/** Every finding the self-check can report; the serialized name is the stable code. */
export type FindingCode =
  | "camera_ok"
  | "camera_missing"
  | "camera_busy"
  | "camera_open_failed"
  | "camera_no_format"
  | "camera_stopped"
  | "camera_low_fps"
  | "camera_low_resolution"
  | "camera_black"
  | "camera_frozen"
  | "camera_dark"
  | "camera_backlit"
  | "mic_ok"
  | "mic_missing"
  | "mic_busy"
  | "mic_open_failed"
  | "mic_stopped"
  | "mic_muted"
  | "mic_silent"
  | "mic_quiet"
  | "mic_clipping"
  | "mic_noisy"
  | "speakers_heard"
  | "speakers_echo_risk"
  | "speakers_not_heard"
  | "speakers_ask_user"
  | "speakers_missing"
  | "speakers_open_failed"
  | "encoder_ok"
  | "encoder_slow"
  | "encoder_failed";
/** The UI languages Lectern ships. */
export type Language = "zh-CN" | "en";
/** What the microphone delivered during the check. */
export type MicStats = {
  device: string;
  rms_dbfs: number;
  peak_dbfs: number;
  /** The quiet level between sounds (10th percentile of 50 ms windows), dBFS. */
  noise_floor_dbfs: number;
  /** Runs of at least six consecutive full-scale samples. */
  clipping_runs: number;
  /** Seconds of audio analysed. */
  seconds: number;
};
/** A number or a piece of text that a finding's message interpolates. */
export type ParamValue = number | string;
/** A publish resolution Lectern can choose. */
export type PublishResolution = "360p" | "540p" | "720p";
/** One line of the self-check history. */
export type ReportSummary = {
  id: number;
  created_at: string;
  verdict: Verdict;
  warnings: number;
  blockers: number;
};
/** Progress of a running self-check. */
export type SelfCheckProgress = {
  stage: Stage;
  /** 0–1 over the whole check. */
  fraction: number;
};
/** A whole self-check: the verdict, the findings and the measurements behind them. */
export type SelfCheckReport = {
  /** Row id once stored. */
  id: number | null;
  /** When the check finished, RFC 3339 UTC. */
  created_at: string;
  duration_ms: number;
  app_version: string;
  os: string;
  verdict: Verdict;
  findings: Finding[];
  devices: DeviceSelection;
  camera: CameraStats | null;
  microphone: MicStats | null;
  speakers: SpeakerStats | null;
  encoder: EncoderStats | null;
};
/** What the teacher chose, persisted in the local database. */
export type Settings = {
  /** `None` follows the OS locale. */
  language: Language | null;
  devices: DeviceSelection;
};
/** How much a finding matters for the class about to start. */
export type Severity = "ok" | "info" | "warning" | "blocker";
/** How the speakers were checked. */
export type SpeakerMethod = "microphone" | "ask_user";
/** What the speaker test measured. */
export type SpeakerStats = {
  device: string;
  method: SpeakerMethod;
  heard: boolean | null;
  /** Peak of the normalized cross-correlation between the played and the recorded signal, 0–1. */
  correlation: number;
  /** Speaker-to-microphone delay, ms. */
  delay_ms: number | null;
  /** Level of the recorded test signal, dBFS. */
  level_dbfs: number | null;
};
/** The stage a running self-check has reached, for the progress bar. */
export type Stage = "devices" | "camera_and_microphone" | "speakers" | "encoder" | "done";
/** The one answer a teacher reads. */
export type Verdict = "ready" | "ready_with_warnings" | "not_ready";
export type TAURI_CHANNEL<TSend> = null;

/** tauri-specta globals **/

import { invoke as TAURI_INVOKE } from "@tauri-apps/api/core";

export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };
