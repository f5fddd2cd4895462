// fullduplex chat: the page's client. Protocol: docs/chat-protocol.md.
// Everything received is shown with textContent: nothing from the network becomes HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
  const TYPING_SEND_EVERY = 2000;
  const TYPING_SHOW_FOR = 3500;
  const GROUP_WITHIN = 3 * 60 * 1000;
  const POLICY_BACKOFF_MIN = 5000;
  const POLICY_BACKOFF_MAX = 60000;
  const CALM_AFTER = 60000;
  const ROOM_NAME = /^[a-z0-9_-]{1,32}$/;
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
    policyCloses: 0,
    retryTimer: null,
    countdown: null,
    calmTimer: null,
    opened: false,
    lastTypingSent: 0,
    // What was sent and not yet answered, in order: { kind: 'message', text } or { kind: 'file' }.
    pending: [],
    // No message is sent before this time (Date.now()): the server said to wait.
    sendAfter: 0,
    last: null,
  };

  // ---- connection -------------------------------------------------------------------------

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdown);
    setStatus('connecting', 'Connecting…');
    // The transport (transport.js): a WebSocket, or the HTTP fallback where it cannot pass.
    let opened = false;
    const ws = window.ChatTransport.open({
      onopen: () => {
        // A second onopen in one connect is the transport handing over to the fallback (a
        // WebSocket that opened, then closed before anything arrived): not a reconnection.
        if (state.opened && state.nick && !opened) notice('Reconnected.');
        opened = true;
        state.attempt = 0;
        state.opened = true;
        clearTimeout(state.calmTimer);
        const over = ws.kind === 'fallback' ? 'HTTP fallback' : 'WebSocket';
        setStatus('online', `Connected (${over})`);
        // A connection that lasts forgets the policy closes before it.
        state.calmTimer = setTimeout(() => { state.policyCloses = 0; }, CALM_AFTER);
        if (state.nick) sendJoin();
      },
      onmessage: (data) => {
        if (typeof data === 'string') onText(data);
        else onFile(data);
      },
      onclose: (event) => onClose(ws, event, opened),
    });
    state.ws = ws;
  }

  async function onClose(ws, event, wasOpen) {
    if (state.ws !== ws) return;
    state.ws = null;
    clearTimeout(state.calmTimer);
    state.pending = [];
    setJoined(false);
    const policy = event.code === 1008;
    const delay = policy ? policyDelay() : retryDelay();
    if (wasOpen) notice(closeNotice(event, delay), policy ? 'error' : '');
    const denied = event.code === 1006 && !state.opened ? await whyRefused() : null;
    if (denied) {
      setStatus('denied', denied);
      showJoinError(denied);
    }
    const until = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      if (!denied) setStatus(policy ? 'backoff' : 'waiting', `Offline — retrying in ${seconds} s`);
    };
    tick();
    state.countdown = setInterval(tick, 500);
    state.retryTimer = setTimeout(connect, delay);
  }

  // A dropped connection or a stopped server: 0.5 s doubling to 10 s, ±20 % so that the
  // pages of a restarted server do not all come back at once.
  function retryDelay() {
    const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.8 + Math.random() * 0.4);
    state.attempt = Math.min(state.attempt + 1, 10);
    return delay;
  }

  // Closed for breaking the server's policy (1008, e.g. flooding): coming straight back would
  // only be refused again. At least 5 s, doubling with each such close up to a minute, +20 %.
  function policyDelay() {
    state.policyCloses += 1;
    const delay = Math.min(POLICY_BACKOFF_MAX, POLICY_BACKOFF_MIN * 2 ** (state.policyCloses - 1));
    return delay * (1 + Math.random() * 0.2);
  }

  // Says what is known: only a 1012 close means the server is restarting.
  function closeNotice(event, delay) {
    if (event.code === 1008) {
      const why = event.reason || 'policy violation';
      return `The server closed the connection: ${why}. Reconnecting in ${Math.ceil(delay / 1000)} s.`;
    }
    if (event.code === 1012) return 'The server is restarting; reconnecting…';
    if (event.reason) return `The server closed the connection (${event.reason}); reconnecting…`;
    return 'The connection to the server was lost; reconnecting…';
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
    if (!state.ws || !state.ws.isOpen()) return false;
    return state.ws.send(message instanceof ArrayBuffer ? message : JSON.stringify(message));
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
        if (isMine(msg.from)) accepted('message', msg.text);
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
    setJoinError('');
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
      showJoinError(sentence(msg.message));
      return;
    }
    const answered = state.pending.shift();
    if (answered && answered.kind === 'message') refused(answered.text, msg);
    else notice(sentence(msg.message), 'error');
  }

  // The server answers each message and file, in order, with its own copy or an error
  // (docs/chat-protocol.md): the draft stays in the input until its copy comes back.
  function accepted(kind, text) {
    const at = state.pending.findIndex((p) => p.kind === kind && (kind === 'file' || p.text === text));
    if (at < 0) return;
    state.pending.splice(0, at + 1);
    if (kind !== 'message') return;
    const input = $('text');
    if (input.value.trim() === text) {
      input.value = '';
      autoGrow();
    }
    setComposerNote('');
  }

  function refused(text, msg) {
    const input = $('text');
    if (!input.value.trim()) {
      input.value = text;
      autoGrow();
    }
    if (msg.code === 'rate_limited') {
      const wait = Number(msg.retry_after_ms) || 1000;
      state.sendAfter = Math.max(state.sendAfter, Date.now() + wait);
      setComposerNote(`Sending too fast: not sent. Send it again in ${seconds(wait)}.`);
    } else {
      setComposerNote(`Not sent: ${msg.message}.`, 'error');
    }
  }

  function onFile(buffer) {
    const view = new DataView(buffer);
    if (buffer.byteLength < 2) return;
    const headerLength = view.getUint16(0);
    let header;
    try {
      header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 2, headerLength)));
    } catch (_) { return; }
    if (isMine(header.from)) accepted('file');
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
    $('people-count').textContent = String(state.users.size);
  }

  // Off line, the list is the last one known: say so rather than "online".
  function renderPeopleHead(joined) {
    $('people-label').textContent = joined ? 'Online' : state.me ? 'Offline · last seen' : 'Not joined';
    $('people').classList.toggle('stale', !joined);
    $('people-toggle').classList.toggle('stale', !joined);
    $('people-toggle').title = joined ? 'People in the room' : 'People in the room when last connected';
  }

  function setPeopleOpen(open) {
    document.body.classList.toggle('people-open', open);
    $('people-toggle').setAttribute('aria-expanded', String(open));
    if (open) $('people-close').focus();
    else if ($('people').contains(document.activeElement)) $('people-toggle').focus();
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
    renderPlaceholder();
    renderPeopleHead(joined);
    if (!joined) { state.typing.forEach((t) => clearTimeout(t.timer)); state.typing.clear(); renderTyping(); }
  }

  function setRoomTitle() {
    $('room-title').textContent = `#${state.room}`;
    $('join-room').textContent = `#${state.room}`;
    document.title = `#${state.room} · fullduplex chat`;
  }

  // The longest wording that fits the input on one line: a phone's input is narrow.
  function renderPlaceholder() {
    const input = $('text');
    let wordings = ['Join to start chatting', 'Join to chat'];
    if (!input.disabled) wordings = [`Message #${state.room}`, 'Message'];
    else if (state.me) wordings = ['Offline: reconnecting…', 'Reconnecting…'];
    input.placeholder = wordings.find((text) => fitsOneLine(input, text)) || wordings[wordings.length - 1];
  }

  function fitsOneLine(input, text) {
    const style = getComputedStyle(input);
    fitsOneLine.canvas = fitsOneLine.canvas || document.createElement('canvas');
    const context = fitsOneLine.canvas.getContext('2d');
    context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const width = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return context.measureText(text).width <= width;
  }

  function setComposerNote(text, kind) {
    const note = $('composer-note');
    note.textContent = text;
    note.className = `composer-note ${kind || ''}`;
  }

  function showJoinError(text) {
    $('join').hidden = false;
    setJoinError(text);
  }

  function setJoinError(text) {
    $('join-error').textContent = text;
  }

  // The server's sentences start in lower case, to be quoted; shown alone, they start with a
  // capital and end with a full stop.
  function sentence(text) {
    const capital = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
  }

  function seconds(ms) {
    return `${Math.max(0.1, ms / 1000).toFixed(1)} s`;
  }

  function isMine(user) {
    return Boolean(state.me && user && user.id === state.me.id);
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
    return ROOM_NAME.test(room) ? room : 'lobby';
  }

  // The text stays in the input until the server's copy of it comes back (see accepted).
  function submitMessage(event) {
    event.preventDefault();
    const text = $('text').value.trim();
    if (!text || state.pending.some((p) => p.kind === 'message' && p.text === text)) return;
    const wait = state.sendAfter - Date.now();
    if (wait > 0) {
      setComposerNote(`Sending too fast: send it again in ${seconds(wait)}.`);
      return;
    }
    if (send({ type: 'message', text })) {
      state.pending.push({ kind: 'message', text });
      setComposerNote('');
    }
  }

  // At most one typing notice every 2 s while typing, as the protocol asks; sending a
  // message does not restart that clock (it would cost the server a notice per message).
  function onInput() {
    autoGrow();
    setComposerNote('');
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
    if (send(message.buffer)) state.pending.push({ kind: 'file' });
    else notice('Not connected: the file was not sent.', 'error');
  }

  // Whatever the form shows answers what was just submitted: the page's own checks replace an
  // earlier message, and the server's answer replaces them (it checks everything again).
  function submitJoin(event) {
    event.preventDefault();
    const nick = $('nick').value.trim();
    const room = $('room').value.trim().toLowerCase() || state.room;
    let problem = '';
    if (!nick) problem = 'Choose a nickname.';
    else if (!ROOM_NAME.test(room)) problem = 'Room names are 1 to 32 letters, digits, - or _.';
    setJoinError(problem);
    if (problem) return;
    state.nick = nick;
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
    $('join-form').addEventListener('input', () => setJoinError(''));
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
    $('status').addEventListener('click', () => {
      if (!state.ws && $('status').dataset.state !== 'backoff') connect();
    });
    $('people-toggle').addEventListener('click', () => setPeopleOpen(!document.body.classList.contains('people-open')));
    $('people-close').addEventListener('click', () => setPeopleOpen(false));
    $('backdrop').addEventListener('click', () => setPeopleOpen(false));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && document.body.classList.contains('people-open')) setPeopleOpen(false);
    });
    window.addEventListener('resize', renderPlaceholder);
    window.addEventListener('hashchange', onHashChange);
    setJoined(false);
    connect();
    $('nick').focus();
  }

  init();
})();
