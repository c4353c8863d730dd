// Every string the mini-program shows, in Chinese (the default on a Chinese WeChat) and
// English. `t(key, {name})` fills `{name}`; the page also binds the whole table as `t`.

const TABLE = {
  'zh-CN': {
    title: 'Lectern 课堂',
    link_label: '课堂链接',
    link_placeholder: '粘贴老师分享的链接，或点“扫码”',
    scan: '扫码',
    or_manual: '没有链接？手动填写（有链接时以链接为准）',
    relay_label: '服务器地址',
    relay_placeholder: 'https://relay.example 或 http://192.168.1.20:8686',
    room_label: '房间',
    room_placeholder: '可留空：从令牌中读取',
    token_label: '令牌',
    name_label: '你的名字',
    name_placeholder: '老师和同学会看到这个名字',
    join: '加入课堂',
    leave: '离开',
    status_connecting: '正在连接…',
    status_open: '已进入课堂 {room}',
    status_reconnecting: '连接中断，正在重连…',
    status_replaced: '你已在别处打开这个课堂',
    status_stopped: '已断开',
    waiting_teacher: '等待老师开始…',
    loading_video: '正在加载画面…',
    you: '我',
    raise_hand: '举手',
    lower_hand: '放下手',
    on_stage: '你在台上',
    mute: '静音',
    unmute: '打开麦克风',
    leave_stage: '下台',
    chat_empty: '还没有消息',
    chat_placeholder: '说点什么…',
    send: '发送',
    invited_title: '上台邀请',
    invited_body: '{name} 邀请你上台，将打开你的摄像头和麦克风。要上台吗？',
    unmute_title: '打开麦克风',
    unmute_body: '老师请你打开麦克风。',
    // wx.showModal buttons: at most 4 Chinese characters.
    yes: '好',
    no: '不用',
    muted_by_teacher: '老师已将你静音',
    perm_denied: '上台需要摄像头和麦克风权限，请在右上角“…”→“设置”中允许',
    camera_failed: '无法打开摄像头',
    mic_failed: '无法打开麦克风',
    chat_too_long: '消息最多 500 个字',
    not_connected: '还没连上，请稍候',
    form_link_invalid: '这不是课堂链接（应为 http(s)://…/room/房间?token=…）',
    form_need_base: '请填写服务器地址',
    form_need_token: '请填写令牌',
    form_need_room: '请填写房间',
    form_need_name: '请填写名字（最多 64 个字）',
    error_unauthorized: '链接无效，请让老师重新发送',
    error_token_expired: '链接已过期，请向老师要新的链接',
    error_wrong_room: '这个链接属于另一个课堂',
    error_forbidden: '这个链接不允许这样做',
    error_not_found: '找不到',
    error_capacity: '服务器已满，请稍后再试',
    error_rate_limited: '操作太快了，请稍等',
    error_stage_full: '台上已满',
    error_not_on_stage: '你不在台上',
    error_invalid_input: '服务器拒绝了这个请求',
    error_too_large: '内容太长',
    error_unsupported_version: '小程序版本过旧，请更新',
    error_network: '无法连接服务器，请检查网络和地址',
    error_generic: '出错了（{code}）',
  },
  en: {
    title: 'Lectern class',
    link_label: 'Class link',
    link_placeholder: 'Paste the link your teacher shared, or tap Scan',
    scan: 'Scan',
    or_manual: 'No link? Enter it by hand (a link, when given, wins)',
    relay_label: 'Relay address',
    relay_placeholder: 'https://relay.example or http://192.168.1.20:8686',
    room_label: 'Room',
    room_placeholder: 'May be empty: read from the token',
    token_label: 'Token',
    name_label: 'Your name',
    name_placeholder: 'Your teacher and classmates see this name',
    join: 'Join the class',
    leave: 'Leave',
    status_connecting: 'Connecting…',
    status_open: 'In class {room}',
    status_reconnecting: 'Connection lost, reconnecting…',
    status_replaced: 'This class was opened somewhere else',
    status_stopped: 'Disconnected',
    waiting_teacher: 'Waiting for the teacher…',
    loading_video: 'Loading the picture…',
    you: 'Me',
    raise_hand: 'Raise hand',
    lower_hand: 'Lower hand',
    on_stage: 'You are on stage',
    mute: 'Mute',
    unmute: 'Unmute',
    leave_stage: 'Leave stage',
    chat_empty: 'No messages yet',
    chat_placeholder: 'Say something…',
    send: 'Send',
    invited_title: 'On stage?',
    invited_body: '{name} invites you on stage, with your camera and microphone on. Go on stage?',
    unmute_title: 'Microphone',
    unmute_body: 'The teacher asks you to unmute.',
    // wx.showModal buttons: keep them short (WeChat refuses long ones).
    yes: 'Yes',
    no: 'No',
    muted_by_teacher: 'The teacher muted you',
    perm_denied: 'Going on stage needs the camera and microphone: allow them under “…” → Settings',
    camera_failed: 'The camera could not be opened',
    mic_failed: 'The microphone could not be opened',
    chat_too_long: 'Messages are at most 500 characters',
    not_connected: 'Not connected yet, one moment',
    form_link_invalid: 'That is not a class link (http(s)://…/room/ROOM?token=…)',
    form_need_base: 'Enter the relay address',
    form_need_token: 'Enter the token',
    form_need_room: 'Enter the room',
    form_need_name: 'Enter your name (at most 64 characters)',
    error_unauthorized: 'This link is not valid. Ask your teacher to send it again',
    error_token_expired: 'This link has expired. Ask your teacher for a new one',
    error_wrong_room: 'This link is for a different class',
    error_forbidden: 'This link does not allow that',
    error_not_found: 'Not found',
    error_capacity: 'The relay is full. Try again later',
    error_rate_limited: 'Too much at once. Wait a moment',
    error_stage_full: 'The stage is full',
    error_not_on_stage: 'You are not on stage',
    error_invalid_input: 'The relay refused that request',
    error_too_large: 'That is too long',
    error_unsupported_version: 'This mini-program is out of date. Update it',
    error_network: 'Cannot reach the relay. Check the network and the address',
    error_generic: 'Something went wrong ({code})',
  },
};

function detect() {
  let language = '';
  try {
    // wx.getSystemInfoSync is deprecated from base library 2.20.1 (it logs a warning);
    // wx.getAppBaseInfo carries the same `language` (WeChat's own: "zh_CN", "en", …).
    const info = wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync();
    language = info.language || '';
  } catch (e) {
    // Keep English.
  }
  return /^zh/i.test(language) ? 'zh-CN' : 'en';
}

const lang = detect();
const strings = TABLE[lang];

function t(key, vars) {
  let s = key in strings ? strings[key] : key in TABLE.en ? TABLE.en[key] : key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (whole, name) => (vars[name] != null ? String(vars[name]) : whole));
  }
  return s;
}

/** The sentence for a relay error code; unknown codes (a newer relay) get the generic one. */
function errorText(code) {
  const key = 'error_' + code;
  return key in strings ? strings[key] : t('error_generic', { code: code });
}

module.exports = { lang, strings, t, errorText };
