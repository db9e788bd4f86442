// The composers: the one to the customer (formatting, drafts, canned
// responses with /shortcut, attachments with drag and drop and progress)
// and the small ones of the internal discussion and comments (@mentions).

import { api, upload, newClientId } from './api.js';
import { $, el, store, me, debounce } from './dom.js';

const TOUCH = matchMedia('(pointer: coarse)').matches;

let cannedList = null;
// canned returns the canned responses the user may insert (C5), loaded once.
export function canned(reload) {
  if (!cannedList || reload) {
    cannedList = api('GET', '/api/v1/canned-responses').then((r) => r.items || [], () => { cannedList = null; return []; });
  }
  return cannedList;
}

let usersList = null;
function users() {
  if (!usersList) usersList = api('GET', '/api/v1/users').then((r) => r.items || [], () => { usersList = null; return []; });
  return usersList;
}

// handle is what @name matches on the server: the first name, lower case.
const handle = (u) => (u.name.trim().split(/\s+/)[0] || u.email.split('@')[0]).toLowerCase();

// Suggest drives a listbox of suggestions under a text area.
class Suggest {
  constructor(ul, input, onPick) {
    this.ul = ul;
    this.input = input;
    this.onPick = onPick;
    this.items = [];
    this.at = 0;
    ul.addEventListener('mousedown', (e) => {
      const li = e.target.closest('li[data-i]');
      if (!li) return;
      e.preventDefault();
      this.at = Number(li.dataset.i);
      this.pick();
    });
  }

  get open() { return !this.ul.hidden; }

  show(items, render) {
    this.items = items;
    this.at = 0;
    if (!items.length) return this.hide();
    this.ul.replaceChildren(...items.map((it, i) => {
      const li = el('li', { role: 'option', id: `${this.ul.id || 'sg'}-${i}`, dataset: { i } }, ...render(it));
      return li;
    }));
    this.ul.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.mark();
  }

  mark() {
    Array.from(this.ul.children).forEach((li, i) => li.setAttribute('aria-selected', String(i === this.at)));
    const cur = this.ul.children[this.at];
    if (cur) {
      cur.scrollIntoView({ block: 'nearest' });
      this.input.setAttribute('aria-activedescendant', cur.id);
    }
  }

  move(d) {
    this.at = (this.at + d + this.items.length) % this.items.length;
    this.mark();
  }

  pick() {
    const it = this.items[this.at];
    this.hide();
    if (it) this.onPick(it);
  }

  hide() {
    this.ul.hidden = true;
    this.items = [];
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  // keydown handles the list's keys; it reports whether it used the key.
  keydown(e) {
    if (!this.open) return false;
    switch (e.key) {
      case 'ArrowDown': this.move(1); break;
      case 'ArrowUp': this.move(-1); break;
      case 'Enter': case 'Tab': this.pick(); break;
      case 'Escape': this.hide(); break;
      default: return false;
    }
    e.preventDefault();
    return true;
  }
}

// tokenBefore finds a "/word" or "@word" being typed right before the caret.
function tokenBefore(ta, sigil) {
  const upto = ta.value.slice(0, ta.selectionStart);
  const m = upto.match(sigil === '/' ? /(^|\s)\/([a-z0-9_-]*)$/ : /(^|\s)@([\p{L}\p{N}._-]*)$/u);
  if (!m) return null;
  return { start: upto.length - m[2].length - 1, end: ta.selectionStart, word: m[2].toLowerCase() };
}

function replaceRange(ta, start, end, text) {
  ta.setRangeText(text, start, end, 'end');
  ta.dispatchEvent(new Event('input', { bubbles: true }));
  ta.focus();
}

// The text areas grow with their text through CSS (field-sizing); nothing
// here sets inline styles, which the CSP would refuse when htmx settles.
function autosize() {}

const draftKey = (id) => `sb:draft:${me().id}:${id}`;

export class Composer {
  constructor(conv, form) {
    this.conv = conv;
    this.form = form;
    this.ta = $('textarea', form);
    this.chips = $('#chips', form);
    this.err = $('#composer-error', form);
    this.drop = $('#drop', form);
    this.files = [];
    this.maxUpload = Number(form.dataset.maxUpload || 0);
    this.exts = new Set((form.dataset.extensions || '').split(',').filter(Boolean));
    this.suggest = new Suggest($('#canned-suggest', form), this.ta, (c) => this.insertCanned(c));
    this.ta.setAttribute('aria-autocomplete', 'list');
    this.ta.setAttribute('aria-controls', 'canned-suggest');
    this.abort = new AbortController();
    const o = { signal: this.abort.signal };
    this.saveDraft = debounce(() => this.writeDraft(), 250);
    const draft = store.get(draftKey(conv.id), '');
    if (draft) this.ta.value = draft;
    autosize(this.ta);
    form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); }, o);
    this.ta.addEventListener('keydown', (e) => this.keydown(e), o);
    this.ta.addEventListener('input', () => this.input(), o);
    this.ta.addEventListener('paste', (e) => {
      const files = Array.from((e.clipboardData && e.clipboardData.files) || []);
      if (files.length) {
        e.preventDefault();
        this.addFiles(files);
      }
    }, o);
    form.addEventListener('click', (e) => this.click(e), o);
    $('#file-input', form).addEventListener('change', (e) => {
      this.addFiles(Array.from(e.target.files || []));
      e.target.value = '';
    }, o);
    // Files dropped anywhere on the conversation land here (an overlay shows where).
    const pane = conv.pane;
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    pane.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth++; this.drop.hidden = false; } }, o);
    pane.addEventListener('dragleave', (e) => { if (hasFiles(e) && --depth <= 0) { depth = 0; this.drop.hidden = true; } }, o);
    pane.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); }, o);
    pane.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.drop.hidden = true;
      this.addFiles(Array.from(e.dataTransfer.files || []));
    }, o);
  }

  destroy() {
    this.writeDraft();
    this.abort.abort();
  }

  writeDraft() {
    const v = this.ta.value;
    if (v.trim()) store.set(draftKey(this.conv.id), v); else store.del(draftKey(this.conv.id));
  }

  // sent clears the stored draft once the server acknowledged the send,
  // unless the user has written a new one meanwhile.
  sent(body) {
    if (store.get(draftKey(this.conv.id), '') === body && this.ta.value.trim() === '') store.del(draftKey(this.conv.id));
  }

  input() {
    autosize(this.ta);
    this.err.hidden = true;
    if (this.ta.value.trim()) this.conv.rt.typing(this.conv.id);
    // Keep the draft of the unsent text; an empty box does not erase the
    // stored draft of a message still waiting for its acknowledgement.
    if (this.ta.value.trim()) this.saveDraft();
    this.updateCanned();
  }

  async updateCanned(all) {
    const tok = tokenBefore(this.ta, '/');
    if (!tok && !all) return this.suggest.hide();
    const list = await canned();
    const word = tok ? tok.word : '';
    const hits = list.filter((c) => c.shortcut.startsWith(word) || (word && (c.title || '').toLowerCase().includes(word))).slice(0, 8);
    this.suggest.show(hits, (c) => [el('span', { class: 'sc', text: '/' + c.shortcut }), el('span', { class: 'sc-body', text: c.title || c.body })]);
  }

  insertCanned(c) {
    const tok = tokenBefore(this.ta, '/');
    if (tok) replaceRange(this.ta, tok.start, tok.end, c.body);
    else replaceRange(this.ta, this.ta.selectionStart, this.ta.selectionEnd, c.body);
  }

  keydown(e) {
    if (this.suggest.keydown(e)) return;
    if (e.key === 'Enter' && !e.isComposing && e.keyCode !== 229) {
      if (e.ctrlKey || e.metaKey || (!e.shiftKey && !TOUCH)) {
        e.preventDefault();
        this.submit();
      }
      return;
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      this.ta.blur();
      this.conv.log.focus();
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.code === 'KeyB' || e.code === 'KeyI')) {
      e.preventDefault();
      this.format(e.code === 'KeyB' ? 'bold' : 'italic');
    }
  }

  click(e) {
    const f = e.target.closest('[data-format]');
    if (f) return this.format(f.dataset.format);
    if (e.target.closest('[data-action="canned"]')) {
      this.ta.focus();
      const pos = this.ta.selectionStart;
      const before = this.ta.value.slice(0, pos);
      if (!tokenBefore(this.ta, '/')) replaceRange(this.ta, pos, pos, (before && !/\s$/.test(before) ? ' ' : '') + '/');
      this.updateCanned(true);
    }
  }

  // format wraps the selection in the markup the workspace renders (C3).
  format(kind) {
    const ta = this.ta;
    const [s, e] = [ta.selectionStart, ta.selectionEnd];
    const sel = ta.value.slice(s, e);
    const wrap = { bold: '**', italic: '_', code: '`' }[kind];
    if (wrap) {
      replaceRange(ta, s, e, wrap + (sel || 'text') + wrap);
      if (!sel) ta.setSelectionRange(s + wrap.length, s + wrap.length + 4);
    } else if (kind === 'link') {
      replaceRange(ta, s, e, `[${sel || 'text'}](https://)`);
      const at = s + (sel || 'text').length + 3;
      ta.setSelectionRange(at, at + 8);
    } else if (kind === 'list') {
      const lines = (sel || 'item').split('\n').map((l) => (l.startsWith('- ') ? l : '- ' + l));
      const lead = s > 0 && ta.value[s - 1] !== '\n' ? '\n' : '';
      replaceRange(ta, s, e, lead + lines.join('\n'));
    }
  }

  submit() {
    const body = this.ta.value;
    const ready = this.files.filter((f) => f.state === 'ready' || f.state === 'failed');
    if (!body.trim() && !ready.length) return;
    this.suggest.hide();
    if (body.trim()) {
      this.writeDraft();
      this.conv.send('public', body);
      this.ta.value = '';
      autosize(this.ta);
    }
    this.uploadAll();
  }

  // ---- attachments (C4) ----

  addFiles(files) {
    for (const file of files) {
      const ext = (file.name.match(/\.([^.]+)$/) || [])[1];
      let problem = '';
      if (!ext || !this.exts.has(ext.toLowerCase())) {
        problem = `“.${ext || ''}” files can't be sent. Allowed: ${Array.from(this.exts).join(', ')}.`;
      } else if (this.maxUpload && file.size > this.maxUpload) {
        problem = `This file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${Math.round(this.maxUpload / 1048576)} MB.`;
      }
      const item = { file, clientId: newClientId(), state: problem ? 'refused' : 'ready' };
      item.chip = el('div', { class: 'chip' + (problem ? ' is-error' : ''), role: 'group', 'aria-label': 'Attachment ' + file.name });
      this.files.push(item);
      this.chips.append(item.chip);
      this.renderChip(item, problem);
    }
  }

  renderChip(item, message) {
    const parts = [el('span', { class: 'chip-name', text: item.file.name, title: item.file.name })];
    if (item.state === 'uploading') parts.push(el('progress', { max: '1', value: String(item.progress || 0), 'aria-label': 'Upload progress' }));
    if (message) parts.push(el('span', { class: 'chip-msg', text: message }));
    if (item.state === 'failed') parts.push(el('button', { type: 'button', text: 'Retry', onclick: () => this.uploadOne(item) }));
    if (item.state !== 'uploading') {
      parts.push(el('button', { type: 'button', 'aria-label': 'Remove ' + item.file.name, text: '✕', onclick: () => this.removeFile(item) }));
    }
    item.chip.className = 'chip' + (item.state === 'refused' || item.state === 'failed' ? ' is-error' : '');
    item.chip.replaceChildren(...parts);
  }

  removeFile(item) {
    this.files = this.files.filter((f) => f !== item);
    item.chip.remove();
  }

  async uploadAll() {
    for (const item of this.files.slice()) {
      if (item.state === 'ready' || item.state === 'failed') await this.uploadOne(item);
    }
  }

  async uploadOne(item) {
    item.state = 'uploading';
    item.progress = 0;
    this.renderChip(item);
    const bar = () => $('progress', item.chip);
    try {
      await upload(`/api/v1/conversations/${this.conv.id}/attachments`, item.file, item.clientId, (p) => {
        item.progress = p;
        const b = bar();
        if (b) b.value = p;
      });
      this.removeFile(item);
      this.conv.pull('public');
    } catch (err) {
      item.state = 'failed';
      this.renderChip(item, err.message);
    }
  }
}

// SideComposer posts to the internal discussion (C9) or the comments (S2),
// with @name suggestions limited to the inbox's members (no "everyone").
export class SideComposer {
  constructor(conv, form) {
    this.conv = conv;
    this.form = form;
    this.thread = form.dataset.thread;
    this.ta = $('textarea', form);
    const ul = $('[data-mention-suggest]', form);
    ul.id = 'mention-' + this.thread;
    this.suggest = new Suggest(ul, this.ta, (u) => {
      const tok = tokenBefore(this.ta, '@');
      if (tok) replaceRange(this.ta, tok.start, tok.end, '@' + handle(u) + ' ');
    });
    this.abort = new AbortController();
    const o = { signal: this.abort.signal };
    form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); }, o);
    this.ta.addEventListener('keydown', (e) => {
      if (this.suggest.keydown(e)) return;
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !TOUCH) {
        e.preventDefault();
        this.submit();
      }
    }, o);
    this.ta.addEventListener('input', () => this.mentions(), o);
  }

  destroy() { this.abort.abort(); }

  async mentions() {
    const tok = tokenBefore(this.ta, '@');
    if (!tok) return this.suggest.hide();
    const inbox = Number((document.getElementById('info-body') || {}).dataset?.inbox || 0);
    const all = await users();
    const hits = all.filter((u) => !u.disabled && u.id !== me().id &&
      (u.role === 'owner' || u.role === 'admin' || (u.inbox_ids || []).includes(inbox)) &&
      (handle(u).startsWith(tok.word) || u.name.toLowerCase().includes(tok.word))).slice(0, 8);
    this.suggest.show(hits, (u) => [el('span', { class: 'sc', text: '@' + handle(u) }), el('span', { class: 'sc-body', text: u.name })]);
  }

  submit() {
    const body = this.ta.value;
    if (!body.trim()) return;
    this.suggest.hide();
    this.conv.send(this.thread, body);
    this.ta.value = '';
  }
}
