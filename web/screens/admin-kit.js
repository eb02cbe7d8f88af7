// screens/admin-kit.js - pieces the admin screens (users, departments,
// collections, models) and the settings screen share: the audit note, a
// confirmation that names what goes and asks once, a key shown once with a
// copy button, result lines, sizes. Not a screen. Its strings are the
// shell's admin.* words (web/i18n/de.json, en.json).
import { h, statusLine } from '../dom.js';
import { errorDetail } from './kit.js';

/* "Every change is recorded in the audit log": under every form that changes something. */
export function auditNote(app) {
  return h('p', { class: 'small muted audit-note' }, app.t('admin.audited'));
}

/* A success line that says the change was recorded. */
export function doneLine(app, text) {
  return h('p', { class: 'status done', role: 'status', tabindex: '-1' }, `${text} ${app.t('admin.recorded')}`);
}

/* After a screen re-rendered itself: focus its result line (keyboard and
 * screen-reader users land on what happened, not on <body>). */
export function focusMsg(main) {
  const p = main.querySelector('.msg-area p');
  if (p) p.focus();
}

/* An error line (role=alert) with the server's reason. */
export function errLine(app, e) {
  return h('p', { class: 'error', role: 'alert' }, errorDetail(app, e));
}

/* Shows a confirmation in `out`: a heading, the lines naming what goes,
 * and two buttons. Resolves true (confirmed) or false (cancelled); the
 * box stays until the caller replaces out's content. */
export function confirmOnce(app, out, title, lines, yesText) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'danger' }, yesText);
    const no = h('button', { type: 'button' }, app.t('admin.cancel'));
    const id = `cf-${Date.now()}`;
    const box = h('section', { class: 'card confirm', role: 'alertdialog', 'aria-labelledby': id,
      'aria-describedby': `${id}-d` },
    h('h2', { id, tabindex: '-1' }, title),
    h('div', { id: `${id}-d` }, lines.map((l) => h('p', null, l))),
    h('div', { class: 'actions row' }, yes, no));
    out.replaceChildren(box);
    box.querySelector('h2').focus();
    yes.addEventListener('click', () => { yes.disabled = true; no.disabled = true; resolve(true); });
    no.addEventListener('click', () => { out.replaceChildren(); resolve(false); });
  });
}

/* A new API key, shown once: the key in a read-only field with a copy
 * button and the note that it will not be shown again. */
export function keyOnce(app, created) {
  const input = h('input', { type: 'text', readonly: true, value: created.key, id: `key-${created.id}`,
    class: 'key-value', spellcheck: 'false', autocomplete: 'off' });
  const copied = h('span', { class: 'small status', role: 'status' });
  const copy = h('button', { type: 'button', class: 'primary' }, app.t('admin.copy'));
  copy.addEventListener('click', async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(created.key);
      copied.textContent = app.t('admin.copied');
    } catch {
      copied.textContent = app.t('admin.copyManually');
    }
  });
  const hid = `kh-${created.id}`;
  return h('section', { class: 'card key-once', 'aria-labelledby': hid },
    h('h3', { id: hid, tabindex: '-1' }, app.t('admin.keyCreated', { prefix: created.prefix })),
    h('p', { class: 'warn-text' }, app.t('admin.keyOnce')),
    h('div', { class: 'row key-row' },
      h('label', { for: input.id, class: 'vh' }, app.t('admin.keyLabel')), input, copy),
    copied);
}

/* A byte count as KB/MB/GB in the user's language. */
export function fmtBytes(app, n) {
  const v = Number(n || 0);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i += 1; }
  const num = x.toLocaleString(app.lang === 'en' ? 'en-GB' : 'de-DE', { maximumFractionDigits: i ? 1 : 0 });
  return `${num} ${units[i]}`;
}

/* A select of the rights; withNone adds "no right" (value ""). */
export function rightSelect(app, value, withNone, attrs) {
  const sel = h('select', attrs || {});
  const opts = withNone ? ['', 'read', 'write', 'manage'] : ['read', 'write', 'manage'];
  for (const r of opts) {
    sel.append(h('option', { value: r, selected: r === (value || '') }, r ? app.t(`right.${r}`) : app.t('admin.noRight')));
  }
  return sel;
}

/* A path segment for a name (users, departments, collections). */
export const seg = (name) => encodeURIComponent(name);

/* The trimmed value of a required name field, or null after marking the
 * field invalid, saying message in out and moving focus to it. */
export function requiredName(input, out, message) {
  const n = input.value.trim();
  if (n) {
    input.removeAttribute('aria-invalid');
    return n;
  }
  input.setAttribute('aria-invalid', 'true');
  out.replaceChildren(statusLine(message, 'error'));
  input.focus();
  return null;
}
