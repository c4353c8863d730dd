// The signaling WebSocket: keeps one connection to the room open, pings it, and dials
// again with back-off when it drops. What the messages mean is `room.ts`'s business.

import { Backoff } from "./backoff";
import { isLinkError } from "./errors";
import {
  encodeClientMessage,
  parseApiError,
  parseServerMessage,
  type ApiError,
  type ClientMessage,
  type ServerMessage,
} from "./protocol";
import type { SignalingStatus } from "./status";

/** How often to ping the relay. */
export const PING_INTERVAL_MS = 15_000;
/** Silence after which a connection counts as dead: two pings unanswered, and some slack. */
export const SILENCE_LIMIT_MS = 40_000;

const OPEN = 1;

/** The part of a browser `WebSocket` this uses, so tests can pass a fake one. */
export type SocketLike = Pick<
  WebSocket,
  "readyState" | "send" | "close" | "onopen" | "onmessage" | "onclose" | "onerror"
>;

export interface SignalingOptions {
  /** `ws(s)://…/ws/{room}?token=…` */
  url: string;
  createSocket?: (url: string) => SocketLike;
  /**
   * Asked when a WebSocket closes without ever opening: a browser hides why an upgrade
   * was refused. A link error it names ends the retries (see `askWhyRefused`).
   */
  probe?: () => Promise<ApiError | null>;
  random?: () => number;
}

/**
 * Asks over plain HTTP why the signaling WebSocket could not open. `/ws/{room}` answers a
 * refused token with `{code, message}` when the relay checks the token before the upgrade;
 * the page's own address answers 401 for any refused token (no code: `unauthorized`).
 * Null when neither says the link is refused (the relay is down, say).
 */
export async function askWhyRefused(
  fetchFn: typeof fetch,
  signalingHttpUrl: string,
  pageUrl: string,
): Promise<ApiError | null> {
  try {
    const response = await fetchFn(signalingHttpUrl, { cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      const error = parseApiError(await response.text());
      if (error && isLinkError(error)) return error;
    }
    const page = await fetchFn(pageUrl, { method: "HEAD", cache: "no-store" });
    if (page.status === 401 || page.status === 403) {
      return { code: "unauthorized", message: `the page answered ${page.status}` };
    }
  } catch {
    // The relay is unreachable: nothing to learn.
  }
  return null;
}

export interface SignalingEvents {
  message(message: ServerMessage): void;
  status(status: SignalingStatus): void;
  /** The link was refused; the connection will not be tried again. */
  fatal(error: ApiError): void;
}

export class Signaling {
  private readonly createSocket: (url: string) => SocketLike;
  private readonly backoff: Backoff;
  private socket: SocketLike | null = null;
  private state: SignalingStatus = "idle";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingId = 0;
  private lastHeard = 0;
  /** A `welcome` arrived on the current connection. */
  private welcomed = false;
  /** A connection dropped since the last `welcome`: say "reconnecting", not "connecting". */
  private dropped = false;

  constructor(
    private readonly options: SignalingOptions,
    private readonly events: SignalingEvents,
  ) {
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.backoff = new Backoff(options.random);
  }

  get status(): SignalingStatus {
    return this.state;
  }

  start(): void {
    if (this.state === "idle") this.connect();
  }

  /** Sends one message; false when there is no open connection to send it on. */
  send(message: ClientMessage): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(encodeClientMessage(message));
    return true;
  }

  /** Closes the connection for good (the page is going away). */
  stop(): void {
    this.halt("stopped");
  }

  private get halted(): boolean {
    return this.state === "stopped" || this.state === "replaced";
  }

  private setStatus(status: SignalingStatus): void {
    if (this.state === status) return;
    this.state = status;
    this.events.status(status);
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.halted) return;
    this.setStatus(this.dropped ? "reconnecting" : "connecting");
    this.welcomed = false;
    let opened = false;
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.options.url);
    } catch {
      // A malformed URL or a blocked scheme: retrying the same URL will not help, but
      // neither does giving up on a page the student is looking at.
      this.closed(null, false);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.lastHeard = Date.now();
      this.pingTimer = setInterval(() => this.tick(), PING_INTERVAL_MS);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => this.closed(socket, opened);
    // An error is always followed by `close`, which does the work.
    socket.onerror = () => undefined;
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return;
    this.lastHeard = Date.now();
    const message = parseServerMessage(data);
    if (!message) return;
    switch (message.type) {
      case "welcome":
        this.welcomed = true;
        this.dropped = false;
        this.backoff.reset();
        this.events.message(message);
        this.setStatus("open");
        return;
      case "error":
        this.events.message(message);
        // Refused before the welcome: the link itself is bad.
        if (!this.welcomed && isLinkError(message)) this.refuse(message);
        return;
      case "bye":
        this.events.message(message);
        // Opened elsewhere: dialling again would throw the other window out in turn.
        if (message.reason === "replaced") this.halt("replaced");
        return;
      default:
        this.events.message(message);
    }
  }

  private tick(): void {
    const socket = this.socket;
    if (!socket) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      // A half-open connection (a phone changed networks) may take minutes to report
      // `close`; stop waiting for it.
      this.closed(socket, true);
      return;
    }
    this.pingId += 1;
    this.send({ type: "ping", id: this.pingId });
  }

  private closed(socket: SocketLike | null, opened: boolean): void {
    if (socket !== this.socket) return;
    this.detach();
    if (this.halted) return;
    this.dropped = true;
    this.welcomed = false;
    this.setStatus("reconnecting");
    if (!opened) void this.probe();
    this.retryTimer = setTimeout(() => this.connect(), this.backoff.next());
  }

  /** Asks why the socket never opened; acts only on a refused link. */
  private async probe(): Promise<void> {
    let error: ApiError | null = null;
    try {
      error = (await this.options.probe?.()) ?? null;
    } catch {
      // No answer: the back-off keeps trying.
    }
    if (error && isLinkError(error) && !this.halted) this.refuse(error);
  }

  private refuse(error: ApiError): void {
    this.halt("stopped");
    this.events.fatal(error);
  }

  private halt(status: "stopped" | "replaced"): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.detach();
    this.setStatus(status);
  }

  private detach(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    try {
      socket.close(1000);
    } catch {
      // Already closed.
    }
  }
}
