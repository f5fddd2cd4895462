// fullduplex chat: the page's transports. Protocol: docs/chat-protocol.md.
// A WebSocket first; if it cannot open within a few seconds, or closes before anything
// arrived, the HTTP fallback (long-polling) carries the same messages. Both look alike to
// app.js: open(handlers) gives { kind, isOpen(), send(data), close() } and calls
// onopen(), onmessage(string | ArrayBuffer) and onclose({ code, reason }) once.
'use strict';

window.ChatTransport = (() => {
  const OPEN_WITHIN = 4000;
  // On the fallback, every this many connects tries the WebSocket again.
  const RETRY_WEBSOCKET_EVERY = 5;
  let useFallback = false;
  let connects = 0;

  function open(handlers) {
    connects += 1;
    if (useFallback && connects % RETRY_WEBSOCKET_EVERY !== 0) return fallback(handlers);
    return websocket(handlers);
  }

  // The WebSocket, handing over to the fallback when it cannot get through.
  function websocket(handlers) {
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (_) {
      // No WebSocket in this browser (removed, or refused outright): the fallback it is.
      return fallbackRemembered(handlers);
    }
    ws.binaryType = 'arraybuffer';
    let heard = false;
    let inner = null;
    const transport = {
      kind: 'websocket',
      isOpen: () => (inner ? inner.isOpen() : ws.readyState === WebSocket.OPEN),
      send: (data) => (inner ? inner.send(data) : sendOn(ws, data)),
      close: () => (inner ? inner.close() : ws.close()),
    };
    // Stays on the fallback (retrying the WebSocket now and then) only if the fallback opens:
    // when both fail the server is down, and the next attempt tries the WebSocket again.
    const handOver = () => {
      ws.onclose = null;
      ws.close();
      transport.kind = 'fallback';
      inner = fallbackRemembered(handlers);
    };
    const timer = setTimeout(() => { if (ws.readyState !== WebSocket.OPEN) handOver(); }, OPEN_WITHIN);
    ws.onopen = () => {
      clearTimeout(timer);
      handlers.onopen();
    };
    ws.onmessage = (event) => {
      if (!heard) {
        heard = true;
        useFallback = false;
      }
      handlers.onmessage(event.data);
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      if (!heard && event.code !== 1008) return handOver();
      handlers.onclose({ code: event.code, reason: event.reason });
    };
    return transport;
  }

  // The fallback, remembered as the transport to use once it opens.
  function fallbackRemembered(handlers) {
    return fallback(Object.assign({}, handlers, {
      onopen: () => { useFallback = true; handlers.onopen(); },
    }));
  }

  function sendOn(ws, data) {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data);
    return true;
  }

  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws${tokenQuery()}`;
  }

  function tokenQuery() {
    const token = new URLSearchParams(location.search).get('token');
    return token ? `?token=${encodeURIComponent(token)}` : '';
  }

  // The HTTP fallback: a session, a poll always waiting, sends one after the other.
  function fallback(handlers) {
    const state = { sid: null, ack: 0, open: false, ended: false, queue: [], sending: false, hold: 25000 };
    const query = tokenQuery();
    const request = (method, path, body, extra) => fetch(`/fallback/${path}${query ? (path.includes('?') ? '&' : '?') + query.slice(1) : ''}`, {
      method,
      cache: 'no-store',
      headers: Object.assign(body !== undefined ? { 'Content-Type': 'application/json' } : {},
        state.sid ? { 'X-Fullduplex-Session': state.sid } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      ...extra,
    });
    // Leaving the page ends the session at once, as a WebSocket's close would (the request
    // outlives the page: keepalive); otherwise the user would stay listed until it expires.
    const leave = () => {
      window.removeEventListener('pagehide', leave);
      if (state.sid && !state.ended) request('POST', 'close', {}, { keepalive: true }).catch(() => {});
      state.ended = true;
      state.open = false;
    };
    window.addEventListener('pagehide', leave);
    const end = (code, reason) => {
      if (state.ended) return;
      window.removeEventListener('pagehide', leave);
      state.ended = true;
      state.open = false;
      handlers.onclose({ code, reason });
    };
    const deliver = (message) => {
      if (message.seq <= state.ack) return;
      state.ack = message.seq;
      handlers.onmessage(message.text !== undefined ? message.text : fromBase64(message.binary));
    };
    const poll = async () => {
      while (!state.ended) {
        let response;
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), state.hold + 15000);
        try {
          response = await request('GET', `poll?ack=${state.ack}`, undefined, { signal: abort.signal });
        } catch (_) {
          return end(1006, '');
        } finally {
          clearTimeout(timer);
        }
        if (response.status !== 200) return end(1006, '');
        const batch = await response.json().catch(() => null);
        if (!batch) return end(1006, '');
        batch.messages.forEach(deliver);
        if (batch.closed) return end(batch.closed.code, batch.closed.reason);
      }
    };
    const flush = async () => {
      if (state.sending || !state.queue.length || state.ended) return;
      state.sending = true;
      const messages = state.queue.splice(0);
      try {
        const response = await request('POST', 'send', { messages });
        if (response.status !== 204 && response.status !== 410) end(1006, '');
      } catch (_) {
        end(1006, '');
      }
      state.sending = false;
      flush();
    };
    (async () => {
      try {
        const response = await request('POST', 'open', {});
        if (response.status !== 200) return end(1006, '');
        const opened = await response.json();
        state.sid = opened.sid;
        state.hold = opened.poll_timeout_ms;
        state.open = true;
        handlers.onopen();
        poll();
      } catch (_) {
        end(1006, '');
      }
    })();
    return {
      kind: 'fallback',
      isOpen: () => state.open,
      send: (data) => {
        if (!state.open) return false;
        state.queue.push(typeof data === 'string' ? { text: data } : { binary: toBase64(data) });
        flush();
        return true;
      },
      close: leave,
    };
  }

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  return { open };
})();
