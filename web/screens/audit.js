// screens/audit.js - Prüfprotokoll (auditor, admin): the audit chain's
// integrity check (GET /api/audit/verify, the verdict in words), the
// export (GET /api/audit/export?from=SEQ, JSONL, offered as a download)
// and a filtered view of the exported records, parsed here in the browser:
// kind, user (name or its commitment), use case, decision and a time
// range. Reading the log is itself logged: both routes append an "admin"
// record naming the caller; the screen says so.
import { h, heading, statusLine } from '../dom.js';
import { fmtTime, fmtNum, download, tableBox, table, errorDetail, field, uid, fetchText } from './kit.js';

const KINDS = ['request', 'approval', 'admin', 'export', 'erasure', 'retention'];
const MAX_ROWS = 500;

/* The records of an export: [{seq, time_ms, kind, user, user_commit,
 * use_case, model, decision, detail, erased}] from its JSONL text. Lines
 * that are not records (anchor, checkpoint, head) are skipped; a broken
 * line is counted. */
export function parseExport(text) {
  const out = [];
  let broken = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let o;
    try { o = JSON.parse(line); } catch { broken += 1; continue; }
    if (!o || o.kind !== 'record') continue;
    let r;
    try { r = JSON.parse(o.record); } catch { broken += 1; continue; }
    out.push({
      seq: r.seq,
      time_ms: r.time_ms,
      kind: r.kind,
      user: typeof o.user === 'string' ? o.user : (typeof r.user === 'string' ? r.user : null),
      user_commit: r.user_commit || null,
      use_case: r.use_case || null,
      model: r.model || null,
      decision: r.decision || null,
      detail: typeof o.detail === 'string' ? o.detail : (typeof r.detail === 'string' ? r.detail : null),
      erased: !!o.erased,
    });
  }
  return { records: out, broken };
}

function dayStart(v) { return v ? new Date(`${v}T00:00:00`).getTime() : null; }
function dayEnd(v) { return v ? new Date(`${v}T23:59:59.999`).getTime() : null; }

export default {
  id: 'audit',
  nav: 'nav.audit',
  roles: ['auditor', 'admin'],

  async render(main, app) {
    const { t } = app;
    main.append(heading(t('audit.title')), h('p', { class: 'muted' }, t('audit.intro')));

    // verify
    const vOut = h('div', { role: 'status', 'aria-live': 'polite' });
    const vBtn = h('button', { type: 'button', class: 'primary' }, t('audit.verify'));
    vBtn.addEventListener('click', async () => {
      vBtn.disabled = true;
      vOut.replaceChildren(h('p', { class: 'status' }, t('audit.verifying')));
      try {
        const v = await app.api('GET', '/api/audit/verify');
        const n = { records: fmtNum(app, v.records), first: v.first_seq, last: v.last_seq,
          checkpoints: fmtNum(app, v.checkpoints) };
        vOut.replaceChildren(v.ok
          ? h('p', { class: 'verdict ok' }, h('span', { 'aria-hidden': 'true' }, '✔ '), h('strong', null, t('audit.ok')),
            ' ', t(v.records ? 'audit.okDetail' : 'audit.okEmpty', n),
            v.anchored ? ` ${t('audit.anchored', n)}` : '')
          : h('p', { class: 'verdict bad error' }, h('span', { 'aria-hidden': 'true' }, '✖ '),
            h('strong', null, t('audit.bad')), ' ',
            t('audit.badDetail', { seq: v.bad_seq === undefined || v.bad_seq === null ? '–' : v.bad_seq,
              why: v.why || '–' })),
          h('p', { class: 'small muted' }, t('audit.verifiedAt', { time: fmtTime(app, Date.now()) })));
      } catch (e) {
        vOut.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      } finally {
        vBtn.disabled = false;
      }
    });
    main.append(h('section', { class: 'card', 'aria-labelledby': 'au-v' },
      h('h2', { id: 'au-v' }, t('audit.verifyTitle')), h('p', null, t('audit.verifyHint')), vBtn, vOut));

    // export + filtered view
    const from = h('input', { type: 'number', min: '1', step: '1', value: '1', inputmode: 'numeric' });
    const eOut = h('div', { role: 'status', 'aria-live': 'polite' });
    const eBtn = h('button', { type: 'button', class: 'primary' }, t('audit.export'));
    const view = h('section', { class: 'card', 'aria-labelledby': 'au-f', hidden: true });
    let records = [];
    eBtn.addEventListener('click', async () => {
      const seq = Number(from.value);
      if (!Number.isInteger(seq) || seq < 1) {
        from.setAttribute('aria-invalid', 'true');
        eOut.replaceChildren(h('p', { class: 'error' }, t('audit.badFrom')));
        from.focus();
        return;
      }
      from.removeAttribute('aria-invalid');
      eBtn.disabled = true;
      eOut.replaceChildren(h('p', { class: 'status' }, t('audit.exporting')));
      try {
        const text = await fetchText(app, `/api/audit/export?from=${seq}`);
        const file = `audit-from-${seq}.jsonl`;
        download(file, text, 'application/x-ndjson');
        const parsed = parseExport(text);
        records = parsed.records;
        eOut.replaceChildren(h('p', { class: 'status' }, t('audit.exported', { file, n: fmtNum(app, records.length) }),
          parsed.broken ? ` ${t('audit.broken', { n: parsed.broken })}` : ''));
        view.hidden = false;
        fillUsecases();
        show();
      } catch (e) {
        eOut.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      } finally {
        eBtn.disabled = false;
      }
    });
    main.append(h('section', { class: 'card', 'aria-labelledby': 'au-e' },
      h('h2', { id: 'au-e' }, t('audit.exportTitle')), h('p', null, t('audit.exportHint')),
      h('div', { class: 'controls' }, field(t('audit.from'), from, t('audit.fromHint')), eBtn), eOut));

    const kind = h('select', { id: 'au-kind' }, h('option', { value: '' }, t('audit.any')),
      KINDS.map((k) => h('option', { value: k }, t(`audit.kind.${k}`))));
    const user = h('input', { type: 'search', autocomplete: 'off', id: 'au-user' });
    const uc = h('select', { id: 'au-uc' }, h('option', { value: '' }, t('audit.any')));
    const decision = h('input', { type: 'search', autocomplete: 'off', list: uid('dl'), id: 'au-dec' });
    const decisions = h('datalist', { id: decision.getAttribute('list') },
      ['released', 'refused', 'pending', 'approved', 'edited', 'rejected', 'done', 'deleted', 'abstained', 'failed',
        'canceled'].map((d) => h('option', { value: d })));
    const tFrom = h('input', { type: 'date' });
    const tTo = h('input', { type: 'date' });
    const result = h('div');
    const fillUsecases = () => {
      const seen = [...new Set(records.map((r) => r.use_case).filter(Boolean))].sort();
      uc.replaceChildren(h('option', { value: '' }, t('audit.any')), ...seen.map((s) => h('option', { value: s }, s)));
    };
    const show = () => {
      const u = user.value.trim().toLowerCase();
      const d = decision.value.trim().toLowerCase();
      const a = dayStart(tFrom.value);
      const b = dayEnd(tTo.value);
      const hits = records.filter((r) => (!kind.value || r.kind === kind.value)
        && (!uc.value || r.use_case === uc.value)
        && (!u || (r.user && r.user.toLowerCase().includes(u)) || (r.user_commit && r.user_commit.startsWith(u)))
        && (!d || (r.decision && r.decision.toLowerCase() === d))
        && (a === null || r.time_ms >= a) && (b === null || r.time_ms <= b));
      const shown = hits.slice(-MAX_ROWS).reverse();
      const cap = t('audit.resultCaption', { n: fmtNum(app, hits.length), total: fmtNum(app, records.length) });
      result.replaceChildren(h('p', { role: 'status' }, cap,
        hits.length > MAX_ROWS ? ` ${t('audit.capped', { n: MAX_ROWS })}` : ''));
      if (!shown.length) return;
      result.append(tableBox(cap, table(cap,
        [t('audit.col.seq'), t('audit.col.time'), t('audit.col.kind'), t('audit.col.user'), t('audit.col.usecase'),
          t('audit.col.decision'), t('audit.col.detail')],
        shown.map((r) => [String(r.seq), fmtTime(app, r.time_ms), t(`audit.kind.${r.kind}`) === `audit.kind.${r.kind}`
          ? r.kind : t(`audit.kind.${r.kind}`),
        r.user ? r.user : h('code', { title: t('audit.commitment') }, r.user_commit ? `${r.user_commit.slice(0, 12)}…` : '–'),
        r.use_case || '–', r.decision || '–',
        (r.erased ? `${t('audit.erased')} ` : '') + (r.detail || '')]))));
    };
    const filters = h('form', { class: 'controls', role: 'search', 'aria-label': t('audit.filterTitle') },
      field(t('audit.col.kind'), kind), field(t('audit.col.user'), user, t('audit.userHint')),
      field(t('audit.col.usecase'), uc), field(t('audit.col.decision'), decision), decisions,
      field(t('audit.timeFrom'), tFrom), field(t('audit.timeTo'), tTo));
    filters.addEventListener('input', show);
    filters.addEventListener('change', show);
    filters.addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
    view.append(h('h2', { id: 'au-f' }, t('audit.filterTitle')), filters, result);
    main.append(view);
  },
};
