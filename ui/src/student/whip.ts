// WHIP (publishing over WebRTC-HTTP) from the student's browser while on stage: what to
// capture, which codecs to offer first, and why a device gave nothing. The HTTP exchange
// is WHEP's (`postOffer`, `deleteSession` in `whep.ts`): the same offer, bearer and
// `Location`, only the path (`/whip/{room}`) and the direction differ.

/** 640×360 at 30 fps: what a stage tile shows, and light on a classroom's uplink. */
export const VIDEO_CONSTRAINTS: MediaTrackConstraints = { width: 640, height: 360, frameRate: 30 };

/** The student sits next to speakers playing the class: the browser must cancel its echo. */
export const AUDIO_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

/** Ceiling for the camera's bitrate: plenty for 640×360, and kind to shared Wi-Fi. */
export const VIDEO_MAX_BITRATE = 800_000;

/**
 * Why a device gave nothing. `insecure`: the page is plain `http:` on a LAN address, where
 * browsers offer no camera at all (only `https:` and `localhost` are secure contexts).
 */
export type CaptureProblem = "denied" | "absent" | "busy" | "insecure" | "unsupported" | "failed";

/** What the camera and microphone gave: the tracks, and for each missing kind, why. */
export interface Capture {
  tracks: MediaStreamTrack[];
  /** Null when the microphone was captured. */
  audio: CaptureProblem | null;
  /** Null when the camera was captured. */
  video: CaptureProblem | null;
}

export type GetUserMedia = (constraints: MediaStreamConstraints) => Promise<MediaStream>;

/** The browser's `getUserMedia`, or null where there is none (an insecure page, say). */
export function browserGetUserMedia(): GetUserMedia | null {
  const devices = typeof navigator === "undefined" ? undefined : navigator.mediaDevices;
  return typeof devices?.getUserMedia === "function" ? (c) => devices.getUserMedia(c) : null;
}

/** Sorts a `getUserMedia` rejection into what the page can tell the student. */
export function captureProblem(error: unknown): CaptureProblem {
  const name = typeof error === "object" && error !== null ? (error as { name?: unknown }).name : undefined;
  switch (name) {
    // The last of each group are the names Chrome used before the standard ones.
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
    case "DevicesNotFoundError":
      return "absent";
    case "NotReadableError":
    case "AbortError":
    case "TrackStartError":
      return "busy";
    default:
      return "failed";
  }
}

/**
 * Asks for the camera and microphone together (one permission prompt), and when that
 * fails for any reason but a refusal, for each alone: a student without a camera still
 * talks, one whose microphone is taken by another app is still seen. A refusal is not
 * asked again, so a student who pressed "Block" does not get two more prompts.
 *
 * `secure` is `window.isSecureContext`; it only explains a missing `getUserMedia`.
 */
export async function capture(getUserMedia: GetUserMedia | null, secure: boolean): Promise<Capture> {
  if (!getUserMedia) {
    const problem = secure ? "unsupported" : "insecure";
    return { tracks: [], audio: problem, video: problem };
  }
  let together: CaptureProblem;
  try {
    const stream = await getUserMedia({ audio: AUDIO_CONSTRAINTS, video: VIDEO_CONSTRAINTS });
    const tracks = stream.getTracks();
    const has = (kind: string) => tracks.some((t) => t.kind === kind);
    return { tracks, audio: has("audio") ? null : "absent", video: has("video") ? null : "absent" };
  } catch (e) {
    together = captureProblem(e);
  }
  if (together === "denied") return { tracks: [], audio: "denied", video: "denied" };

  const alone = async (kind: "audio" | "video"): Promise<MediaStreamTrack[] | CaptureProblem> => {
    try {
      const constraints = kind === "audio" ? { audio: AUDIO_CONSTRAINTS } : { video: VIDEO_CONSTRAINTS };
      const tracks = (await getUserMedia(constraints)).getTracks().filter((t) => t.kind === kind);
      return tracks.length > 0 ? tracks : "absent";
    } catch (e) {
      return captureProblem(e);
    }
  };
  // One after the other: two prompts at once confuse more than they save.
  const audio = await alone("audio");
  const video = await alone("video");
  return {
    tracks: [...(Array.isArray(audio) ? audio : []), ...(Array.isArray(video) ? video : [])],
    audio: Array.isArray(audio) ? null : audio,
    video: Array.isArray(video) ? null : video,
  };
}

/** The fields of `RTCRtpCodec` the ordering reads. */
export interface CodecLike {
  mimeType: string;
  sdpFmtpLine?: string;
}

function fmtp(codec: CodecLike): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of (codec.sdpFmtpLine ?? "").split(";")) {
    const [key, value = ""] = part.split("=");
    if (key.trim()) params.set(key.trim().toLowerCase(), value.trim().toLowerCase());
  }
  return params;
}

/** Lower is offered earlier. */
function rank(codec: CodecLike, kind: "audio" | "video"): number {
  const mime = codec.mimeType.toLowerCase();
  if (kind === "audio") return mime === "audio/opus" ? 0 : 1;
  if (mime !== "video/h264") return 3;
  const params = fmtp(codec);
  // The relay forwards only packetization-mode 1 (FU-A); mode 0 is as good as absent.
  if (params.get("packetization-mode") !== "1") return 4;
  // Constrained baseline plays everywhere the relay's viewers are (WeChat, FLV players).
  const profile = params.get("profile-level-id") ?? "";
  if (profile.startsWith("42e0")) return 0;
  if (profile.startsWith("42")) return 1;
  return 2;
}

/**
 * The codecs in the order to offer them: H.264 in packetization mode 1 (constrained
 * baseline first) or Opus ahead, everything else kept behind in its own order, so the
 * browser still negotiates retransmission (`rtx`) and a relay that wants something else
 * still finds it.
 */
export function orderCodecs<T extends CodecLike>(codecs: readonly T[], kind: "audio" | "video"): T[] {
  return codecs
    .map((codec, i) => ({ codec, i, r: rank(codec, kind) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.codec);
}

type Capabilities = (kind: string) => RTCRtpCapabilities | null | undefined;

/** The capability lists to try: the sender's (the standard), then the receiver's. */
function capabilitySources(): Capabilities[] {
  const sources: Capabilities[] = [];
  if (typeof RTCRtpSender !== "undefined" && typeof RTCRtpSender.getCapabilities === "function") {
    sources.push((k) => RTCRtpSender.getCapabilities(k));
  }
  if (typeof RTCRtpReceiver !== "undefined" && typeof RTCRtpReceiver.getCapabilities === "function") {
    sources.push((k) => RTCRtpReceiver.getCapabilities(k));
  }
  return sources;
}

/**
 * Puts H.264 or Opus first on a transceiver, where the browser lets us. Older Chrome
 * checks the list against the receiver's capabilities and throws on the sender's, hence
 * the second try; a browser without `setCodecPreferences` offers its own order, and the
 * relay picks what it forwards from the offer anyway.
 */
export function preferCodecs(
  transceiver: Partial<Pick<RTCRtpTransceiver, "setCodecPreferences">>,
  kind: "audio" | "video",
  sources: Capabilities[] = capabilitySources(),
): boolean {
  if (typeof transceiver.setCodecPreferences !== "function") return false;
  for (const source of sources) {
    try {
      const codecs = source(kind)?.codecs;
      if (!codecs || codecs.length === 0) continue;
      transceiver.setCodecPreferences(orderCodecs(codecs, kind));
      return true;
    } catch {
      // Try the next list.
    }
  }
  return false;
}
