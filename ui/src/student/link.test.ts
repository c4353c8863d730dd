import { describe, expect, it } from "vitest";
import { isValidId, pageUrl, parseJoinLink, signalingProbeUrl, signalingUrl, whepPeerUrl, whepUrl, whipUrl } from "./link";

const TOKEN = "lt1.eyJyb29tIjoibWF0aCJ9.c2ln-_";

describe("parseJoinLink", () => {
  it("reads the room from the path and the token from the query", () => {
    expect(parseJoinLink("/room/math-7b.2026", `?token=${TOKEN}`)).toEqual({ room: "math-7b.2026", token: TOKEN });
    expect(parseJoinLink("/room/math/", `?lang=en&token=${TOKEN}`)).toEqual({ room: "math", token: TOKEN });
  });

  it("has no token when it is missing or blank", () => {
    expect(parseJoinLink("/room/math", "")).toEqual({ room: "math", token: null });
    expect(parseJoinLink("/room/math", "?token=")).toEqual({ room: "math", token: null });
    expect(parseJoinLink("/room/math", "?token=%20%20")).toEqual({ room: "math", token: null });
  });

  it("decodes a percent-encoded token", () => {
    expect(parseJoinLink("/room/math", "?token=lt1.a%2Eb").token).toBe("lt1.a.b");
  });

  it("has no room when the path is not /room/{valid id}", () => {
    for (const path of ["/", "/room", "/room/", "/room/a/b", "/student.html", "/rooms/math", "/room/a%2Fb", "/room/%E4%BD%A0", "/room/%zz"]) {
      expect(parseJoinLink(path, `?token=${TOKEN}`).room, path).toBeNull();
    }
    expect(parseJoinLink(`/room/${"x".repeat(65)}`, "").room).toBeNull();
    expect(parseJoinLink(`/room/${"x".repeat(64)}`, "").room).toHaveLength(64);
  });
});

describe("isValidId", () => {
  it("accepts the relay's alphabet only", () => {
    expect(isValidId("A-z_0.9")).toBe(true);
    expect(isValidId("")).toBe(false);
    expect(isValidId("a b")).toBe(false);
    expect(isValidId("../x")).toBe(false);
  });
});

describe("endpoints", () => {
  const http = { protocol: "http:", host: "192.168.1.20:8686" };
  const https = { protocol: "https:", host: "class.example.org" };

  it("signals over ws: or wss: to match the page", () => {
    expect(signalingUrl(http, "math", TOKEN)).toBe(`ws://192.168.1.20:8686/ws/math?token=${TOKEN}`);
    expect(signalingUrl(https, "math", "a b+c")).toBe("wss://class.example.org/ws/math?token=a%20b%2Bc");
    expect(signalingProbeUrl(https, "math", TOKEN)).toBe(`https://class.example.org/ws/math?token=${TOKEN}`);
    expect(pageUrl(https, "math", TOKEN)).toBe(`https://class.example.org/room/math?token=${TOKEN}`);
  });

  it("watches through /whep/{room} on the same origin", () => {
    expect(whepUrl(http, "math")).toBe("http://192.168.1.20:8686/whep/math");
  });

  it("watches a classmate on stage with ?peer=", () => {
    expect(whepPeerUrl(http, "math", "s-3fa9c2d41b07")).toBe("http://192.168.1.20:8686/whep/math?peer=s-3fa9c2d41b07");
    expect(whepPeerUrl(https, "math", "a b")).toBe("https://class.example.org/whep/math?peer=a%20b");
  });

  it("publishes through /whip/{room} on the same origin", () => {
    expect(whipUrl(http, "math")).toBe("http://192.168.1.20:8686/whip/math");
    expect(whipUrl(https, "math-7b.2026")).toBe("https://class.example.org/whip/math-7b.2026");
  });
});
