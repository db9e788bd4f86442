// Keyboard shortcuts (UX §2). Keys are matched by event.code, so macOS
// Option and AZERTY layouts work; Alt+letter calls preventDefault (Firefox on
// Windows opens menus otherwise); single letters are off inside fields; the
// browser's own Ctrl+T/W/N/L/F are left alone.

import { $, isTyping } from './dom.js';

// The panes F6 cycles through (UX §6): each is a region and the element
// that takes the focus in it.
const PANES = [
  { region: '.topbar', focus: () => $('.topbar .brand') },
  { region: '#lists', focus: () => $('#list .row-link[aria-current]') || $('#list .row-link') || $('#lists') },
  { region: '#conv', focus: () => $('#log') || $('#conv') },
  { region: '#composer', focus: () => $('#composer-text') },
  { region: '#info', focus: () => $('#info [role=tab][aria-selected="true"]') || $('#info') },
];

function cyclePanes(d) {
  const active = document.activeElement;
  // The innermost pane holding the focus: the composer is inside #conv.
  let at = -1;
  PANES.forEach((p, i) => {
    const r = $(p.region);
    if (r && r.contains(active)) at = i;
  });
  for (let i = 0; i < PANES.length; i++) {
    at = (at + d + PANES.length) % PANES.length;
    const n = PANES[at].focus();
    if (n && n.offsetParent !== null) {
      n.focus();
      return;
    }
  }
}

export function installKeys(app) {
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing) return;
    const mod = e.ctrlKey || e.metaKey;
    const stop = () => { e.preventDefault(); e.stopPropagation(); };
    if (mod && !e.altKey && !e.shiftKey && e.code === 'KeyK') { stop(); app.dialogs.openPalette(); return; }
    if (mod && !e.altKey && e.code === 'Slash') { stop(); app.dialogs.help(); return; }
    if (e.code === 'F6') { stop(); cyclePanes(e.shiftKey ? -1 : 1); return; }
    if (e.altKey && !mod) {
      const act = {
        KeyJ: () => app.lists && app.lists.move(1, true),
        KeyK: () => app.lists && app.lists.move(-1, true),
        ArrowDown: () => e.shiftKey && app.lists && app.lists.nextUnread(),
        KeyN: () => app.takeOldest(),
        KeyA: () => app.offers && app.offers.answer(null, true),
        KeyD: () => app.offers && app.offers.answer(null, false),
        KeyO: () => app.toggleInfo(),
        KeyT: () => app.action('transfer'),
        KeyE: () => (e.shiftKey ? app.endAndNext() : app.action('end', true)),
      }[e.code];
      if (act) { stop(); act(); }
      return;
    }
    if (mod || isTyping(e.target)) return;
    if (e.code === 'Slash' && e.shiftKey) { stop(); app.dialogs.help(); return; }
    if (e.shiftKey) return;
    const inList = document.activeElement && document.activeElement.closest && document.activeElement.closest('#lists');
    switch (e.code) {
      case 'KeyJ': if (app.lists) { stop(); app.lists.move(1, false); } return;
      case 'KeyK': if (app.lists) { stop(); app.lists.move(-1, false); } return;
      case 'KeyR': if (app.focusComposer()) stop(); return;
      case 'Escape': if (inList) { stop(); document.activeElement.blur(); } return;
    }
  });
}
