// Playback of the teacher over WHEP: one receive-only peer connection at a time, torn
// down and offered again with back-off when it fails or stays disconnected.

import { isRetryable } from "./errors";
import { PeerSession, type PeerSessionOptions } from "./peerSession";
import type { ApiError } from "./protocol";
import type { PlayerStatus } from "./status";
import { summarizeStats, type MediaCounters } from "./whep";

export { DISCONNECTED_GRACE_MS, ICE_GATHERING_WAIT_MS } from "./peerSession";

export interface PlaybackStats extends MediaCounters {
  /** The peer connection's `connectionState`, or `none` when there is none. */
  connectionState: RTCPeerConnectionState | "none";
}

export interface PlayerOptions extends PeerSessionOptions {
  /** `…/whep/{room}` */
  url: string;
  createStream?: () => MediaStream;
}

export interface PlayerEvents {
  status(status: PlayerStatus): void;
  /** The stream to show, as tracks arrive; null when playback stops. */
  stream(stream: MediaStream | null): void;
  /** The last failure (retried or not), or null once playing. */
  error(error: ApiError | null): void;
}

export class Player extends PeerSession {
  private readonly createStream: () => MediaStream;

  constructor(
    options: PlayerOptions,
    private readonly events: PlayerEvents,
  ) {
    super(options, events);
    this.createStream = options.createStream ?? (() => new MediaStream());
  }

  /** Stops watching and ends the session on the relay. */
  stop(): void {
    this.halt(false);
    this.setStatus("idle");
    this.events.stream(null);
  }

  async stats(): Promise<PlaybackStats> {
    const pc = this.connection;
    if (!pc) return { framesDecoded: 0, audioEnergy: 0, connectionState: "none" };
    const report = await pc.getStats();
    return { ...summarizeStats(report.values()), connectionState: pc.connectionState };
  }

  /** The current connection's `getStats()` entries, or none when there is no connection. */
  async report(): Promise<unknown[]> {
    const pc = this.connection;
    if (!pc) return [];
    return [...(await pc.getStats()).values()];
  }

  protected addMedia(pc: RTCPeerConnection, current: () => boolean): void {
    const stream = this.createStream();
    pc.ontrack = (event) => {
      if (!current()) return;
      stream.addTrack(event.track);
      this.events.stream(stream);
    };
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }

  protected retryable(error: ApiError): boolean {
    return isRetryable(error);
  }
}
