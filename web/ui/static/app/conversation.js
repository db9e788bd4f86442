// The open conversation: its log, its threads in the information panel, the
// optimistic sends (UX §3) and the read state. Live changes fetch
// server-rendered fragments and place them by stable ids (msg-{id}); the
// composer is never swapped while its conversation stays open.

import { fragment, newClientId } from './api.js';
import { $, $$, el, store, localTimes, me } from './dom.js';
import { Composer, SideComposer } from './composer.js';

const SEND_TIMEOUT = 10000;
const TYPING_SHOWN = 5000;

// readState remembers, per user and conversation, the last public seq read.
// Another tab's reads arrive through the storage event.
export const readState = {
  key() { return 'sb:read:' + me().id; },
  all() { return store.get(this.key(), {}); },
  get(id) { return this.all()[id] || 0; },
  set(id, seq) {
    const m = this.all();
    if ((m[id] || 0) >= seq) return;
    m[id] = seq;
    const ids = Object.keys(m);
    if (ids.length > 1000) for (const k of ids.sort((a, b) => a - b).slice(0, ids.length - 1000)) delete m[k];
    store.set(this.key(), m);
    dispatchEvent(new CustomEvent('sb:read', { detail: { id: Number(id), seq } }));
  },
};

const seqOf = (li) => Number(li.dataset.seq || 0);

export class Conversation {
  constructor(rt, pane) {
    this.rt = rt;
    this.pane = pane;
    this.id = Number(pane.dataset.id);
    this.log = $('#log', pane);
    this.pill = $('#new-pill', pane);
    this.typingEl = $('#typing', pane);
    this.status = pane.dataset.status;
    this.mine = Number(pane.dataset.assignee || 0) === me().id;
    this.ticket = pane.dataset.ticket || '';
    this.pending = new Map(); // client id -> {li, thread, body, timer}
    this.pulling = new Map(); // thread -> Promise
    this.again = new Set();
    this.unseen = 0;
    this.typingTimer = 0;
    this.abort = new AbortController();
    const opts = { signal: this.abort.signal };
    this.log.addEventListener('scroll', () => this.onScroll(), { passive: true, ...opts });
    this.pill.addEventListener('click', () => this.scrollBottom(), opts);
    this.pane.addEventListener('click', (e) => this.onClick(e), opts);
    document.addEventListener('visibilitychange', () => this.markRead(), opts);
    localTimes(this.pane);
    this.showUnreadDivider();
    const form = $('#composer', pane);
    this.composer = form ? new Composer(this, form) : null;
    this.sides = [];
    this.mountInfo();
    this.markRead();
  }

  destroy() {
    this.abort.abort();
    if (this.composer) this.composer.destroy();
    for (const s of this.sides) s.destroy();
    clearTimeout(this.typingTimer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
  }

  // mountInfo attaches to the information panel's threads (re-rendered
  // separately from the pane).
  mountInfo() {
    for (const s of this.sides) s.destroy();
    this.sides = $$('.side-composer', document.getElementById('info') || document).map((f) => new SideComposer(this, f));
    localTimes(document.getElementById('info') || document);
  }

  container(thread) {
    return thread === 'public' ? this.log : document.getElementById('thread-' + thread);
  }

  lastSeq(thread = 'public') {
    const c = this.container(thread);
    if (!c) return 0;
    let n = 0;
    for (const li of c.children) if (li.dataset.seq && !li.closest('.earlier')) n = Math.max(n, seqOf(li));
    return n;
  }

  atBottom() { return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40; }

  scrollBottom() {
    this.log.scrollTop = this.log.scrollHeight;
    this.unseen = 0;
    this.pill.hidden = true;
    this.markRead();
  }

  onScroll() {
    if (this.atBottom()) {
      this.unseen = 0;
      this.pill.hidden = true;
      this.markRead();
    }
  }

  // markRead: a chat is read when it is open, visible and scrolled to the bottom.
  markRead() {
    if (document.hidden || !this.atBottom()) return;
    const seq = this.lastSeq('public');
    if (seq) readState.set(this.id, seq);
  }

  showUnreadDivider() {
    const read = readState.get(this.id);
    const first = read ? $$('.msg[data-seq]', this.log).find((li) => !li.closest('.earlier') && seqOf(li) > read && !li.classList.contains('msg-mine')) : null;
    if (first) {
      first.before(el('li', { class: 'log-divider', id: 'log-divider', role: 'separator' }, 'New messages'));
      first.scrollIntoView({ block: 'center' });
    } else {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  // ---- live changes ----

  onEvent(f) {
    const d = f.data || {};
    switch (f.event) {
      case 'message':
        if (d.sender === 'customer' || d.sender === 'bot') this.clearTyping();
        this.pull(d.thread || 'public');
        return;
      case 'typing':
        this.showTyping(d);
        return;
      case 'conversation':
        this.onConversation(d);
        return;
      case 'history':
        this.refreshInfoSoon();
        return;
    }
  }

  // pull fetches the thread's messages after the last one shown; calls
  // made while a fetch runs are folded into one more fetch after it.
  pull(thread) {
    if (this.pulling.has(thread)) {
      this.again.add(thread);
      return this.pulling.get(thread);
    }
    const run = (async () => {
      do {
        this.again.delete(thread);
        const c = this.container(thread);
        if (!c) return;
        const after = this.lastSeq(thread);
        const url = `/app/c/${this.id}/messages?thread=${thread}&after=${after}`;
        let frag;
        try { frag = await fragment(url); } catch { return; }
        if (this.abort.signal.aborted) return;
        this.apply(frag, c, thread);
      } while (this.again.has(thread));
    })();
    this.pulling.set(thread, run);
    run.finally(() => this.pulling.delete(thread));
    return run;
  }

  // apply places fetched messages: replace by id, replace our pending
  // bubble by client id, otherwise insert in seq order.
  apply(frag, c, thread) {
    const stick = thread !== 'public' || this.atBottom();
    let added = 0;
    for (const li of Array.from(frag.children)) {
      if (!li.id || !li.id.startsWith('msg-')) continue;
      const existing = document.getElementById(li.id);
      if (existing) {
        existing.replaceWith(li);
        continue;
      }
      const cid = li.dataset.clientId;
      const mine = cid && this.pending.get(cid);
      if (mine) {
        clearTimeout(mine.timer);
        this.pending.delete(cid);
        mine.li.replaceWith(li);
        continue;
      }
      const seq = seqOf(li);
      const after = Array.from(c.children).find((x) => x.dataset.seq && !x.classList.contains('is-pending') && seqOf(x) > seq);
      const end = c.querySelector(':scope > .log-end');
      const firstPending = c.querySelector(':scope > .is-pending');
      c.insertBefore(li, after || firstPending || end || null);
      if (!li.classList.contains('msg-mine')) added++;
    }
    const empty = c.querySelector('.thread-empty');
    if (empty && c.querySelector('.msg')) empty.remove();
    localTimes(c);
    if (thread !== 'public') {
      const count = document.querySelector(`[data-count="${thread}"]`);
      if (count) count.textContent = String(c.querySelectorAll('.msg[data-seq]').length);
      if (stick) c.lastElementChild && c.lastElementChild.scrollIntoView({ block: 'nearest' });
      return;
    }
    if (stick) {
      this.scrollBottom();
    } else if (added) {
      this.unseen += added;
      this.pill.textContent = `${this.unseen} new ↓`;
      this.pill.hidden = false;
    }
  }

  showTyping(d) {
    if (d.sender === 'agent' && d.name === me().name) return;
    const who = d.sender === 'customer' ? (this.pane.dataset.name || 'The customer') : (d.name || 'Someone');
    this.typingEl.textContent = `${who} is typing…`;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.clearTyping(), TYPING_SHOWN);
  }

  clearTyping() {
    clearTimeout(this.typingTimer);
    this.typingEl.textContent = '';
  }

  onConversation(c) {
    const ended = (s) => s === 'ended' || s === 'failed';
    const flipped = ended(c.status) !== ended(this.status) || (c.ticket_status || '') !== this.ticket;
    const mine = (c.assignee_id || 0) === me().id;
    this.status = c.status;
    // Whether the composer shows depends on status and assignee: when
    // those change the pane is rendered again (the draft is kept).
    if (flipped || mine !== this.mine) {
      this.reloadPane();
      return;
    }
    this.refreshHead();
    this.refreshInfoSoon();
  }

  async refreshHead() {
    try {
      const frag = await fragment(`/app/c/${this.id}/head`);
      const head = $('#conv-head', this.pane);
      if (head && !this.abort.signal.aborted) {
        head.replaceChildren(frag);
        localTimes(head);
      }
    } catch { /* the next event tries again */ }
  }

  reloadPane() {
    const tab = document.querySelector('#info [role=tab][aria-selected="true"]');
    const q = tab ? '?info=' + tab.dataset.tab : '';
    window.htmx.ajax('GET', `/app/c/${this.id}/pane${q}`, { target: '#conv', swap: 'innerHTML' });
  }

  // refreshInfoSoon re-renders the information panel, but never under the
  // user's hands: while they type in it, it waits until they leave it.
  refreshInfoSoon() {
    clearTimeout(this.infoTimer);
    this.infoTimer = setTimeout(() => {
      const info = document.getElementById('info');
      if (!info) return;
      if (info.contains(document.activeElement) && document.activeElement !== document.body) {
        info.addEventListener('focusout', () => this.refreshInfoSoon(), { once: true });
        return;
      }
      refreshInfo(this.id).then(() => this.mountInfo());
    }, 400);
  }

  // ---- sending (optimistic, UX §3) ----

  send(thread, body, clientId) {
    const cid = clientId || newClientId();
    const c = this.container(thread);
    if (!c) return;
    let p = this.pending.get(cid);
    if (!p) {
      const li = el('li', { class: 'msg msg-agent msg-mine is-pending', dataset: { clientId: cid } },
        el('div', { class: 'msg-meta' }, el('span', { class: 'msg-author', text: me().name })),
        el('div', { class: 'msg-body msg-plain', text: body }),
        el('p', { class: 'msg-state', text: 'Sending…' }));
      const empty = c.querySelector('.thread-empty');
      if (empty) empty.remove();
      c.querySelector(':scope > .log-end') ? c.insertBefore(li, c.querySelector(':scope > .log-end')) : c.append(li);
      p = { li, thread, body, timer: 0 };
      this.pending.set(cid, p);
    }
    p.li.classList.remove('is-failed');
    this.setState(cid, this.rt.online ? 'Sending…' : 'Waiting for connection…');
    if (thread === 'public') this.scrollBottom(); else p.li.scrollIntoView({ block: 'nearest' });
    const arm = () => {
      clearTimeout(p.timer);
      p.timer = setTimeout(() => {
        if (!this.pending.has(cid)) return;
        if (!this.rt.online) {
          this.setState(cid, 'Waiting for connection…');
          arm();
          return;
        }
        this.fail(cid, 'Not sent: no answer from the server.');
      }, SEND_TIMEOUT);
    };
    arm();
    this.rt.send(this.id, thread, body, cid).then((m) => {
      if (!this.pending.has(cid)) return;
      clearTimeout(p.timer);
      this.setState(cid, 'Sent');
      if (thread === 'public') {
        readState.set(this.id, m.seq);
        if (this.composer) this.composer.sent(body);
      }
      this.pull(thread);
    }, (err) => this.fail(cid, err.message || 'Not sent.'));
  }

  setState(cid, text) {
    const p = this.pending.get(cid);
    if (p) $('.msg-state', p.li).replaceChildren(text);
  }

  fail(cid, message) {
    const p = this.pending.get(cid);
    if (!p) return;
    clearTimeout(p.timer);
    this.rt.forget(cid);
    p.li.classList.add('is-failed');
    $('.msg-state', p.li).replaceChildren(message + ' ',
      el('button', { type: 'button', text: 'Retry', onclick: () => this.send(p.thread, p.body, cid) }),
      el('button', { type: 'button', text: 'Delete', onclick: () => { this.pending.delete(cid); p.li.remove(); } }));
  }

  // ---- older messages, earlier chats, search ----

  async onClick(e) {
    const b = e.target.closest('[data-action="older"]');
    if (!b) return;
    b.disabled = true;
    try {
      const frag = await fragment(`/app/c/${this.id}/messages?before=${b.dataset.before}`);
      const li = b.closest('li');
      const h = this.log.scrollHeight;
      li.replaceWith(frag);
      this.log.scrollTop += this.log.scrollHeight - h;
      localTimes(this.log);
    } catch {
      b.disabled = false;
    }
  }

  // filter shows only the messages matching q (W5: with a chat open,
  // search goes through its name and history).
  filter(q) {
    q = q.trim().toLowerCase();
    const name = (this.pane.dataset.name || '').toLowerCase();
    const on = q !== '' && !name.includes(q);
    this.log.classList.toggle('filtering', on);
    for (const m of this.log.querySelectorAll(':scope > .msg')) {
      m.classList.toggle('match', on && m.textContent.toLowerCase().includes(q));
    }
    if (on) {
      const first = this.log.querySelector(':scope > .msg.match');
      if (first) first.scrollIntoView({ block: 'center' });
    }
  }
}

// refreshInfo re-renders the information panel of a conversation, keeping
// the selected tab.
export async function refreshInfo(id) {
  const info = document.getElementById('info');
  if (!info) return;
  const tab = info.querySelector('[role=tab][aria-selected="true"]');
  const q = tab ? '?tab=' + tab.dataset.tab : '';
  try {
    const frag = await fragment(`/app/c/${id}/info${q}`);
    info.replaceChildren(frag);
    localTimes(info);
  } catch { /* kept as it was */ }
}
