import { describe, expect, it, vi } from "vitest";
import { AUDIO_CONSTRAINTS, capture, captureProblem, orderCodecs, preferCodecs, VIDEO_CONSTRAINTS } from "./whip";

const track = (kind: "audio" | "video") => ({ kind }) as MediaStreamTrack;
const stream = (...kinds: ("audio" | "video")[]) => ({ getTracks: () => kinds.map(track) }) as unknown as MediaStream;
const refusal = (name: string) => Object.assign(new Error(name), { name });

describe("captureProblem", () => {
  it("sorts the browser's refusals into what the student can act on", () => {
    expect(captureProblem(refusal("NotAllowedError"))).toBe("denied");
    expect(captureProblem(refusal("SecurityError"))).toBe("denied");
    expect(captureProblem(refusal("NotFoundError"))).toBe("absent");
    expect(captureProblem(refusal("OverconstrainedError"))).toBe("absent");
    expect(captureProblem(refusal("NotReadableError"))).toBe("busy");
    expect(captureProblem(refusal("TypeError"))).toBe("failed");
    expect(captureProblem("nonsense")).toBe("failed");
    expect(captureProblem(null)).toBe("failed");
  });
});

describe("capture", () => {
  it("asks once for both, with the page's constraints", async () => {
    const gum = vi.fn(async () => stream("audio", "video"));
    const got = await capture(gum, true);
    expect(gum).toHaveBeenCalledTimes(1);
    expect(gum).toHaveBeenCalledWith({ audio: AUDIO_CONSTRAINTS, video: VIDEO_CONSTRAINTS });
    expect(VIDEO_CONSTRAINTS).toEqual({ width: 640, height: 360, frameRate: 30 });
    expect(AUDIO_CONSTRAINTS).toEqual({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });
    expect(got.tracks.map((t) => t.kind)).toEqual(["audio", "video"]);
    expect(got).toMatchObject({ audio: null, video: null });
  });

  it("publishes the microphone alone when there is no camera", async () => {
    const gum = vi.fn(async (c: MediaStreamConstraints) => {
      if (c.video) throw refusal("NotFoundError");
      return stream("audio");
    });
    const got = await capture(gum, true);
    expect(gum.mock.calls.map(([c]) => Object.keys(c).join("+"))).toEqual(["audio+video", "audio", "video"]);
    expect(got.tracks.map((t) => t.kind)).toEqual(["audio"]);
    expect(got).toMatchObject({ audio: null, video: "absent" });
  });

  it("publishes the camera alone when the microphone is taken", async () => {
    const gum = vi.fn(async (c: MediaStreamConstraints) => {
      if (c.audio) throw refusal("NotReadableError");
      return stream("video");
    });
    const got = await capture(gum, true);
    expect(got.tracks.map((t) => t.kind)).toEqual(["video"]);
    expect(got).toMatchObject({ audio: "busy", video: null });
  });

  it("does not ask again after the student refused", async () => {
    const gum = vi.fn(async () => {
      throw refusal("NotAllowedError");
    });
    expect(await capture(gum, true)).toEqual({ tracks: [], audio: "denied", video: "denied" });
    expect(gum).toHaveBeenCalledTimes(1);
  });

  it("says why there is no getUserMedia at all", async () => {
    expect(await capture(null, false)).toEqual({ tracks: [], audio: "insecure", video: "insecure" });
    expect(await capture(null, true)).toEqual({ tracks: [], audio: "unsupported", video: "unsupported" });
  });

  it("reports a kind the browser left out even though it was asked for", async () => {
    const got = await capture(async () => stream("audio"), true);
    expect(got).toMatchObject({ audio: null, video: "absent" });
  });
});

const codec = (mimeType: string, sdpFmtpLine?: string) => ({ mimeType, clockRate: 90000, sdpFmtpLine });

describe("orderCodecs", () => {
  it("puts H.264 in packetization mode 1 first, constrained baseline ahead, and keeps the rest", () => {
    const vp8 = codec("video/VP8");
    const rtx = codec("video/rtx", "apt=96");
    const high = codec("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f");
    const cb = codec("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    const base = codec("video/H264", "packetization-mode=1;profile-level-id=42001f");
    const mode0 = codec("video/H264", "packetization-mode=0;profile-level-id=42e01f");
    const av1 = codec("video/AV1");
    expect(orderCodecs([vp8, rtx, high, mode0, cb, av1, base], "video")).toEqual([
      cb,
      base,
      high,
      vp8,
      rtx,
      av1,
      mode0,
    ]);
  });

  it("puts Opus first", () => {
    const pcmu = codec("audio/PCMU");
    const red = codec("audio/red", "111/111");
    const opus = codec("audio/opus", "minptime=10;useinbandfec=1");
    expect(orderCodecs([red, pcmu, opus], "audio")).toEqual([opus, red, pcmu]);
  });

  it("leaves a list without H.264 in its order", () => {
    const list = [codec("video/VP8"), codec("video/VP9")];
    expect(orderCodecs(list, "video")).toEqual(list);
  });
});

describe("preferCodecs", () => {
  const caps = (...codecs: ReturnType<typeof codec>[]) => () => ({ codecs, headerExtensions: [] });

  it("sets the ordered sender capabilities", () => {
    const set = vi.fn();
    const h264 = codec("video/H264", "packetization-mode=1;profile-level-id=42e01f");
    expect(preferCodecs({ setCodecPreferences: set }, "video", [caps(codec("video/VP8"), h264)])).toBe(true);
    expect(set).toHaveBeenCalledWith([h264, codec("video/VP8")]);
  });

  it("falls back to the receiver's list when the browser refuses the sender's", () => {
    const set = vi.fn((codecs: Iterable<RTCRtpCodec>) => {
      if ([...codecs].some((c) => c.mimeType === "video/AV1")) throw refusal("InvalidModificationError");
    });
    const ok = preferCodecs({ setCodecPreferences: set }, "video", [caps(codec("video/AV1")), caps(codec("video/VP8"))]);
    expect(ok).toBe(true);
    expect(set).toHaveBeenLastCalledWith([codec("video/VP8")]);
  });

  it("does nothing where the browser cannot", () => {
    expect(preferCodecs({}, "audio", [caps(codec("audio/opus"))])).toBe(false);
    const set = vi.fn(() => {
      throw refusal("InvalidModificationError");
    });
    expect(preferCodecs({ setCodecPreferences: set }, "audio", [caps(codec("audio/opus")), () => null])).toBe(false);
  });
});
