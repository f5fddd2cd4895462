// fullduplex chat: the page's client. Protocol: docs/chat-protocol.md.
// Everything received is shown with textContent: nothing from the network becomes HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
  const TYPING_SEND_EVERY = 2000;
  const TYPING_SHOW_FOR = 3500;
  const GROUP_WITHIN = 3 * 60 * 1000;
  const AVATAR_COLOURS = ['#e11d48', '#c026d3', '#7c3aed', '#4f46e5', '#0284c7', '#0d9488',
    '#16a34a', '#ca8a04', '#ea580c', '#64748b'];

  const state = {
    ws: null,
    nick: '',
    room: roomFromHash(),
    me: null,
    joinedRoom: null,
    users: new Map(),
    typing: new Map(),
    limits: { max_file_bytes: 1 << 20, max_text_chars: 2000, max_nick_chars: 24 },
    attempt: 0,
    retryTimer: null,
    countdown: null,
    opened: false,
    lastTypingSent: 0,
    last: null,
  };

  // ---- connection -------------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = new URLSearchParams(location.search).get('token');
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    return `${scheme}//${location.host}/ws${query}`;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdown);
    setStatus('connecting', 'Connecting…');
    const ws = new WebSocket(socketUrl());
    ws.binaryType = 'arraybuffer';
    state.ws = ws;
    ws.onopen = () => {
      state.attempt = 0;
      if (state.opened && state.nick) notice('Reconnected.');
      state.opened = true;
      setStatus('online', 'Connected');
      if (state.nick) sendJoin();
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') onText(event.data);
      else onFile(event.data);
    };
    ws.onclose = (event) => onClose(ws, event);
  }

  async function onClose(ws, event) {
    if (state.ws !== ws) return;
    state.ws = null;
    setJoined(false);
    if (event.code === 1008) notice(`Disconnected by the server: ${event.reason || 'policy'}.`, 'error');
    else if (event.code === 1001 && state.me) notice('The server is restarting.');
    const denied = event.code === 1006 && !state.opened ? await whyRefused() : null;
    if (denied) {
      setStatus('denied', denied);
      showJoinError(denied);
    }
    const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.8 + Math.random() * 0.4);
    state.attempt = Math.min(state.attempt + 1, 10);
    const until = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      if (!denied) setStatus('waiting', `Offline — retrying in ${seconds} s`);
    };
    tick();
    state.countdown = setInterval(tick, 500);
    state.retryTimer = setTimeout(connect, delay);
  }

  // A browser hides the handshake's HTTP status from scripts: ask the endpoint directly.
  async function whyRefused() {
    try {
      const response = await fetch(`/ws${location.search}`, { cache: 'no-store' });
      if (response.status === 401) return 'Access denied: open the link with ?token=…';
      if (response.status === 403) return 'Access denied: this page’s origin is not allowed';
    } catch (_) { /* the server is down: an ordinary retry */ }
    return null;
  }

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(message instanceof ArrayBuffer ? message : JSON.stringify(message));
      return true;
    }
    return false;
  }

  function sendJoin() {
    return send({ type: 'join', nick: state.nick, room: state.room });
  }

  // ---- what the server says ---------------------------------------------------------------

  function onText(data) {
    let msg;
    try { msg = JSON.parse(data); } catch (_) { return; }
    switch (msg.type) {
      case 'welcome': return onWelcome(msg);
      case 'message':
        stopTyping(msg.from.id);
        return addMessage(msg.from, msg.time, (body) => { body.textContent = msg.text; });
      case 'joined':
        state.users.set(msg.user.id, msg.user);
        renderUsers();
        return notice(`${msg.user.nick} joined`);
      case 'left':
        state.users.delete(msg.user.id);
        stopTyping(msg.user.id);
        renderUsers();
        return notice(`${msg.user.nick} left`);
      case 'typing': return startTyping(msg.user);
      case 'error': return onError(msg);
      case 'notice': return notice(msg.message, 'error');
      default: return undefined;
    }
  }

  function onWelcome(msg) {
    const switched = state.joinedRoom && state.joinedRoom !== msg.room;
    const rejoined = state.joinedRoom === msg.room;
    state.joinedRoom = msg.room;
    state.me = msg.you;
    state.room = msg.room;
    state.limits = msg.limits;
    state.users = new Map(msg.users.map((u) => [u.id, u]));
    localStorage.setItem('nick', state.nick);
    if (switched) { $('messages').replaceChildren(); state.last = null; }
    $('join').hidden = true;
    $('text').maxLength = msg.limits.max_text_chars;
    setRoomTitle();
    renderUsers();
    setJoined(true);
    if (!rejoined) notice(msg.text, 'welcome');
    $('text').focus();
  }

  function onError(msg) {
    if (msg.code === 'bad_nick' || msg.code === 'bad_room') {
      if (!state.me) state.nick = '';
      showJoinError(msg.message);
      return;
    }
    notice(msg.message, 'error');
  }

  function onFile(buffer) {
    const view = new DataView(buffer);
    if (buffer.byteLength < 2) return;
    const headerLength = view.getUint16(0);
    let header;
    try {
      header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 2, headerLength)));
    } catch (_) { return; }
    const bytes = new Uint8Array(buffer, 2 + headerLength);
    const inline = IMAGE_TYPES.includes(header.mime);
    // Anything but a known image is offered as an opaque download, never opened as a page.
    const blob = new Blob([bytes], { type: inline ? header.mime : 'application/octet-stream' });
    const url = URL.createObjectURL(blob);
    addMessage(header.from, header.time, (body) => {
      if (inline) {
        const img = document.createElement('img');
        img.alt = header.name;
        img.title = header.name;
        img.src = url;
        img.addEventListener('load', () => keepAtBottom(true), { once: true });
        body.append(img);
      } else {
        const link = element('a', 'file-link', '📄 ');
        link.href = url;
        link.download = header.name;
        link.append(element('span', 'name', header.name), element('span', 'size', humanSize(header.size)));
        body.append(link);
      }
    });
  }

  // ---- rendering ----------------------------------------------------------------------------

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text) el.textContent = text;
    return el;
  }

  function avatar(user) {
    const el = element('span', 'avatar', [...user.nick][0].toUpperCase());
    let hash = 2166136261; // FNV-1a: neighbouring names get unrelated colours
    for (const c of user.nick) hash = Math.imul(hash ^ c.codePointAt(0), 16777619) >>> 0;
    el.style.background = AVATAR_COLOURS[hash % AVATAR_COLOURS.length];
    return el;
  }

  function addMessage(from, time, fillBody) {
    const list = $('messages');
    const atBottom = nearBottom();
    const li = element('li', 'msg');
    const continues = state.last && state.last.id === from.id && time - state.last.time < GROUP_WITHIN;
    if (continues) li.classList.add('cont');
    if (state.me && from.id === state.me.id) li.classList.add('mine');
    const meta = element('div', 'meta');
    meta.append(element('span', 'nick', from.nick), element('time', 'time', clock(time)));
    const body = element('div', 'body');
    fillBody(body);
    li.append(avatar(from), meta, body);
    list.append(li);
    state.last = { id: from.id, time };
    keepAtBottom(atBottom);
  }

  function notice(text, kind) {
    const atBottom = nearBottom();
    $('messages').append(element('li', `notice ${kind || ''}`, text));
    state.last = null;
    keepAtBottom(atBottom);
  }

  function nearBottom() {
    const list = $('messages');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function keepAtBottom(atBottom) {
    if (atBottom) $('messages').scrollTop = $('messages').scrollHeight;
  }

  function renderUsers() {
    const items = [...state.users.values()].map((user) => {
      const li = element('li');
      li.append(avatar(user), element('span', 'name', user.nick));
      if (state.me && user.id === state.me.id) li.append(element('span', 'me', 'you'));
      return li;
    });
    $('users').replaceChildren(...items);
    $('count').textContent = String(state.users.size);
  }

  function startTyping(user) {
    const previous = state.typing.get(user.id);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => stopTyping(user.id), TYPING_SHOW_FOR);
    state.typing.set(user.id, { nick: user.nick, timer });
    renderTyping();
  }

  function stopTyping(id) {
    const entry = state.typing.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    state.typing.delete(id);
    renderTyping();
  }

  function renderTyping() {
    const nicks = [...state.typing.values()].map((t) => t.nick);
    let text = '';
    if (nicks.length === 1) text = `${nicks[0]} is typing…`;
    else if (nicks.length === 2) text = `${nicks[0]} and ${nicks[1]} are typing…`;
    else if (nicks.length > 2) text = `${nicks.length} people are typing…`;
    $('typing').textContent = text;
  }

  function setStatus(kind, text) {
    $('status').dataset.state = kind;
    $('status-text').textContent = text;
  }

  function setJoined(joined) {
    $('text').disabled = !joined;
    $('send').disabled = !joined;
    $('file').disabled = !joined;
    $('text').placeholder = joined ? `Message #${state.room}` : 'Waiting for the connection…';
    $('users').classList.toggle('stale', !joined);
    if (!joined) { state.typing.forEach((t) => clearTimeout(t.timer)); state.typing.clear(); renderTyping(); }
  }

  function setRoomTitle() {
    $('room-title').textContent = `#${state.room}`;
    $('join-room').textContent = `#${state.room}`;
    document.title = `#${state.room} · fullduplex chat`;
  }

  function showJoinError(text) {
    $('join').hidden = false;
    $('join-error').textContent = text;
  }

  function clock(time) {
    return new Date(time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function humanSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  }

  // ---- what the user does -------------------------------------------------------------------

  function roomFromHash() {
    let room = '';
    try { room = decodeURIComponent(location.hash.slice(1)).trim().toLowerCase(); } catch (_) { /* keep '' */ }
    return /^[a-z0-9_-]{1,32}$/.test(room) ? room : 'lobby';
  }

  function submitMessage(event) {
    event.preventDefault();
    const input = $('text');
    const text = input.value.trim();
    if (!text) return;
    if (send({ type: 'message', text })) {
      input.value = '';
      autoGrow();
      state.lastTypingSent = 0;
    }
  }

  function onInput() {
    autoGrow();
    const now = Date.now();
    if ($('text').value.trim() && now - state.lastTypingSent > TYPING_SEND_EVERY) {
      state.lastTypingSent = now;
      send({ type: 'typing' });
    }
  }

  function autoGrow() {
    const input = $('text');
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
  }

  async function sendFile(file) {
    if (!file) return;
    if (file.size > state.limits.max_file_bytes) {
      notice(`“${file.name}” is too large: files are limited to ${humanSize(state.limits.max_file_bytes)}.`, 'error');
      return;
    }
    const header = new TextEncoder().encode(JSON.stringify({
      name: file.name || 'pasted-image.png',
      mime: file.type || 'application/octet-stream',
    }));
    const bytes = new Uint8Array(await file.arrayBuffer());
    const message = new Uint8Array(2 + header.length + bytes.length);
    new DataView(message.buffer).setUint16(0, header.length);
    message.set(header, 2);
    message.set(bytes, 2 + header.length);
    if (!send(message.buffer)) notice('Not connected: the file was not sent.', 'error');
  }

  function submitJoin(event) {
    event.preventDefault();
    const nick = $('nick').value.trim();
    const room = $('room').value.trim().toLowerCase() || state.room;
    if (!nick) return;
    state.nick = nick;
    $('join-error').textContent = '';
    if (room !== state.room) {
      location.hash = room;
      state.room = room;
    }
    setRoomTitle();
    if (!sendJoin() && !state.ws) connect();
  }

  function onHashChange() {
    const room = roomFromHash();
    if (room === state.room) return;
    state.room = room;
    $('room').value = room;
    setRoomTitle();
    if (state.me) sendJoin();
  }

  function init() {
    $('nick').value = localStorage.getItem('nick') || '';
    $('room').value = state.room;
    setRoomTitle();
    $('join-form').addEventListener('submit', submitJoin);
    $('composer').addEventListener('submit', submitMessage);
    $('text').addEventListener('input', onInput);
    $('text').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) submitMessage(event);
    });
    $('file').addEventListener('change', (event) => {
      sendFile(event.target.files[0]);
      event.target.value = '';
    });
    document.addEventListener('paste', (event) => {
      const file = [...(event.clipboardData?.files || [])][0];
      if (file && state.me) { event.preventDefault(); sendFile(file); }
    });
    $('status').addEventListener('click', () => { if (!state.ws) connect(); });
    window.addEventListener('hashchange', onHashChange);
    setJoined(false);
    connect();
    $('nick').focus();
  }

  init();
})();
