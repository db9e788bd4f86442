// The one owner of the workspace's WebSocket (docs/protocol.md). It says
// hello with the last position it applied, resumes, tells the page to
// reload on resync, keeps sends until they are acknowledged (a resend reuses
// the client id, so the server stores it once), and reconnects with back-off.
//
// Events it dispatches:
//   'event'  detail: the event frame (message, conversation, notification, …), each once, in order
//   'state'  detail: 'connecting' | 'online' | 'reconnecting' | 'offline'
//   'resync' the server could not replay: reload lists and the open chat
//   'ready'  (re)connected and current
//   'refresh' the tab was hidden long enough that a reload is wise

const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
const TYPING_EVERY = 3000;
const HIDDEN_REFRESH = 60000;

export class Realtime extends EventTarget {
  constructor(pos) {
    super();
    this.pos = Number(pos) || 0;
    this.state = 'connecting';
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.sends = new Map(); // client_id -> {frame, resolve, reject}
    this.typingAt = new Map(); // conversation id -> last typing sent
    this.timers = { reconnect: 0, ping: 0, pong: 0 };
    this.hiddenAt = 0;
    addEventListener('online', () => this.reconnectNow());
    addEventListener('offline', () => this.ws && this.ws.close());
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) {
        this.hiddenAt = Date.now();
      } else if (this.hiddenAt && Date.now() - this.hiddenAt > HIDDEN_REFRESH) {
        this.hiddenAt = 0;
        this.dispatchEvent(new CustomEvent('refresh'));
      }
    });
  }

  connect() {
    clearTimeout(this.timers.reconnect);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/ws';
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', after: this.pos }));
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      this.onFrame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.timers.ping);
      clearTimeout(this.timers.pong);
      if (e.code === 4401) {
        location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
        return;
      }
      this.setState(navigator.onLine === false ? 'offline' : 'reconnecting');
      this.scheduleReconnect();
    };
  }

  onFrame(f) {
    switch (f.type) {
      case 'event':
        // Positions only grow; anything at or below ours was applied already.
        if (f.pos > 0) {
          if (f.pos <= this.pos) return;
          this.pos = f.pos;
        }
        this.dispatchEvent(new CustomEvent('event', { detail: f }));
        return;
      case 'ready':
      case 'resync': {
        const resync = f.type === 'resync';
        this.pos = f.pos;
        this.ready = true;
        this.attempt = 0;
        this.setState('online');
        this.startPing();
        if (resync) this.dispatchEvent(new CustomEvent('resync'));
        this.dispatchEvent(new CustomEvent('ready'));
        // Sends made while away (or unacknowledged when the socket dropped)
        // go again with their client ids.
        for (const s of this.sends.values()) this.ws.send(JSON.stringify(s.frame));
        return;
      }
      case 'ack': {
        const s = this.sends.get(f.client_id);
        if (s) {
          this.sends.delete(f.client_id);
          s.resolve(f.message);
        }
        return;
      }
      case 'error': {
        if (f.client_id) {
          const s = this.sends.get(f.client_id);
          if (s) {
            this.sends.delete(f.client_id);
            const err = new Error(f.message || 'The message was not sent.');
            err.code = f.code;
            s.reject(err);
          }
        }
        return;
      }
      case 'pong':
        clearTimeout(this.timers.pong);
        return;
      case 'reconnect':
        // The server is going away: come back (to it or another node) soon.
        if (this.ws) this.ws.close();
        return;
    }
  }

  startPing() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send('{"type":"ping"}');
      clearTimeout(this.timers.pong);
      // A connection that silently died is noticed within seconds, not minutes.
      this.timers.pong = setTimeout(() => this.ws && this.ws.close(), PONG_WITHIN);
    }, PING_EVERY);
  }

  scheduleReconnect() {
    clearTimeout(this.timers.reconnect);
    const base = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt++;
    this.timers.reconnect = setTimeout(() => this.connect(), base / 2 + Math.random() * base / 2);
  }

  reconnectNow() {
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    this.attempt = 0;
    this.connect();
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  get online() { return this.ready && this.ws && this.ws.readyState === WebSocket.OPEN; }

  // send stores a message through the socket. It resolves with the stored
  // message on ack and rejects on the server's error; while disconnected it
  // waits (the caller shows "Waiting for connection").
  send(conversationId, thread, body, clientId) {
    const frame = { type: 'send', conversation_id: Number(conversationId), thread, body, client_id: clientId };
    return new Promise((resolve, reject) => {
      this.sends.set(clientId, { frame, resolve, reject });
      if (this.online) this.ws.send(JSON.stringify(frame));
    });
  }

  // forget drops a send the user gave up on (it may still have been stored).
  forget(clientId) { this.sends.delete(clientId); }

  // typing tells the others, at most every 3 s per conversation.
  typing(conversationId) {
    const now = Date.now();
    if (!this.online || now - (this.typingAt.get(conversationId) || 0) < TYPING_EVERY) return;
    this.typingAt.set(conversationId, now);
    this.ws.send(JSON.stringify({ type: 'typing', conversation_id: Number(conversationId) }));
  }
}
