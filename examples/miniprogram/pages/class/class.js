// The one page: a join form, then the class — the teacher's picture (live-player), the
// hand, chat, and, when invited on stage, the student's own camera (live-pusher) beside
// the other students on stage. Protocol: docs/protocol.md in the Lectern repository.

const i18n = require('../../utils/i18n.js');
const link = require('../../utils/link.js');
const { Signaling } = require('../../utils/signaling.js');
const { backoffDelay } = require('../../utils/backoff.js');

const t = i18n.t;

const FORM_KEY = 'lectern.form';
const NAME_KEY = 'lectern.name';
const CHAT_KEEP = 100;
const MAX_CHAT_CHARS = 500;

// live-player `bindstatechange` codes acted on.
const PLAY_BEGIN = 2004; // the picture is playing
const PLAY_END = 2006; // the stream ended (the relay ends HTTP-FLV 5 s after the publisher left)
const PLAY_GAVE_UP = -2301; // connection lost and the player's own retries failed
const PLAY_NO_URL = -2302; // could not get the play address
// live-pusher `bindstatechange` codes.
const PUSH_BEGIN = 1002; // handshake done, pushing
const PUSH_CAMERA_FAILED = -1301;
const PUSH_MIC_FAILED = -1302;
const PUSH_GAVE_UP = -1307; // connection lost and the pusher's own retries failed
// live-pusher `binderror` codes: the user refused the camera or the microphone.
const PUSH_NO_CAMERA = 10001;
const PUSH_NO_MIC = 10002;

// A player that never played switches protocol (HTTP-FLV ⇄ RTMP) after this many
// failures in a row; once one has played, it stays.
const SWITCH_AFTER = 3;

function emptyRoom() {
  return {
    you: '', // this student's peer id (`welcome.you.id`, the token's `sub`)
    role: '',
    roster: {}, // peer id → participant {id, name, role, hand, on_stage}
    names: {}, // peer id → name, kept after someone leaves (an on-stage player may stay)
    stage: [], // on-stage peer ids, in order
    publishers: [], // `publisher_added` entries (WebRTC publishers only, see README)
  };
}

Page({
  data: {
    t: i18n.strings,
    phase: 'form',
    form: { link: '', base: '', room: '', token: '', name: '' },
    needName: false,
    joining: false,
    formError: '',
    status: 'connecting',
    statusText: '',
    canTalk: false,
    teacher: { peer: '', src: '' },
    others: [],
    onStage: false,
    pushUrl: '',
    micMuted: false,
    hand: false,
    chat: [],
    chatText: '',
    chatBottom: '',
  },

  onLoad(options) {
    wx.setNavigationBarTitle({ title: t('title') });
    this.session = null;
    this.signaling = null;
    this.live = false; // false once the class is left, replaced or refused: no media then
    this.room = emptyRoom();
    this.media = {}; // peer id → { proto, fails, worked, src, timer }
    this.pushTimer = null;
    this.pushFails = 0;
    this.chatSeq = 0;
    const form = Object.assign({}, this.data.form, wx.getStorageSync(FORM_KEY) || {});
    form.name = wx.getStorageSync(NAME_KEY) || '';
    // With "scan an ordinary link's QR code to open the mini-program" set up for the
    // relay's address (admin console), scanning the class QR code with WeChat opens this
    // page with the scanned link, encoded, in `q`.
    if (options && options.q) form.link = decodeURIComponent(options.q);
    this.setData({ form });
    this.refreshNeedName();
  },

  onUnload() {
    this.leaveClass();
  },

  // ---- The join form ----

  onField(e) {
    const field = e.currentTarget.dataset.field;
    this.setData({ ['form.' + field]: e.detail.value, formError: '' });
    if (field === 'link' || field === 'token') this.refreshNeedName();
  },

  onScan() {
    wx.scanCode({
      scanType: ['qrCode'],
      success: (res) => {
        this.setData({ 'form.link': res.result, formError: '' });
        this.refreshNeedName();
      },
    });
  },

  /** Where the form leads: `{ base, room, token, claims }`, or `{ error }` (an i18n key). */
  target() {
    const f = this.data.form;
    let base;
    let room;
    let token;
    if (f.link.trim()) {
      const parsed = link.parseJoinLink(f.link);
      if (!parsed || !parsed.token) return { error: 'form_link_invalid' };
      base = parsed.base;
      room = parsed.room;
      token = parsed.token;
    } else {
      base = link.normalizeBase(f.base);
      room = f.room.trim();
      token = f.token.trim();
      if (!base) return { error: 'form_need_base' };
      if (!token) return { error: 'form_need_token' };
    }
    const claims = link.readClaims(token);
    if (!room && claims) room = claims.room;
    if (!link.isValidId(room)) return { error: f.link.trim() ? 'form_link_invalid' : 'form_need_room' };
    if (claims && claims.exp <= Date.now() / 1000) return { error: 'error_token_expired' };
    return { base, room, token, claims };
  },

  refreshNeedName() {
    const target = this.target();
    this.setData({ needName: !!(target.claims && target.claims.invite) });
  },

  onJoin() {
    const target = this.target();
    if (target.error) {
      this.setData({ formError: t(target.error) });
      return;
    }
    const f = this.data.form;
    wx.setStorageSync(FORM_KEY, { link: f.link, base: f.base, room: f.room, token: f.token });
    if (!(target.claims && target.claims.invite)) {
      // A personal token (or one this page cannot read): straight in.
      this.enter(target.base, target.room, target.token);
      return;
    }
    // A class link opens nothing but `POST /join/{room}`: trade it, with a name, for this
    // student's own token — once per phone, so reopening is the same student again.
    const saved = link.savedJoin(target.room, target.token, Date.now() / 1000);
    if (saved) {
      this.enter(target.base, target.room, saved.token);
      return;
    }
    const name = link.cleanName(f.name);
    if (!name) {
      this.setData({ formError: t('form_need_name') });
      return;
    }
    wx.setStorageSync(NAME_KEY, name);
    this.setData({ joining: true, formError: '' });
    wx.request({
      url: link.joinUrl(target.base, target.room),
      method: 'POST',
      header: { Authorization: 'Bearer ' + target.token, 'Content-Type': 'application/json' },
      data: { name },
      success: (res) => {
        const body = res.data || {};
        if (res.statusCode === 201 && typeof body.token === 'string') {
          // JoinResponse: {token, peer, name, exp}
          link.saveJoin(target.room, target.token, body);
          this.enter(target.base, target.room, body.token);
        } else {
          this.setData({ formError: i18n.errorText(typeof body.code === 'string' ? body.code : 'generic') });
        }
      },
      fail: () => this.setData({ formError: t('error_network') }),
      complete: () => this.setData({ joining: false }),
    });
  },

  // ---- The class ----

  enter(base, room, token) {
    this.session = {
      base,
      room,
      token,
      rtmpHost: link.hostOf(base),
      rtmpPort: getApp().globalData.rtmpPort,
    };
    this.room = emptyRoom();
    this.media = {};
    this.live = true;
    this.setData({
      phase: 'class',
      status: 'connecting',
      statusText: t('status_connecting'),
      chat: [],
      chatBottom: '',
      chatText: '',
    });
    this.render();
    wx.setKeepScreenOn({ keepScreenOn: true });
    this.signaling = new Signaling(
      { url: link.wsUrl(base, room, token), probeUrl: link.wsProbeUrl(base, room, token) },
      {
        message: (m) => this.onSignal(m),
        status: (s) => this.onStatus(s),
        fatal: (e) => this.onFatal(e),
      },
    );
    this.signaling.start();
  },

  onLeave() {
    this.leaveClass();
    this.setData({ phase: 'form' });
  },

  leaveClass() {
    if (this.signaling) this.signaling.stop();
    this.signaling = null;
    this.stopMedia();
    wx.setKeepScreenOn({ keepScreenOn: false });
  },

  send(body) {
    return this.signaling ? this.signaling.send(body) : false;
  },

  onStatus(s) {
    const statusText = s === 'open' ? t('status_open', { room: this.session.room }) : t('status_' + s);
    this.setData({ status: s, statusText });
    // Opened elsewhere: that copy publishes and plays now.
    if (s === 'replaced') this.stopMedia();
    else this.render();
  },

  onFatal(error) {
    this.setData({ status: 'stopped', statusText: i18n.errorText(error.code) });
    this.stopMedia();
  },

  /** One message from the relay (docs/protocol.md, "Relay → client"). */
  onSignal(m) {
    const r = this.room;
    switch (m.type) {
      case 'welcome': {
        // A fresh picture of the room: after a reconnect it replaces everything.
        const names = r.names;
        this.room = emptyRoom();
        this.room.names = names;
        this.room.you = m.you.id;
        this.room.role = m.you.role;
        m.roster.concat([m.you]).forEach((p) => this.putParticipant(p));
        // `welcome` has no stage list: the roster's `on_stage` flags are it.
        this.room.stage = Object.keys(this.room.roster).filter((id) => this.room.roster[id].on_stage);
        this.room.publishers = m.publishers;
        this.setChat(m.chat, true);
        break;
      }
      case 'participant': {
        const p = m.participant;
        this.putParticipant(p);
        const was = r.stage.indexOf(p.id) >= 0;
        if (p.on_stage && !was) r.stage = r.stage.concat([p.id]);
        if (!p.on_stage && was) r.stage = r.stage.filter((id) => id !== p.id);
        break;
      }
      case 'left':
        // The stage is left alone: the relay keeps a place on stage for a while and says
        // `stage` when it ends; an on-stage pusher may still be live meanwhile.
        delete r.roster[m.peer];
        break;
      case 'stage':
        r.stage = m.peers.slice();
        Object.keys(r.roster).forEach((id) => {
          r.roster[id].on_stage = r.stage.indexOf(id) >= 0;
        });
        break;
      case 'publisher_added':
        r.publishers = r.publishers.filter((p) => p.peer !== m.publisher.peer).concat([m.publisher]);
        break;
      case 'publisher_removed':
        r.publishers = r.publishers.filter((p) => p.peer !== m.peer);
        break;
      case 'chat':
        this.setChat([m.line], false);
        return;
      case 'invited':
        this.askInvite(m.by);
        return;
      case 'mute_requested':
        this.onMuteRequest(m.muted);
        return;
      case 'error':
        // Something this page sent was refused; the hand shown goes back to the roster's.
        wx.showToast({ title: i18n.errorText(m.code), icon: 'none', duration: 3000 });
        break;
      default:
        // pong, bye (handled by Signaling), board_* (never asked for: no board_sync) and
        // types a newer relay may add.
        return;
    }
    this.render();
  },

  putParticipant(p) {
    this.room.roster[p.id] = p;
    this.room.names[p.id] = p.name;
  },

  /** The teacher to watch: the one publishing, else the one in the room. */
  teacherPeer() {
    const r = this.room;
    const publishing = r.publishers.filter((p) => p.role === 'teacher')[0];
    if (publishing) return publishing.peer;
    const present = Object.keys(r.roster).filter((id) => r.roster[id].role === 'teacher')[0];
    return present || '';
  },

  isOnStage() {
    return !!this.room.you && this.room.stage.indexOf(this.room.you) >= 0;
  },

  /** Brings players, pusher and controls in line with the room. */
  render() {
    const r = this.room;
    if (!this.live) return;
    const teacher = this.teacherPeer();
    const others = r.stage.filter((id) => id !== r.you);
    const wanted = (teacher ? [teacher] : []).concat(others);
    Object.keys(this.media).forEach((peer) => {
      if (wanted.indexOf(peer) < 0) this.dropPlayer(peer);
    });
    wanted.forEach((peer) => this.ensurePlayer(peer));
    const onStage = this.isOnStage();
    if (onStage && !this.data.pushUrl && this.pushTimer === null) this.startPusher();
    if (!onStage && (this.data.pushUrl || this.pushTimer !== null)) this.stopPusher();
    const me = r.roster[r.you];
    this.setData({
      teacher: { peer: teacher, src: teacher ? this.media[teacher].src : '' },
      others: others.map((peer) => ({ peer, name: r.names[peer] || peer, src: this.media[peer].src })),
      onStage,
      hand: !!(me && me.hand),
      canTalk: this.data.status === 'open' && !!me && me.role !== 'observer',
    });
  },

  // ---- Players: the teacher and the other students on stage ----
  //
  // Every stream is played by the same pattern, `{room}/{publisher's peer id}`: HTTP-FLV
  // first, RTMP as the fallback. A play of a stream nobody publishes is refused at once
  // (the relay does not wait for a publisher), so a player that fails is removed and
  // created again after a back-off; removing it (wx:if) is the sure way to restart one.

  mediaUrl(peer, proto) {
    const s = this.session;
    return proto === 'flv'
      ? link.flvUrl(s.base, s.room, peer, s.token)
      : link.rtmpUrl(s.rtmpHost, s.rtmpPort, s.room, peer, s.token);
  },

  ensurePlayer(peer) {
    if (this.media[peer]) return;
    this.media[peer] = { proto: 'flv', fails: 0, worked: false, src: this.mediaUrl(peer, 'flv'), timer: null };
  },

  dropPlayer(peer) {
    const m = this.media[peer];
    if (m && m.timer !== null) clearTimeout(m.timer);
    delete this.media[peer];
  },

  onPlayerState(e) {
    const peer = e.currentTarget.dataset.peer;
    const code = e.detail.code;
    const m = this.media[peer];
    if (!m) return;
    if (code === PLAY_BEGIN) {
      m.fails = 0;
      m.worked = true;
    } else if (code === PLAY_GAVE_UP || code === PLAY_NO_URL || code === PLAY_END) {
      this.retryPlayer(peer);
    }
  },

  retryPlayer(peer) {
    const m = this.media[peer];
    if (!m || m.timer !== null) return;
    m.fails += 1;
    if (!m.worked && m.fails % SWITCH_AFTER === 0) m.proto = m.proto === 'flv' ? 'rtmp' : 'flv';
    m.src = '';
    m.timer = setTimeout(() => {
      if (this.media[peer] !== m) return;
      m.timer = null;
      m.src = this.mediaUrl(peer, m.proto);
      this.render();
    }, backoffDelay(m.fails - 1, Math.random()));
    this.render();
  },

  // ---- On stage: the student's own camera and microphone ----

  startPusher() {
    const s = this.session;
    this.pushTimer = null;
    // A token may publish only under its own peer id, and only while on stage.
    this.setData({ pushUrl: link.rtmpUrl(s.rtmpHost, s.rtmpPort, s.room, this.room.you, s.token) });
  },

  stopPusher() {
    if (this.pushTimer !== null) clearTimeout(this.pushTimer);
    this.pushTimer = null;
    this.pushFails = 0;
    // Removing the live-pusher (wx:if) ends the push and releases camera and microphone;
    // the relay ends an off-stage student's publish on its side as well.
    this.setData({ pushUrl: '', micMuted: false });
  },

  stopMedia() {
    this.live = false;
    Object.keys(this.media).forEach((peer) => this.dropPlayer(peer));
    this.stopPusher();
    this.setData({ teacher: { peer: '', src: '' }, others: [], onStage: false, canTalk: false });
  },

  onPusherState(e) {
    const code = e.detail.code;
    if (code === PUSH_BEGIN) {
      this.pushFails = 0;
    } else if (code === PUSH_CAMERA_FAILED) {
      wx.showToast({ title: t('camera_failed'), icon: 'none', duration: 3000 });
    } else if (code === PUSH_MIC_FAILED) {
      wx.showToast({ title: t('mic_failed'), icon: 'none', duration: 3000 });
    } else if (code === PUSH_GAVE_UP && this.isOnStage() && this.pushTimer === null) {
      // Push again after a back-off; within 5 s the relay resumes our viewers seamlessly.
      this.setData({ pushUrl: '' });
      this.pushTimer = setTimeout(() => {
        this.pushTimer = null;
        if (this.isOnStage()) this.startPusher();
      }, backoffDelay(this.pushFails++, Math.random()));
    }
  },

  onPusherError(e) {
    const code = e.detail.errCode;
    if (code === PUSH_NO_CAMERA || code === PUSH_NO_MIC) {
      wx.showToast({ title: t('perm_denied'), icon: 'none', duration: 4000 });
    }
  },

  askInvite(by) {
    const name = this.room.names[by] || by;
    wx.showModal({
      title: t('invited_title'),
      content: t('invited_body', { name }),
      confirmText: t('yes'),
      cancelText: t('no'),
      success: (res) => {
        if (!res.confirm) {
          this.send({ type: 'answer_invite', accept: false });
          return;
        }
        // Ask for camera and microphone before accepting: on stage, the teacher expects a
        // picture. Once refused, wx.authorize fails at once without asking again.
        this.authorizeMedia((ok) => {
          if (!ok) wx.showToast({ title: t('perm_denied'), icon: 'none', duration: 4000 });
          // The relay answers an accept with `stage` (and `participant`), which starts the pusher.
          this.send({ type: 'answer_invite', accept: ok });
        });
      },
    });
  },

  authorizeMedia(done) {
    wx.authorize({
      scope: 'scope.camera',
      success: () => wx.authorize({ scope: 'scope.record', success: () => done(true), fail: () => done(false) }),
      fail: () => done(false),
    });
  },

  onMuteRequest(muted) {
    if (!this.isOnStage()) return;
    if (muted) {
      this.setData({ micMuted: true });
      wx.showToast({ title: t('muted_by_teacher'), icon: 'none', duration: 3000 });
      return;
    }
    // Unmuting is the student's choice: ask.
    wx.showModal({
      title: t('unmute_title'),
      content: t('unmute_body'),
      confirmText: t('yes'),
      cancelText: t('no'),
      success: (res) => {
        if (res.confirm) this.setData({ micMuted: false });
      },
    });
  },

  onMic() {
    this.setData({ micMuted: !this.data.micMuted });
  },

  onLeaveStage() {
    // The relay answers with `stage`, which stops the pusher.
    this.send({ type: 'leave_stage' });
  },

  onHand() {
    const raised = !this.data.hand;
    // Shown at once; the relay's `participant` echo confirms it (or `error` restores it).
    if (this.send({ type: 'raise_hand', raised })) this.setData({ hand: raised });
    else wx.showToast({ title: t('not_connected'), icon: 'none' });
  },

  // ---- Chat ----

  setChat(lines, replace) {
    const you = this.room.you;
    const added = lines.map((line) => ({
      key: 'c' + (this.chatSeq += 1), // scroll-into-view ids must not start with a digit
      name: line.from === you ? t('you') : line.name,
      text: line.text,
      mine: line.from === you,
    }));
    const chat = (replace ? [] : this.data.chat).concat(added).slice(-CHAT_KEEP);
    this.setData({ chat, chatBottom: chat.length ? chat[chat.length - 1].key : '' });
  },

  onChatInput(e) {
    this.setData({ chatText: e.detail.value });
  },

  onSend() {
    const text = this.data.chatText.trim();
    // The relay counts characters (Unicode scalar values), as Array.from does.
    const n = Array.from(text).length;
    if (n === 0) return;
    if (n > MAX_CHAT_CHARS) {
      wx.showToast({ title: t('chat_too_long'), icon: 'none' });
      return;
    }
    if (this.send({ type: 'chat', text })) this.setData({ chatText: '' });
    else wx.showToast({ title: t('not_connected'), icon: 'none' });
  },
});
