// One peer connection with the relay at a time, over WHEP (watching) or WHIP (publishing):
// offer, answer, and when the connection fails or stays disconnected, tear it down and
// offer again with back-off. `Player` and `Publisher` say what the connection carries and
// which refusals are worth retrying; the lifecycle is this one.

import { Backoff } from "./backoff";
import type { ApiError } from "./protocol";
import type { PlayerStatus, PublishStatus } from "./status";
import { deleteSession, postOffer, waitForIceGathering, WhepError } from "./whep";

/** How long gathering may take before the offer goes out with what it has. */
export const ICE_GATHERING_WAIT_MS = 2000;
/** How long `disconnected` may last before the connection is rebuilt (it often recovers). */
export const DISCONNECTED_GRACE_MS = 3000;

/** The words a session moves through; the player and the publisher both use all of them. */
export type SessionStatus = PlayerStatus & PublishStatus;

export interface PeerSessionOptions {
  /** `…/whep/{room}` or `…/whip/{room}` */
  url: string;
  token: string;
  fetch?: typeof fetch;
  createPeerConnection?: () => RTCPeerConnection;
  random?: () => number;
}

export interface PeerSessionEvents {
  status(status: SessionStatus): void;
  /** The last failure (retried or not), or null once live. */
  error(error: ApiError | null): void;
}

export abstract class PeerSession {
  private readonly fetch: typeof fetch;
  private readonly createPeerConnection: () => RTCPeerConnection;
  private readonly backoff: Backoff;
  private pc: RTCPeerConnection | null = null;
  private session: string | null = null;
  /** Bumped whenever a connection is abandoned, so its late callbacks are ignored. */
  private generation = 0;
  private started = false;
  private everLive = false;
  private state: SessionStatus = "idle";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly sessionOptions: PeerSessionOptions,
    private readonly sessionEvents: PeerSessionEvents,
  ) {
    this.fetch = sessionOptions.fetch ?? ((input, init) => fetch(input, init));
    this.createPeerConnection =
      sessionOptions.createPeerConnection ?? (() => new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
    this.backoff = new Backoff(sessionOptions.random);
  }

  get status(): SessionStatus {
    return this.state;
  }

  /** Starts; does nothing if already started. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.everLive = false;
    this.backoff.reset();
    this.sessionEvents.error(null);
    if (typeof RTCPeerConnection === "undefined" && !this.sessionOptions.createPeerConnection) {
      this.fail({ code: "no_webrtc", message: "this browser has no RTCPeerConnection" });
      return;
    }
    void this.negotiate();
  }

  /** For `pagehide`: ends the session with a request that outlives the page. */
  leave(): void {
    this.halt(true);
  }

  /**
   * Work before each connection; false when there is nothing to offer (having failed, or
   * `current()` having turned false). Rejections are not caught.
   */
  protected prepare?(current: () => boolean): Promise<boolean>;

  /** Adds the transceivers (and handlers) of a new connection, before its offer is made. */
  protected abstract addMedia(pc: RTCPeerConnection, current: () => boolean): void;

  /** True when a refused or failed offer may succeed later. */
  protected abstract retryable(error: ApiError): boolean;

  /** After the session stopped for good (`stop`, `leave` or a failure), before it says so. */
  protected halted(): void {}

  /** True from `start` until the session is stopped or gives up. */
  protected get running(): boolean {
    return this.started;
  }

  /** The current connection, if any. */
  protected get connection(): RTCPeerConnection | null {
    return this.pc;
  }

  protected setStatus(status: SessionStatus): void {
    if (this.state === status) return;
    this.state = status;
    this.sessionEvents.status(status);
  }

  /** Stops, and ends the session on the relay; `keepalive` for a page going away. */
  protected halt(keepalive: boolean): void {
    this.started = false;
    this.abandon(keepalive);
    this.halted();
  }

  /** Drops the connection and offers again after the next back-off delay. */
  protected retry(): void {
    this.abandon(false);
    if (!this.started) return;
    this.setStatus(this.everLive ? "retrying" : "connecting");
    this.retryTimer = setTimeout(() => void this.negotiate(), this.backoff.next());
  }

  /** Gives up until `start` is called again. */
  protected fail(error: ApiError): void {
    this.halt(false);
    this.sessionEvents.error(error);
    this.setStatus("failed");
  }

  private async negotiate(): Promise<void> {
    this.retryTimer = null;
    if (!this.started) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.setStatus(this.everLive ? "retrying" : "connecting");

    if (this.prepare && !(await this.prepare(current))) return;

    let pc: RTCPeerConnection;
    try {
      pc = this.createPeerConnection();
    } catch (e) {
      this.fail({ code: "no_webrtc", message: String(e) });
      return;
    }
    this.pc = pc;
    pc.onconnectionstatechange = () => {
      if (current()) this.connectionChanged(pc);
    };

    try {
      this.addMedia(pc, current);
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc, ICE_GATHERING_WAIT_MS);
      if (!current()) return;
      const offer = pc.localDescription?.sdp ?? "";
      const { url, token } = this.sessionOptions;
      const answer = await postOffer(this.fetch, url, token, offer);
      if (!current()) {
        if (answer.session) void deleteSession(this.fetch, answer.session, token);
        return;
      }
      this.session = answer.session;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    } catch (e) {
      if (!current()) return;
      const error =
        e instanceof WhepError ? e.error : { code: "internal", message: e instanceof Error ? e.message : String(e) };
      if (this.retryable(error)) {
        this.sessionEvents.error(error);
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
        this.sessionEvents.error(null);
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
    if (session) void deleteSession(this.fetch, session, this.sessionOptions.token, keepalive);
  }
}
