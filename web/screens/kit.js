// screens/kit.js - small pieces the compliance screens share (approvals,
// usecases, audit, gdpr, usage): times, downloads, risk-class badges,
// tables that scroll on a phone, and error sentences with the server's
// own message. Not a screen (not listed in screens/index.js); the only
// strings it uses are the shell's risk.* words.
import { h } from '../dom.js';

/* A time from the API as local date and time. Values below 1e11 are
 * seconds (use cases), others milliseconds (approvals, audit records). */
export function fmtTime(app, v) {
  if (v === null || v === undefined || v === '' || Number.isNaN(Number(v))) return '–';
  const n = Number(v);
  const d = new Date(n < 1e11 ? n * 1000 : n);
  return d.toLocaleString(app.lang === 'en' ? 'en-GB' : 'de-DE', { dateStyle: 'medium', timeStyle: 'short' });
}

/* A number with the language's digit grouping. */
export function fmtNum(app, n) {
  return Number(n || 0).toLocaleString(app.lang === 'en' ? 'en-GB' : 'de-DE');
}

/* Offers text as a file download (no new window, no other host). */
export function download(filename, text, type) {
  const blob = new Blob([text], { type: type || 'text/plain;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const RISK_ICON = { prohibited: '⛔', high: '▲', limited: '◆', minimal: '○' };

/* The risk class as icon and word (never colour alone). */
export function riskBadge(app, cls) {
  const known = Object.hasOwn(RISK_ICON, cls);
  return h('span', { class: `badge risk risk-${known ? cls : 'unknown'}` },
    h('span', { 'aria-hidden': 'true' }, known ? `${RISK_ICON[cls]} ` : ''),
    known ? app.t(`risk.${cls}`) : String(cls || '–'));
}

/* A table that scrolls sideways on a narrow screen; the scroll box is a
 * named, focusable region so a keyboard can scroll it. */
export function tableBox(label, table) {
  return h('div', { class: 'table-box', role: 'region', 'aria-label': label, tabindex: '0' }, table);
}

/* A table from a header row and body rows (cells: text or nodes). */
export function table(caption, headers, rows) {
  return h('table', null,
    caption ? h('caption', { class: 'vh' }, caption) : null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))));
}

/* The readable sentence for an error plus the server's own message when it
 * says more (e.g. which field is wrong, why a four-eyes rule applies). */
export function errorDetail(app, e) {
  const text = app.errorText(e);
  const msg = e && e.message && e instanceof app.ApiError ? e.message : '';
  return msg && !text.includes(msg) ? `${text} (${msg})` : text;
}

/* The body of a GET as text whatever its type (Markdown, HTML, JSONL:
 * app.request would parse an x-ndjson body as JSON); a non-2xx answer
 * throws app.ApiError like app.api. */
export async function fetchText(app, path) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: '*/*', 'Accept-Language': app.lang } });
  const text = await r.text();
  if (r.ok) return text;
  let err = {};
  try { err = JSON.parse(text).error || {}; } catch { /* not an API error body */ }
  throw new app.ApiError(r.status, err.code, err.message, null, r.headers);
}

/* A definition list from [label, value] pairs (skips null values). */
export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined) continue;
    dl.append(h('dt', null, k), h('dd', null, v));
  }
  return dl;
}

/* A unique id for label/for pairs. */
let seq = 0;
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

/* A labelled form field: {label, input, hint}; returns the wrapper. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid('f');
  let hintEl = null;
  if (hint) {
    hintEl = h('span', { class: 'small muted', id: `${input.id}-hint` }, hint);
    input.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}
