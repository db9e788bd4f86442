// Offers (R3) and transfer requests (R4) addressed to me: non-modal cards
// atop the list that never take focus, with the customer, channel, first
// message, time waited and a countdown from the server's deadline. Accept
// shows "Accepting…" until the server confirms (another node may win).

import { api } from './api.js';
import { $, el, me, toast } from './dom.js';
import { routes } from './routes.js';

export class Offers {
  constructor(rt, app) {
    this.rt = rt;
    this.app = app;
    this.box = $('#offers');
    this.cards = new Map(); // "offer-12" / "transfer-3" -> {kind, data, node, timer}
    this.skew = 0; // client clock minus server clock, from event times
    this.tick = setInterval(() => this.countdown(), 1000);
    this.load();
  }

  // load shows the offers and transfer requests already waiting for me.
  async load() {
    for (const [kind, path] of [['offer', routes.pendingOffers], ['transfer', routes.pendingTransfers]]) {
      if (!path) continue;
      try {
        const r = await api('GET', path);
        for (const item of r.items || []) this.show(kind, item);
      } catch { /* the routing API is not there: offers arrive as events */ }
    }
  }

  onEvent(f) {
    if (f.created_at) this.skew = Date.now() - Date.parse(f.created_at);
    const d = f.data || {};
    if (f.event === 'offer') {
      if (d.user_id !== me().id) return;
      if (d.state === 'pending') {
        this.show('offer', d);
        this.app.notifier.sound('offer');
        this.app.notifier.notify('New chat offered to you', 'Accept it in Switchboard.', 'offer-' + d.conversation_id);
      } else {
        this.resolve('offer', d);
      }
    } else if (f.event === 'transfer') {
      if (d.to_user_id !== me().id) return;
      if (d.state === 'pending') {
        this.show('transfer', d);
        this.app.notifier.sound('offer');
      } else {
        this.resolve('transfer', d);
      }
    }
  }

  key(kind, d) { return `${kind}-${d.id}`; }

  async show(kind, d) {
    const key = this.key(kind, d);
    if (this.cards.has(key)) return;
    const card = { kind, data: d, node: el('section', { class: 'offer' + (kind === 'transfer' ? ' is-transfer' : ''), role: 'alert', 'aria-label': kind === 'offer' ? 'Chat offered to you' : 'Transfer request' }) };
    this.cards.set(key, card);
    card.node.append(el('div', { class: 'offer-top' },
      el('span', { class: 'offer-name', text: kind === 'offer' ? 'New chat' : 'Transfer request' }),
      el('span', { class: 'offer-count', 'aria-label': 'seconds left' })),
    el('p', { class: 'offer-text', text: kind === 'transfer' && d.note ? d.note : '…' }),
    el('div', { class: 'offer-actions' },
      el('button', { type: 'button', class: 'btn btn-primary', text: 'Accept', title: 'Accept (Alt+A)', 'aria-keyshortcuts': 'Alt+A', onclick: () => this.answer(key, true) }),
      el('button', { type: 'button', class: 'btn', text: kind === 'offer' ? 'Decline' : 'Reject', title: 'Decline (Alt+D)', 'aria-keyshortcuts': 'Alt+D', onclick: () => this.answer(key, false) })),
    el('p', { class: 'offer-state', hidden: true }));
    this.box.append(card.node);
    this.countdown();
    this.renderMore();
    // Who and what: the server's summary of the chat, as text.
    try {
      const s = await api('GET', `/app/c/${d.conversation_id}/summary`);
      $('.offer-name', card.node).textContent = s.name;
      const text = kind === 'transfer'
        ? `${s.from_name ? s.from_name + ': ' : ''}${d.note || s.preview || s.channel_label}`
        : `${s.channel_label} · ${s.inbox} · ${s.preview || 'No message yet'}`;
      $('.offer-text', card.node).textContent = text;
      card.waitedSince = Date.parse(s.created_at);
    } catch { /* keep the generic text */ }
  }

  resolve(kind, d) {
    const key = this.key(kind, d);
    const card = this.cards.get(key);
    if (!card || card.accepting) return;
    const why = { expired: 'Passed to the next agent.', declined: 'Declined.', rejected: 'Rejected.', withdrawn: 'Withdrawn: the chat was taken or ended.', cancelled: 'Cancelled.', accepted: 'Accepted.' }[d.state] || '';
    this.finish(key, why);
  }

  finish(key, text) {
    const card = this.cards.get(key);
    if (!card) return;
    this.cards.delete(key);
    const st = $('.offer-state', card.node);
    st.textContent = text;
    st.hidden = !text;
    $('.offer-actions', card.node).remove();
    $('.offer-count', card.node).remove();
    card.node.setAttribute('role', 'status');
    setTimeout(() => card.node.remove(), text ? 4000 : 0);
    this.renderMore();
  }

  countdown() {
    const now = Date.now() - this.skew;
    for (const [key, card] of this.cards) {
      const left = Math.max(0, Math.round((Date.parse(card.data.expires_at) - now) / 1000));
      const c = $('.offer-count', card.node);
      if (c) {
        c.textContent = `${left}s`;
        c.classList.toggle('is-low', left <= 5);
      }
      if (left === 0 && !card.accepting && !card.expiredShown) {
        card.expiredShown = true;
        setTimeout(() => { if (this.cards.get(key) === card) this.finish(key, card.kind === 'offer' ? 'Passed to the next agent.' : 'The request expired.'); }, 1500);
      }
    }
  }

  // Only the first card shows its buttons prominently; extra ones say "+N".
  renderMore() {
    let more = $('.offer-more', this.box);
    const n = this.cards.size - 1;
    if (n <= 0) {
      if (more) more.remove();
      return;
    }
    if (!more) more = el('p', { class: 'offer-more' });
    more.textContent = `+${n} more waiting for your answer`;
    this.box.append(more);
  }

  first() { return this.cards.keys().next().value; }

  // showing reports whether a card for a conversation is up.
  showing(convId) {
    for (const c of this.cards.values()) if (c.data.conversation_id === convId) return true;
    return false;
  }

  async answer(key, accept) {
    key = key || this.first();
    const card = this.cards.get(key);
    if (!card || card.accepting) return;
    card.accepting = true;
    const btns = card.node.querySelectorAll('.offer-actions .btn');
    btns.forEach((b) => { b.disabled = true; });
    if (accept) btns[0].textContent = 'Accepting…';
    const d = card.data;
    const path = card.kind === 'offer' ? routes.answerOffer(d.id, accept) : routes.answerTransfer(d.id, accept);
    try {
      await api('POST', path);
      this.finish(key, '');
      if (accept) this.app.open(d.conversation_id);
    } catch (x) {
      card.accepting = false;
      this.finish(key, x.status === 409 || x.status === 404 ? 'No longer available: ' + x.message : x.message);
      if (x.status !== 409 && x.status !== 404) toast(x.message, { error: true });
    }
  }
}
