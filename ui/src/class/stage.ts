// Watching the students on stage. These commands stream raw bytes over a channel, which
// tauri-specta does not describe, so they are typed here by hand (as `preview.ts` is);
// the seats' status arrives on the class's event channel (`ClassEvent` "stage").
import { Channel, invoke } from "@tauri-apps/api/core";
import type { PeerId } from "../student/protocol";

/**
 * Starts watching on-stage student `peer`: one JPEG per `frames` message, one frame in
 * flight until `ackStageFrame`; the student's sound plays on the speakers (until
 * `listenStage(peer, false)`). Watching the same peer again replaces the previous channel.
 */
export async function watchStage(peer: PeerId, frames: Channel<ArrayBuffer>): Promise<void> {
  await invoke("stage_watch", { peer, frames });
}

/** Tells the back end `peer`'s last frame is drawn (or dropped), so it may send the next. */
export function ackStageFrame(peer: PeerId): void {
  invoke("stage_ack", { peer }).catch(() => undefined);
}

/** Stops watching `peer`: its picture and sound stop. */
export async function unwatchStage(peer: PeerId): Promise<void> {
  await invoke("stage_unwatch", { peer });
}

/**
 * Plays watched student `peer` through this console's speakers (`on`, as every watch
 * starts) or leaves them out of the mix. Only this console: the student is not told, the
 * class still hears them, and their seat still reports their level. Rejects with an
 * ApiError when no class is running.
 */
export async function listenStage(peer: PeerId, on: boolean): Promise<void> {
  await invoke("stage_listen", { peer, on });
}
