import { onUnmounted, ref, type Ref } from "vue";
import { Channel } from "@tauri-apps/api/core";
import type { ApiError, DeviceSelection } from "../bindings";
import { inTauri } from "../lib/env";
import { toApiError } from "../lib/errors";
import {
  ackPreviewFrame,
  decodeFrame,
  drawFrame,
  startPreview,
  stopPreview,
  type MeterLevel,
  type PreviewStatus,
} from "../preview";

export type PreviewState = "idle" | "starting" | "live" | "failed";

const CLIP_HOLD_MS = 900;

/**
 * The live camera picture and microphone level for one canvas. Every start or stop
 * begins a new generation; messages from an older one are ignored, so a slow start
 * can never draw over a newer preview.
 */
export function usePreview(canvas: Ref<HTMLCanvasElement | null>) {
  const state = ref<PreviewState>("idle");
  const status = ref<PreviewStatus | null>(null);
  const level = ref<MeterLevel | null>(null);
  const clipping = ref(false);
  const hasFrame = ref(false);
  const error = ref<ApiError | null>(null);

  let generation = 0;
  let clipTimer: ReturnType<typeof setTimeout> | undefined;

  function reset(): void {
    status.value = null;
    level.value = null;
    clipping.value = false;
    hasFrame.value = false;
    error.value = null;
    clearTimeout(clipTimer);
  }

  function onLevel(reading: MeterLevel): void {
    level.value = reading;
    if (reading.clipping) {
      clipping.value = true;
      clearTimeout(clipTimer);
      clipTimer = setTimeout(() => (clipping.value = false), CLIP_HOLD_MS);
    }
  }

  async function start(selection: DeviceSelection): Promise<void> {
    if (!inTauri()) return;
    const gen = ++generation;
    reset();
    state.value = "starting";
    // No stop first: the back end keeps the devices open when the selection is unchanged
    // and stops the previous preview stream itself.

    const frames = new Channel<ArrayBuffer>();
    const meter = new Channel<MeterLevel>();
    let decoding = false;
    frames.onmessage = (message) => {
      // Drop frames that arrive while one is still decoding: never queue.
      if (gen !== generation || decoding) return;
      decoding = true;
      decodeFrame(message)
        .then((frame) => {
          if (gen === generation && canvas.value) {
            drawFrame(canvas.value, frame);
            hasFrame.value = true;
          }
          frame.close();
        })
        .catch(() => undefined)
        .finally(() => {
          decoding = false;
          // One frame in flight at a time: ask for the next only once this one is drawn.
          ackPreviewFrame();
        });
    };
    meter.onmessage = (reading) => {
      if (gen === generation) onLevel(reading);
    };

    try {
      const result = await startPreview(selection, frames, meter);
      if (gen !== generation) return;
      status.value = result;
      state.value = "live";
    } catch (e) {
      if (gen !== generation) return;
      error.value = toApiError(e);
      state.value = "failed";
    }
  }

  async function stop(): Promise<void> {
    generation++;
    reset();
    state.value = "idle";
    if (inTauri()) await stopPreview().catch(() => undefined);
  }

  onUnmounted(() => {
    void stop();
  });

  return { state, status, level, clipping, hasFrame, error, start, stop };
}
