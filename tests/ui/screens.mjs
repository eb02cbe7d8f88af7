// screens.mjs - the compliance screens in Debian's chromium (puppeteer-core)
// against the `hoheit serve` that screens.sh started: an approval round
// trip between two people (held in mia's chat, approved with an edit by
// anna, mia's answer updates), a rejection that needs a reason, the
// four-eyes refusal as text, the use-case register form with its live risk
// class, audit verify and export, GDPR access and erasure, usage; axe-core
// on every screen at 1280 and 390 px; a keyboard-only approval. Elements
// are found by role and accessible name where it matters.
// Env: HOHEIT_URL, HOHEIT_PASSWORD, HOHEIT_CHROMIUM, HOHEIT_UI_TMP,
// HOHEIT_UI_SCREENSHOTS (optional).
// Ends with "ui-screens: N passed, N failed"; exit status 1 if any failed.
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

async function loggedIn(page, user) {
  await open(page);
  await page.locator(aria('Benutzername', 'textbox')).fill(user);
  await page.locator(aria('Passwort', 'textbox')).fill(PW);
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

/* Asks a knowledge question without a model under the HR use case in the
 * chat; the answer is held. Returns the approval id shown. */
async function askHeld(page, question) {
  await page.locator(aria('Wissen (Dokumente)', 'radio')).click();
  await page.select('#chat-model', '');
  await page.select('#chat-usecase', 'bewerbungen');
  await page.locator(aria('Ihre Frage', 'textbox')).fill(question);
  await page.locator(aria('Frage stellen', 'button')).click();
  const held = await page.waitForSelector('.msg.assistant .held');
  const text = await held.evaluate((e) => e.textContent);
  const m = /Anfrage (\d+)/.exec(text);
  check(text.includes('Zur Freigabe vorgelegt') && m, `the held state with its id, got "${text}"`);
  return Number(m[1]);
}

/* A held /api/ask of the page's user, made through the API. */
async function heldByApi(page, question) {
  const r = await api(page, 'POST', '/api/ask', { question, use_case: 'bewerbungen', collections: ['bewerbung'] });
  check(r.status === 202 && r.data.hoheit.approval.id > 0, `202 with an approval id, got ${r.status}`);
  return r.data.hoheit.approval.id;
}

// ---------------------------------------------------------------------------

await test('catalogs: every literal key of the compliance screens is in German and in English', async () => {
  const web = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'web');
  const shell = (l) => JSON.parse(fs.readFileSync(path.join(web, 'i18n', `${l}.json`), 'utf8'));
  for (const id of ['approvals', 'usecases', 'audit', 'gdpr', 'usage']) {
    const src = fs.readFileSync(path.join(web, 'screens', `${id}.js`), 'utf8');
    const keys = [...src.matchAll(/\bt\('([a-zA-Z0-9_.-]+)'/g)].map((m) => m[1]);
    check(keys.length > 10, `keys found in ${id}.js`);
    for (const l of ['de', 'en']) {
      const cat = { ...shell(l), ...JSON.parse(fs.readFileSync(path.join(web, 'i18n', `${id}.${l}.json`), 'utf8')) };
      const missing = [...new Set(keys.filter((k) => !(k in cat)))];
      check(missing.length === 0, `${id}.${l}.json to have ${missing.join(', ')}`);
    }
    const de = Object.keys(JSON.parse(fs.readFileSync(path.join(web, 'i18n', `${id}.de.json`), 'utf8'))).sort();
    const en = Object.keys(JSON.parse(fs.readFileSync(path.join(web, 'i18n', `${id}.en.json`), 'utf8'))).sort();
    check(JSON.stringify(de) === JSON.stringify(en), `the same keys in ${id}.de.json and ${id}.en.json`);
  }
});

let miaPage, annaPage, rootPage;
let firstId;
const EDITED = 'Geprüft: Höchstens fünf Bewerbungen je Stelle werden eingeladen [1].';

await test('approvals: held in mia\'s chat, anna sees it with draft and sources, a reject needs a reason, approve with an edit updates mia\'s answer', async () => {
  miaPage = await newPage();
  await loggedIn(miaPage, 'mia');
  const nav = await miaPage.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
  check(!nav.includes('Freigaben') && !nav.includes('Prüfprotokoll') && nav.includes('KI-Anwendungen'),
    `member nav without approvals and audit, got ${nav}`);
  firstId = await askHeld(miaPage, 'Wie viele Bewerbungen werden zum Vorstellungsgespräch eingeladen?');

  annaPage = await newPage();
  await loggedIn(annaPage, 'anna');
  await go(annaPage, 'Freigaben', 'approvals', 'main table');
  const rows = await annaPage.$$eval('main tbody tr', (trs) => trs.map((r) => r.textContent));
  check(rows.length === 1 && rows[0].includes('bewerbungen') && rows[0].includes('mia'), `one pending row of mia, got ${rows}`);
  await shot(annaPage, 'approvals-inbox');
  await annaPage.locator(aria(`Freigabe ${firstId} öffnen`, 'link')).click();
  await annaPage.waitForSelector('.ap-decide');
  const detail = await annaPage.$eval('main', (e) => e.textContent);
  check(detail.includes('Wie viele Bewerbungen'), 'the question in the detail');
  check(detail.includes('Entwurf der Antwort') && detail.includes('KI-generiert'), 'the draft, marked AI-generated');
  const src = await annaPage.$$eval('.ap-sources .sources li', (l) => l.map((x) => x.textContent));
  check(src.length >= 1 && src[0].includes('Auswahlrichtlinie') && src[0].includes('Vorstellungsgespräche'),
    `the sources with title and heading, got ${src}`);
  check(await annaPage.$eval('.ap-sources .conf', (e) => ['sicher', 'unsicher'].includes(e.textContent)),
    'confidence in words');
  // reject without a reason: refused in the form, nothing sent
  await annaPage.locator(aria('Ablehnen', 'button')).click();
  const err = await annaPage.waitForSelector('.ap-decide .error');
  check((await err.evaluate((e) => e.textContent)).includes('Begründung'), 'the reason is asked for');
  check(await annaPage.evaluate(() => document.activeElement.name === 'reason'), 'focus on the reason');
  check(await annaPage.$eval('textarea[name="reason"]', (e) => e.getAttribute('aria-invalid') === 'true'),
    'the reason marked invalid');
  check((await api(miaPage, 'GET', `/api/approvals/${firstId}`)).data.status === 'pending', 'still pending');
  await shot(annaPage, 'approvals-detail');
  // approve with an edit
  await annaPage.locator(aria('Antworttext', 'textbox')).fill(EDITED);
  await annaPage.locator(aria('Bearbeitet freigeben', 'button')).click();
  await annaPage.waitForFunction(() => document.querySelector('main').textContent.includes('bearbeitet freigegeben')
    && document.querySelector('main').textContent.includes('Freigegebener Text'));
  const after = await annaPage.$eval('main', (e) => e.textContent);
  check(after.includes('Freigegebener Text (bearbeitet)') && after.includes(EDITED), 'the released text shown');
  check(!(await annaPage.$('.ap-decide')), 'no decision form any more');
  // mia's held answer turns into the edited text (the chat polls)
  await miaPage.waitForFunction((t) => [...document.querySelectorAll('.msg.assistant .answer-text')]
    .some((e) => e.textContent.includes(t)), { timeout: 15000 }, 'Geprüft: Höchstens fünf');
  check(!(await miaPage.$('.msg.assistant .held')), 'no longer shown as held');
  // the history lists it as edited, by anna
  await open(annaPage, '#/approvals/?status=all');
  await annaPage.waitForSelector('main table');
  const hist = await annaPage.$$eval('main tbody tr', (trs) => trs.map((r) => r.textContent));
  check(hist.some((r) => r.includes(`#${firstId}`) && r.includes('Bearbeitet freigegeben') && r.includes('anna')),
    `the history row, got ${hist}`);
});

await test('approvals: a rejection with its reason reaches the requester', async () => {
  await open(annaPage, '#/approvals');
  await annaPage.waitForSelector('main[data-screen="approvals"] h2');
  const id = await heldByApi(miaPage, 'Wer führt das Vorstellungsgespräch?');
  await annaPage.locator(aria('Aktualisieren', 'button')).click();   // the new request appears
  await annaPage.locator(aria(`Freigabe ${id} öffnen`, 'link')).click();
  await annaPage.waitForSelector('.ap-decide');
  await annaPage.locator(aria('Begründung', 'textbox')).fill('Bitte die Fachabteilung direkt fragen.');
  await annaPage.locator(aria('Ablehnen', 'button')).click();
  await annaPage.waitForFunction(() => document.querySelector('main').textContent.includes('abgelehnt')
    && document.querySelector('#ap-h'));
  const r = await api(miaPage, 'GET', `/api/approvals/${id}`);
  check(r.data.status === 'rejected' && r.data.reason === 'Bitte die Fachabteilung direkt fragen.' && !r.data.text,
    `rejected with the reason and no text, got ${JSON.stringify(r.data)}`);
});

await test('approvals: the four-eyes refusal is shown as text; members have no inbox', async () => {
  rootPage = await newPage();
  await loggedIn(rootPage, 'root');
  const id = await heldByApi(rootPage, 'Wie viele Bewerbungen werden eingeladen?');
  await open(rootPage, `#/approvals/${id}`);
  await rootPage.waitForSelector('.ap-decide');
  await rootPage.locator(aria('Freigeben', 'button')).click();
  const el = await rootPage.waitForSelector('.ap-decide [role="alert"]');
  const text = await el.evaluate((e) => e.textContent);
  check(text.includes('Vier-Augen-Prinzip'), `the four-eyes text, got "${text}"`);
  check((await api(rootPage, 'GET', `/api/approvals/${id}`)).data.status === 'pending', 'still pending');
  // anna approves it (keeps the queue clean for the keyboard test)
  const a = await api(annaPage, 'POST', `/api/approvals/${id}/approve`, {});
  check(a.status === 200, `anna approves, got ${a.status}`);
  // a member typing the address gets no inbox
  await open(miaPage, '#/approvals');
  await miaPage.waitForSelector('main h1');
  check(await miaPage.$eval('main', (e) => e.dataset.screen) !== 'approvals', 'no approvals screen for a member');
});

await test('register: the form shows the class while answering, creates the use case, shows its class and system card', async () => {
  const page = rootPage;
  await go(page, 'KI-Anwendungen', 'usecases', 'main table');
  const list = await page.$eval('main table', (e) => e.textContent);
  check(list.includes('Bewerbungen sichten') && list.includes('hohes Risiko'), 'the HR use case listed as high risk');
  await page.locator(aria('Neue KI-Anwendung', 'link')).click();
  await page.waitForSelector('.uc-form');
  const liveText = () => page.$eval('.uc-class', (e) => e.textContent);
  await page.waitForFunction(() => document.querySelector('.uc-class').textContent.includes('minimales Risiko'));
  await page.locator(aria('Kürzel', 'textbox')).fill('zeugnis-entwurf');
  await page.locator(aria('Name', 'textbox')).fill('Zeugnisentwürfe');
  await page.locator(aria('Zweck *', 'textbox')).fill('Entwürfe für Arbeitszeugnisse schreiben');
  await page.click('input[name="t_generates_content"]');
  await page.waitForFunction(() => document.querySelector('.uc-class').textContent.includes('begrenztes Risiko'));
  check((await liveText()).includes('Art. 50(2)'), 'the Art. 50 reason');
  await page.click('input[name="h_employment"]');
  await page.waitForFunction(() => document.querySelector('.uc-class').textContent.includes('hohes Risiko'));
  const t = await liveText();
  check(t.includes('Annex III point 4') && t.includes('Personalbereich'), `the HR reason and approval note, got "${t}"`);
  check(!(await page.$eval('main', (e) => e.textContent.includes('null'))), 'no stray "null" in the form');
  await shot(page, 'usecases-form');
  await axe(page, 'use-case form 1280px');
  await page.locator(aria('Anlegen', 'button')).click();
  await page.waitForFunction(() => location.hash === '#/usecases/zeugnis-entwurf' && document.querySelector('#uc-h'));
  const h = await page.$eval('#uc-h', (e) => e.textContent);
  check(h.includes('Zeugnisentwürfe') && h.includes('hohes Risiko'), `the class on the detail, got "${h}"`);
  const main = await page.$eval('main', (e) => e.textContent);
  check(main.includes('gespeichert') && main.includes('Entwürfe für Arbeitszeugnisse'), 'saved, with its purpose');
  await page.locator(aria('Systemkarte anzeigen', 'button')).click();
  const hist = await page.$eval('main', (e) => e.textContent);
  check(hist.includes('Änderungsverlauf') && hist.includes('angelegt') && hist.includes('Risikoklasse: hohes Risiko'),
    'the history in words');
  const card = await page.waitForSelector('#uc-card + pre');
  const ct = await card.evaluate((e) => e.textContent);
  // the card in the UI's language (issue 14): German labels, entered values as entered
  check(ct.includes('zeugnis-entwurf') && ct.includes('Entwürfe für Arbeitszeugnisse') &&
    ct.includes('Systemkarte') && ct.includes('Risikoklasse: hoch') && !ct.includes('Risk class'),
    'the system card text, in German');
  // the server stored exactly what the form showed
  const u = await api(page, 'GET', '/api/usecases/zeugnis-entwurf');
  check(u.data.risk_class === 'high' && u.data.answers.h_employment === true && u.data.answers.f_profiling === false,
    `stored answers and class, got ${JSON.stringify(u.data.answers)}`);
  // Art. 30 records for the admin
  await go(page, 'KI-Anwendungen', 'usecases', 'main table');
  await page.locator(aria('Anzeigen', 'button')).click();
  const ropa = await page.waitForSelector('.records-out pre');
  const rt = await ropa.evaluate((e) => e.textContent);
  check(rt.includes('Bewerberinnen und Bewerber') && rt.includes('Verzeichnis von Verarbeitungstätigkeiten'),
    'the Art. 30 records, in German');
});

await test('audit: verify says intact in words; the export is filtered by kind, user and decision', async () => {
  const page = await newPage();
  await loggedIn(page, 'pruef');
  await go(page, 'Prüfprotokoll', 'audit');
  await page.locator(aria('Prüfen (Integrität)', 'button')).click();
  const v = await page.waitForSelector('.verdict');
  const vt = await v.evaluate((e) => e.textContent);
  check(vt.includes('Intakt.') && /\d+ Einträge/.test(vt), `the verdict in words, got "${vt}"`);
  await page.locator(aria('Exportieren', 'button')).click();
  await page.waitForSelector('#au-f');
  await page.waitForFunction(() => document.querySelector('main').textContent.includes('Heruntergeladen'));
  const all = await page.$$eval('#au-f ~ div tbody tr, section[aria-labelledby="au-f"] tbody tr', (r) => r.length);
  check(all > 5, `records listed, got ${all}`);
  await page.select('#au-kind', 'approval');
  const rows = await page.$$eval('section[aria-labelledby="au-f"] tbody tr', (trs) => trs.map((r) => r.textContent));
  check(rows.length >= 3 && rows.every((r) => r.includes('Freigabe')), `only approval records, got ${rows.length}`);
  check(rows.some((r) => r.includes('edited') && r.includes('anna')), 'anna\'s edit among them');
  const ucs = await page.$$eval('#au-uc option', (o) => o.map((x) => x.value));
  check(ucs.includes('bewerbungen'), `the use cases of the export offered, got ${ucs}`);
  await page.select('#au-uc', 'bewerbungen');
  await page.select('#au-kind', '');
  const byUc = await page.$$eval('section[aria-labelledby="au-f"] tbody tr', (trs) => trs.map((r) => r.textContent));
  check(byUc.length >= 6 && byUc.every((r) => r.includes('bewerbungen')), `only bewerbungen, got ${byUc.length}`);
  check(byUc.some((r) => r.includes('Anfrage') && r.includes('pending')), 'the held requests among them');
  await shot(page, 'audit');
  await page.select('#au-kind', 'approval');
  await page.locator('#au-dec').fill('rejected');
  const rej = await page.$$eval('section[aria-labelledby="au-f"] tbody tr', (trs) => trs.map((r) => r.textContent));
  check(rej.length === 1 && rej[0].includes('rejected'), `one rejection, got ${rej.length}`);
  await page.locator('#au-dec').fill('');
  await page.locator('#au-user').fill('root');
  const mine = await page.$$eval('section[aria-labelledby="au-f"] tbody tr', (trs) => trs.length);
  check(mine === 0, `no approval decided by root, got ${mine}`);
  await closePage(page);
});

await test('data-subject rights: access report counts what is found; erasure names what goes and asks once', async () => {
  const page = rootPage;
  await go(page, 'Betroffenenrechte', 'gdpr');
  await page.locator(aria('Benutzername, E-Mail-Adresse oder Name', 'textbox')).fill('ab');
  await page.locator(aria('Auskunft erstellen (Art. 15)', 'button')).click();
  const bad = await page.waitForSelector('.gdpr-out [role="alert"]');
  check((await bad.evaluate((e) => e.textContent)).includes('mindestens 3 Zeichen'), 'too short a subject refused');
  await page.locator(aria('Benutzername, E-Mail-Adresse oder Name', 'textbox')).fill('tom');
  await page.locator(aria('Auskunft erstellen (Art. 15)', 'button')).click();
  await page.waitForSelector('#gd-res');
  const rep = await page.$eval('.gdpr-out', (e) => e.textContent);
  check(rep.includes('Benutzerkonten') && rep.includes('Herunterladen'), `found tom's account, got "${rep}"`);
  check(await page.$(aria('Lesbaren Bericht herunterladen (HTML)', 'button')) !== null, 'the HTML report is offered');
  check(await page.$(aria('Sprache des Berichts', 'combobox')) !== null, 'the report language has a name');
  const copy = await api(page, 'POST', '/api/gdpr/export', { subjects: ['tom'], format: 'html', lang: 'en' });
  check(copy.status === 200 && typeof copy.data === 'string' && copy.data.includes('Copy of personal data (GDPR Art. 15)')
    && !copy.data.includes('<script'), 'the readable report comes as HTML, in English when asked');
  await page.locator(aria('Löschen (Art. 17) …', 'button')).click();
  await page.waitForSelector('#gd-c');
  const conf = await page.$eval('.gdpr-out', (e) => e.textContent);
  check(conf.includes('Wirklich endgültig löschen?') && conf.includes('tom') && conf.includes('Benutzerkonten'),
    `the confirmation names what goes, got "${conf}"`);
  await axe(page, 'erasure confirmation 1280px');
  await page.locator(aria('Abbrechen', 'button')).click();
  await page.waitForFunction(() => document.querySelector('.gdpr-out').textContent.includes('nichts gelöscht'));
  check((await api(page, 'POST', '/api/gdpr/export', { subjects: ['tom'] })).data.n_hits > 0, 'tom still there');
  await page.locator(aria('Löschen (Art. 17) …', 'button')).click();
  await page.locator(aria('Endgültig löschen (1 Angaben)', 'button')).click();
  await page.waitForSelector('#gd-r');
  const done = await page.$eval('.gdpr-out', (e) => e.textContent);
  check(done.includes('Gelöscht.') && done.includes('Benutzerkonten gelöscht'), `the erasure counts, got "${done}"`);
  const users = await api(page, 'POST', '/api/gdpr/export', { subjects: ['tom'] });
  check(!users.data.hits.some((x) => x.where === 'user'), 'tom\'s account is gone');
});

const USAGE_READY = '::-p-text(Tokens in)';   // "Zusammen N Tokens in M Zeilen."

await test('usage: a member sees only her own rows; the admin groups by department', async () => {
  // one generated answer of mia's, so she has a row of her own
  const c = await api(miaPage, 'POST', '/v1/chat/completions', { model: 'stories260K', max_tokens: 4,
    messages: [{ role: 'user', content: 'Once' }] });
  check(c.status === 200, `mia's chat answer, got ${c.status}`);
  await go(miaPage, 'Nutzung & Kontingente', 'usage', USAGE_READY);
  const rows = await miaPage.$$eval('main tbody tr', (trs) => trs.map((r) => r.textContent));
  check(rows.length === 1 && rows[0].startsWith('mia'), `only mia's row, got ${rows}`);
  const opts = await miaPage.$$eval('select[name="by"] option', (o) => o.map((x) => x.value));
  check(!opts.includes('department'), 'no department grouping for a member');
  await go(rootPage, 'Nutzung & Kontingente', 'usage', USAGE_READY);
  await rootPage.select('select[name="by"]', 'department');
  await rootPage.locator(aria('Anzeigen', 'button')).click();
  await rootPage.waitForFunction(() => document.querySelector('main [role="status"]').textContent.includes('Abteilung'));
  const d = await rootPage.$$eval('main tbody tr', (trs) => trs.map((r) => r.textContent));
  check(d.some((r) => r.startsWith('personal')), `the personal department, got ${d}`);
  await shot(rootPage, 'usage');
});

await test('keyboard only: anna opens the inbox and approves a held answer', async () => {
  const id = await heldByApi(miaPage, 'Wie viele Bewerbungen je Stelle?');
  const page = annaPage;
  await open(page, '#/chat');
  await page.waitForSelector('main[data-screen="chat"] h1');
  const tabTo = async (pred, what, max = 60) => {
    for (let i = 0; i < max; i++) {
      if (await page.evaluate(pred, id)) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached ${what}`);
  };
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await tabTo(() => document.activeElement.textContent === 'Freigaben' && document.activeElement.tagName === 'A',
    'the Freigaben link');
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-screen="approvals"] table');
  await tabTo((n) => document.activeElement.getAttribute('aria-label') === `Freigabe ${n} öffnen`, 'the approval', 60);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.ap-decide');
  await tabTo(() => document.activeElement.textContent === 'Freigeben' && document.activeElement.tagName === 'BUTTON',
    'the Freigeben button', 80);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== 'none', 'a visible focus outline');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('main').textContent.includes('freigegeben. Die anfragende'));
  check((await api(miaPage, 'GET', `/api/approvals/${id}`)).data.status === 'approved', 'approved');
});

await test('axe-core: no serious or critical violations on every screen at 1280 and 390 px', async () => {
  // the held answer the inbox and detail show
  const id = await heldByApi(miaPage, 'Gespräch mit der Personalabteilung?');
  for (const [width, dark] of [[1280, false], [390, false], [390, true]]) {
    const tag = `${width}px${dark ? ' dark' : ''}`;
    const who = { anna: await newPage({ width, height: 900, dark }), root: await newPage({ width, height: 900, dark }),
      pruef: await newPage({ width, height: 900, dark }), mia: await newPage({ width, height: 900, dark }) };
    for (const [u, p] of Object.entries(who)) await loggedIn(p, u);
    const a = who.anna;
    await go(a, 'Freigaben', 'approvals', 'main table');
    await axe(a, `approvals inbox ${tag}`);
    await open(a, `#/approvals/${id}`);
    await a.waitForSelector('.ap-decide');
    await a.locator(aria('Ablehnen', 'button')).click();
    await a.waitForSelector('.ap-decide .error');
    await axe(a, `approval detail with error ${tag}`);
    await open(a, '#/approvals/?status=all');
    await a.waitForSelector('main table');
    await axe(a, `approvals history ${tag}`);
    const r = who.root;
    await go(r, 'KI-Anwendungen', 'usecases', 'main table');
    await axe(r, `use-case list ${tag}`);
    await open(r, '#/usecases/bewerbungen');
    await r.waitForSelector('#uc-h');
    await r.locator(aria('Systemkarte anzeigen', 'button')).click();
    await r.waitForSelector('#uc-card');
    await axe(r, `use-case detail with card ${tag}`);
    if (width === 390 && !dark) await shot(r, 'usecases-phone');
    await open(r, '#/usecases/bewerbungen/edit');
    await r.waitForFunction(() => document.querySelector('.uc-class') && document.querySelector('.uc-class').textContent.includes('hohes'));
    await axe(r, `use-case form ${tag}`);
    await go(r, 'Betroffenenrechte', 'gdpr');
    await axe(r, `gdpr ${tag}`);
    await go(r, 'Nutzung & Kontingente', 'usage', USAGE_READY);
    await axe(r, `usage admin ${tag}`);
    const p = who.pruef;
    await go(p, 'Prüfprotokoll', 'audit');
    await p.locator(aria('Prüfen (Integrität)', 'button')).click();
    await p.waitForSelector('.verdict');
    await p.locator(aria('Exportieren', 'button')).click();
    await p.waitForSelector('section[aria-labelledby="au-f"] tbody tr');
    await axe(p, `audit with verdict and records ${tag}`);
    const m = who.mia;
    await go(m, 'KI-Anwendungen', 'usecases', 'main table');
    await axe(m, `use-case list (member) ${tag}`);
    await go(m, 'Nutzung & Kontingente', 'usage', USAGE_READY);
    await axe(m, `usage (member) ${tag}`);
    for (const pg of Object.values(who)) await closePage(pg);
  }
});

await test('English: the screens speak English after the switch', async () => {
  const page = annaPage;
  await page.select('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await open(page, '#/approvals');
  await page.waitForSelector('main[data-screen="approvals"] h1');
  check(await page.$eval('main h1', (e) => e.textContent) === 'Approvals', 'the English heading');
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
  check(nav.includes('Approvals') && nav.includes('AI use cases'), `English nav, got ${nav}`);
  await page.select('#lang', 'de');
  await page.waitForFunction(() => document.documentElement.lang === 'de');
});

await test('no request to another host, no CSP violation, no uncaught error', async () => {
  for (const p of [miaPage, annaPage, rootPage]) if (p) await closePage(p);
  check(foreign.length === 0, `no foreign requests, got ${JSON.stringify(foreign)}`);
  check(cspReports.length === 0, `no CSP violations, got ${JSON.stringify(cspReports)}`);
  check(pageErrors.length === 0, `no uncaught errors, got ${JSON.stringify(pageErrors)}`);
});

await browser.close();
console.log(`ui-screens: ${passed} passed, ${failed} failed (${((Date.now() - T0) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
