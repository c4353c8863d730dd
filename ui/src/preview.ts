// The live preview commands. They stream raw bytes over channels, which tauri-specta
// does not describe, so they live here instead of in the generated bindings.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { DeviceSelection, Finding } from "./bindings";

// No bound command mentions these two, so tauri-specta does not emit them; they
// mirror `crates/proto/src/devices.rs`.

/** A capture resolution and frame rate. */
export type VideoMode = { width: number; height: number; fps: number };

/** One reading of the live microphone meter (about 20 per second). */
export type MeterLevel = {
  /** Root-mean-square level over the last window, dBFS (−120 for digital silence). */
  rms_dbfs: number;
  /** Highest absolute sample over the last window, dBFS. */
  peak_dbfs: number;
  /** True when the window held a run of full-scale samples. */
  clipping: boolean;
};

/** What `start_preview` resolves to. */
export type PreviewStatus = {
  /** The mode the camera runs in, or null when there is no camera picture. */
  camera: VideoMode | null;
  /** Every mode the camera offers, largest first. */
  camera_modes: VideoMode[];
  /** Why there is no camera picture (a `camera_*` finding), if there is none. */
  camera_problem: Finding | null;
  /** Why there is no microphone level (a `mic_*` finding), if there is none. */
  microphone_problem: Finding | null;
};

/** Starts the preview: one JPEG per `frames` message, about 20 meter readings a second. */
export async function startPreview(
  selection: DeviceSelection,
  frames: Channel<ArrayBuffer>,
  meter: Channel<MeterLevel>,
): Promise<PreviewStatus> {
  return await invoke<PreviewStatus>("start_preview", { selection, frames, meter });
}

/** Tells the back end the last frame is drawn, so it may send the next one. */
export function ackPreviewFrame(): void {
  invoke("preview_ack").catch(() => undefined);
}

/** Stops the preview and releases the camera and microphone. */
export async function stopPreview(): Promise<void> {
  await invoke("stop_preview");
}

/** The bytes of one frame message, whatever form the channel delivered them in. */
function frameBytes(message: ArrayBuffer | Uint8Array | number[]): BlobPart {
  if (message instanceof ArrayBuffer) return message;
  if (message instanceof Uint8Array) return new Uint8Array(message);
  return new Uint8Array(message);
}

/** Decodes one JPEG frame. */
export function decodeFrame(message: ArrayBuffer | Uint8Array | number[]): Promise<ImageBitmap> {
  return createImageBitmap(new Blob([frameBytes(message)], { type: "image/jpeg" }));
}

/** Draws a decoded frame, resizing the canvas to the frame so nothing is scaled twice. */
export function drawFrame(canvas: HTMLCanvasElement, frame: ImageBitmap): void {
  if (canvas.width !== frame.width) canvas.width = frame.width;
  if (canvas.height !== frame.height) canvas.height = frame.height;
  canvas.getContext("2d")?.drawImage(frame, 0, 0);
}
