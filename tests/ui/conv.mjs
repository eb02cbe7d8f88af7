// conv.mjs - the chat screen on the server's conversations and the stored
// original of a document, in Debian's chromium (puppeteer-core), against
// the `hoheit serve` that conv.sh started. Elements are found by role and
// accessible name (::-p-aria). Env: HOHEIT_URL, HOHEIT_PASSWORD (mia,
// ben), HOHEIT_CHROMIUM, HOHEIT_UI_ORIGINAL (the ingested file, to compare
// the downloaded bytes), HOHEIT_UI_SCREENSHOTS (optional).
// Ends with "ui-conv: N passed, N failed"; exit status 1 if any failed.
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

/* The conversations of the page's user, as the server lists them. */
async function listed(page, q) {
  const r = await api(page, 'GET', `/api/conversations${q ? `?q=${encodeURIComponent(q)}` : ''}`);
  check(r.status === 200, `the list answers 200, got ${r.status}`);
  return r.data.data;
}

/* The titles in the screen's conversation list. */
const titles = (page) => page.$$eval('#conv-list button.link', (b) => b.map((x) => x.textContent));

/* Opens the listed conversation with this title and waits for its messages. */
async function openConv(page, title, nMessages) {
  await page.locator(`#conv-list ${aria(title, 'button')}`).click();
  await page.waitForFunction((n) => document.querySelectorAll('#messages > li.msg').length === n &&
    !document.querySelector('#conv-bar').hidden, {}, nMessages);
}

/* GET of a same-origin URL inside the page: status, headers and body. */
async function fetchIn(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, disposition: r.headers.get('content-disposition') || '',
      csp: r.headers.get('content-security-policy') || '', nosniff: r.headers.get('x-content-type-options') || '',
      text: new TextDecoder().decode(bytes), n: bytes.length };
  }, url);
}

const QUESTION = 'Bis zu welchem Betrag werden Hotelkosten pro Nacht erstattet?';
const ORIGINAL = fs.readFileSync(process.env.HOHEIT_UI_ORIGINAL, 'utf8');
let miaPage = null;
let convId = 0;
let TITLE = '';   // the server's title: the question's start, cut at a word

await test('a knowledge question in a new conversation is stored: after a reload it is listed with both messages and its sources', async () => {
  const page = await newPage();
  miaPage = page;
  await loggedIn(page, 'mia');
  await page.locator(aria('Neues Gespräch', 'button')).click();
  await page.locator(aria('Wissen (Dokumente)', 'radio')).click();
  await page.select('#chat-model', '');
  await page.locator(aria('Ihre Frage', 'textbox')).fill(QUESTION);
  await page.locator(aria('Frage stellen', 'button')).click();
  await page.waitForSelector('.msg.assistant .sources');
  const list = await listed(page);
  check(list.length === 1 && list[0].title.length >= 40 && QUESTION.startsWith(list[0].title),
    `one conversation titled by the question, got ${JSON.stringify(list)}`);
  convId = list[0].id;
  TITLE = list[0].title;
  const stored = await api(page, 'GET', `/api/conversations/${convId}`);
  const msgs = stored.data.messages;
  check(msgs.length === 2 && msgs[0].role === 'user' && msgs[0].content === QUESTION, `the question stored, got ${JSON.stringify(msgs[0])}`);
  check(msgs[1].role === 'assistant' && msgs[1].content.includes('120 Euro'), 'the answer stored');
  check(msgs[1].grounding && msgs[1].grounding.sources.length > 0, 'the answer stored with its sources');

  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('main[data-screen="chat"] h1');
  await page.waitForFunction((t) => [...document.querySelectorAll('#conv-list button.link')].some((b) => b.textContent === t),
    {}, TITLE);
  await openConv(page, TITLE, 2);
  const shown = await page.$$eval('#messages > li.msg', (ls) => ls.map((l) => l.textContent));
  check(shown[0].includes(QUESTION), 'the question shown after the reload');
  check(shown[1].includes('120 Euro'), 'the answer shown after the reload');
  const conf = await page.$eval('.msg.assistant .conf', (e) => e.textContent);
  check(['sicher', 'unsicher'].includes(conf), `the confidence in words, got ${conf}`);
  const srcs = await page.$$eval('.msg.assistant .sources button', (b) => b.map((x) => x.textContent));
  check(srcs.length > 0 && srcs[0].startsWith('[1] Reisekostenrichtlinie'), `the numbered sources, got ${srcs}`);
  check(await page.$eval('.msg.assistant .badge.ai', (e) => e.textContent) === 'KI-generiert', 'KI-generiert');
});

await test("the passage view's original link downloads the stored file", async () => {
  const page = miaPage;
  await page.locator('.msg.assistant .sources button').click();
  const link = await page.waitForSelector(`#source-body ${aria('Original herunterladen', 'link')}`);
  const [href, dl] = await link.evaluate((a) => [a.getAttribute('href'), a.hasAttribute('download')]);
  check(/^\/api\/documents\/\d+\/file$/.test(href) && dl, `a download link to the original, got ${href}`);
  const r = await fetchIn(page, href);
  check(r.status === 200, `the original answers 200, got ${r.status}`);
  check(r.text === ORIGINAL, `the exact bytes (${r.n} bytes)`);
  check(r.disposition === 'attachment; filename="reisekosten.md"', `attachment, got ${r.disposition}`);
  check(r.csp.startsWith('sandbox') && r.nosniff === 'nosniff', `sandbox and nosniff, got ${r.csp} / ${r.nosniff}`);
  // ben (einkauf) gets the answer of a missing document
  const ben = await newPage();
  await loggedIn(ben, 'ben');
  const theirs = await fetchIn(ben, href);
  const none = await fetchIn(ben, '/api/documents/1/file');
  check(theirs.status === 404 && theirs.text === none.text, `another department: the 404 of a missing id, got ${theirs.status}`);
  await closePage(ben);
});

await test('rename, search, export md and json; another user sees nothing of it', async () => {
  const page = miaPage;
  await page.locator(aria('Umbenennen', 'button')).click();
  await page.locator(aria('Neuer Titel', 'textbox')).fill('Hotel München');
  await page.locator(aria('Speichern', 'button')).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#conv-list button.link')].some((b) => b.textContent === 'Hotel München'));
  check((await listed(page))[0].title === 'Hotel München', 'the new title stored');
  await page.locator(aria('Gespräche durchsuchen', 'searchbox')).fill('hotelkosten');
  await page.waitForFunction(() => document.querySelectorAll('#conv-list button.link').length === 1);
  check((await titles(page))[0] === 'Hotel München', 'search finds it by a word of its messages');
  await page.locator(aria('Gespräche durchsuchen', 'searchbox')).fill('Zebrafisch');
  await page.waitForFunction(() => document.querySelector('#conv-list').textContent.includes('Kein Gespräch'));
  await page.locator(aria('Gespräche durchsuchen', 'searchbox')).fill('');
  await page.keyboard.press('Enter');   // the search form: an empty search lists all again
  await page.waitForFunction(() => document.querySelectorAll('#conv-list button.link').length === 1);

  for (const [name, fmt] of [['Als Markdown exportieren', 'md'], ['Als JSON exportieren', 'json']]) {
    const a = await page.waitForSelector(`#conv-bar ${aria(name, 'link')}`);
    const [href, dl] = await a.evaluate((x) => [x.getAttribute('href'), x.getAttribute('download')]);
    check(dl === `conversation-${convId}.${fmt}`, `the ${fmt} link is a download, got ${dl}`);
    const r = await fetchIn(page, href);
    check(r.status === 200 && r.disposition.startsWith('attachment'), `the ${fmt} export answers a download, got ${r.status}`);
    check(r.text.includes(QUESTION), `the ${fmt} export holds the question`);
    if (fmt === 'json') check(JSON.parse(r.text).messages.length === 2, 'the JSON export has both messages');
  }

  const ben = await newPage();
  await loggedIn(ben, 'ben');
  check((await titles(ben)).length === 0, 'ben lists no conversation');
  check((await listed(ben)).length === 0, "ben's list from the API is empty");
  check((await listed(ben, 'Hotel')).length === 0, "ben's search finds nothing of mia's");
  const get = await api(ben, 'GET', `/api/conversations/${convId}`);
  check(get.status === 404, `ben gets 404 for mia's conversation, got ${get.status}`);
  const exp = await fetchIn(ben, `/api/conversations/${convId}/export?format=md`);
  check(exp.status === 404 && !exp.text.includes('Hotel'), `ben cannot export it, got ${exp.status}`);
  await closePage(ben);
});

await test('axe: the chat screen with the list, an open conversation and a source, at 1280 and 390 px', async () => {
  const page = miaPage;
  await axe(page, 'chat with conversations (1280)');
  await shot(page, 'chat-conversations');
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
  await axe(page, 'chat with conversations (390)');
  await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
});

await test('a stopped stream: after a reload the partial answer is stored', async () => {
  const page = miaPage;
  await page.locator(aria('Neues Gespräch', 'button')).click();
  await page.locator(aria('Chat', 'radio')).click();
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 3000,
    uploadThroughput: -1 });
  let shown = '';
  try {
    await page.locator(aria('Ihre Frage', 'textbox')).fill('The little dog');
    await page.locator(aria('Senden', 'button')).click();
    await page.waitForFunction(() => {
      const a = document.querySelector('.msg.assistant .answer-text');
      return a && a.textContent.length > 3;
    });
    await page.locator(aria('Stopp', 'button')).click();
    await page.waitForFunction(() => document.querySelector('#chat-state').textContent.includes('Angehalten'));
    shown = await page.$eval('.msg.assistant .answer-text', (a) => a.textContent);
  } finally {
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1,
      uploadThroughput: -1 });
  }
  const partial = shown.replace(/ …$/, '');
  check(partial.length > 0, 'some text before Stop');
  // the server stores the stopped stream when it notices the closed connection
  let msgs = [];
  for (let i = 0; i < 50; i++) {
    const c = (await listed(page)).find((x) => x.title === 'The little dog');
    if (c) msgs = (await api(page, 'GET', `/api/conversations/${c.id}`)).data.messages;
    if (msgs.length === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  check(msgs.length === 2 && msgs[1].content.startsWith(partial),
    `the partial answer stored, shown "${partial.slice(0, 40)}", got ${JSON.stringify(msgs[1] || null).slice(0, 200)}`);
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('main[data-screen="chat"] h1');
  await page.waitForFunction(() => [...document.querySelectorAll('#conv-list button.link')].some((b) => b.textContent === 'The little dog'));
  const order = await titles(page);
  check(order[0] === 'The little dog' && order[1] === 'Hotel München', `newest first, got ${order}`);
  await openConv(page, 'The little dog', 2);
  const again = await page.$eval('.msg.assistant .answer-text', (a) => a.textContent);
  check(again === msgs[1].content, `the stored partial shown, got "${again.slice(0, 40)}"`);
});

await test('delete asks once: Abbrechen keeps it, Endgültig löschen removes it', async () => {
  const page = miaPage;
  await openConv(page, 'Hotel München', 2);
  await page.locator(aria('Gespräch löschen', 'button')).click();
  const ask = await page.waitForSelector('#conv-bar .confirm');
  const text = await ask.evaluate((e) => e.textContent);
  check(text.includes('„Hotel München“') && text.includes('2 Nachrichten'), `the question names the conversation, got "${text}"`);
  check((await listed(page)).length === 2, 'nothing deleted before the answer');
  await page.locator(`#conv-bar ${aria('Abbrechen', 'button')}`).click();
  check((await listed(page)).length === 2, 'Abbrechen deletes nothing');
  await page.locator(aria('Gespräch löschen', 'button')).click();
  await page.locator(aria('Endgültig löschen', 'button')).click();
  await page.waitForFunction(() => ![...document.querySelectorAll('#conv-list button.link')].some((b) => b.textContent === 'Hotel München'));
  const left = await listed(page);
  check(left.length === 1 && left[0].title === 'The little dog', `one conversation left, got ${JSON.stringify(left)}`);
  check((await api(page, 'GET', `/api/conversations/${convId}`)).status === 404, 'the deleted conversation is gone');
  check(await page.$eval('#conv-bar', (b) => b.hidden), 'no open conversation after the delete');
});

await test('no request to another host, no CSP violation, no uncaught error', async () => {
  if (miaPage) await closePage(miaPage);
  check(foreign.length === 0, `no foreign requests, got ${JSON.stringify(foreign)}`);
  check(cspReports.length === 0, `no CSP violations, got ${JSON.stringify(cspReports)}`);
  check(pageErrors.length === 0, `no uncaught errors, got ${JSON.stringify(pageErrors)}`);
});

await browser.close();
console.log(`ui-conv: ${passed} passed, ${failed} failed (${((Date.now() - T0) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
