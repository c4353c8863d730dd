// Publishing this page's camera and microphone over WHIP while the student is on stage:
// capture once, then one send-only peer connection at a time, offered again with back-off
// when it fails or stays disconnected. The tracks outlive a reconnect, so the camera light
// does not flicker and the browser does not ask again.

import { Backoff } from "./backoff";
import { isPublishRetryable } from "./errors";
import { DISCONNECTED_GRACE_MS, ICE_GATHERING_WAIT_MS } from "./player";
import type { ApiError } from "./protocol";
import type { PublishStatus } from "./status";
import { deleteSession, postOffer, waitForIceGathering, WhepError } from "./whep";
import { browserGetUserMedia, capture, preferCodecs, VIDEO_MAX_BITRATE, type Capture, type GetUserMedia } from "./whip";

export interface PublishStats {
  /** The peer connection's `connectionState`, or `none` when there is none. */
  connectionState: RTCPeerConnectionState | "none";
  /** Video frames encoded so far (outbound-rtp video `framesEncoded`). */
  framesEncoded: number;
  /** Audio packets sent so far (outbound-rtp audio `packetsSent`). */
  audioPacketsSent: number;
}

/** Sums the outbound counters of a `getStats()` report; 0 when a stream has none yet. */
export function summarizeOutbound(report: Iterable<unknown>): Omit<PublishStats, "connectionState"> {
  let framesEncoded = 0;
  let audioPacketsSent = 0;
  for (const entry of report) {
    if (typeof entry !== "object" || entry === null) continue;
    const s = entry as Record<string, unknown>;
    if (s.type !== "outbound-rtp") continue;
    const kind = s.kind ?? s.mediaType;
    if (kind === "video" && typeof s.framesEncoded === "number") framesEncoded += s.framesEncoded;
    if (kind === "audio" && typeof s.packetsSent === "number") audioPacketsSent += s.packetsSent;
  }
  return { framesEncoded, audioPacketsSent };
}

export interface PublisherOptions {
  /** `…/whip/{room}` */
  url: string;
  token: string;
  fetch?: typeof fetch;
  createPeerConnection?: () => RTCPeerConnection;
  /** The browser's by default; null where it has none. */
  getUserMedia?: GetUserMedia | null;
  /** `window.isSecureContext`: says why there is no `getUserMedia`. */
  secure?: boolean;
  createStream?: (tracks: MediaStreamTrack[]) => MediaStream;
  random?: () => number;
}

export interface PublisherEvents {
  status(status: PublishStatus): void;
  /** What the camera and microphone gave, after each capture; null when stopped. */
  captured(capture: Capture | null): void;
  /** The student's own tracks, for the self-view; null when stopped. */
  local(stream: MediaStream | null): void;
  /** The last failure (retried or not), or null once live. */
  error(error: ApiError | null): void;
}

export class Publisher {
  private readonly fetch: typeof fetch;
  private readonly createPeerConnection: () => RTCPeerConnection;
  private readonly getUserMedia: GetUserMedia | null;
  private readonly createStream: (tracks: MediaStreamTrack[]) => MediaStream;
  private readonly backoff: Backoff;
  private pc: RTCPeerConnection | null = null;
  private session: string | null = null;
  private tracks: MediaStreamTrack[] = [];
  /** Bumped whenever a connection (or capture) is abandoned, so its late callbacks are ignored. */
  private generation = 0;
  private running = false;
  private everLive = false;
  private micOn = true;
  private state: PublishStatus = "idle";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly options: PublisherOptions,
    private readonly events: PublisherEvents,
  ) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.createPeerConnection =
      options.createPeerConnection ?? (() => new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
    this.getUserMedia = options.getUserMedia === undefined ? browserGetUserMedia() : options.getUserMedia;
    this.createStream = options.createStream ?? ((tracks) => new MediaStream(tracks));
    this.backoff = new Backoff(options.random);
  }

  get status(): PublishStatus {
    return this.state;
  }

  /** Captures and publishes; does nothing if already started. */
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
    this.setStatus("connecting");
    void this.negotiate();
  }

  /** Stops publishing: ends the session on the relay and turns the camera and mic off. */
  stop(): void {
    this.running = false;
    this.abandon(false);
    this.stopTracks();
    this.events.captured(null);
    this.setStatus("idle");
  }

  /** For `pagehide`: ends the session with a request that outlives the page. */
  leave(): void {
    this.running = false;
    this.abandon(true);
    this.stopTracks();
  }

  /** The microphone as the student (or the teacher's request) set it; kept across captures. */
  setMicEnabled(on: boolean): void {
    this.micOn = on;
    for (const t of this.tracks) if (t.kind === "audio") t.enabled = on;
  }

  async stats(): Promise<PublishStats> {
    const pc = this.pc;
    if (!pc) return { connectionState: "none", framesEncoded: 0, audioPacketsSent: 0 };
    const report = await pc.getStats();
    return { ...summarizeOutbound(report.values()), connectionState: pc.connectionState };
  }

  private setStatus(status: PublishStatus): void {
    if (this.state === status) return;
    this.state = status;
    this.events.status(status);
  }

  /** Captures when there is nothing live to send; false when nothing could be captured. */
  private async ensureTracks(current: () => boolean): Promise<boolean> {
    if (this.tracks.some((t) => t.readyState === "live")) return true;
    this.stopTracks();
    const got = await capture(this.getUserMedia, this.options.secure ?? globalThis.isSecureContext !== false);
    if (!current()) {
      for (const t of got.tracks) t.stop();
      return false;
    }
    this.tracks = got.tracks;
    for (const t of got.tracks) {
      if (t.kind === "audio") t.enabled = this.micOn;
      // A camera unplugged, or a permission taken back: capture again once all are gone.
      t.addEventListener("ended", () => {
        if (this.running && this.tracks.includes(t) && this.tracks.every((x) => x.readyState === "ended")) {
          this.retry();
        }
      });
    }
    this.events.captured(got);
    this.events.local(got.tracks.length > 0 ? this.createStream(got.tracks) : null);
    if (got.tracks.length === 0) {
      this.fail({ code: "no_media", message: `microphone: ${got.audio}, camera: ${got.video}` });
      return false;
    }
    return true;
  }

  private async negotiate(): Promise<void> {
    this.retryTimer = null;
    if (!this.running) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.setStatus(this.everLive ? "retrying" : "connecting");

    try {
      if (!(await this.ensureTracks(current))) return;
    } catch (e) {
      if (current()) this.fail({ code: "no_media", message: e instanceof Error ? e.message : String(e) });
      return;
    }

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
      const stream = this.createStream(this.tracks);
      // Audio first, as the relay's own publisher offers it.
      const ordered = [...this.tracks].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "audio" ? -1 : 1));
      for (const track of ordered) {
        const kind = track.kind === "audio" ? "audio" : "video";
        const transceiver = pc.addTransceiver(track, {
          direction: "sendonly",
          streams: [stream],
          ...(kind === "video" ? { sendEncodings: [{ maxBitrate: VIDEO_MAX_BITRATE }] } : {}),
        });
        if (transceiver) preferCodecs(transceiver, kind);
      }
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
      if (isPublishRetryable(error)) {
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

  /** Drops the connection (keeping the tracks) and offers again after the next delay. */
  private retry(): void {
    this.abandon(false);
    if (!this.running) return;
    this.setStatus(this.everLive ? "retrying" : "connecting");
    this.retryTimer = setTimeout(() => void this.negotiate(), this.backoff.next());
  }

  /**
   * Gives up until `start` is called again. The camera goes off (nothing is sent), but
   * the capture report stays, so the page can still say what was missing.
   */
  private fail(error: ApiError): void {
    this.running = false;
    this.abandon(false);
    this.stopTracks();
    this.events.error(error);
    this.setStatus("failed");
  }

  /** Turns the camera and microphone off. */
  private stopTracks(): void {
    if (this.tracks.length === 0) return;
    for (const t of this.tracks) t.stop();
    this.tracks = [];
    this.events.local(null);
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
      pc.onconnectionstatechange = null;
      pc.close();
    }
    const session = this.session;
    this.session = null;
    if (session) void deleteSession(this.fetch, session, this.options.token, keepalive);
  }
}
