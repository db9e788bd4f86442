// What the buttons and forms of the workspace do. Every write is a call to
// the public JSON API; what it changed comes back as events and fragments.

import { api } from './api.js';
import { $, $$, toast, store } from './dom.js';
import { refreshInfo } from './conversation.js';

// formJSON turns a form into the JSON body its API wants: numbers for
// fields marked data-type="int" (or named *_id), booleans for checkboxes,
// arrays for fields marked data-type="ids".
export function formJSON(form) {
  const out = {};
  for (const f of form.elements) {
    if (!f.name || f.disabled || f.type === 'submit' || f.type === 'button') continue;
    if ((f.type === 'radio') && !f.checked) continue;
    const type = f.dataset.type || (/_id$/.test(f.name) ? 'int' : '');
    let v;
    if (f.type === 'checkbox' && type !== 'ids') v = f.checked;
    else if (type === 'ids') {
      if (!f.checked) { out[f.name] = out[f.name] || []; continue; }
      (out[f.name] = out[f.name] || []).push(Number(f.value));
      continue;
    } else if (f.tagName === 'SELECT' && f.multiple) v = Array.from(f.selectedOptions, (o) => Number(o.value));
    else if (type === 'int') v = f.value === '' ? null : Number(f.value);
    else if (type === 'bool') v = f.value === 'true';
    else if (type === 'optional' && f.value === '') continue;
    else v = f.value;
    if (f.dataset.skipEmpty !== undefined && (v === '' || v === null)) continue;
    setPath(out, f.name, v);
  }
  return out;
}

// setPath sets "a.b" style names into nested objects (inbox settings).
function setPath(obj, path, v) {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p] = o[p] || {};
  o[parts[parts.length - 1]] = v;
}

// splitAPI reads "METHOD /path" from data-api.
const splitAPI = (s) => { const [m, ...p] = s.trim().split(' '); return [m, p.join(' ')]; };

export function installActions(app) {
  // Forms that call the API: data-api="POST /api/v1/…", data-refresh says
  // what to render again afterwards ("info", "page" or "none").
  document.addEventListener('submit', async (e) => {
    const form = e.target.closest('form[data-api]');
    if (!form) return;
    e.preventDefault();
    if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
    const [method, path] = splitAPI(form.dataset.api);
    const err = $('.form-error', form);
    const btn = $('[type=submit]', form);
    if (btn) btn.disabled = true;
    try {
      const body = form.dataset.build && app.builders[form.dataset.build] ? app.builders[form.dataset.build](form) : formJSON(form);
      await api(method, path, method === 'DELETE' ? undefined : body);
      if (err) err.hidden = true;
      done(form, app);
    } catch (x) {
      if (err) {
        err.textContent = x.message;
        err.hidden = false;
      } else {
        toast(x.message, { error: true });
      }
    } finally {
      if (btn) btn.disabled = false;
    }
  });

  // Selects that save on change (the category, C8).
  document.addEventListener('change', async (e) => {
    const sel = e.target.closest('select[data-api]');
    if (!sel) return;
    const [method, path] = splitAPI(sel.dataset.api);
    const v = sel.value === '' ? null : Number(sel.value);
    try {
      await api(method, path, { [sel.dataset.field]: v });
      toast('Saved.');
    } catch (x) {
      toast(x.message, { error: true });
    }
  });

  // Buttons that call the API directly: data-call="DELETE /api/v1/…".
  document.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-call]');
    if (!b) return;
    if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
    const [method, path] = splitAPI(b.dataset.call);
    b.disabled = true;
    try {
      await api(method, path, b.dataset.body ? JSON.parse(b.dataset.body) : undefined);
      done(b, app);
    } catch (x) {
      toast(x.message, { error: true });
      b.disabled = false;
    }
  });

  // The information panel's tabs.
  document.addEventListener('click', (e) => {
    const t = e.target.closest('.info-tabs [role=tab]');
    if (t) selectInfoTab(t.dataset.tab, true);
  });
  document.addEventListener('keydown', (e) => {
    const t = e.target.closest && e.target.closest('.info-tabs [role=tab]');
    if (!t || (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft')) return;
    const tabs = $$('.info-tabs [role=tab]');
    const i = (tabs.indexOf(t) + (e.key === 'ArrowRight' ? 1 : -1) + tabs.length) % tabs.length;
    selectInfoTab(tabs[i].dataset.tab, true);
    tabs[i].focus();
  });

  // Presence (P1).
  const presence = $('#presence');
  if (presence) {
    presence.addEventListener('change', async () => {
      const want = presence.value;
      try {
        const u = await api('PUT', '/api/v1/me/presence', { presence: want });
        setPresence(u.presence);
        toast(`You are ${u.presence}.`);
      } catch (x) {
        presence.value = presence.dataset.current;
        toast(x.message, { error: true });
      }
    });
  }

  // The user menu.
  document.addEventListener('click', async (e) => {
    const a = e.target.closest('[data-action]');
    if (!a) return;
    switch (a.dataset.action) {
      case 'logout':
        try { await api('POST', '/api/v1/auth/logout'); } catch { /* signed out anyway */ }
        location.assign('/login');
        break;
      case 'notifications': {
        const r = await app.notifier.askPermission();
        toast(r === 'granted' ? 'Desktop notifications are on. They show while this tab is in the background.' : 'Desktop notifications are off in this browser.');
        break;
      }
    }
  });
  const theme = $('#theme-setting');
  if (theme) {
    theme.value = store.get('sb:theme', 'auto');
    theme.addEventListener('change', () => {
      store.set('sb:theme', theme.value);
      applyTheme();
    });
  }
  // Menus close when you click elsewhere or press Esc.
  document.addEventListener('click', (e) => {
    for (const d of $$('details.menu[open], details.filter-more[open]')) if (!d.contains(e.target)) d.open = false;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    for (const d of $$('details.menu[open], details.filter-more[open]')) {
      d.open = false;
      $('summary', d).focus();
    }
  });
}

export function applyTheme() {
  const t = store.get('sb:theme', 'auto');
  if (t === 'auto') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset.theme = t;
}

export function setPresence(p) {
  const sel = $('#presence');
  if (!sel) return;
  sel.value = p;
  sel.dataset.current = p;
  const dot = $('#presence-dot');
  if (dot) dot.className = 'dot dot-' + p;
}

export function selectInfoTab(id, userChose) {
  for (const t of $$('.info-tabs [role=tab]')) {
    const on = t.dataset.tab === id;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    const panel = document.getElementById(t.getAttribute('aria-controls'));
    if (panel) panel.hidden = !on;
  }
  if (userChose) store.set('sb:info-tab', id);
}

async function done(node, app) {
  const what = node.dataset.refresh || 'info';
  if (node.tagName === 'FORM' && node.dataset.keep === undefined) node.reset();
  if (node.dataset.toast) toast(node.dataset.toast);
  if (what === 'info' && app.openId) {
    await refreshInfo(app.openId);
    if (app.conv) app.conv.mountInfo();
  } else if (what === 'page') {
    location.reload();
  } else if (what === 'region') {
    const region = node.closest('[data-region]');
    if (region && window.htmx) window.htmx.ajax('GET', region.dataset.region, { target: region, swap: 'outerHTML' });
  }
}
