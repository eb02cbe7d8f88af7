// screens/gdpr.js - Betroffenenrechte (admin): for one or more data
// subjects (user name, e-mail address, name; one a line)
//  - Auskunft, GDPR Art. 15: POST /api/gdpr/export; the screen says what
//    was found (per place) and offers the JSON document (the access copy:
//    "sections" per subject, docs/COMPLIANCE.md) and its readable HTML
//    report ("format": "html", German or English) as downloads;
//  - Löschung, Art. 17: first the same export names what goes (counts per
//    place), then one confirmation, then POST /api/gdpr/erase with
//    "confirm": true; the counts of what was erased are shown.
// Both are audited by the server (export, erasure records); the screen
// says so.
import { h, heading, statusLine } from '../dom.js';
import { fmtNum, download, tableBox, table, errorDetail, field } from './kit.js';

const ERASE_COUNTS = ['documents', 'chunks', 'vectors', 'files', 'users', 'audit_texts', 'audit_kept', 'approvals',
  'usage_rows', 'index_vectors_removed'];

/* What an export found, as [label key or raw name, count] rows: the hits
 * per place ("where") and every other list in the document by its size. */
function summarize(doc) {
  const rows = new Map();
  for (const hit of Array.isArray(doc.hits) ? doc.hits : []) {
    const k = hit.where || '?';
    rows.set(k, (rows.get(k) || 0) + 1);
  }
  for (const [k, v] of Object.entries(doc || {})) {
    if (k === 'hits' || k === 'subjects' || k === 'more_subjects' || !Array.isArray(v)) continue;
    rows.set(k, v.length);
  }
  return [...rows];
}

function placeName(t, k) {
  const key = `gdpr.where.${k}`;
  const s = t(key);
  return s === key ? k : s;
}

export default {
  id: 'gdpr',
  nav: 'nav.gdpr',
  roles: ['admin'],

  async render(main, app) {
    const { t } = app;
    main.append(heading(t('gdpr.title')), h('p', { class: 'muted' }, t('gdpr.intro')));
    const subj = h('textarea', { rows: '3', name: 'subjects', autocomplete: 'off', required: true });
    const out = h('div', { class: 'gdpr-out' });
    const bExport = h('button', { type: 'submit', class: 'primary', value: 'export' }, t('gdpr.export'));
    const bErase = h('button', { type: 'button', class: 'danger' }, t('gdpr.erase'));
    const form = h('form', { class: 'card', 'aria-labelledby': 'gd-h', novalidate: true },
      h('h2', { id: 'gd-h' }, t('gdpr.subjectsTitle')),
      field(t('gdpr.subjects'), subj, t('gdpr.subjectsHint')),
      h('div', { class: 'actions row' }, bExport, bErase),
      h('p', { class: 'small muted' }, t('gdpr.audited')));
    main.append(form, out);

    const subjects = () => {
      const list = subj.value.split('\n').map((s) => s.trim()).filter(Boolean);
      const bad = !list.length || list.length > 64 || list.some((s) => new TextEncoder().encode(s).length < 3
        || new TextEncoder().encode(s).length > 512);
      subj.toggleAttribute('aria-invalid', bad);
      if (bad) {
        out.replaceChildren(h('p', { class: 'error', role: 'alert' }, t('gdpr.badSubjects')));
        subj.focus();
        return null;
      }
      return list;
    };
    const busy = (b) => { bExport.disabled = b; bErase.disabled = b; };
    const runExport = async (list) => {
      const doc = await app.api('POST', '/api/gdpr/export', { subjects: list });
      return { doc, rows: summarize(doc) };
    };
    const foundTable = (rows, cap) => tableBox(cap, table(cap, [t('gdpr.col.where'), t('gdpr.col.count')],
      rows.map(([k, n]) => [placeName(t, k), fmtNum(app, n)])));

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const list = subjects();
      if (!list) return;
      busy(true);
      out.replaceChildren(h('p', { class: 'status', role: 'status' }, t('gdpr.exporting')));
      try {
        const { doc, rows } = await runExport(list);
        const file = `gdpr-export-${new Date().toISOString().slice(0, 10)}.json`;
        const hid = 'gd-res';
        const sec = h('section', { class: 'card', 'aria-labelledby': hid },
          h('h2', { id: hid, tabindex: '-1' }, t('gdpr.exportDone')),
          h('p', null, rows.length ? t('gdpr.found', { n: fmtNum(app, doc.n_hits ?? rows.reduce((a, r) => a + r[1], 0)) })
            : t('gdpr.nothing')));
        if (rows.length) sec.append(foundTable(rows, t('gdpr.foundCaption')));
        sec.append(h('button', { type: 'button', class: 'primary',
          onclick: () => download(file, JSON.stringify(doc, null, 2), 'application/json') },
        t('gdpr.download', { file })));
        /* the readable report: the server renders it (another audited export) */
        const lang = h('select', { name: 'report-lang' },
          h('option', { value: 'de', selected: app.lang === 'de' }, 'Deutsch'),
          h('option', { value: 'en', selected: app.lang === 'en' }, 'English'));
        const bHtml = h('button', { type: 'button' }, t('gdpr.downloadHtml'));
        bHtml.addEventListener('click', async () => {
          bHtml.disabled = true;
          try {
            const html = await app.api('POST', '/api/gdpr/export', { subjects: list, format: 'html', lang: lang.value });
            download(`access-copy-${new Date().toISOString().slice(0, 10)}.html`, html, 'text/html;charset=utf-8');
          } catch (e) {
            sec.append(statusLine(errorDetail(app, e), 'error'));
          } finally {
            bHtml.disabled = false;
          }
        });
        sec.append(h('div', { class: 'actions row' }, field(t('gdpr.reportLang'), lang), bHtml));
        out.replaceChildren(sec);
        sec.querySelector('h2').focus();
      } catch (e) {
        out.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      } finally {
        busy(false);
      }
    });

    bErase.addEventListener('click', async () => {
      const list = subjects();
      if (!list) return;
      busy(true);
      out.replaceChildren(h('p', { class: 'status', role: 'status' }, t('gdpr.counting')));
      let rows;
      try {
        ({ rows } = await runExport(list));
      } catch (e) {
        out.replaceChildren(statusLine(errorDetail(app, e), 'error'));
        busy(false);
        return;
      }
      const yes = h('button', { type: 'button', class: 'danger' }, t('gdpr.confirmYes', { n: list.length }));
      const no = h('button', { type: 'button' }, t('gdpr.cancel'));
      const box = h('section', { class: 'card confirm', 'aria-labelledby': 'gd-c', 'aria-describedby': 'gd-cd' },
      h('h2', { id: 'gd-c', tabindex: '-1' }, t('gdpr.confirmTitle')),
      h('div', { id: 'gd-cd' },
        h('p', null, t('gdpr.confirmText', { list: list.join(', ') })),
        rows.length ? foundTable(rows, t('gdpr.goesCaption')) : h('p', null, t('gdpr.nothingToErase')),
        h('p', { class: 'small' }, t('gdpr.confirmNote'))),
      h('div', { class: 'actions row' }, yes, no));
      out.replaceChildren(box);
      box.querySelector('h2').focus();
      no.addEventListener('click', () => {
        out.replaceChildren(h('p', { class: 'status', role: 'status' }, t('gdpr.cancelled')));
        busy(false);
        bErase.focus();
      });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        try {
          const r = await app.api('POST', '/api/gdpr/erase', { subjects: list, confirm: true });
          const sec = h('section', { class: 'card', 'aria-labelledby': 'gd-r' },
            h('h2', { id: 'gd-r', tabindex: '-1' }, t('gdpr.erased')),
            foundTable(ERASE_COUNTS.filter((k) => typeof r[k] === 'number').map((k) => [`erased.${k}`, r[k]]),
              t('gdpr.erasedCaption')),
            h('p', { class: 'small muted' }, t(r.caches_dropped ? 'gdpr.cachesDropped' : 'gdpr.cachesKept')));
          out.replaceChildren(sec);
          subj.value = '';
          sec.querySelector('h2').focus();
          app.announce(t('gdpr.erased'));
        } catch (e) {
          out.replaceChildren(statusLine(errorDetail(app, e), 'error'));
        } finally {
          busy(false);
        }
      });
    });
  },
};
