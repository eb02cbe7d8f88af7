// admin.mjs - the admin screens (Benutzer, Abteilungen, Sammlungen &
// Rechte, Modelle) and Einstellungen in Debian's chromium (puppeteer-core)
// against the `hoheit serve` that admin.sh started: root creates a user
// with a department and an API key (shown once, then only its prefix),
// resets the password (the new one logs in), the last-admin refusal as
// text; departments created, renamed, deleted; a collection's right
// granted and removed, and mia's readable collections follow; "who may
// read" for a user; the models directory; a member sees no admin screen
// and gets the API's 403 as text by URL; settings: own key shown once,
// own password changed and used; quotas on Nutzung & Kontingente: a daily
// token quota for ben set in the form (bad values refused there first), the
// API shows it, ben's request over it is refused, edited, a department's
// quota set by keyboard alone, removed after one confirmation, all in the
// audit log, read-only for the auditor; axe-core on every new screen at
// 1280 and 390 px, light and dark; a keyboard-only department; no request
// to another host, no CSP violation, no uncaught error.
// Env: HOHEIT_URL, HOHEIT_PASSWORD, HOHEIT_CHROMIUM, HOHEIT_UI_SCREENSHOTS (optional).
// Ends with "ui-admin: N passed, N failed"; exit status 1 if any failed.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BASE = process.env.HOHEIT_URL;
const PW = process.env.HOHEIT_PASSWORD;
const SHOTS = process.env.HOHEIT_UI_SCREENSHOTS || '';
const ORIGIN = new URL(BASE).origin;
const T0 = Date.now();

let passed = 0, failed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}
async function test(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const browser = await puppeteer.launch({
  executablePath: process.env.HOHEIT_CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const foreign = [];
const cspReports = [];
const pageErrors = [];

async function newPage({ width = 1280, height = 900, lang = 'de-DE', dark = false } = {}) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  await page.setViewport({ width, height, deviceScaleFactor: 1 });
  await page.setExtraHTTPHeaders({ 'Accept-Language': lang });
  await page.evaluateOnNewDocument((l) => {
    Object.defineProperty(navigator, 'language', { get: () => l });
    Object.defineProperty(navigator, 'languages', { get: () => [l] });
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  }, lang);
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' },
    { name: 'prefers-reduced-motion', value: 'reduce' }]);
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || u.startsWith('blob:') || new URL(u).origin === ORIGIN) req.continue();
    else { foreign.push(u); req.abort(); }
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspReports.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return page;
}

async function closePage(page) {
  const v = await page.evaluate(() => window.__csp || []).catch(() => []);
  cspReports.push(...v);
  await page.browserContext().close();
}

/* A fresh load of the UI at hash (through about:blank: a goto that only
 * changes the hash would not reload, and stale content would match). */
async function open(page, hash = '') {
  await page.goto('about:blank');
  await page.goto(`${BASE}/${hash}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('body[data-ready="1"]');
}

const aria = (name, role) => `::-p-aria([name="${name}"]${role ? `[role="${role}"]` : ''})`;

async function loggedIn(page, user, password = PW) {
  await open(page);
  await page.locator(aria('Benutzername', 'textbox')).fill(user);
  await page.locator(aria('Passwort', 'textbox')).fill(password);
  await page.locator(aria('Anmelden', 'button')).click();
  await page.waitForSelector('main[data-screen="chat"] h1');
}
/* Goes to a screen through its navigation link and waits for its content. */
async function go(page, link, screen, ready) {
  await page.locator(aria(link, 'link')).click();
  await page.waitForSelector(`main[data-screen="${screen}"] h1`);
  if (ready) await page.waitForSelector(ready);
}

async function axe(page, what) {
  await page.evaluate(AXE);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  check(r.length === 0, `no serious/critical axe violations on ${what}, got ${JSON.stringify(r)}`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/* An API call from inside a logged-in page (cookie + CSRF, as the UI). */
async function api(page, method, p, body) {
  return page.evaluate(async (m, u, b) => {
    const r = await window.hoheit.request(m, u, b);
    return { status: r.status, data: r.data };
  }, method, p, body);
}

/* A request with an API key, from node (no browser, no cookie). */
async function withKey(key, method, p, body) {
  const r = await fetch(`${BASE}${p}`, { method, headers: { Authorization: `Bearer ${key}`,
    ...(body ? { 'Content-Type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  return { status: r.status, data };
}

/* A password login from node: the status only. */
async function loginStatus(user, password) {
  const r = await fetch(`${BASE}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password }) });
  return r.status;
}

const mainText = (page) => page.$eval('main', (e) => e.textContent);
const waitText = (page, sel, text) => page.waitForFunction((s, x) => [...document.querySelectorAll(s)]
  .some((e) => e.textContent.includes(x)), {}, sel, text);
const readable = async (page) => ((await api(page, 'GET', '/api/collections')).data.data || []).map((c) => c.name).sort();

const SCREENS = ['users', 'departments', 'collections', 'models', 'settings', 'usage'];
const ADMIN_NAV = ['Benutzer', 'Abteilungen', 'Sammlungen & Rechte', 'Modelle'];
const NEWPW = 'ein-neues-passwort-22';

// ---------------------------------------------------------------------------

await test('catalogs: every literal key of the admin and settings screens is in German and in English', async () => {
  const web = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'web');
  const read = (f) => JSON.parse(fs.readFileSync(path.join(web, 'i18n', f), 'utf8'));
  const kit = fs.readFileSync(path.join(web, 'screens', 'admin-kit.js'), 'utf8');
  for (const id of SCREENS) {
    const own = id === 'usage' ? ['usage.js', 'usage-quotas.js'] : [`${id}.js`];
    const src = own.map((f) => fs.readFileSync(path.join(web, 'screens', f), 'utf8')).join('\n') + kit;
    const keys = [...src.matchAll(/'((?:admin|error|right|role|nav|[a-z]+)\.[a-zA-Z0-9_.]+)'/g)].map((m) => m[1])
      .filter((k) => k.startsWith(`${id}.`) || /^(admin|right|nav)\./.test(k));
    check(keys.length > 10, `keys found in ${id}.js`);
    for (const l of ['de', 'en']) {
      const cat = { ...read(`${l}.json`), ...read(`${id}.${l}.json`) };
      const missing = [...new Set(keys.filter((k) => !(k in cat)))];
      check(missing.length === 0, `${id}.${l}.json to have ${missing.join(', ')}`);
    }
    const de = Object.keys(read(`${id}.de.json`)).sort();
    const en = Object.keys(read(`${id}.en.json`)).sort();
    check(JSON.stringify(de) === JSON.stringify(en), `the same keys in ${id}.de.json and ${id}.en.json`);
  }
});

let rootPage, miaPage;
let karlPrefix = '';

await test('users: root creates karl with a department, a key shown once (then only its prefix), resets his password', async () => {
  rootPage = await newPage();
  const page = rootPage;
  await loggedIn(page, 'root');
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
  for (const n of [...ADMIN_NAV, 'Einstellungen']) check(nav.includes(n), `admin nav with ${n}, got ${nav}`);
  await go(page, 'Benutzer', 'users', 'main table');
  const list = await page.$eval('main table', (e) => e.textContent);
  check(list.includes('mia') && list.includes('personal') && list.includes('Prüfer'), `the user list, got ${list}`);
  await page.locator(aria('Name', 'textbox')).fill('karl');
  await page.select('select[name="role"]', 'member');
  await page.click('input[name="dept"][value="personal"]');
  await page.locator(aria('Anfangspasswort (freiwillig)', 'textbox')).fill(PW);
  await page.locator(aria('Anlegen', 'button')).click();
  await waitText(page, 'main h1', 'Benutzer karl');
  await waitText(page, '.msg-area', 'Benutzer karl angelegt.');
  check((await page.$eval('.msg-area', (e) => e.textContent)).includes('Im Prüfprotokoll festgehalten.'), 'the audit note');
  const u = (await api(page, 'GET', '/api/admin/users')).data.data.find((x) => x.name === 'karl');
  check(u && u.role === 'member' && JSON.stringify(u.departments) === '["personal"]' && u.has_password,
    `karl created as member of personal with a password, got ${JSON.stringify(u)}`);
  check(await loginStatus('karl', PW) === 200, 'karl logs in with the initial password');
  const audit = await page.evaluate(async () => (await fetch('/api/audit/export?from=1')).text());
  check(/users create karl \(member\)/.test(audit), 'the creation is in the audit log, as the screen says');

  await page.locator(aria('Neuen API-Schlüssel erzeugen', 'button')).click();
  await page.waitForSelector('.key-once input');
  const key = await page.$eval('.key-once input', (e) => e.value);
  const note = await page.$eval('.key-once', (e) => e.textContent);
  check(key.length > 20 && note.includes('nur jetzt angezeigt'), `the key with its once-note, got "${note}"`);
  check(await page.$(aria('Kopieren', 'button')), 'a copy button');
  await page.locator(aria('Kopieren', 'button')).click();
  await page.waitForFunction(() => /kopier/i.test(document.querySelector('.key-once [role="status"]').textContent));
  const me = await withKey(key, 'GET', '/api/me');
  check(me.status === 200 && me.data.user === 'karl', `the key works for karl, got ${me.status}`);
  const keys = (await api(page, 'GET', '/api/admin/users/karl/keys')).data.data;
  check(keys.length === 1 && key.startsWith(keys[0].prefix), 'one key whose prefix starts the key');
  karlPrefix = keys[0].prefix;
  await shot(page, 'users-key-once');
  // a second view: the prefix, never the key
  await open(page, '#/users/karl');
  await page.waitForSelector('section[aria-labelledby="us-keys"] table');
  const again = await mainText(page);
  check(!again.includes(key) && again.includes(karlPrefix) && !(await page.$('.key-once')),
    'the second view shows only the prefix');

  await page.locator(aria('Neues Passwort', 'textbox')).fill('kurz');
  await page.locator(aria('Passwort setzen', 'button')).click();
  await waitText(page, 'main .error', 'mindestens 10 Zeichen');
  await page.locator(aria('Neues Passwort', 'textbox')).fill(NEWPW);
  await page.locator(aria('Passwort setzen', 'button')).click();
  await waitText(page, '.msg-area', 'Neues Passwort für karl gesetzt');
  const old = await loginStatus('karl', PW);
  check(old === 401 || old === 403, `the old password fails, got ${old}`);
  check(await loginStatus('karl', NEWPW) === 200, 'the new password logs in');

  // revoke the key
  await page.locator(aria(`Schlüssel ${karlPrefix} widerrufen`, 'button')).click();
  await waitText(page, '.msg-area', `Schlüssel ${karlPrefix} widerrufen.`);
  check((await withKey(key, 'GET', '/api/me')).status === 401, 'the revoked key is refused');
});

await test('users: the last admin cannot delete itself: the refusal is shown as text; karl is deleted naming what goes', async () => {
  const page = rootPage;
  await open(page, '#/users/root');
  await page.waitForSelector('section[aria-labelledby="us-del"]');
  await page.locator(aria('Löschen …', 'button')).click();
  await page.waitForSelector('.confirm');
  const conf = await page.$eval('.confirm', (e) => e.textContent);
  check(conf.includes('root endgültig löschen?') && conf.includes('API-Schlüssel') && conf.includes('Prüfprotokoll'),
    `the confirmation names what goes, got "${conf}"`);
  await page.locator(aria('root löschen', 'button')).click();
  await waitText(page, 'section[aria-labelledby="us-del"] .error', 'letzte aktive Admin');
  const users = (await api(page, 'GET', '/api/admin/users')).data.data.map((x) => x.name);
  check(users.includes('root'), 'root is still there');
  await shot(page, 'users-last-admin');
  await open(page, '#/users/karl');
  await page.waitForSelector('section[aria-labelledby="us-del"]');
  await page.locator(aria('Löschen …', 'button')).click();
  await page.waitForSelector('.confirm');
  const c2 = await page.$eval('.confirm', (e) => e.textContent);
  check(c2.includes('1 API-Schlüssel (davon 0 aktiv)') && c2.includes('1 Abteilungs-Mitgliedschaften'),
    `karl's confirmation counts, got "${c2}"`);
  await page.locator(aria('karl löschen', 'button')).click();
  await waitText(page, '.msg-area', 'Benutzer karl gelöscht');
  check(!(await api(page, 'GET', '/api/admin/users')).data.data.some((x) => x.name === 'karl'), 'karl is gone');
});

await test('departments: create, rename, delete (naming what goes)', async () => {
  const page = rootPage;
  await go(page, 'Abteilungen', 'departments', 'main table');
  await page.locator(aria('Name der Abteilung', 'textbox')).fill('vertrieb');
  await page.locator(aria('Anlegen', 'button')).click();
  await waitText(page, '.msg-area', 'Abteilung vertrieb angelegt.');
  await waitText(page, 'main tbody', 'vertrieb');
  await page.locator(aria('Abteilung vertrieb umbenennen', 'button')).click();
  await page.locator(aria('Neuer Name', 'textbox')).fill('verkauf');
  await page.locator(aria('Umbenennen', 'button')).click();
  await waitText(page, '.msg-area', 'Abteilung vertrieb heißt jetzt verkauf.');
  let names = (await api(page, 'GET', '/api/admin/departments')).data.data.map((d) => d.name);
  check(names.includes('verkauf') && !names.includes('vertrieb'), `renamed, got ${names}`);
  await shot(page, 'departments');
  await page.locator(aria('Abteilung verkauf löschen', 'button')).click();
  await page.waitForSelector('.confirm');
  const conf = await page.$eval('.confirm', (e) => e.textContent);
  check(conf.includes('0 Mitgliedschaften') && conf.includes('0 Rechte'), `the confirmation counts, got "${conf}"`);
  await page.locator(aria('verkauf löschen', 'button')).click();
  await waitText(page, '.msg-area', 'Abteilung verkauf gelöscht');
  names = (await api(page, 'GET', '/api/admin/departments')).data.data.map((d) => d.name);
  check(!names.includes('verkauf'), `deleted, got ${names}`);
  // a name that exists: the API's 409 as text
  await page.locator(aria('Name der Abteilung', 'textbox')).fill('PERSONAL');
  await page.locator(aria('Anlegen', 'button')).click();
  await waitText(page, 'form .error', 'gibt es schon');
});

await test('collections: granting personal read on einkauf-docs lets mia read it; removing it takes it away; "who may read" follows', async () => {
  miaPage = await newPage();
  await loggedIn(miaPage, 'mia');
  check(JSON.stringify(await readable(miaPage)) === '["bewerbung"]', 'mia reads only bewerbung at first');
  const page = rootPage;
  await go(page, 'Sammlungen & Rechte', 'collections', 'main table');
  const list = await page.$eval('main table', (e) => e.textContent);
  check(list.includes('bewerbung') && list.includes('personal: Leserecht') && list.includes('einkauf: Leserecht'),
    `the list with every department's right, got "${list}"`);
  await page.locator(aria('Sammlung einkauf-docs öffnen', 'link')).click();
  await page.waitForSelector('.why .verdict');
  await page.select('select[name="user"]', 'mia');
  await waitText(page, '.why', 'mia darf nicht lesen: keine der Abteilungen (personal)');
  check((await page.$eval('.why', (e) => e.textContent)).includes('Rechte der Sammlung: einkauf: Leserecht'),
    'the collection\'s rights next to her departments');
  await page.select('select[name="department"]', 'personal');
  await page.select('select[name="right"]', 'read');
  await page.locator(aria('Recht setzen', 'button')).click();
  await waitText(page, '.msg-area', 'personal hat jetzt Leserecht (vorher kein Recht).');
  check((await page.$eval('.msg-area', (e) => e.textContent)).includes('Prüfprotokoll'), 'the audit note');
  check(JSON.stringify(await readable(miaPage)) === '["bewerbung","einkauf-docs"]', 'mia reads einkauf-docs now');
  await open(miaPage, '#/documents');
  await miaPage.waitForSelector('main[data-screen="documents"] h1');
  await page.select('select[name="user"]', 'mia');
  await waitText(page, '.why', 'mia darf lesen: über die Abteilung personal (Leserecht)');
  await shot(page, 'collections-rights');
  await page.locator(aria('Recht von personal entfernen', 'button')).click();
  await waitText(page, '.msg-area', 'personal hat kein Recht mehr (vorher Leserecht).');
  check(JSON.stringify(await readable(miaPage)) === '["bewerbung"]', 'mia no longer reads einkauf-docs');
});

await test('collections: a department holding manage sees its collections by URL, grants a right, and the last-manager refusal shows as text', async () => {
  const g = await api(rootPage, 'PUT', '/api/collections/einkauf-docs/rights/einkauf', { right: 'manage' });
  check(g.status === 200 && g.data.right === 'manage', `einkauf manages einkauf-docs, got ${g.status}`);
  const page = await newPage();
  await loggedIn(page, 'ben');
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
  check(!nav.includes('Sammlungen & Rechte'), 'not in a member\'s navigation');
  await open(page, '#/collections');
  await page.waitForSelector('main table');
  const list = await page.$eval('main table', (e) => e.textContent);
  check(list.includes('einkauf-docs') && !list.includes('bewerbung'), `only the collection ben manages, got "${list}"`);
  await page.locator(aria('Sammlung einkauf-docs öffnen', 'link')).click();
  await page.waitForSelector('section[aria-labelledby="co-rights"] table');
  check(!(await page.$('.why')), 'no "who may read" without the user list');
  await page.locator(aria('Recht von einkauf entfernen', 'button')).click();
  await waitText(page, 'section[aria-labelledby="co-rights"] .error', 'einzige das Verwaltungsrecht');
  await page.select('select[name="department"]', 'einkauf');
  await page.select('select[name="right"]', 'write');
  await page.locator(aria('Recht setzen', 'button')).click();
  await waitText(page, 'section[aria-labelledby="co-rights"] .error', 'einzige das Verwaltungsrecht');
  const r = await api(rootPage, 'GET', '/api/collections');
  const co = r.data.data.find((c) => c.name === 'einkauf-docs');
  check(JSON.stringify(co.rights) === '[{"department":"einkauf","right":"manage"}]', `rights unchanged, got ${JSON.stringify(co.rights)}`);
  await axe(page, 'collection rights for a manager');
  await closePage(page);
});

await test('models: the directory with architecture, quantization and memory', async () => {
  const page = rootPage;
  await go(page, 'Modelle', 'models', 'main table');
  const txt = await mainText(page);
  check(txt.includes('stories260K') && txt.includes('llama') && txt.includes('Speicherbudget'), `the models screen, got "${txt.slice(0, 400)}"`);
  await shot(page, 'models');
});

await test('a member sees no admin screen and gets the API\'s 403 as text by URL; the auditor reads without forms', async () => {
  const page = miaPage;
  await open(page, '#/chat');
  await page.waitForSelector('main[data-screen="chat"] h1');
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
  for (const n of ADMIN_NAV) check(!nav.includes(n), `no ${n} in mia's nav, got ${nav}`);
  check(nav.includes('Einstellungen'), 'settings in everyone\'s nav');
  for (const id of ['users', 'departments', 'models']) {
    await open(page, `#/${id}`);
    await page.waitForSelector(`main[data-screen="${id}"] .error`);
    const err = await page.$eval('main .error', (e) => e.textContent);
    check(err.includes('Dafür fehlt Ihnen das Recht.'), `the 403 as text on #/${id}, got "${err}"`);
  }
  await open(page, '#/collections');
  await waitText(page, 'main', 'Sie verwalten keine Sammlung.');
  const p = await newPage();
  await loggedIn(p, 'pruef');
  await go(p, 'Benutzer', 'users', 'main table');
  check(!(await p.$('main form')), 'no form for the auditor');
  await go(p, 'Modelle', 'models', 'main table');
  await closePage(p);
});

await test('settings: own key shown once (an API key may not make one), wrong then right current password, login with the new one', async () => {
  const page = miaPage;
  await go(page, 'Einstellungen', 'settings', 'section[aria-labelledby="se-keys"]');
  await page.locator(aria('Neuen API-Schlüssel erzeugen', 'button')).click();
  await page.waitForSelector('.key-once input');
  const key = await page.$eval('.key-once input', (e) => e.value);
  check((await page.$eval('.key-once', (e) => e.textContent)).includes('nur jetzt angezeigt'), 'the once-note');
  const refused = await withKey(key, 'POST', '/api/me/keys');
  check(refused.status === 403 && refused.data.error.code === 'session_required', `an API key may not mint keys, got ${refused.status}`);
  const sentence = await page.evaluate(() => window.hoheit.errorText(new window.hoheit.ApiError(403, 'session_required')));
  check(sentence.includes('nur nach einer Anmeldung mit Passwort'), `the refusal's sentence, got "${sentence}"`);
  await shot(page, 'settings');
  await open(page, '#/settings');
  await page.waitForSelector('section[aria-labelledby="se-keys"] table');
  const prefix = key.slice(0, 8);
  const txt = await mainText(page);
  check(!txt.includes(key) && txt.includes(prefix), 'the second view shows only the prefix');

  await page.locator(aria('Aktuelles Passwort', 'textbox')).fill('falsch-falsch-1');
  await page.locator(aria('Neues Passwort', 'textbox')).fill(NEWPW);
  await page.locator(aria('Neues Passwort wiederholen', 'textbox')).fill(`${NEWPW}x`);
  await page.locator(aria('Passwort ändern', 'button')).click();
  await waitText(page, 'form .error', 'stimmen nicht überein');
  await page.locator(aria('Neues Passwort wiederholen', 'textbox')).fill(NEWPW);
  await page.locator(aria('Passwort ändern', 'button')).click();
  await waitText(page, 'form .error', 'Das aktuelle Passwort stimmt nicht.');
  await page.locator(aria('Aktuelles Passwort', 'textbox')).fill(PW);
  await page.locator(aria('Passwort ändern', 'button')).click();
  await waitText(page, 'form .status', 'Passwort geändert');
  await page.locator(aria('Abmelden', 'button')).click();
  await page.waitForSelector('main[data-screen="login"]');
  await loggedIn(page, 'mia', NEWPW);
  check(await loginStatus('mia', PW) !== 200, 'the old password no longer logs in');
});

await test('settings: language and theme', async () => {
  const page = miaPage;
  await go(page, 'Einstellungen', 'settings', 'section[aria-labelledby="se-keys"]');
  await page.click('input[name="theme"][value="dark"]');
  check(await page.evaluate(() => document.documentElement.dataset.theme) === 'dark', 'dark theme set');
  await page.select('select[name="language"]', 'en');
  await page.waitForFunction(() => document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Settings');
  check((await mainText(page)).includes('My API keys'), 'English settings');
  await page.select('select[name="language"]', 'de');
  await page.waitForFunction(() => document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Einstellungen');
  await page.click('input[name="theme"][value=""]');
  check(await page.evaluate(() => document.documentElement.dataset.theme) === undefined, 'the system theme again');
});

await test('keyboard only: create a department', async () => {
  const page = rootPage;
  await go(page, 'Abteilungen', 'departments', 'main table');
  await page.focus('main h1');
  let found = false;
  for (let i = 0; i < 80 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement && document.activeElement.id
      && document.querySelector(`label[for="${document.activeElement.id}"]`)
      && document.querySelector(`label[for="${document.activeElement.id}"]`).textContent === 'Name der Abteilung');
  }
  check(found, 'the name field reached by Tab');
  await page.keyboard.type('lager');
  await page.keyboard.press('Enter');
  await waitText(page, '.msg-area', 'Abteilung lager angelegt.');
  await page.waitForFunction(() => document.activeElement.closest('.msg-area') !== null);
  const names = (await api(page, 'GET', '/api/admin/departments')).data.data.map((d) => d.name);
  check(names.includes('lager'), `lager created, got ${names}`);
});

await test('quotas: root sets a daily token quota for ben in the UI (checked in the form first), the API has it, ben is refused over it, root edits and removes it', async () => {
  const page = rootPage;
  await go(page, 'Nutzung & Kontingente', 'usage', 'section.quotas h2');
  await waitText(page, 'section.quotas', 'Noch kein Kontingent');
  await page.locator(aria('Kontingent festlegen', 'button')).click();
  await page.waitForSelector('section.quotas form');
  const who = await page.$$eval('section.quotas select[name="who"] option', (os) => os.map((o) => o.value));
  check(who.includes('ben') && who.includes('root') && !who.includes('einkauf'), `users to choose from, got ${who}`);
  await page.select('section.quotas select[name="who"]', 'ben');
  // checked in the form: nothing is sent
  await page.locator(aria('Tokens je Tag', 'textbox')).fill('1,5');
  await page.locator(aria('Speichern', 'button')).click();
  await waitText(page, 'section.quotas form .error', '„Tokens je Tag“: Bitte eine ganze Zahl ab 1 eingeben');
  check(await page.$eval('input[name="tokens_per_day"]', (e) => e.getAttribute('aria-invalid')) === 'true', 'the field marked invalid');
  check(await page.evaluate(() => document.activeElement.name) === 'tokens_per_day', 'focus on the wrong field');
  await page.locator(aria('Tokens je Tag', 'textbox')).fill('');
  await page.locator(aria('Speichern', 'button')).click();
  await waitText(page, 'section.quotas form .error', 'mindestens eine Grenze');
  check((await api(page, 'GET', '/api/admin/quotas')).data.data.length === 0, 'no quota made by the refused forms');
  await page.locator(aria('Tokens je Tag', 'textbox')).fill('20');
  await page.locator(aria('Speichern', 'button')).click();
  await waitText(page, 'section.quotas .msg-area', 'Kontingent für Benutzer ben festgelegt. Im Prüfprotokoll festgehalten.');
  await waitText(page, 'section.quotas tbody', 'Benutzer ben');
  let q = (await api(page, 'GET', '/api/admin/quotas')).data.data;
  check(q.length === 1 && q[0].scope === 'user' && q[0].name === 'ben' && q[0].tokens_per_day === 20 &&
    q[0].tokens_per_month === null && q[0].requests_per_minute === null && q[0].concurrent === null,
  `the API shows ben's daily limit of 20, got ${JSON.stringify(q)}`);
  // ben, with a key: served until the day's 20 tokens are used, then refused
  const made = await api(page, 'POST', '/api/admin/users/ben/keys', {});
  check(made.status === 201 && made.data.key, `a key for ben, got ${made.status}`);
  const ask = { model: 'stories260K', prompt: 'Once upon a time', max_tokens: 24, temperature: 0 };
  let used = 0;
  let over = { status: 200 };
  for (let i = 0; i < 10 && over.status === 200; i++) {
    over = await withKey(made.data.key, 'POST', '/v1/completions', ask);
    if (over.status === 200) used += over.data.usage.total_tokens;
  }
  check(used >= 20, `ben was served until his 20 tokens were used, got ${used}`);
  check(over.status === 429 && over.data.error.code === 'quota_exceeded' && over.data.error.param === 'tokens_per_day',
    `ben's next request is refused by the quota, got ${over.status} ${JSON.stringify(over.data)}`);
  // the screen shows what was used next to the limit
  await open(page, '#/usage');
  await waitText(page, 'section.quotas tbody', `(heute ${used})`);
  await waitText(page, 'section.quotas tbody', 'erreicht');
  // edit: the form holds the quota; a monthly limit added
  await page.locator(aria('Kontingent von Benutzer ben bearbeiten', 'button')).click();
  await page.waitForSelector('section.quotas form');
  check(await page.$eval('input[name="tokens_per_day"]', (e) => e.value) === '20', 'the form holds the daily limit');
  check(await page.evaluate(() => document.activeElement.name) === 'tokens_per_day', 'focus in the edit form');
  await page.locator(aria('Tokens je Monat', 'textbox')).fill('1.000.000');
  await page.locator(aria('Speichern', 'button')).click();
  await waitText(page, 'section.quotas .msg-area', 'Kontingent von Benutzer ben geändert.');
  q = (await api(page, 'GET', '/api/admin/quotas')).data.data;
  check(q[0].tokens_per_day === 20 && q[0].tokens_per_month === 1000000, `edited, got ${JSON.stringify(q)}`);
  // a department quota by keyboard alone: Tab to the button, Enter, arrow to "Abteilung", Tab to the fields
  await page.focus('section.quotas h2');
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.textContent === 'Kontingent festlegen');
  }
  check(found, 'the add button reached by Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('section.quotas form');
  check(await page.evaluate(() => document.activeElement.type === 'radio' && document.activeElement.value === 'user'),
    'focus on the first choice');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.name === 'who' && document.activeElement.value === 'einkauf'),
    'the department list, einkauf first');
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.name) === 'concurrent', 'Tab reaches "Gleichzeitige Anfragen"');
  await page.keyboard.type('3');
  await page.keyboard.press('Enter');
  await waitText(page, 'section.quotas .msg-area', 'Kontingent für Abteilung einkauf festgelegt.');
  q = (await api(page, 'GET', '/api/admin/quotas')).data.data;
  const dq = q.find((x) => x.scope === 'department');
  check(dq && dq.name === 'einkauf' && dq.concurrent === 3 && dq.tokens_per_day === null, `einkauf's quota, got ${JSON.stringify(q)}`);
  await shot(page, 'usage-quotas');
  // remove: asks once naming the limits that go
  await page.locator(aria('Kontingent von Benutzer ben entfernen', 'button')).click();
  await page.waitForSelector('section.quotas .confirm');
  const conf = await page.$eval('section.quotas .confirm', (e) => e.textContent);
  check(conf.includes('Tokens je Tag: 20') && conf.includes('Tokens je Monat: 1.000.000') && conf.includes('Prüfprotokoll'),
    `the confirmation names the limits, got "${conf}"`);
  await page.locator(aria('Abbrechen', 'button')).click();
  check((await api(page, 'GET', '/api/admin/quotas')).data.data.length === 2, 'Abbrechen keeps it');
  await page.locator(aria('Kontingent von Benutzer ben entfernen', 'button')).click();
  await page.locator(aria('Kontingent entfernen', 'button')).click();
  await waitText(page, 'section.quotas .msg-area', 'Kontingent von Benutzer ben entfernt.');
  q = (await api(page, 'GET', '/api/admin/quotas')).data.data;
  check(q.length === 1 && q[0].name === 'einkauf', `only einkauf's quota left, got ${JSON.stringify(q)}`);
  const again = await withKey(made.data.key, 'POST', '/v1/completions', { ...ask, max_tokens: 2 });
  check(again.status === 200, `ben is served again, got ${again.status}`);
  const audit = await page.evaluate(async () => (await fetch('/api/audit/export?from=1')).text());
  check(audit.includes('quota set user ben: tokens/day 20, tokens/month none, requests/minute none, concurrent none (new quota)') &&
    audit.includes('quota set user ben: tokens/day 20, tokens/month 1000000') && audit.includes('quota clear user ben') &&
    audit.includes('quota set department einkauf: tokens/day none, tokens/month none, requests/minute none, concurrent 3'),
  'every change in the audit log, as the screen says');
  // the auditor reads without forms; a member sees only the note
  const p = await newPage();
  await loggedIn(p, 'pruef');
  await go(p, 'Nutzung & Kontingente', 'usage', 'section.quotas tbody');
  check((await p.$eval('section.quotas', (e) => e.textContent)).includes('Abteilung einkauf') &&
    !(await p.$('section.quotas button')), 'the auditor sees the quotas without buttons');
  await closePage(p);
  await go(miaPage, 'Nutzung & Kontingente', 'usage');
  await waitText(miaPage, 'main p[role="status"]', 'Zusammen');
  check(!(await miaPage.$('section.quotas')) && (await mainText(miaPage)).includes('Kontingente'), 'mia sees the note only');
});

await test('axe: no serious or critical violation on every admin screen and settings at 1280 and 390 px, light and dark', async () => {
  for (const [width, dark] of [[1280, false], [1280, true], [390, false], [390, true]]) {
    const tag = `${width}px ${dark ? 'dark' : 'light'}`;
    const r = await newPage({ width, dark });
    await loggedIn(r, 'root');
    await go(r, 'Benutzer', 'users', 'main table');
    await axe(r, `users ${tag}`);
    await open(r, '#/users/mia');
    await r.waitForSelector('section[aria-labelledby="us-keys"]');
    await r.locator(aria('Neuen API-Schlüssel erzeugen', 'button')).click();
    await r.waitForSelector('.key-once input');
    await axe(r, `user with a new key ${tag}`);
    await r.locator(aria('Löschen …', 'button')).click();
    await r.waitForSelector('.confirm');
    await axe(r, `user delete confirmation ${tag}`);
    await go(r, 'Abteilungen', 'departments', 'main table');
    await r.locator(aria('Abteilung lager umbenennen', 'button')).click();
    await r.waitForSelector('#dp-ren');
    await axe(r, `departments with the rename form ${tag}`);
    await go(r, 'Sammlungen & Rechte', 'collections', 'main table');
    await axe(r, `collections ${tag}`);
    await open(r, '#/collections/bewerbung');
    await r.waitForSelector('.why .verdict');
    await axe(r, `collection rights ${tag}`);
    if (width === 390 && !dark) await shot(r, 'collections-phone');
    await go(r, 'Modelle', 'models', 'main table');
    await axe(r, `models ${tag}`);
    await go(r, 'Einstellungen', 'settings', 'section[aria-labelledby="se-keys"]');
    await axe(r, `settings ${tag}`);
    await go(r, 'Nutzung & Kontingente', 'usage', 'section.quotas tbody');
    await axe(r, `usage with the quotas ${tag}`);
    await r.locator(aria('Kontingent von Abteilung einkauf bearbeiten', 'button')).click();
    await r.waitForSelector('section.quotas form');
    await r.locator(aria('Tokens je Tag', 'textbox')).fill('x');
    await r.locator(aria('Speichern', 'button')).click();
    await r.waitForSelector('section.quotas form .error');
    await axe(r, `a quota form with an error ${tag}`);
    if (width === 390 && !dark) await shot(r, 'usage-quotas-phone');
    await closePage(r);
    const m = await newPage({ width, dark });
    await loggedIn(m, 'ben');
    await open(m, '#/users');
    await m.waitForSelector('main .error');
    await axe(m, `users refused for a member ${tag}`);
    await go(m, 'Einstellungen', 'settings', 'section[aria-labelledby="se-keys"]');
    await m.locator(aria('Passwort ändern', 'button')).click();
    await m.waitForSelector('form .error');
    await axe(m, `settings with an error ${tag}`);
    await closePage(m);
  }
});

await test('no request to another host, no CSP violation, no uncaught error', async () => {
  for (const p of [rootPage, miaPage]) if (p) await closePage(p);
  check(foreign.length === 0, `no foreign requests, got ${JSON.stringify(foreign)}`);
  check(cspReports.length === 0, `no CSP violations, got ${JSON.stringify(cspReports)}`);
  check(pageErrors.length === 0, `no uncaught errors, got ${JSON.stringify(pageErrors)}`);
});

await browser.close();
console.log(`ui-admin: ${passed} passed, ${failed} failed (${((Date.now() - T0) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
