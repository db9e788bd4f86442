// The conversation lists on the left (W1, W3, W5): tabs, search and
// filters, live refresh on events (the server renders the rows), unread
// pills and "typing…" in the rows, and J/K movement.

import { fragment } from './api.js';
import { $, $$, debounce, localTimes, me } from './dom.js';
import { readState } from './conversation.js';

export class Lists {
  constructor(rt, app) {
    this.rt = rt;
    this.app = app;
    this.box = $('#list');
    this.form = $('#filters');
    this.search = $('#search');
    this.typing = new Map(); // conversation id -> timer
    this.loading = false;
    this.again = false;
    this.reloadSoon = debounce(() => this.reload(), 350);
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.reload(); });
    this.form.addEventListener('change', (e) => { if (e.target !== this.search) this.reload(); });
    this.form.addEventListener('reset', () => setTimeout(() => this.reload(), 0));
    const onSearch = debounce(() => {
      if (this.app.conv) this.app.conv.filter(this.search.value);
      else this.reload();
    }, 200);
    this.search.addEventListener('input', onSearch);
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.search.value) {
        e.preventDefault();
        this.search.value = '';
        onSearch();
      }
    });
    // Every load of the list goes through reload, one at a time, so a late
    // answer for an earlier tab never overwrites a later one.
    $$('.tabs [role=tab]').forEach((t) => t.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return; // a new tab or window
      e.preventDefault();
      this.selectTab(t.dataset.tab);
      this.reload();
    }));
    document.body.addEventListener('htmx:afterSwap', (e) => {
      if (e.detail.target === this.box) this.decorate();
    });
    addEventListener('sb:read', () => this.marks());
    addEventListener('storage', (e) => { if (e.key && e.key.startsWith('sb:read:')) this.marks(); });
    this.decorate();
  }

  get tab() { return this.form.elements.tab.value; }

  selectTab(id) {
    this.form.elements.tab.value = id;
    $$('.tabs [role=tab]').forEach((t) => t.setAttribute('aria-selected', String(t.dataset.tab === id)));
    const url = new URL(location.href);
    url.searchParams.set('tab', id);
    history.replaceState(history.state, '', url);
  }

  query() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(this.form)) {
      if (k === 'q' && this.app.conv) continue; // with a chat open, search filters the chat
      if (v !== '') q.set(k, String(v));
    }
    if (this.app.openId) q.set('open', String(this.app.openId));
    return q;
  }

  // reload fetches the list again; bursts of events make one fetch.
  async reload() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.again = false;
        const focused = document.activeElement && this.box.contains(document.activeElement) ? document.activeElement.closest('.row') : null;
        const scroll = this.box.scrollTop;
        let frag;
        try { frag = await fragment('/app/list?' + this.query()); } catch { return; }
        this.box.replaceChildren(frag);
        this.box.scrollTop = scroll;
        this.decorate();
        // Selection is tracked by id: rows may move, focus stays with its chat.
        if (focused) {
          const again = document.getElementById(focused.id);
          if (again) $('.row-link', again).focus({ preventScroll: true });
        }
      } while (this.again);
    } finally {
      this.loading = false;
      this.box.dataset.updated = new Date().toISOString();
    }
  }

  decorate() {
    if (window.htmx) window.htmx.process(this.box);
    localTimes(this.box);
    this.marks();
    this.markOpen(this.app.openId);
    for (const id of this.typing.keys()) this.showTyping(id);
  }

  // marks puts unread pills on my chats (W4) from what this browser has read.
  marks() {
    for (const row of $$('.row[data-mine="true"]', this.box)) {
      const n = Number(row.dataset.seq) - readState.get(row.dataset.id);
      const open = Number(row.dataset.id) === this.app.openId && !document.hidden;
      const pill = $('[data-unread]', row);
      const unread = n > 0 && !open;
      row.classList.toggle('has-unread', unread);
      pill.hidden = !unread;
      pill.textContent = unread ? (n > 99 ? '99+' : String(n)) : '';
      pill.setAttribute('aria-label', unread ? `${n} unread` : '');
    }
  }

  markOpen(id) {
    for (const row of $$('.row', this.box)) {
      const on = Number(row.dataset.id) === id;
      row.classList.toggle('is-open', on);
      const a = $('.row-link', row);
      if (on) a.setAttribute('aria-current', 'true'); else a.removeAttribute('aria-current');
    }
  }

  row(id) { return document.getElementById('conv-' + id); }

  // onMessage updates a row in place at once; the list reload follows.
  onMessage(d) {
    const row = this.row(d.conversation_id);
    if (!row || d.thread !== 'public') return;
    if (d.seq > Number(row.dataset.seq)) row.dataset.seq = String(d.seq);
    const prev = $('[data-preview]', row);
    prev.textContent = d.body ? d.body.slice(0, 140) : (d.attachment ? '📎 ' + d.attachment.file_name : prev.textContent);
    this.clearTyping(d.conversation_id);
    this.marks();
  }

  onTyping(d) {
    if (d.sender !== 'customer') return;
    const id = d.conversation_id;
    clearTimeout(this.typing.get(id));
    this.typing.set(id, setTimeout(() => this.clearTyping(id), 5000));
    this.showTyping(id);
  }

  showTyping(id) {
    const row = this.row(id);
    if (!row) return;
    const p = $('[data-preview]', row);
    if (!p.dataset.text) p.dataset.text = p.textContent;
    p.textContent = 'typing…';
    p.classList.add('is-typing');
  }

  clearTyping(id) {
    clearTimeout(this.typing.get(id));
    this.typing.delete(id);
    const row = this.row(id);
    if (!row) return;
    const p = $('[data-preview]', row);
    if (p.classList.contains('is-typing')) {
      p.textContent = p.dataset.text || '';
      p.classList.remove('is-typing');
    }
    delete p.dataset.text;
  }

  // pause greys the list while its feed is down (no silent staleness).
  pause(on) {
    this.box.classList.toggle('is-paused', on);
    const note = $('#list-paused');
    note.hidden = !on;
    if (on) {
      const t = $('[data-asof]', note);
      const d = new Date(this.box.dataset.updated || Date.now());
      t.dateTime = d.toISOString();
      t.textContent = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    }
  }

  // ---- keyboard movement ----

  rows() { return $$('.row', this.box); }

  // move focuses (J/K) or opens (Alt+J/K) the next or previous row.
  move(d, open) {
    const rows = this.rows();
    if (!rows.length) return;
    const cur = document.activeElement && document.activeElement.closest('.row');
    let i = cur ? rows.indexOf(cur) : rows.findIndex((r) => Number(r.dataset.id) === this.app.openId);
    i = i < 0 ? (d > 0 ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, i + d));
    const link = $('.row-link', rows[i]);
    link.focus();
    if (open) link.click();
  }

  nextUnread() {
    const rows = this.rows();
    const at = rows.findIndex((r) => Number(r.dataset.id) === this.app.openId);
    const next = rows.slice(at + 1).concat(rows.slice(0, at + 1)).find((r) => r.classList.contains('has-unread'));
    if (next) $('.row-link', next).click();
  }

  // oldestUnassigned returns the id of the chat waiting longest in the list.
  oldestUnassigned() {
    const rows = $$('.row.is-new', this.box);
    return rows.length ? Number(rows[rows.length - 1].dataset.id) : 0;
  }

}
