// Playback of the teacher over WHEP: one receive-only peer connection at a time, torn
// down and offered again with back-off when it fails or stays disconnected.

import { Backoff } from "./backoff";
import { isRetryable } from "./errors";
import type { ApiError } from "./protocol";
import type { PlayerStatus } from "./status";
import { deleteSession, postOffer, summarizeStats, waitForIceGathering, WhepError, type MediaCounters } from "./whep";

/** How long gathering may take before the offer goes out with what it has. */
export const ICE_GATHERING_WAIT_MS = 2000;
/** How long `disconnected` may last before the connection is rebuilt (it often recovers). */
export const DISCONNECTED_GRACE_MS = 3000;

export interface PlaybackStats extends MediaCounters {
  /** The peer connection's `connectionState`, or `none` when there is none. */
  connectionState: RTCPeerConnectionState | "none";
}

export interface PlayerOptions {
  /** `…/whep/{room}` */
  url: string;
  token: string;
  fetch?: typeof fetch;
  createPeerConnection?: () => RTCPeerConnection;
  createStream?: () => MediaStream;
  random?: () => number;
}

export interface PlayerEvents {
  status(status: PlayerStatus): void;
  /** The stream to show, as tracks arrive; null when playback stops. */
  stream(stream: MediaStream | null): void;
  /** The last failure (retried or not), or null once playing. */
  error(error: ApiError | null): void;
}

export class Player {
  private readonly fetch: typeof fetch;
  private readonly createPeerConnection: () => RTCPeerConnection;
  private readonly createStream: () => MediaStream;
  private readonly backoff: Backoff;
  private pc: RTCPeerConnection | null = null;
  private session: string | null = null;
  /** Bumped whenever a connection is abandoned, so its late callbacks are ignored. */
  private generation = 0;
  private running = false;
  private everLive = false;
  private state: PlayerStatus = "idle";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly options: PlayerOptions,
    private readonly events: PlayerEvents,
  ) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.createPeerConnection =
      options.createPeerConnection ?? (() => new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
    this.createStream = options.createStream ?? (() => new MediaStream());
    this.backoff = new Backoff(options.random);
  }

  get status(): PlayerStatus {
    return this.state;
  }

  /** Starts watching; does nothing if already started. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.everLive = false;
    this.backoff.reset();
    this.events.error(null);
    if (typeof RTCPeerConnection === "undefined" && !this.options.createPeerConnection) {
      this.fail({ code: "no_webrtc", message: "this browser has no RTCPeerConnection" });
      return;
    }
    void this.negotiate();
  }

  /** Stops watching and ends the session on the relay. */
  stop(): void {
    this.running = false;
    this.abandon(false);
    this.setStatus("idle");
    this.events.stream(null);
  }

  /** For `pagehide`: ends the session with a request that outlives the page. */
  leave(): void {
    this.running = false;
    this.abandon(true);
  }

  async stats(): Promise<PlaybackStats> {
    const pc = this.pc;
    if (!pc) return { framesDecoded: 0, audioEnergy: 0, connectionState: "none" };
    const report = await pc.getStats();
    return { ...summarizeStats(report.values()), connectionState: pc.connectionState };
  }

  /** The current connection's `getStats()` entries, or none when there is no connection. */
  async report(): Promise<unknown[]> {
    const pc = this.pc;
    if (!pc) return [];
    return [...(await pc.getStats()).values()];
  }

  private setStatus(status: PlayerStatus): void {
    if (this.state === status) return;
    this.state = status;
    this.events.status(status);
  }

  private async negotiate(): Promise<void> {
    this.retryTimer = null;
    if (!this.running) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.setStatus(this.everLive ? "retrying" : "connecting");

    let pc: RTCPeerConnection;
    try {
      pc = this.createPeerConnection();
    } catch (e) {
      this.fail({ code: "no_webrtc", message: String(e) });
      return;
    }
    this.pc = pc;
    const stream = this.createStream();
    pc.ontrack = (event) => {
      if (!current()) return;
      stream.addTrack(event.track);
      this.events.stream(stream);
    };
    pc.onconnectionstatechange = () => {
      if (current()) this.connectionChanged(pc);
    };

    try {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc, ICE_GATHERING_WAIT_MS);
      if (!current()) return;
      const offer = pc.localDescription?.sdp ?? "";
      const answer = await postOffer(this.fetch, this.options.url, this.options.token, offer);
      if (!current()) {
        if (answer.session) void deleteSession(this.fetch, answer.session, this.options.token);
        return;
      }
      this.session = answer.session;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    } catch (e) {
      if (!current()) return;
      const error =
        e instanceof WhepError ? e.error : { code: "internal", message: e instanceof Error ? e.message : String(e) };
      if (isRetryable(error)) {
        this.events.error(error);
        this.retry();
      } else {
        this.fail(error);
      }
    }
  }

  private connectionChanged(pc: RTCPeerConnection): void {
    switch (pc.connectionState) {
      case "connected":
        this.clearGrace();
        this.everLive = true;
        this.backoff.reset();
        this.events.error(null);
        this.setStatus("live");
        return;
      case "disconnected":
        if (this.graceTimer === null) {
          this.graceTimer = setTimeout(() => {
            this.graceTimer = null;
            if (pc === this.pc && pc.connectionState !== "connected") this.retry();
          }, DISCONNECTED_GRACE_MS);
        }
        return;
      case "failed":
        this.retry();
        return;
      default:
        return;
    }
  }

  /** Drops the connection and offers again after the next back-off delay. */
  private retry(): void {
    this.abandon(false);
    if (!this.running) return;
    this.setStatus(this.everLive ? "retrying" : "connecting");
    this.retryTimer = setTimeout(() => void this.negotiate(), this.backoff.next());
  }

  /** Gives up until `start` is called again. */
  private fail(error: ApiError): void {
    this.running = false;
    this.abandon(false);
    this.events.error(error);
    this.setStatus("failed");
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  private abandon(keepalive: boolean): void {
    this.generation += 1;
    this.clearGrace();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    const session = this.session;
    this.session = null;
    if (session) void deleteSession(this.fetch, session, this.options.token, keepalive);
  }
}
