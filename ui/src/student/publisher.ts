// Publishing this page's camera and microphone over WHIP while the student is on stage:
// capture once, then one send-only peer connection at a time, offered again with back-off
// when it fails or stays disconnected. The tracks outlive a reconnect, so the camera light
// does not flicker and the browser does not ask again.

import { isPublishRetryable } from "./errors";
import { PeerSession, type PeerSessionOptions } from "./peerSession";
import type { ApiError } from "./protocol";
import type { PublishStatus } from "./status";
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

export interface PublisherOptions extends PeerSessionOptions {
  /** `…/whip/{room}` */
  url: string;
  /** The browser's by default; null where it has none. */
  getUserMedia?: GetUserMedia | null;
  /** `window.isSecureContext`: says why there is no `getUserMedia`. */
  secure?: boolean;
  createStream?: (tracks: MediaStreamTrack[]) => MediaStream;
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

export class Publisher extends PeerSession {
  private readonly getUserMedia: GetUserMedia | null;
  private readonly createStream: (tracks: MediaStreamTrack[]) => MediaStream;
  private tracks: MediaStreamTrack[] = [];
  private micOn = true;

  constructor(
    private readonly options: PublisherOptions,
    private readonly events: PublisherEvents,
  ) {
    super(options, events);
    this.getUserMedia = options.getUserMedia === undefined ? browserGetUserMedia() : options.getUserMedia;
    this.createStream = options.createStream ?? ((tracks) => new MediaStream(tracks));
  }

  /** Stops publishing: ends the session on the relay and turns the camera and mic off. */
  stop(): void {
    this.halt(false);
    this.events.captured(null);
    this.setStatus("idle");
  }

  /** The microphone as the student (or the teacher's request) set it; kept across captures. */
  setMicEnabled(on: boolean): void {
    this.micOn = on;
    for (const t of this.tracks) if (t.kind === "audio") t.enabled = on;
  }

  async stats(): Promise<PublishStats> {
    const pc = this.connection;
    if (!pc) return { connectionState: "none", framesEncoded: 0, audioPacketsSent: 0 };
    const report = await pc.getStats();
    return { ...summarizeOutbound(report.values()), connectionState: pc.connectionState };
  }

  /**
   * Captures when there is nothing live to send (the tracks outlive a reconnect); false
   * when nothing could be captured.
   */
  protected override async prepare(current: () => boolean): Promise<boolean> {
    try {
      return await this.ensureTracks(current);
    } catch (e) {
      if (current()) this.fail({ code: "no_media", message: e instanceof Error ? e.message : String(e) });
      return false;
    }
  }

  protected addMedia(pc: RTCPeerConnection): void {
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
  }

  protected retryable(error: ApiError): boolean {
    return isPublishRetryable(error);
  }

  /**
   * Stopped or given up: the camera goes off (nothing is sent), but after a failure the
   * capture report stays, so the page can still say what was missing.
   */
  protected override halted(): void {
    this.stopTracks();
  }

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

  /** Turns the camera and microphone off. */
  private stopTracks(): void {
    if (this.tracks.length === 0) return;
    for (const t of this.tracks) t.stop();
    this.tracks = [];
    this.events.local(null);
  }
}
