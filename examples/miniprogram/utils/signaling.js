// The signaling socket (docs/protocol.md, "Signaling over WebSocket"): one SocketTask to
// `/ws/{room}?token=…`, a `ping` every 15 s, and dialling again with back-off when it
// drops. What the messages mean is the page's business.

const { backoffDelay } = require('./backoff.js');

const VERSION = 1;
const PING_MS = 15000;
// No message for this long (two pings unanswered, and some slack): the connection is dead
// even if WeChat has not said so (a phone changing networks can take minutes to notice).
const SILENCE_MS = 40000;
// Codes that say the link itself is refused: trying again cannot help.
const LINK_CODES = ['unauthorized', 'token_expired', 'wrong_room', 'forbidden'];

function isLinkError(code) {
  return LINK_CODES.indexOf(code) >= 0;
}

class Signaling {
  /**
   * options: { url, probeUrl }.
   * events: { message(msg), status(s), fatal({code, message}) }, where `s` is one of
   * 'connecting', 'open', 'reconnecting', 'replaced', 'stopped'.
   */
  constructor(options, events) {
    this.options = options;
    this.events = events;
    this.state = 'idle';
    this.task = null;
    // Each socket gets a number; callbacks of an older socket are ignored.
    this.gen = 0;
    this.opened = false;
    this.welcomed = false;
    this.dropped = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pingId = 0;
    this.lastHeard = 0;
  }

  start() {
    if (this.state === 'idle') this.connect();
  }

  /** Closes for good (the student left the class). */
  stop() {
    this.halt('stopped');
  }

  /** Sends `{"v": 1, ...body}`; false when no connection is open. */
  send(body) {
    if (!this.task || !this.opened) return false;
    this.task.send({ data: JSON.stringify(Object.assign({ v: VERSION }, body)) });
    return true;
  }

  halted() {
    return this.state === 'stopped' || this.state === 'replaced';
  }

  setStatus(s) {
    if (this.state === s) return;
    this.state = s;
    this.events.status(s);
  }

  connect() {
    this.retryTimer = null;
    if (this.halted()) return;
    this.setStatus(this.dropped ? 'reconnecting' : 'connecting');
    this.welcomed = false;
    this.opened = false;
    const gen = ++this.gen;
    // Use the returned SocketTask, not the global wx.onSocket* API: that one serves only
    // a single socket per mini-program. On a phone the URL must be wss:// and listed as
    // a socket domain, unless it is a LAN IP on the phone's own network.
    const task = wx.connectSocket({
      url: this.options.url,
      tcpNoDelay: true,
      // A URL WeChat refuses (not a listed domain, a bad scheme) fails here, and the task's
      // onClose is not always called after it.
      fail: () => this.closed(gen),
    });
    if (gen !== this.gen) {
      // `fail` already ran (synchronously) and a retry is scheduled.
      if (task) task.close({ fail: () => {} });
      return;
    }
    this.task = task;
    this.task.onOpen(() => {
      if (gen !== this.gen) return;
      this.opened = true;
      this.lastHeard = Date.now();
      this.pingTimer = setInterval(() => this.tick(), PING_MS);
    });
    this.task.onMessage((res) => {
      if (gen === this.gen) this.receive(res.data);
    });
    // Either may come alone, or both: `closed` acts once per socket.
    this.task.onClose(() => this.closed(gen));
    this.task.onError(() => this.closed(gen));
  }

  receive(data) {
    // The relay sends text frames only; a binary frame arrives as an ArrayBuffer.
    if (typeof data !== 'string') return;
    this.lastHeard = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      return;
    }
    // Another version, or not a message: ignored, as are types this page does not know.
    if (!msg || msg.v !== VERSION || typeof msg.type !== 'string') return;
    if (msg.type === 'welcome') {
      this.welcomed = true;
      this.dropped = false;
      this.attempt = 0;
      this.events.message(msg);
      this.setStatus('open');
      return;
    }
    this.events.message(msg);
    if (msg.type === 'error' && !this.welcomed && isLinkError(msg.code)) {
      this.refuse({ code: msg.code, message: msg.message || '' });
    } else if (msg.type === 'bye' && msg.reason === 'replaced') {
      // The same student connected again elsewhere: dialling back would throw that one out.
      this.halt('replaced');
    }
  }

  tick() {
    if (Date.now() - this.lastHeard > SILENCE_MS) {
      this.closed(this.gen);
      return;
    }
    this.pingId += 1;
    this.send({ type: 'ping', id: this.pingId });
  }

  closed(gen) {
    if (gen !== this.gen) return;
    const opened = this.opened;
    this.detach();
    if (this.halted()) return;
    this.dropped = true;
    this.setStatus('reconnecting');
    if (!opened) this.probe();
    this.retryTimer = setTimeout(() => this.connect(), backoffDelay(this.attempt++, Math.random()));
  }

  /**
   * The socket never opened, and WeChat does not say why. The relay checks the token
   * before the upgrade, so the same URL over plain HTTP answers a refused link with
   * 401/403 `{code, message}`; anything else (400 for a missing upgrade, no answer) means
   * the link is fine and the back-off goes on.
   */
  probe() {
    wx.request({
      url: this.options.probeUrl,
      method: 'GET',
      success: (res) => {
        const body = res.data;
        if (
          (res.statusCode === 401 || res.statusCode === 403) &&
          body &&
          isLinkError(body.code) &&
          !this.halted()
        ) {
          this.refuse({ code: body.code, message: body.message || '' });
        }
      },
    });
  }

  refuse(error) {
    this.halt('stopped');
    this.events.fatal(error);
  }

  halt(status) {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.detach();
    this.setStatus(status);
  }

  detach() {
    this.gen += 1;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const task = this.task;
    this.task = null;
    this.opened = false;
    if (task) task.close({ code: 1000, fail: () => {} });
  }
}

module.exports = { Signaling, isLinkError };
