// Watching the students on stage: a `stage_watch` for each one who is on stage and
// publishes, a `stage_unwatch` when they leave (or the class ends, or the page closes),
// their frames to the tile that shows them, the teacher's mute requests, and whom the
// teacher silenced on this console's speakers.

import { computed, onScopeDispose, shallowRef, watch, type Ref } from "vue";
import { Channel } from "@tauri-apps/api/core";
import type { ApiError, StageSeat } from "../bindings";
import { inTauri } from "../lib/env";
import { toApiError } from "../lib/errors";
import { decodeFrame } from "../preview";
import { Backoff } from "../student/backoff";
import type { PeerId } from "../student/protocol";
import type { RoomState } from "../student/room";
import {
  flipListen,
  keepOnStage,
  listenFailed,
  listening,
  stagePeers,
  stageSeats,
  watchChanges,
  watchedPeers,
  type ListenChoices,
  type MuteRequests,
  type WatchErrors,
} from "./seats";
import { ackStageFrame, listenStage, unwatchStage, watchStage } from "./stage";

/** Draws one decoded frame; the caller closes it afterwards. */
export type FrameSink = (frame: ImageBitmap) => void;

interface Watch {
  /** Which `stage_watch` call this watch's frames must come from. */
  generation: number;
  /** A frame is being decoded; it acks when done, so nothing else may. */
  decoding: boolean;
  backoff: Backoff;
  retry: ReturnType<typeof setTimeout> | undefined;
}

export function useStage(
  room: Readonly<Ref<RoomState>>,
  seats: Readonly<Ref<readonly StageSeat[]>>,
  requestMute: (peer: PeerId, muted: boolean) => boolean,
) {
  const available = inTauri();
  const muteRequests = shallowRef<MuteRequests>(new Map());
  const watchErrors = shallowRef<WatchErrors>(new Map());
  const listenChoices = shallowRef<ListenChoices>(new Map());
  const watches = new Map<PeerId, Watch>();
  const sinks = new Map<PeerId, FrameSink>();
  // The last `stage_listen` sent for each student: the next waits for it, so they land in
  // order, and only the last one's failure puts the toggle back.
  const listens = new Map<PeerId, { seq: number; sent: Promise<void> }>();
  // Whether the speakers play each watched student, as the back end last confirmed.
  const heard = new Map<PeerId, boolean>();
  let generation = 0;
  let listenSeq = 0;

  function setWatchError(peer: PeerId, error: ApiError | null): void {
    if (error === null && !watchErrors.value.has(peer)) return;
    const next = new Map(watchErrors.value);
    if (error === null) next.delete(peer);
    else next.set(peer, error);
    watchErrors.value = next;
  }

  /** Tells the back end to play `peer` on the speakers or not; a failure puts the toggle back. */
  function sendListen(peer: PeerId, on: boolean): void {
    const seq = ++listenSeq;
    const last = () => listens.get(peer)?.seq === seq;
    const sent = (listens.get(peer)?.sent ?? Promise.resolve())
      .then(() => listenStage(peer, on))
      .then(
        () => void heard.set(peer, on),
        (e: unknown) => {
          // Nothing for the teacher to do: the toggle shows what the speakers still do.
          console.warn(`stage_listen(${peer}, ${on}) failed`, e);
          if (last()) listenChoices.value = listenFailed(listenChoices.value, peer, on, heard.get(peer) ?? true);
        },
      )
      .finally(() => {
        if (last()) listens.delete(peer);
      });
    listens.set(peer, { seq, sent });
  }

  function frameChannel(peer: PeerId, watch: Watch, gen: number): Channel<ArrayBuffer> {
    const frames = new Channel<ArrayBuffer>();
    frames.onmessage = (message) => {
      if (watches.get(peer) !== watch) return;
      // Dropped frames are acked too: one from a channel this watch has since replaced (the
      // back end may still count it as in flight), or one no tile is there to draw.
      const sink = sinks.get(peer);
      if (watch.generation !== gen || !sink) {
        ackStageFrame(peer);
        return;
      }
      // Never queue: one frame is in flight, and the one being decoded acks.
      if (watch.decoding) return;
      watch.decoding = true;
      decodeFrame(message)
        .then((frame) => {
          if (watches.get(peer) === watch && watch.generation === gen) sinks.get(peer)?.(frame);
          frame.close();
        })
        .catch(() => undefined)
        .finally(() => {
          watch.decoding = false;
          if (watches.get(peer) === watch) ackStageFrame(peer);
        });
    };
    return frames;
  }

  async function open(peer: PeerId, watch: Watch): Promise<void> {
    const gen = ++generation;
    watch.generation = gen;
    try {
      await watchStage(peer, frameChannel(peer, watch, gen));
      if (watches.get(peer) === watch) {
        watch.backoff.reset();
        setWatchError(peer, null);
        // A watch starts heard; one silenced here (before, or while it started) stays so.
        heard.set(peer, true);
        if (!listening(listenChoices.value, peer)) sendListen(peer, false);
      } else if (!watches.has(peer)) {
        // Stopped while starting: the unwatch may have reached the back end first.
        await unwatchStage(peer).catch(() => undefined);
      }
    } catch (e) {
      if (watches.get(peer) !== watch || watch.generation !== gen) return;
      setWatchError(peer, toApiError(e));
      watch.retry = setTimeout(() => {
        if (watches.get(peer) === watch) void open(peer, watch);
      }, watch.backoff.next());
    }
  }

  function start(peer: PeerId): void {
    const watch: Watch = { generation: 0, decoding: false, backoff: new Backoff(), retry: undefined };
    watches.set(peer, watch);
    void open(peer, watch);
  }

  function stop(peer: PeerId): void {
    const watch = watches.get(peer);
    if (!watch) return;
    clearTimeout(watch.retry);
    watches.delete(peer);
    heard.delete(peer);
    setWatchError(peer, null);
    void unwatchStage(peer).catch(() => undefined);
  }

  // Outside the app there is nothing to watch.
  watch(
    () => (available ? watchedPeers(room.value) : []),
    (wanted) => {
      const changes = watchChanges(watches.keys(), wanted);
      changes.stop.forEach(stop);
      changes.start.forEach(start);
    },
    { immediate: true },
  );

  watch(
    () => room.value.stage,
    (stage) => {
      muteRequests.value = keepOnStage(muteRequests.value, stage);
      // Back on stage later, a student is heard again.
      listenChoices.value = keepOnStage(listenChoices.value, stage);
    },
  );

  onScopeDispose(() => [...watches.keys()].forEach(stop));

  /** Asks a student to mute, or after that to unmute; false when signaling is down. */
  function toggleMute(peer: PeerId): boolean {
    const muted = muteRequests.value.get(peer) !== true;
    if (!requestMute(peer, muted)) return false;
    muteRequests.value = new Map(muteRequests.value).set(peer, muted);
    return true;
  }

  /**
   * Plays `peer` through this console's speakers, or leaves them out of its mix. The
   * student is not told and the class still hears them, unlike a mute request.
   */
  function toggleListen(peer: PeerId): void {
    const flipped = flipListen(listenChoices.value, peer);
    listenChoices.value = flipped.choices;
    // Not watched: nothing plays yet, and the watch applies the choice when it starts.
    if (watches.has(peer)) sendListen(peer, flipped.on);
  }

  /** Sends `peer`'s frames to `sink` until the returned function is called. */
  function attach(peer: PeerId, sink: FrameSink): () => void {
    sinks.set(peer, sink);
    return () => {
      if (sinks.get(peer) === sink) sinks.delete(peer);
    };
  }

  const tiles = computed(() =>
    stageSeats(room.value, seats.value, muteRequests.value, watchErrors.value, listenChoices.value),
  );
  const onStage = computed(() => stagePeers(room.value).length);
  const maxStage = computed(() => room.value.maxStage);

  return { tiles, onStage, maxStage, toggleMute, toggleListen, attach };
}

export type Stage = ReturnType<typeof useStage>;
