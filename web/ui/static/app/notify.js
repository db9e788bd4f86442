// Alerts without fatigue (UX §2): the red and blue counters with the title
// badge (W4), one short sound per few seconds at most, and browser
// notifications only while the tab is hidden, tagged per conversation so
// that they replace each other.

import { api } from './api.js';
import { $, store, debounce } from './dom.js';
import { readState } from './conversation.js';

const SOUND_GAP = 4000;

export class Notifier {
  constructor() {
    this.lastSound = 0;
    this.audio = null;
    this.played = []; // the alerts given, newest last (the browser tests read it)
    this.setting = store.get('sb:sound', 'mine');
    const sel = $('#sound-setting');
    if (sel) {
      sel.value = this.setting;
      sel.addEventListener('change', () => { this.setting = sel.value; store.set('sb:sound', sel.value); });
    }
  }

  // sound plays a short chime for kind: 'offer', 'mention', 'new_chat',
  // 'mine' (a new message in one of my chats) or 'other', as the user's
  // setting allows.
  sound(kind) {
    const s = this.setting;
    const urgent = kind === 'offer' || kind === 'mention' || kind === 'new_chat';
    const wanted = s === 'all' || (s === 'mine' && kind !== 'other') || (s === 'offers' && urgent);
    if (!wanted) return;
    // One sound per few seconds; an offer or a mention is never swallowed
    // by the chime of an ordinary message just before it.
    const now = Date.now();
    if (now - this.lastSound < SOUND_GAP && !(urgent && !this.lastUrgent)) return;
    this.lastSound = now;
    this.lastUrgent = urgent;
    this.played = this.played.slice(-19).concat(kind);
    try {
      this.audio = this.audio || new AudioContext();
      const ctx = this.audio;
      const t = ctx.currentTime;
      const tones = kind === 'offer' ? [660, 880] : [880];
      tones.forEach((f, i) => {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = f;
        o.type = 'sine';
        g.gain.setValueAtTime(0.0001, t + i * 0.14);
        g.gain.exponentialRampToValueAtTime(0.15, t + i * 0.14 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.14 + 0.22);
        o.connect(g).connect(ctx.destination);
        o.start(t + i * 0.14);
        o.stop(t + i * 0.14 + 0.25);
      });
    } catch { /* no audio: the in-page alert remains */ }
  }

  // notify shows a browser notification while the tab is hidden.
  notify(title, body, tag, onClick) {
    if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag, renotify: true });
      n.onclick = () => { focus(); if (onClick) onClick(); n.close(); };
    } catch { /* some browsers only allow notifications from a service worker */ }
  }

  async askPermission() {
    if (!('Notification' in window)) return 'unsupported';
    return Notification.requestPermission();
  }
}

// Counters keeps the red and blue pills and the title badge current.
export class Counters {
  constructor(app) {
    this.app = app;
    this.red = $('#counter-red');
    this.blue = $('#counter-blue');
    this.data = null;
    this.refreshSoon = debounce(() => this.refresh(), 600);
    addEventListener('sb:read', () => this.render());
    addEventListener('storage', (e) => { if (e.key && e.key.startsWith('sb:read:')) this.render(); });
    this.refresh();
  }

  async refresh() {
    try { this.data = await api('GET', '/app/counters'); } catch { return; }
    this.render();
  }

  // onMessage counts a message in one of my chats without a round trip.
  onMessage(d) {
    if (!this.data || d.thread !== 'public') return;
    const c = this.data.mine.find((x) => x.id === d.conversation_id);
    if (c && d.seq > c.last_seq) c.last_seq = d.seq;
    this.render();
  }

  unreadChats() {
    if (!this.data) return 0;
    return this.data.mine.filter((c) => c.last_seq > readState.get(c.id) && !(c.id === this.app.openId && !document.hidden)).length;
  }

  render() {
    if (!this.data) return;
    const d = this.data;
    const unread = d.operator ? this.unreadChats() : 0;
    const unassigned = d.unassigned;
    const red = unread + (d.supervisor ? unassigned : 0);
    const label = d.supervisor && d.operator ? 'need attention' : d.supervisor ? 'unassigned' : 'unread';
    set(this.red, red, label, d.supervisor && !d.operator ? `${red} unassigned chats` : d.supervisor ? `${unread} unread chats, ${unassigned} unassigned` : `${red} unread chats`);
    if (this.blue) set(this.blue, unassigned, 'new', `${unassigned} new unassigned chats`);
    const n = red || (d.operator ? unassigned : 0);
    document.title = (n ? `(${n > 99 ? '99+' : n}) ` : '') + document.title.replace(/^\(\d+\+?\) /, '');
  }
}

function set(pill, n, label, aria) {
  if (!pill) return;
  pill.hidden = n === 0;
  pill.querySelector('[data-n]').textContent = n > 99 ? '99+' : String(n);
  const l = pill.querySelector('[data-label]');
  if (l) l.textContent = label;
  pill.setAttribute('aria-label', aria);
}
