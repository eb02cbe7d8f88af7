// dom.js - a tiny element builder for the screens (no innerHTML anywhere:
// every text goes in as a text node, so nothing from the server or a user
// is ever parsed as HTML).
//   h('button', {type: 'button', class: 'primary', onclick: fn}, 'Send')
// attrs: "class", "text" (textContent), on<event> functions, boolean
// attributes as true/false, anything else via setAttribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/* The screen's heading: focusable so navigation can move focus to it. */
export function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

/* A status line (role=status) or an alert (role=alert for errors). */
export function statusLine(text, kind) {
  return h('p', { class: kind === 'error' ? 'error' : 'status', role: kind === 'error' ? 'alert' : 'status' }, text);
}
