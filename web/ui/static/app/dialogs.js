// The dialogs: transfer (R4, R5) and assign (R6) with live lists of
// available agents, the command palette and the shortcut sheet.

import { api, fragment } from './api.js';
import { $, $$, el, me, toast, debounce } from './dom.js';
import { routes } from './routes.js';

// AgentPicker fills a listbox with the agents available for a chat (online,
// with room), least loaded first, and keeps it current while shown.
class AgentPicker {
  constructor(ul, exclude) {
    this.ul = ul;
    this.exclude = exclude;
    this.selected = 0;
    this.convId = 0;
    this.dept = 0;
    ul.addEventListener('click', (e) => {
      const li = e.target.closest('li[data-user]');
      if (li) this.select(Number(li.dataset.user));
    });
    ul.tabIndex = 0;
    ul.addEventListener('keydown', (e) => {
      const items = $$('li[data-user]', ul);
      if (!items.length || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
      e.preventDefault();
      const i = items.findIndex((li) => Number(li.dataset.user) === this.selected);
      const next = items[(i + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length];
      this.select(Number(next.dataset.user));
      next.scrollIntoView({ block: 'nearest' });
    });
    this.refreshSoon = debounce(() => this.load(), 300);
  }

  // members lists the operators of an inbox, online or not: a ticket (S3)
  // goes to someone who will answer it later.
  async members() {
    const [inbox, users] = await Promise.all([api('GET', `/api/v1/inboxes/${this.inbox}`), api('GET', '/api/v1/users')]);
    const ids = new Set(inbox.member_ids || []);
    return (users.items || []).filter((u) => u.operator && !u.disabled && ids.has(u.id))
      .map((u) => ({ user_id: u.id, name: u.name, load: u.active_chats, chat_limit: u.chat_limit, presence: u.presence }));
  }

  select(id) {
    this.selected = id;
    for (const li of $$('li[data-user]', this.ul)) li.setAttribute('aria-selected', String(Number(li.dataset.user) === id));
  }

  async load() {
    if (!this.convId) return;
    let items;
    try {
      items = this.inbox ? await this.members() : (await api('GET', routes.candidates(this.convId, this.dept))).items || [];
    } catch (x) {
      this.ul.replaceChildren(el('li', { class: 'muted', text: x.status === 404 ? 'The list of available agents is not available on this server yet.' : x.message }));
      return;
    }
    items = items.filter((c) => c.user_id !== this.exclude);
    if (!items.length) {
      this.ul.replaceChildren(el('li', { class: 'muted', text: 'Nobody is available right now (online, with room for another chat).' }));
      this.selected = 0;
      return;
    }
    this.ul.replaceChildren(...items.map((c) => el('li', { role: 'option', dataset: { user: c.user_id }, 'aria-selected': 'false' },
      el('span', { class: 'dot dot-' + (c.presence || 'online'), 'aria-hidden': 'true', title: c.presence || 'online' }),
      el('span', { text: c.name }),
      el('span', { class: 'load', text: `${c.load}/${c.chat_limit}`, title: 'Chats now / limit' }))));
    if (!items.some((c) => c.user_id === this.selected)) this.selected = 0;
    this.select(this.selected || items[0].user_id);
  }
}

export class Dialogs {
  constructor(app) {
    this.app = app;
    this.transfer = $('#transfer-dialog');
    this.assign = $('#assign-dialog');
    if (this.transfer) this.setupTransfer();
    if (this.assign) this.setupAssign();
    this.setupPalette();
    const help = $('#help-open');
    if (help) help.addEventListener('click', () => this.help());
  }

  // refresh keeps open pickers current when agents come and go.
  refresh() {
    if (this.transfer && this.transfer.open) this.tPicker.refreshSoon();
    if (this.assign && this.assign.open) this.aPicker.refreshSoon();
  }

  setupTransfer() {
    const form = $('#transfer-form');
    this.tPicker = new AgentPicker($('#transfer-agents'), me().id);
    form.addEventListener('change', (e) => {
      if (e.target.name !== 'kind') return;
      for (const div of $$('[data-kind]', form)) div.hidden = div.dataset.kind !== e.target.value;
    });
    form.addEventListener('click', (e) => { if (e.target.closest('[data-action="refresh-available"]')) this.tPicker.load(); });
    form.addEventListener('submit', async (e) => {
      if (e.submitter && e.submitter.value === 'cancel') return;
      e.preventDefault();
      const kind = form.elements.kind.value;
      const body = { note: form.elements.note.value };
      if (kind === 'agent') body.to_user_id = this.tPicker.selected;
      if (kind === 'department') body.to_department_id = Number(form.elements.department_id.value);
      if (kind === 'inbox') body.to_inbox_id = Number(form.elements.inbox_id.value);
      const err = $('.form-error', form);
      if (kind === 'agent' && !body.to_user_id) {
        err.textContent = 'Choose an available agent.';
        err.hidden = false;
        return;
      }
      try {
        await api('POST', routes.transfer(this.tPicker.convId), body);
        this.transfer.close();
        toast(kind === 'agent' ? 'Transfer request sent. You keep the chat until they accept.' : 'The chat was transferred.');
      } catch (x) {
        err.textContent = x.message;
        err.hidden = false;
      }
    });
  }

  openTransfer(convId) {
    if (!this.transfer || !convId) return;
    const form = $('#transfer-form');
    form.reset();
    $('.form-error', form).hidden = true;
    for (const div of $$('[data-kind]', form)) div.hidden = div.dataset.kind !== 'agent';
    this.tPicker.convId = convId;
    this.tPicker.selected = 0;
    this.tPicker.load();
    this.transfer.showModal();
  }

  setupAssign() {
    const form = $('#assign-form');
    this.aPicker = new AgentPicker($('#assign-agents'), 0);
    form.elements.department_id.addEventListener('change', () => {
      this.aPicker.dept = Number(form.elements.department_id.value || 0);
      this.aPicker.load();
    });
    form.addEventListener('click', (e) => { if (e.target.closest('[data-action="refresh-available"]')) this.aPicker.load(); });
    form.addEventListener('submit', async (e) => {
      if (e.submitter && e.submitter.value === 'cancel') return;
      e.preventDefault();
      const err = $('.form-error', form);
      const id = this.aPicker.convId;
      try {
        if (this.assignTicket) {
          if (!this.aPicker.selected) throw new Error('Choose an agent.');
          await api('POST', routes.ticket(id, 'assign'), { user_id: this.aPicker.selected });
        } else {
          const body = {};
          if (this.aPicker.selected) body.user_id = this.aPicker.selected;
          if (this.aPicker.dept) body.department_id = this.aPicker.dept;
          await api('POST', routes.assign(id), body);
        }
        this.assign.close();
        toast('Assigned.');
      } catch (x) {
        err.textContent = x.message;
        err.hidden = false;
      }
    });
  }

  // openAssign opens the picker for a live chat or, with ticket, a ticket
  // (S3): the list reloads each time it opens (R6).
  openAssign(convId, ticket) {
    if (!this.assign || !convId) return;
    const form = $('#assign-form');
    form.reset();
    $('.form-error', form).hidden = true;
    $('#assign-title').textContent = ticket ? 'Assign this ticket' : 'Assign this chat';
    this.assignTicket = !!ticket;
    this.aPicker.inbox = ticket ? Number((document.getElementById('info-body') || { dataset: {} }).dataset.inbox || 0) : 0;
    $('#assign-agents-label').textContent = ticket ? 'Agents of this inbox' : 'Available agents';
    $('#assign-dept').closest('form').querySelector('[for="assign-dept"]').hidden = !!ticket;
    $('#assign-dept').hidden = !!ticket;
    this.aPicker.convId = convId;
    this.aPicker.dept = 0;
    this.aPicker.selected = 0;
    this.aPicker.load();
    this.assign.showModal();
  }

  help() {
    const d = $('#help');
    if (d && !d.open) d.showModal();
  }

  // ---- the command palette (Ctrl+K) ----

  setupPalette() {
    this.palette = $('#palette');
    if (!this.palette) return;
    const input = $('#palette-input');
    const list = $('#palette-list');
    let items = [];
    let at = 0;
    const render = () => {
      list.replaceChildren(...items.map((it, i) => el('li', { role: 'option', 'aria-selected': String(i === at), dataset: { i } },
        el('span', { text: it.label }), it.keys ? el('kbd', { text: it.keys }) : null)));
    };
    const run = (i) => {
      const it = items[i];
      if (!it) return;
      this.palette.close();
      it.run();
    };
    const update = debounce(async () => {
      const q = input.value.trim().toLowerCase();
      items = this.commands().filter((c) => c.label.toLowerCase().includes(q));
      at = 0;
      render();
      if (q.length >= 2) {
        try {
          const tab = me().supervisor || !me().operator ? 'live' : 'mine';
          const frag = await fragment(`/app/list?tab=${tab}&q=${encodeURIComponent(q)}&limit=8`);
          const rows = Array.from(frag.querySelectorAll('.row'));
          items = items.concat(rows.map((r) => ({ label: 'Open chat: ' + r.querySelector('.row-name').textContent, run: () => this.app.open(Number(r.dataset.id)) })));
          render();
        } catch { /* commands only */ }
      }
    }, 120);
    input.addEventListener('input', update);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        at = (at + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % Math.max(1, items.length);
        render();
      } else if (e.key === 'Enter') {
        e.preventDefault();
        run(at);
      }
    });
    list.addEventListener('click', (e) => {
      const li = e.target.closest('li[data-i]');
      if (li) run(Number(li.dataset.i));
    });
    const btn = $('#palette-open');
    if (btn) btn.addEventListener('click', () => this.openPalette());
    this.paletteUpdate = update;
  }

  openPalette() {
    if (!this.palette || this.palette.open) return;
    $('#palette-input').value = '';
    this.palette.showModal();
    this.paletteUpdate();
  }

  commands() {
    const a = this.app;
    const go = (href) => () => location.assign(href);
    const list = [
      { label: 'Go to conversations', run: go('/app') },
      { label: 'Keyboard shortcuts', keys: '?', run: () => this.help() },
      { label: 'Set status: online', run: () => a.setPresence('online') },
      { label: 'Set status: away', run: () => a.setPresence('away') },
      { label: 'Set status: offline', run: () => a.setPresence('offline') },
      { label: 'Settings', run: go('/app/settings') },
    ];
    if (me().supervisor) list.splice(1, 0, { label: 'Live board', run: go('/app/board') });
    if (a.openId) {
      list.unshift({ label: 'Focus the composer', keys: 'R', run: () => a.focusComposer() },
        { label: 'Transfer this chat', keys: 'Alt+T', run: () => a.action('transfer') },
        { label: 'End this chat', keys: 'Alt+E', run: () => a.action('end', true) });
    }
    if (me().operator) list.unshift({ label: 'Take the oldest unassigned chat', keys: 'Alt+N', run: () => a.takeOldest() });
    return list;
  }
}
