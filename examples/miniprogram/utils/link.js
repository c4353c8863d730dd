// The join link and the relay addresses built from it (docs/protocol.md).
//
// The console shares a class as `{relay}/room/{room}?token={token}`, where `{relay}` is the
// relay's HTTP address (`http://192.168.1.20:8686`, or `https://relay.example` behind a
// TLS proxy, possibly with a path prefix). The mini-program runtime has no `URL` or
// `URLSearchParams`, hence the regular expressions.

/** Room names and peer ids: 1-64 of `A-Z a-z 0-9 - _ .`, but not `.` or `..`. */
function isValidId(s) {
  return /^[A-Za-z0-9._-]{1,64}$/.test(s) && s !== '.' && s !== '..';
}

function decode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch (e) {
    return null;
  }
}

/** The value of `name` in a query string (`?a=1&token=…`), or ''. */
function queryParam(query, name) {
  const pairs = query.replace(/^\?/, '').split('&');
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf('=');
    const key = eq < 0 ? pairs[i] : pairs[i].slice(0, eq);
    if (decode(key) === name) return decode(eq < 0 ? '' : pairs[i].slice(eq + 1)) || '';
  }
  return '';
}

/**
 * Reads a join link. Returns `{ base, room, token }` (room and token '' when missing or
 * malformed), or null when the text is not an http(s) address at all.
 */
function parseJoinLink(text) {
  const m = /^(https?):\/\/([^/?#\s]+)([^?#\s]*)(\?[^#\s]*)?/i.exec(text.trim());
  if (!m) return null;
  let prefix = m[3];
  let room = '';
  const path = /^(.*)\/room\/([^/]+)\/?$/.exec(m[3]);
  if (path) {
    prefix = path[1];
    const decoded = decode(path[2]);
    room = decoded && isValidId(decoded) ? decoded : '';
  }
  return {
    base: m[1].toLowerCase() + '://' + m[2] + prefix.replace(/\/+$/, ''),
    room,
    token: queryParam(m[4] || '', 'token').trim(),
  };
}

/** A relay address typed by hand: `https://relay.example`, `192.168.1.20:8686`, … or null. */
function normalizeBase(text) {
  let s = text.trim().replace(/\/+$/, '');
  if (!s) return null;
  if (!/^https?:\/\//i.test(s)) {
    // A bare LAN address is the embedded relay (plain HTTP); a name is a server behind TLS.
    s = (/^\d{1,3}(\.\d{1,3}){3}(:\d+)?(\/|$)/.test(s) ? 'http://' : 'https://') + s;
  }
  return /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(s) ? s : null;
}

/** The host of a relay address, without its port: `192.168.1.20`, `[::1]`, `relay.example`. */
function hostOf(base) {
  const m = /^https?:\/\/(?:[^@/]*@)?([^/?#]+)/i.exec(base);
  return m ? m[1].replace(/:\d+$/, '') : '';
}

const enc = encodeURIComponent;

/** `GET /ws/{room}?token=…` as a WebSocket: `ws://` for `http://`, `wss://` for `https://`. */
function wsUrl(base, room, token) {
  return base.replace(/^http/i, 'ws') + '/ws/' + enc(room) + '?token=' + enc(token);
}

/** The same endpoint over plain HTTP: it answers a refused token with `{code, message}`. */
function wsProbeUrl(base, room, token) {
  return base + '/ws/' + enc(room) + '?token=' + enc(token);
}

/** `POST /join/{room}`: a class link and a name become a personal token. */
function joinUrl(base, room) {
  return base + '/join/' + enc(room);
}

/** `GET /flv/{room}/{stream}.flv?token=…`; `stream` is the publisher's peer id. */
function flvUrl(base, room, stream, token) {
  return base + '/flv/' + enc(room) + '/' + enc(stream) + '.flv?token=' + enc(token);
}

/** `rtmp://host:port/{room}/{stream}?token=…`, for playing and (own id) for publishing. */
function rtmpUrl(host, port, room, stream, token) {
  return 'rtmp://' + host + ':' + port + '/' + enc(room) + '/' + enc(stream) + '?token=' + enc(token);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url to a UTF-8 string; null when it is not one. (No atob/TextDecoder here.) */
function base64urlText(s) {
  let hex = '';
  let buf = 0;
  let bits = 0;
  const clean = s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  for (let i = 0; i < clean.length; i++) {
    const v = B64.indexOf(clean[i]);
    if (v < 0) return null;
    buf = ((buf << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      hex += '%' + ((buf >> bits) & 0xff).toString(16).padStart(2, '0');
    }
  }
  try {
    return decodeURIComponent(hex);
  } catch (e) {
    return null;
  }
}

/**
 * A token's claims, read without checking the signature (the relay does that):
 * `lt1.<base64url JSON>.<mac>`. Only for the form: is it a class link, which room, expired?
 */
function readClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'lt1') return null;
  const text = base64urlText(parts[1]);
  if (text === null) return null;
  let c;
  try {
    c = JSON.parse(text);
  } catch (e) {
    return null;
  }
  if (!c || typeof c.room !== 'string' || typeof c.exp !== 'number') return null;
  return {
    room: c.room,
    sub: typeof c.sub === 'string' ? c.sub : '',
    role: typeof c.role === 'string' ? c.role : '',
    exp: c.exp,
    invite: c.invite === true,
  };
}

/** The name as `POST /join` takes it (trimmed, 1-64 characters, no control characters). */
function cleanName(raw) {
  const name = raw.trim();
  const n = Array.from(name).length;
  if (n === 0 || n > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(name)) return null;
  return name;
}

// A join is kept per room and class link (its signature part), so reopening the
// mini-program is the same student again, as the browser page does with localStorage.
function joinKey(room, link) {
  return 'lectern.join.' + room + '.' + link.slice(link.lastIndexOf('.') + 1);
}

/** This phone's earlier join with this class link, unless expired. */
function savedJoin(room, link, nowS) {
  const key = joinKey(room, link);
  const joined = wx.getStorageSync(key);
  if (joined && typeof joined.token === 'string' && typeof joined.exp === 'number' && joined.exp > nowS) {
    return joined;
  }
  if (joined) wx.removeStorageSync(key);
  return null;
}

function saveJoin(room, link, joined) {
  try {
    wx.setStorageSync(joinKey(room, link), joined);
  } catch (e) {
    // Storage full: the join still works until the mini-program is closed.
  }
}

module.exports = {
  isValidId,
  parseJoinLink,
  normalizeBase,
  hostOf,
  wsUrl,
  wsProbeUrl,
  joinUrl,
  flvUrl,
  rtmpUrl,
  readClaims,
  cleanName,
  savedJoin,
  saveJoin,
};
