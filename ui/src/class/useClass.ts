// The class the console runs: starting and stopping it through the app, the publish
// link's state and figures from its channel, and the room (roster, hands, chat, stage)
// through the same signaling client the student page uses, and the whiteboard on it.

import { onUnmounted, ref, shallowRef } from "vue";
import { Channel } from "@tauri-apps/api/core";
import {
  commands,
  type ApiError,
  type ClassEvent,
  type ClassInfo,
  type PublishStats,
  type PublishStatus,
  type StageSeat,
} from "../bindings";
import { useBoard } from "../board/useBoard";
import { inTauri } from "../lib/env";
import { toApiError } from "../lib/errors";
import { initialRoomState, reduce, type RoomState } from "../student/room";
import { Signaling } from "../student/signaling";
import type { SignalingStatus } from "../student/status";
import type { ClientMessage, PeerId } from "../student/protocol";
import { pushStats } from "./stats";

function unwrap<T>(r: { status: "ok"; data: T } | { status: "error"; error: ApiError }): T {
  if (r.status === "error") throw r.error;
  return r.data;
}

export function useClass() {
  const available = inTauri();
  const info = shallowRef<ClassInfo | null>(null);
  const status = shallowRef<PublishStatus | null>(null);
  const stats = shallowRef<PublishStats | null>(null);
  const history = shallowRef<PublishStats[]>([]);
  /** The on-stage students the console watches, as the back end last reported them. */
  const seats = shallowRef<StageSeat[]>([]);
  const room = shallowRef<RoomState>(initialRoomState);
  const signalingStatus = ref<SignalingStatus>("idle");
  const error = ref<ApiError | null>(null);
  const busy = ref(false);
  let signaling: Signaling | null = null;
  const board = useBoard(
    (m) => signaling?.send(m) ?? false,
    (peer) => room.value.roster.find((p) => p.id === peer)?.name ?? peer,
  );

  function channel(): Channel<ClassEvent> {
    const c = new Channel<ClassEvent>();
    c.onmessage = (event) => {
      switch (event.type) {
        case "status":
          status.value = event.status;
          break;
        case "stats":
          stats.value = event.stats;
          history.value = pushStats(history.value, event.stats);
          break;
        case "stage":
          seats.value = event.seats;
          break;
      }
    };
    return c;
  }

  function connect(started: ClassInfo): void {
    info.value = started;
    room.value = initialRoomState;
    seats.value = [];
    signaling?.stop();
    board.reset();
    signaling = new Signaling(
      { url: started.ws_url },
      {
        message: (m) => {
          if (board.receive(m)) return;
          room.value = reduce(room.value, m);
          if (m.type === "welcome") board.welcomed(m.you.id, m.you.role === "teacher");
        },
        status: (s) => {
          signalingStatus.value = s;
          if (s !== "open") board.connectionLost();
        },
        fatal: (e) => (error.value = toApiError(e)),
      },
    );
    signaling.start();
  }

  async function attach(): Promise<void> {
    if (!available) return;
    try {
      const current = unwrap(await commands.classCurrent(channel() as never));
      if (current) connect(current);
    } catch (e) {
      error.value = toApiError(e);
    }
  }

  async function start(roomName: string): Promise<void> {
    if (!available || busy.value || info.value) return;
    busy.value = true;
    error.value = null;
    history.value = [];
    stats.value = null;
    status.value = { state: "connecting", attempt: 1, retry_in_ms: null, error: null, reconnects: 0 };
    try {
      connect(unwrap(await commands.classStart(roomName.trim() || null, channel() as never)));
    } catch (e) {
      status.value = null;
      error.value = toApiError(e);
    } finally {
      busy.value = false;
    }
  }

  async function stop(): Promise<void> {
    if (!available || busy.value) return;
    busy.value = true;
    try {
      unwrap(await commands.classStop());
      signaling?.stop();
      signaling = null;
      info.value = null;
      status.value = null;
      room.value = initialRoomState;
      seats.value = [];
      board.reset();
    } catch (e) {
      error.value = toApiError(e);
    } finally {
      busy.value = false;
    }
  }

  function send(message: ClientMessage): boolean {
    return signaling?.send(message) ?? false;
  }

  const chat = (text: string) => text.trim() !== "" && send({ type: "chat", text: text.trim() });
  const invite = (peer: PeerId) => send({ type: "invite", peer });
  const removeFromStage = (peer: PeerId) => send({ type: "remove_from_stage", peer });
  /** Asks a student on stage to mute or unmute; the student is not obliged to, and does not answer. */
  const requestMute = (peer: PeerId, muted: boolean) => send({ type: "request_mute", peer, muted });

  // Leaving the page keeps the class running; only the room view closes.
  onUnmounted(() => signaling?.stop());

  return {
    available,
    info,
    status,
    stats,
    history,
    seats,
    room,
    board,
    signalingStatus,
    error,
    busy,
    attach,
    start,
    stop,
    chat,
    invite,
    removeFromStage,
    requestMute,
  };
}
