// The workspace's entry point: it wires the WebSocket to the lists, the open
// conversation, the counters, offers and alerts, and the page's buttons.

import { api } from './api.js';
import { $, toast, localTimes, me, store } from './dom.js';
import { Realtime } from './realtime.js';
import { Conversation } from './conversation.js';
import { Lists } from './lists.js';
import { Notifier, Counters } from './notify.js';
import { Offers } from './offers.js';
import { Dialogs } from './dialogs.js';
import { installKeys } from './keys.js';
import { installActions, applyTheme, setPresence, selectInfoTab } from './actions.js';
import { routes } from './routes.js';
import { installPages } from './pages.js';

const BANNER_AFTER = 5000;

const body = document.body;
const app = {
  openId: Number(body.dataset.open || 0),
  conv: null,
  rt: null,
  lists: null,
  counters: null,
  offers: null,
  notifier: new Notifier(),
  dialogs: null,
  builders: {},
  seenWaiting: new Set(),
  waiting: new Set(), // chats last seen waiting, unoffered

  // open shows a conversation in the centre (and the address bar).
  open(id) {
    if (!$('#conv')) {
      location.assign('/app/c/' + id);
      return;
    }
    window.htmx.ajax('GET', `/app/c/${id}/pane`, { target: '#conv', swap: 'innerHTML' }).then(() => {
      history.pushState({ htmx: true }, '', '/app/c/' + id);
    });
  },

  focusComposer() {
    const ta = $('#composer-text');
    if (!ta) return false;
    ta.focus();
    return true;
  },

  toggleInfo() {
    const ws = $('#ws-body');
    if (!ws) return;
    if (matchMedia('(max-width: 1100px)').matches) ws.classList.toggle('info-open');
    else ws.classList.toggle('info-hidden');
    store.set('sb:info-hidden', ws.classList.contains('info-hidden'));
  },

  setPresence(p) {
    const sel = $('#presence');
    if (!sel) return;
    sel.value = p;
    sel.dispatchEvent(new Event('change'));
  },

  // action runs a conversation button's action by name (keyboard shortcuts
  // and the palette use the same path as the buttons).
  async action(name, direct) {
    const id = this.openId;
    if (!id) return;
    switch (name) {
      case 'take':
        try {
          await api('POST', routes.take(id));
          if (this.conv) this.conv.reloadPane();
        } catch (x) { toast(x.message, { error: true }); }
        return;
      case 'end': {
        const b = $('#conv-actions [data-action="end"]');
        if (!b) return;
        if (!direct && b.dataset.armed !== '1') {
          // A second click within 3 s ends the chat: a stray click does not.
          b.dataset.armed = '1';
          b.textContent = 'Click again to end';
          setTimeout(() => { if (b.isConnected) { b.dataset.armed = ''; b.textContent = 'End chat'; } }, 3000);
          return;
        }
        try {
          await api('POST', routes.end(id));
          toast('Chat ended.');
          return true;
        } catch (x) { toast(x.message, { error: true }); }
        return false;
      }
      case 'transfer':
        if ($('#conv-actions [data-action="transfer"]')) this.dialogs.openTransfer(id);
        return;
      case 'assign':
        this.dialogs.openAssign(id, $('#conv-pane') && $('#conv-pane').dataset.ticket !== '');
        return;
      case 'ticket-close':
      case 'ticket-reopen':
        try {
          await api('POST', routes.ticket(id, name === 'ticket-close' ? 'close' : 'reopen'));
          toast(name === 'ticket-close' ? 'Ticket closed.' : 'Ticket reopened.');
        } catch (x) { toast(x.message, { error: true }); }
        return;
      case 'ticket-create':
        try {
          const t = await api('POST', routes.linkedTicket(id));
          toast('Linked ticket created.', { action: { label: 'Open', run: () => this.open(t.id) } });
        } catch (x) { toast(x.message, { error: true }); }
        return;
    }
  },

  async endAndNext() {
    const rows = this.lists ? this.lists.rows() : [];
    const at = rows.findIndex((r) => Number(r.dataset.id) === this.openId);
    const next = rows[at + 1] || rows[at - 1];
    if (await this.action('end', true) && next) this.open(Number(next.dataset.id));
  },

  // takeOldest takes the chat waiting longest in my inboxes (Alt+N).
  async takeOldest() {
    if (!me().operator) return;
    try {
      const r = await api('GET', '/api/v1/conversations?unassigned=true&ticket=none&status=waiting&limit=200');
      const items = r.items || [];
      if (!items.length) {
        toast('Nobody is waiting.');
        return;
      }
      const oldest = items[items.length - 1];
      await api('POST', routes.take(oldest.id));
      this.open(oldest.id);
    } catch (x) { toast(x.message, { error: true }); }
  },
};
window.switchboard = app; // for the browser tests and the console

applyTheme();
installActions(app);
app.dialogs = new Dialogs(app);
installKeys(app);
installPages(app);
localTimes();

if (body.dataset.page === 'app') startWorkspace();
else startRealtimeOnly();

function startWorkspace() {
  const rt = new Realtime(body.dataset.pos);
  app.rt = rt;
  app.lists = new Lists(rt, app);
  app.counters = new Counters(app);
  app.offers = new Offers(rt, app);
  if (store.get('sb:info-hidden', false) && !matchMedia('(max-width: 1100px)').matches) $('#ws-body').classList.add('info-hidden');
  mount();
  const savedTab = store.get('sb:info-tab', '');
  if (savedTab && !new URL(location.href).searchParams.get('info')) selectInfoTab(savedTab);

  document.body.addEventListener('htmx:afterSwap', (e) => {
    if (e.detail.target && e.detail.target.id === 'conv') mount();
  });
  document.body.addEventListener('htmx:responseError', (e) => {
    const x = e.detail.xhr;
    let msg = `Could not load (${x.status}).`;
    try { msg = JSON.parse(x.responseText).error.message; } catch { /* keep */ }
    toast(msg, { error: true });
  });
  document.body.addEventListener('htmx:sendError', () => toast('The server cannot be reached.', { error: true }));
  document.addEventListener('click', (e) => {
    const a = e.target.closest('#conv [data-action], #info [data-action]');
    if (a) app.action(a.dataset.action);
  });

  rt.addEventListener('event', (e) => onEvent(e.detail));
  rt.addEventListener('resync', () => reloadAll());
  rt.addEventListener('refresh', () => reloadAll());
  rt.addEventListener('ready', () => app.dialogs.refresh());
  connectionState(rt);
  rt.connect();
}

// mount attaches to the conversation now in the centre pane.
function mount() {
  if (app.conv) app.conv.destroy();
  app.conv = null;
  const pane = $('#conv-pane');
  app.openId = pane ? Number(pane.dataset.id) : 0;
  body.dataset.open = app.openId || '';
  if (pane) {
    app.conv = new Conversation(app.rt, pane);
    document.title = (pane.dataset.name || 'Chat') + ' · Switchboard';
    const tab = store.get('sb:info-tab', '');
    if (tab) selectInfoTab(tab);
  }
  const search = $('#search');
  if (search) {
    search.placeholder = pane ? 'Search this chat' : 'Search chats by name';
    if (pane && search.value) app.conv.filter(search.value);
  }
  if (app.lists) app.lists.markOpen(app.openId);
  if (app.counters) app.counters.render();
  if (app.lists) app.lists.marks();
}

// reloadAll brings everything current after a resync or a long absence.
function reloadAll() {
  app.lists.reload();
  app.counters.refresh();
  if (app.conv) app.conv.reloadPane();
}

function onEvent(f) {
  const d = f.data || {};
  const open = app.conv && f.conversation_id === app.openId;
  switch (f.event) {
    case 'message': {
      app.lists.onMessage(d);
      app.counters.onMessage(d);
      if (open) app.conv.onEvent(f);
      const mine = app.counters.data && app.counters.data.mine.some((c) => c.id === d.conversation_id);
      if (d.thread === 'public' && d.sender === 'customer' && mine && (!open || document.hidden)) {
        app.notifier.sound('mine');
        app.notifier.notify('New message', d.body ? d.body.slice(0, 120) : 'A file', 'conv-' + d.conversation_id, () => app.open(d.conversation_id));
      }
      return;
    }
    case 'conversation':
      if (d.status === 'waiting' && !d.assignee_id) app.waiting.add(d.id); else app.waiting.delete(d.id);
      app.lists.reloadSoon();
      app.counters.refreshSoon();
      app.dialogs.refresh();
      if (open) app.conv.onEvent(f);
      newChatAlert(d);
      return;
    case 'typing':
      app.lists.onTyping(d);
      if (open) app.conv.onEvent(f);
      return;
    case 'history':
      if (open) app.conv.onEvent(f);
      return;
    case 'notification':
      onNotification(d);
      return;
    case 'offer':
    case 'transfer':
      app.offers.onEvent(f);
      return;
    case 'presence':
      if (d.user_id === me().id) setPresence(d.presence);
      app.dialogs.refresh();
      return;
    case 'agent':
      app.dialogs.refresh();
      return;
  }
}

// newChatAlert announces a chat that starts waiting in my inboxes (C1).
// When the routing engine offers the chat (to me or someone else) the
// conversation moves on at once; the alert waits a moment so that it is not
// given twice, once as a new chat and once as an offer.
function newChatAlert(c) {
  if (!me().operator || c.status !== 'waiting' || c.assignee_id || c.ticket_status) return;
  if (app.seenWaiting.has(c.id)) return;
  app.seenWaiting.add(c.id);
  setTimeout(() => {
    if (app.offers.showing(c.id) || !app.waiting.has(c.id)) return;
    app.notifier.sound('new_chat');
    toast('A new chat is waiting.', { action: { label: 'Open', run: () => app.open(c.id) } });
    app.notifier.notify('New chat waiting', 'A customer is waiting for an agent.', 'conv-' + c.id, () => app.open(c.id));
  }, 1200);
}

function onNotification(n) {
  const kind = n.kind || '';
  const important = kind === 'mention' || kind.startsWith('transfer') || kind === 'assigned' || kind === 'ticket' || kind === 'reassigned';
  app.notifier.sound(kind === 'mention' ? 'mention' : important ? 'offer' : 'other');
  app.notifier.notify('Switchboard', n.text || '', n.conversation_id ? 'conv-' + n.conversation_id : 'sb-' + kind,
    n.conversation_id ? () => app.open(n.conversation_id) : null);
  const opts = { ms: important ? 10000 : 6000 };
  if (n.conversation_id && n.conversation_id !== app.openId) {
    opts.action = { label: 'Open', run: () => {
      app.open(n.conversation_id);
      if (kind === 'mention') store.set('sb:info-tab', n.text && /comment/i.test(n.text) ? 'comment' : 'internal');
    } };
  }
  toast(n.text || kind, opts);
  if (kind === 'presence') app.counters.refresh();
}

// connectionState shows the connection in the top bar, and after ~5 s of
// trouble a "Reconnecting…" banner and a paused list (UX §3).
function connectionState(rt) {
  const conn = $('#conn');
  const banner = $('#conn-banner');
  let timer = 0;
  const labels = { connecting: 'Connecting…', online: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };
  rt.addEventListener('state', (e) => {
    const s = e.detail;
    conn.dataset.state = s;
    conn.querySelector('[data-text]').textContent = labels[s] || s;
    clearTimeout(timer);
    if (s === 'online') {
      banner.hidden = true;
      if (app.lists) app.lists.pause(false);
      return;
    }
    timer = setTimeout(() => {
      banner.hidden = false;
      banner.firstChild.textContent = s === 'offline' ? 'Offline — waiting for the network… ' : 'Reconnecting… ';
      if (app.lists) app.lists.pause(true);
    }, BANNER_AFTER);
  });
}

// startRealtimeOnly serves the other pages (board, settings, records):
// they listen for events that change what they show.
function startRealtimeOnly() {
  if (!body.dataset.pos) return;
  const rt = new Realtime(body.dataset.pos);
  app.rt = rt;
  rt.addEventListener('event', (e) => {
    const f = e.detail;
    if (f.event === 'notification') onNotification(f.data || {});
    if (f.event === 'presence' && (f.data || {}).user_id === me().id) setPresence(f.data.presence);
    document.dispatchEvent(new CustomEvent('sb:event', { detail: f }));
  });
  rt.addEventListener('resync', () => document.dispatchEvent(new CustomEvent('sb:resync')));
  connectionState(rt);
  rt.connect();
}

