// Small DOM helpers. Text always goes in as textContent: nothing a customer
// typed is ever parsed as HTML on the client.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// el builds an element: el('li', {class: 'x', dataset: {id: 1}}, 'text', child).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function debounce(fn, ms) {
  let t = 0;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

// store is localStorage with JSON values, tolerant of blocked storage.
const memory = new Map();
export const store = {
  get(key, fallback = null) {
    try {
      const v = localStorage.getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return memory.has(key) ? memory.get(key) : fallback;
    }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { memory.set(key, value); }
  },
  del(key) {
    try { localStorage.removeItem(key); } catch { memory.delete(key); }
  },
};

// toast shows a short message at the bottom left; role=status announces it.
export function toast(text, opts = {}) {
  const box = $('#toasts');
  if (!box) return;
  const t = el('div', { class: 'toast' + (opts.error ? ' is-error' : '') }, el('span', { text }));
  if (opts.action) {
    t.append(el('button', { type: 'button', text: opts.action.label, onclick: () => { opts.action.run(); t.remove(); } }));
  }
  box.append(t);
  setTimeout(() => t.remove(), opts.ms || (opts.error ? 8000 : 5000));
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });

// localTimes rewrites the server's UTC times into the viewer's own zone.
export function localTimes(root = document) {
  for (const t of root.querySelectorAll('time[datetime]')) {
    if (t.dataset.local) continue;
    const d = new Date(t.getAttribute('datetime'));
    if (isNaN(d)) continue;
    t.dataset.local = '1';
    const text = t.textContent.trim();
    if (/^\d\d:\d\d$/.test(text)) t.textContent = timeFmt.format(d);
    else if (/\d{4}/.test(text)) t.textContent = dateFmt.format(d);
    t.title = dateFmt.format(d);
  }
}

// isTyping reports whether the user is typing in a field (single-letter
// shortcuts stay off there).
export function isTyping(target) {
  const t = target || document.activeElement;
  if (!t) return false;
  return t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
}

// me describes the signed-in user, from the page.
export function me() {
  const d = document.body.dataset;
  return { id: Number(d.user || 0), name: d.name || '', operator: d.operator === 'true', supervisor: d.supervisor === 'true' };
}
