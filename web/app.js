// app.js - the web UI's shell: session, API helper, i18n, theme, nav and
// the hash router. Screens live in screens/<id>.js (listed in
// screens/index.js); docs/UI.md describes the convention.
import screens from './screens/index.js';
import loginScreen from './screens/login.js';

const LANGS = ['de', 'en'];
const catalogs = {};          // lang -> merged catalog (shell + loaded screens)
const loadedScreens = {};     // `${lang}/${id}` -> true

/* An API error: HTTP status, the OpenAI-shaped error's code and message. */
export class ApiError extends Error {
  constructor(status, code, message, data, headers) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.data = data;
    this.headers = headers;
  }
}

function pickLang() {
  const stored = localStorage.getItem('hoheit.lang');
  if (LANGS.includes(stored)) return stored;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'de';
  return nav.toLowerCase().startsWith('en') ? 'en' : 'de';
}

async function fetchJson(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

export const app = {
  user: null,          // GET /api/me: {user, role, departments, auth, csrf_token, ...}
  lang: pickLang(),
  csrf: '',
  screens,
  current: null,       // the screen shown
  ApiError,
  documentUrl: (id) => `/api/documents/${encodeURIComponent(id)}/file`,   // the stored original (a download)

  /* t('key', {n: 3}) -> the current language's text with {n} filled in;
   * the key itself when no catalog has it (visible in tests). */
  t(key, vars) {
    const cat = catalogs[app.lang] || {};
    let s = cat[key];
    if (s === undefined) s = (catalogs.de || {})[key];
    if (s === undefined) return key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
    return s;
  },

  /* The full answer: {status, ok, data, headers}; never throws for an HTTP
   * status (only for a network failure or an abort). opts.signal aborts. */
  async request(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json', 'Accept-Language': app.lang };
    const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
    if (body !== undefined && body !== null) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD' && app.csrf) headers['X-CSRF-Token'] = app.csrf;
    const r = await fetch(path, init);
    let data = null;
    const ct = r.headers.get('Content-Type') || '';
    if (ct.includes('json')) {
      try { data = await r.json(); } catch { data = null; }
    } else {
      data = await r.text();
    }
    return { status: r.status, ok: r.ok, data, headers: r.headers };
  },

  /* The body of a 2xx answer, else throws ApiError (status, code, message). */
  async api(method, path, body, opts) {
    const r = await app.request(method, path, body, opts);
    if (r.ok) return r.data;
    const err = r.data && r.data.error ? r.data.error : {};
    if (r.status === 401 && err.code === 'invalid_session' && path !== '/api/login') sessionEnded();
    throw new ApiError(r.status, err.code, err.message, r.data, r.headers);
  },

  /* A readable sentence for an error, from the catalog by code or status. */
  errorText(e) {
    if (!(e instanceof ApiError)) return app.t('error.network');
    const byCode = app.t(`error.${e.code}`);
    if (e.code && byCode !== `error.${e.code}`) return byCode;
    const byStatus = app.t(`error.http${e.status}`);
    if (byStatus !== `error.http${e.status}`) return byStatus;
    return app.t('error.generic', { status: e.status, message: e.message });
  },

  navigate(id) {
    const h = `#/${id}`;
    if (location.hash === h) route();
    else location.hash = h;
  },

  /* Tells screen readers (and the status line) something happened. */
  announce(text) {
    const live = document.getElementById('live');
    live.textContent = '';
    setTimeout(() => { live.textContent = text; }, 30);
  },

  /* Loads web/i18n/<id>.<lang>.json once per language (a screen's own
   * strings); a missing file is no error. */
  async loadStrings(id) {
    const k = `${app.lang}/${id}`;
    if (loadedScreens[k]) return;
    loadedScreens[k] = true;
    try {
      Object.assign(catalogs[app.lang], await fetchJson(`/assets/i18n/${id}.${app.lang}.json`));
    } catch { /* the screen has no catalog of its own */ }
  },

  async setLang(lang) {
    if (!LANGS.includes(lang)) return;
    app.lang = lang;
    localStorage.setItem('hoheit.lang', lang);
    await loadCatalog(lang);
    applyShellText();
    await route();
  },

  async login(user) {
    app.user = user;
    app.csrf = user.csrf_token || '';
  },

  async logout() {
    try { await app.api('POST', '/api/logout'); } catch { /* the session may be gone already */ }
    app.user = null;
    app.csrf = '';
    app.navigate('login');
    app.announce(app.t('shell.loggedOut'));
  },

  /* The collections this user may read: [{name, right}] ("read", "write",
   * "manage"; null when unknown). From GET /api/collections when the server
   * has it, else the collections of the user's documents (GET
   * /api/documents lists only readable ones, with the user's right). */
  async readableCollections() {
    const r = await app.request('GET', '/api/collections');
    if (r.ok && r.data && Array.isArray(r.data.data)) {
      return r.data.data.map((c) => ({ name: c.name, right: c.right || null }));
    }
    const docs = await app.api('GET', '/api/documents');
    const seen = new Map();
    for (const d of docs.data || []) if (!seen.has(d.collection)) seen.set(d.collection, d.right || null);
    return [...seen].map(([name, right]) => ({ name, right })).sort((a, b) => a.name.localeCompare(b.name));
  },

  /* The screens this user sees in the navigation. */
  visibleScreens() {
    if (!app.user) return [];
    return screens.filter((s) => !s.roles || s.roles.includes(app.user.role));
  },
};

async function loadCatalog(lang) {
  if (!catalogs[lang]) {
    catalogs[lang] = await fetchJson(`/assets/i18n/${lang}.json`);
    for (const k of Object.keys(loadedScreens)) if (k.startsWith(`${lang}/`)) delete loadedScreens[k];
  }
}

function sessionEnded() {
  app.user = null;
  app.csrf = '';
  if (!location.hash.startsWith('#/login')) app.navigate('login');
}

/* Theme: "light", "dark" or "" (the system's, prefers-color-scheme). */
function theme() { return localStorage.getItem('hoheit.theme') || ''; }
app.theme = theme;
/* Sets the theme ("light", "dark", "" = the system's) and remembers it. */
app.setTheme = (th) => {
  if (th === 'light' || th === 'dark') localStorage.setItem('hoheit.theme', th);
  else localStorage.removeItem('hoheit.theme');
  applyTheme();
};
function applyTheme() {
  const th = theme();
  if (th) document.documentElement.dataset.theme = th;
  else delete document.documentElement.dataset.theme;
  const dark = th ? th === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  const b = document.getElementById('theme');
  b.textContent = app.t(dark ? 'shell.themeLight' : 'shell.themeDark');
  b.setAttribute('aria-pressed', String(dark));
}

function applyShellText() {
  document.documentElement.lang = app.lang;
  document.title = app.t('shell.title');
  document.getElementById('skip').textContent = app.t('shell.skip');
  document.getElementById('lang-label').textContent = app.t('shell.language');
  document.getElementById('lang').value = app.lang;
  document.getElementById('nav').setAttribute('aria-label', app.t('shell.nav'));
  document.getElementById('logout').textContent = app.t('shell.logout');
  applyTheme();
  renderNav();
}

function renderNav() {
  const top = document.getElementById('top');
  const list = document.getElementById('nav-list');
  list.replaceChildren();
  top.hidden = !app.user;
  document.getElementById('logout').hidden = !app.user;
  document.getElementById('who').textContent = app.user
    ? app.t('shell.who', { user: app.user.user, role: app.t(`role.${app.user.role}`) }) : '';
  for (const s of app.visibleScreens()) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `#/${s.id}`;
    a.textContent = app.t(s.nav);
    if (app.current && app.current.id === s.id) a.setAttribute('aria-current', 'page');
    li.append(a);
    list.append(li);
  }
}

let routing = 0;
async function route() {
  const mine = ++routing;
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const id = hash.split(/[/?]/)[0];
  let screen;
  if (!app.user) screen = loginScreen;
  else if (id === 'login') screen = loginScreen;
  else {
    // A screen outside the user's navigation is still rendered when asked
    // for by URL if it says byUrl: its API answers (a 403 shown as text,
    // or a collection manager's own collections) decide, not the UI.
    screen = app.visibleScreens().find((s) => s.id === id)
      || screens.find((s) => s.id === id && s.byUrl) || app.visibleScreens()[0] || loginScreen;
  }
  if (app.user && screen === loginScreen && id !== 'login') screen = app.visibleScreens()[0] || loginScreen;
  if (app.current && app.current.leave) {
    try { app.current.leave(); } catch { /* a screen's cleanup must not stop navigation */ }
  }
  await app.loadStrings(screen.id);
  if (mine !== routing) return;
  app.current = screen;
  renderNav();
  const main = document.getElementById('main');
  main.replaceChildren();
  main.dataset.screen = screen.id;
  delete main.dataset.ready;   // a screen may set it once its controls are filled
  document.title = `${app.t(screen.nav || 'shell.title')} – hoheit`;
  try {
    await screen.render(main, app, hash.slice(id.length + 1));
  } catch (e) {
    const p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.textContent = app.errorText(e);
    main.append(p);
  }
  if (mine === routing && app.focusMain !== false) {
    const h = main.querySelector('h1');
    (h || main).focus({ preventScroll: true });
  }
}

async function start() {
  await loadCatalog(app.lang);
  if (app.lang !== 'de') await loadCatalog('de').catch(() => {});
  document.getElementById('lang').addEventListener('change', (ev) => app.setLang(ev.target.value));
  document.getElementById('theme').addEventListener('click', () => {
    const dark = document.getElementById('theme').getAttribute('aria-pressed') === 'true';
    localStorage.setItem('hoheit.theme', dark ? 'light' : 'dark');
    applyTheme();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  document.getElementById('logout').addEventListener('click', () => app.logout());
  document.getElementById('skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    const main = document.getElementById('main');
    (main.querySelector('h1') || main).focus();
  });
  try {
    const me = await app.request('GET', '/api/me');
    if (me.ok && me.data && me.data.auth === 'session') await app.login(me.data);
  } catch { /* offline: the login screen says so when used */ }
  applyShellText();
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = '1';
}

window.hoheit = app;   // for the browser tests and the console
start();
