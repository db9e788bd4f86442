// The pages beside the conversations: the live board (S4) refreshes its
// numbers as events arrive; settings forms build their JSON bodies here.

import { api } from './api.js';
import { $, $$, debounce, toast, localTimes } from './dom.js';

export function installPages(app) {
  if ($('[data-live-region]')) {
    // The board is rendered by the server; events say when to fetch it
    // again (at most once a second). The region is found anew each time,
    // as each fetch replaces it.
    const reload = debounce(() => {
      const region = $('[data-live-region]');
      if (region && window.htmx) window.htmx.ajax('GET', region.dataset.liveRegion, { target: region, swap: 'outerHTML' });
    }, 1000);
    document.addEventListener('sb:event', reload);
    document.addEventListener('sb:resync', reload);
    document.body.addEventListener('htmx:afterSettle', () => localTimes());
  }
  app.builders.hours = hoursJSON;
  // Inbox membership toggles (U2): one call per change.
  document.addEventListener('change', async (e) => {
    const box = e.target.closest('input[data-member-inbox]');
    if (!box) return;
    const path = `/api/v1/inboxes/${box.dataset.memberInbox}/members/${box.dataset.memberUser}`;
    try {
      await api(box.checked ? 'PUT' : 'DELETE', path);
      toast(box.checked ? 'Added to the inbox.' : 'Removed from the inbox.');
    } catch (x) {
      box.checked = !box.checked;
      toast(x.message, { error: true });
    }
  });
}

// hoursJSON builds an inbox's settings patch from the settings form,
// including the weekly business hours table (R7).
function hoursJSON(form) {
  const weekly = [];
  for (const row of $$('[data-weekday]', form)) {
    if (!$('[name=open]', row).checked) continue;
    const [sh, sm] = $('[name=start]', row).value.split(':').map(Number);
    const [eh, em] = $('[name=end]', row).value.split(':').map(Number);
    weekly.push({ weekday: Number(row.dataset.weekday), start: sh * 60 + sm, end: eh * 60 + em });
  }
  const num = (n) => Number(form.elements[n].value);
  const list = (n) => form.elements[n].value.split(/[\s,]+/).filter(Boolean);
  const holidays = list('holidays');
  const settings = {
    greeting: form.elements.greeting.value,
    out_of_hours_message: form.elements.out_of_hours_message.value,
    chat_limit: num('chat_limit'),
    offer_timeout_sec: num('offer_timeout_sec'),
    transfer_timeout_sec: num('transfer_timeout_sec'),
    assigned_idle_sec: num('assigned_idle_min') * 60,
    waiting_idle_sec: num('waiting_idle_min') * 60,
    business_hours: { time_zone: form.elements.time_zone.value, weekly, holidays },
    allowed_origins: list('allowed_origins'),
  };
  return { name: form.elements.name.value, settings };
}
