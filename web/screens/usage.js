// screens/usage.js - Nutzung & Kontingente: requests and tokens by user,
// department or use case over a date range (GET /api/usage?by=&from=&to=,
// UTC days). Admins and auditors see every row; anyone else only their own
// (by user or use case; the server refuses by department for them, so the
// choice is not offered). Below, admins and auditors see every quota with
// its usage today and this month, and admins add, edit and remove them
// (usage-quotas.js); anyone else reads where quotas come from.
import { h, heading, statusLine } from '../dom.js';
import { fmtNum, tableBox, table, errorDetail, field } from './kit.js';
import { quotaPanel } from './usage-quotas.js';

function seesAll(app) { return app.user.role === 'admin' || app.user.role === 'auditor'; }

/* YYYY-MM-DD of a Date in UTC (the server counts UTC days). */
function utcDay(d) { return d.toISOString().slice(0, 10); }

export default {
  id: 'usage',
  nav: 'nav.usage',
  roles: null,

  async render(main, app) {
    const { t } = app;
    main.append(heading(t('usage.title')),
      h('p', { class: 'muted' }, t(seesAll(app) ? 'usage.introAll' : 'usage.introMine')));
    const by = h('select', { name: 'by' },
      ['user', 'department', 'use-case'].filter((b) => b !== 'department' || seesAll(app))
        .map((b) => h('option', { value: b }, t(`usage.by.${b}`))));
    const now = new Date();
    const from = h('input', { type: 'date', name: 'from', required: true,
      value: utcDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))) });
    const to = h('input', { type: 'date', name: 'to', required: true, value: utcDay(now) });
    const out = h('div');
    const form = h('form', { class: 'controls', 'aria-labelledby': 'us-h' },
      h('h2', { id: 'us-h', class: 'vh' }, t('usage.filter')),
      field(t('usage.byLabel'), by), field(t('usage.from'), from), field(t('usage.to'), to),
      h('div', { class: 'field' }, h('span', { 'aria-hidden': 'true' }, '\u00a0'),
        h('button', { type: 'submit', class: 'primary' }, t('usage.show'))));
    const quotas = h('section', { class: 'quotas', 'aria-labelledby': 'uq-h' });
    main.append(form, out, seesAll(app) ? quotas : h('p', { class: 'small muted' }, t('usage.quotaNote')));

    const load = async () => {
      if (from.value && to.value && from.value > to.value) {
        to.setAttribute('aria-invalid', 'true');
        out.replaceChildren(statusLine(t('usage.badRange'), 'error'));
        to.focus();
        return;
      }
      to.removeAttribute('aria-invalid');
      out.replaceChildren(statusLine(t('usage.loading')));
      const q = new URLSearchParams({ by: by.value });
      if (from.value) q.set('from', from.value);
      if (to.value) q.set('to', to.value);
      const sel = by.value;
      try {
        const r = await app.api('GET', `/api/usage?${q}`);
        const key = r.by === 'use-case' ? 'use_case' : r.by;
        const rows = (r.data || []).map((x) => [
          x[key] === null || x[key] === undefined ? h('em', null, t(`usage.none.${sel}`)) : String(x[key]),
          fmtNum(app, x.requests), fmtNum(app, x.prompt_tokens), fmtNum(app, x.completion_tokens),
          fmtNum(app, x.total_tokens)]);
        const total = (r.data || []).reduce((a, x) => a + (x.total_tokens || 0), 0);
        const cap = t('usage.caption', { by: t(`usage.by.${sel}`), from: r.from, to: r.to });
        out.replaceChildren(h('p', { role: 'status' }, cap, ' ',
          t('usage.total', { n: fmtNum(app, total), rows: rows.length })));
        if (rows.length) {
          out.append(tableBox(cap, table(cap, [t(`usage.by.${sel}`), t('usage.col.requests'),
            t('usage.col.prompt'), t('usage.col.completion'), t('usage.col.total')], rows)));
        }
      } catch (e) {
        out.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      }
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
    await load();
    if (seesAll(app)) await quotaPanel(quotas, app);
  },
};
