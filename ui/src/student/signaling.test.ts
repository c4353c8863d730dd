import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiError, ServerMessage } from "./protocol";
import { askWhyRefused, PING_INTERVAL_MS, SILENCE_LIMIT_MS, Signaling, type SocketLike } from "./signaling";
import type { SignalingStatus } from "./status";

/** A WebSocket that the test opens, feeds and closes by hand. */
class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  closedByPage = false;
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.closedByPage = true;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.call(this as unknown as WebSocket, new Event("open"));
  }
  receive(message: object): void {
    const data = JSON.stringify({ v: 1, ...message });
    this.onmessage?.call(this as unknown as WebSocket, { data } as MessageEvent);
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.call(this as unknown as WebSocket, {} as CloseEvent);
  }
}

const WELCOME = {
  type: "welcome",
  room: "math",
  you: { id: "s-ana", name: "Ana", role: "student", hand: false, on_stage: false },
  roster: [],
  publishers: [],
  chat: [],
  max_stage: 6,
};

function setup(answer: ApiError | null = null) {
  const sockets: FakeSocket[] = [];
  const statuses: SignalingStatus[] = [];
  const messages: ServerMessage[] = [];
  const fatal: unknown[] = [];
  const probe = vi.fn(async () => answer);
  const signaling = new Signaling(
    {
      url: "ws://relay/ws/math?token=t",
      createSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s as unknown as SocketLike;
      },
      probe,
      random: () => 0,
    },
    {
      message: (m) => messages.push(m),
      status: (s) => statuses.push(s),
      fatal: (e) => fatal.push(e),
    },
  );
  const last = () => sockets[sockets.length - 1];
  return { signaling, sockets, statuses, messages, fatal, probe, last };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Signaling", () => {
  it("connects, reports open on welcome and passes messages on", () => {
    const { signaling, statuses, messages, last } = setup();
    signaling.start();
    expect(last().url).toBe("ws://relay/ws/math?token=t");
    expect(statuses).toEqual(["connecting"]);
    last().open();
    last().receive(WELCOME);
    expect(statuses).toEqual(["connecting", "open"]);
    last().receive({ type: "left", peer: "s-bo" });
    last().receive({ type: "confetti" });
    expect(messages.map((m) => m.type)).toEqual(["welcome", "left"]);
  });

  it("sends messages with the version, only while open", () => {
    const { signaling, last } = setup();
    signaling.start();
    expect(signaling.send({ type: "raise_hand", raised: true })).toBe(false);
    last().open();
    expect(signaling.send({ type: "raise_hand", raised: true })).toBe(true);
    expect(last().sent).toEqual([{ v: 1, type: "raise_hand", raised: true }]);
  });

  it("pings every 15 s", () => {
    const { signaling, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    vi.advanceTimersByTime(PING_INTERVAL_MS - 1);
    expect(last().sent).toEqual([]);
    vi.advanceTimersByTime(1);
    last().receive({ type: "pong", id: 1 });
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(last().sent).toEqual([
      { v: 1, type: "ping", id: 1 },
      { v: 1, type: "ping", id: 2 },
    ]);
  });

  it("reconnects with growing delays after drops, and starts over after a welcome", () => {
    const { signaling, sockets, statuses, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    last().drop();
    expect(statuses.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(499);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    last().drop();
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    last().open();
    last().receive(WELCOME);
    expect(statuses.at(-1)).toBe("open");
    last().drop();
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(4);
  });

  it("caps the delay at 8 s", () => {
    const { signaling, sockets, last } = setup();
    signaling.start();
    for (let i = 0; i < 8; i++) {
      last().drop();
      vi.advanceTimersByTime(8000);
    }
    const n = sockets.length;
    expect(n).toBe(9);
    last().drop();
    vi.advanceTimersByTime(7999);
    expect(sockets).toHaveLength(n);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(n + 1);
  });

  it("does not reconnect after bye replaced", () => {
    const { signaling, sockets, statuses, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    last().receive({ type: "bye", reason: "replaced" });
    expect(statuses.at(-1)).toBe("replaced");
    expect(last().closedByPage).toBe(true);
    last().drop();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(signaling.send({ type: "ping" })).toBe(false);
  });

  it("reconnects after bye shutdown", () => {
    const { signaling, sockets, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    last().receive({ type: "bye", reason: "shutdown" });
    last().drop();
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
  });

  it("drops a connection that has gone silent", () => {
    const { signaling, sockets, statuses, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    vi.advanceTimersByTime(SILENCE_LIMIT_MS + PING_INTERVAL_MS);
    expect(sockets[0].closedByPage).toBe(true);
    expect(statuses.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
  });

  it("stops on a link refused before the welcome", () => {
    const { signaling, sockets, statuses, fatal, last } = setup();
    signaling.start();
    last().open();
    last().receive({ type: "error", code: "token_expired", message: "expired" });
    expect(fatal).toEqual([{ v: 1, type: "error", code: "token_expired", message: "expired" }]);
    expect(statuses.at(-1)).toBe("stopped");
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("keeps going after an error once welcomed", () => {
    const { signaling, statuses, fatal, last } = setup();
    signaling.start();
    last().open();
    last().receive(WELCOME);
    last().receive({ type: "error", code: "forbidden", message: "observers cannot chat" });
    expect(fatal).toEqual([]);
    expect(statuses.at(-1)).toBe("open");
  });

  it("asks why a socket never opened, and stops on a refused link", async () => {
    const { signaling, sockets, fatal, probe, statuses, last } = setup({ code: "unauthorized", message: "bad" });
    signaling.start();
    last().drop();
    await vi.waitFor(() => expect(fatal).toEqual([{ code: "unauthorized", message: "bad" }]));
    expect(probe).toHaveBeenCalledTimes(1);
    expect(statuses.at(-1)).toBe("stopped");
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("does not ask when a socket that opened drops", async () => {
    const { signaling, probe, last } = setup({ code: "unauthorized", message: "bad" });
    signaling.start();
    last().open();
    last().drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(probe).not.toHaveBeenCalled();
  });

  it("keeps retrying when the answer is not a refused link", async () => {
    const { signaling, sockets, fatal, probe, last } = setup({ code: "capacity", message: "full" });
    signaling.start();
    last().drop();
    await vi.waitFor(() => expect(probe).toHaveBeenCalled());
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(2);
    expect(fatal).toEqual([]);
  });

  it("stops for good when the page leaves", () => {
    const { signaling, sockets, statuses, last } = setup();
    signaling.start();
    last().open();
    signaling.stop();
    expect(last().closedByPage).toBe(true);
    expect(statuses.at(-1)).toBe("stopped");
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });
});

describe("askWhyRefused", () => {
  const WS = "http://relay/ws/math?token=t";
  const PAGE = "http://relay/room/math?token=t";

  function relay(ws: [number, string], page: number) {
    const calls: string[] = [];
    const fetchFn = (async (url: string, init?: RequestInit) => {
      calls.push(`${init?.method ?? "GET"} ${url}`);
      if (url === WS) return new Response(ws[1], { status: ws[0] });
      return new Response(null, { status: page });
    }) as unknown as typeof fetch;
    return { fetchFn, calls };
  }

  it("takes the code the signaling endpoint gives", async () => {
    const { fetchFn, calls } = relay([401, '{"code":"token_expired","message":"expired"}'], 401);
    expect(await askWhyRefused(fetchFn, WS, PAGE)).toEqual({ code: "token_expired", message: "expired" });
    expect(calls).toEqual([`GET ${WS}`]);
  });

  it("falls back to the page's status when the endpoint only wants an upgrade", async () => {
    const { fetchFn, calls } = relay([400, "Connection header did not include 'upgrade'"], 401);
    expect(await askWhyRefused(fetchFn, WS, PAGE)).toMatchObject({ code: "unauthorized" });
    expect(calls).toEqual([`GET ${WS}`, `HEAD ${PAGE}`]);
  });

  it("finds nothing wrong with a good link or an unreachable relay", async () => {
    expect(await askWhyRefused(relay([426, ""], 200).fetchFn, WS, PAGE)).toBeNull();
    const offline = (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch;
    expect(await askWhyRefused(offline, WS, PAGE)).toBeNull();
  });
});
