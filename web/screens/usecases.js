// screens/usecases.js - KI-Anwendungen: the EU AI Act use-case register.
//   #/usecases            the list (GET /api/usecases: everyone sees the use
//                         cases they may use, admins and auditors all)
//   #/usecases/SLUG       one use case: risk class with reasons, policy,
//                         fields, history; its system card (GET
//                         /api/usecases/SLUG?card=md|html) shown and
//                         downloadable
//   #/usecases/new, #/usecases/SLUG/edit   (admin) the form with the risk
//                         questionnaire; after every answer the class and
//                         its reasons are asked from the server without
//                         storing (POST /api/usecases?classify=true), saved
//                         with POST / PUT /api/usecases
// Admins and auditors also get the GDPR Art. 30 records of processing
// (GET /api/usecases?records=md|html). Every change lands in the register's
// history and the audit log; the form says so.
import { h, heading, statusLine } from '../dom.js';
import { fmtTime, download, riskBadge, tableBox, table, errorDetail, facts, field, uid, fetchText } from './kit.js';

const LISTS = ['models', 'collections', 'departments', 'affected_persons', 'data_categories', 'recipients',
  'safeguards'];
/* Questionnaire groups by the question id's prefix (register.c's kinds). */
const GROUPS = [
  ['p', 'usecases.group.p'], ['x', 'usecases.group.x'], ['h', 'usecases.group.h'], ['e', 'usecases.group.e'],
  ['f', 'usecases.group.f'], ['t', 'usecases.group.t'],
];

let flash = '';   // what the last save said, shown once on the detail view

function isAdmin(app) { return app.user.role === 'admin'; }
function seesAll(app) { return app.user.role === 'admin' || app.user.role === 'auditor'; }

/* A question's text in the UI language (the server's English text when the
 * catalog has none). */
function questionText(t, q) {
  const k = `usecases.q.${q.id}`;
  const s = t(k);
  return s === k ? q.text : s;
}

function policyFacts(t, p) {
  if (!p) return h('p', null, '–');
  const yes = (b) => t(b ? 'usecases.yes' : 'usecases.no');
  return facts([
    [t('usecases.pol.refused'), yes(p.refused)],
    [t('usecases.pol.approval'), yes(p.approval_required) + (p.approval_locked ? ` (${t('usecases.pol.locked')})` : '')],
    [t('usecases.pol.audit'), t(`usecases.pol.audit.${p.audit_detail}`)],
    [t('usecases.pol.pii'), yes(p.pii_redaction)],
    [t('usecases.pol.redactPrompts'), yes(p.redact_prompts)],
    [t('usecases.pol.retention'), t('usecases.pol.days', { n: p.retention_days })],
    [t('usecases.pol.threshold'), String(p.confidence_threshold)],
  ]);
}

/* t(`${prefix}.${v}`), or v itself when the catalog has no word for it. */
function word(t, prefix, v) {
  const k = `${prefix}.${v}`;
  const s = t(k);
  return s === k ? String(v || '') : s;
}

function short(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}

/* A history entry's detail: for an update each changed field as
 * "field: old → new"; for a create the class it got. */
function historyDetail(t, x) {
  const d = x.detail;
  if (!d || typeof d !== 'object') return typeof d === 'string' ? d : '';
  if (x.action === 'update') {
    return h('ul', { class: 'changes' }, Object.entries(d).map(([k, v]) => h('li', null,
      `${word(t, 'usecases.f', k)}: `, k === 'risk_class' ? word(t, 'risk', v) : v && typeof v === 'object' && 'new' in v
        ? `${v.old === null || v.old === undefined ? '–' : short(v.old)} → ${short(v.new)}` : short(v))));
  }
  return d.risk_class ? t('usecases.histClass', { cls: word(t, 'risk', d.risk_class) }) : '';
}

function reasonsList(reasons) {
  return h('ul', { class: 'reasons' }, (reasons || []).map((r) => h('li', null, r)));
}

export default {
  id: 'usecases',
  nav: 'nav.usecases',
  roles: null,

  async render(main, app, arg) {
    const parts = (arg || '').split('/').filter(Boolean);
    main.append(heading(app.t('usecases.title')));
    if (parts[0] === 'new' && isAdmin(app)) return this.form(main, app, null);
    if (parts[0] && parts[1] === 'edit' && isAdmin(app)) return this.form(main, app, decodeURIComponent(parts[0]));
    if (parts[0]) return this.detail(main, app, decodeURIComponent(parts[0]));
    return this.list(main, app);
  },

  async list(main, app) {
    const { t } = app;
    main.append(h('p', { class: 'muted' }, t(seesAll(app) ? 'usecases.introAll' : 'usecases.introMine')));
    const tools = h('div', { class: 'controls' });
    if (isAdmin(app)) {
      tools.append(h('a', { href: '#/usecases/new', class: 'button primary' }, t('usecases.new')));
    }
    if (seesAll(app)) tools.append(this.recordsTools(app));
    main.append(tools);
    const state = statusLine(t('usecases.loading'));
    main.append(state);
    let list;
    try {
      list = await app.api('GET', '/api/usecases');
    } catch (e) {
      state.replaceWith(statusLine(errorDetail(app, e), 'error'));
      return;
    }
    const data = (list && list.data) || [];
    if (!data.length) {
      state.replaceWith(statusLine(t('usecases.none')));
      return;
    }
    const rows = data.map((u) => [
      h('a', { href: `#/usecases/${encodeURIComponent(u.slug)}` }, u.name || u.slug),
      h('code', null, u.slug),
      riskBadge(app, u.risk_class),
      u.purpose || '',
      t(u.disabled ? 'usecases.disabled' : 'usecases.active'),
    ]);
    const cap = t('usecases.listCaption', { n: data.length });
    state.replaceWith(tableBox(cap, table(cap, [t('usecases.col.name'), t('usecases.col.slug'),
      t('usecases.col.risk'), t('usecases.col.purpose'), t('usecases.col.state')], rows)));
  },

  /* Art. 30 records: view as Markdown text, download as Markdown or HTML. */
  recordsTools(app) {
    const { t } = app;
    const out = h('div', { class: 'records-out' });
    const get = async (fmt, show) => {
      out.replaceChildren(statusLine(t('usecases.loading')));
      try {
        const text = await fetchText(app, `/api/usecases?records=${fmt}&lang=${app.lang}`);
        out.replaceChildren();
        if (show) {
          const hid = uid('ropa');
          out.append(h('section', { class: 'card', 'aria-labelledby': hid },
            h('h2', { id: hid }, t('usecases.records')),
            h('pre', { class: 'doc-text', tabindex: '0' }, text)));
        } else {
          download(`records-of-processing.${fmt}`, text, fmt === 'html' ? 'text/html' : 'text/markdown');
          out.append(statusLine(t('usecases.downloaded', { file: `records-of-processing.${fmt}` })));
        }
      } catch (e) {
        out.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      }
    };
    return h('div', { class: 'records' },
      h('span', { class: 'small' }, t('usecases.records'), ': '),
      h('button', { type: 'button', onclick: () => get('md', true) }, t('usecases.show')),
      h('button', { type: 'button', onclick: () => get('md', false) }, t('usecases.recordsMd')),
      h('button', { type: 'button', onclick: () => get('html', false) }, t('usecases.recordsHtml')),
      out);
  },

  async detail(main, app, slug) {
    const { t } = app;
    main.append(h('p', null, h('a', { href: '#/usecases' }, t('usecases.back'))));
    const state = statusLine(t('usecases.loading'));
    main.append(state);
    let u;
    try {
      u = await app.api('GET', `/api/usecases/${encodeURIComponent(slug)}`);
    } catch (e) {
      state.replaceWith(statusLine(errorDetail(app, e), 'error'));
      return;
    }
    state.remove();
    if (flash) {
      main.append(statusLine(flash));
      flash = '';
    }
    const sec = h('section', { class: 'card', 'aria-labelledby': 'uc-h' });
    sec.append(h('h2', { id: 'uc-h' }, u.name || u.slug, ' ', riskBadge(app, u.risk_class)));
    if (u.disabled) sec.append(h('p', { class: 'error' }, t('usecases.disabledNote')));
    const list = (a) => (Array.isArray(a) && a.length ? a.join(', ') : null);
    sec.append(facts([
      [t('usecases.f.slug'), h('code', null, u.slug)],
      [t('usecases.f.purpose'), u.purpose || '–'],
      [t('usecases.f.owner'), u.owner || '–'],
      [t('usecases.f.departments'), list(u.departments) || t('usecases.everyone')],
      [t('usecases.f.models'), list(u.models) || t('usecases.anyModel')],
      [t('usecases.f.collections'), list(u.collections) || '–'],
      [t('usecases.f.affected_persons'), list(u.affected_persons) || '–'],
      [t('usecases.f.data_categories'), list(u.data_categories) || '–'],
      [t('usecases.f.recipients'), list(u.recipients) || '–'],
      [t('usecases.f.safeguards'), list(u.safeguards) || '–'],
      [t('usecases.f.known_limits'), u.known_limits || '–'],
      [t('usecases.f.updated'), u.updated_at ? fmtTime(app, u.updated_at) : '–'],
    ]));
    sec.append(h('h3', null, t('usecases.reasons')), reasonsList(u.reasons),
      h('h3', null, t('usecases.policy')), policyFacts(t, u.effective_policy));
    if (Array.isArray(u.history) && u.history.length) {
      const cap = t('usecases.history');
      sec.append(h('h3', null, cap), tableBox(cap, table(cap,
        [t('usecases.col.when'), t('usecases.col.who'), t('usecases.col.what'), t('usecases.col.detail')],
        u.history.map((x) => [fmtTime(app, x.at), x.actor || '–', word(t, 'usecases.action', x.action),
          historyDetail(t, x)]))));
    }
    main.append(sec);
    const tools = h('div', { class: 'controls' });
    if (isAdmin(app) && u.id) {
      tools.append(h('a', { href: `#/usecases/${encodeURIComponent(u.slug)}/edit`, class: 'button primary' },
        t('usecases.edit')));
    }
    const cardOut = h('div');
    const card = async (fmt, show) => {
      cardOut.replaceChildren(statusLine(t('usecases.loading')));
      try {
        const text = await fetchText(app, `/api/usecases/${encodeURIComponent(u.slug)}?card=${fmt}&lang=${app.lang}`);
        cardOut.replaceChildren();
        if (show) {
          cardOut.append(h('section', { class: 'card', 'aria-labelledby': 'uc-card' },
            h('h2', { id: 'uc-card', tabindex: '-1' }, t('usecases.card')),
            h('pre', { class: 'doc-text', tabindex: '0', 'aria-label': t('usecases.card') }, text)));
          cardOut.querySelector('h2').focus();
        } else {
          const file = `card-${u.slug}.${fmt}`;
          download(file, text, fmt === 'html' ? 'text/html' : 'text/markdown');
          cardOut.append(statusLine(t('usecases.downloaded', { file })));
        }
      } catch (e) {
        cardOut.replaceChildren(statusLine(errorDetail(app, e), 'error'));
      }
    };
    tools.append(
      h('button', { type: 'button', onclick: () => card('md', true) }, t('usecases.cardShow')),
      h('button', { type: 'button', onclick: () => card('md', false) }, t('usecases.cardMd')),
      h('button', { type: 'button', onclick: () => card('html', false) }, t('usecases.cardHtml')));
    main.append(tools, cardOut);
  },

  /* The create / edit form with the live risk class. */
  async form(main, app, slug) {
    const { t } = app;
    main.append(h('p', null, h('a', { href: slug ? `#/usecases/${encodeURIComponent(slug)}` : '#/usecases' },
      t('usecases.back'))));
    const state = statusLine(t('usecases.loading'));
    main.append(state);
    let list;
    let u = null;
    try {
      list = await app.api('GET', '/api/usecases');
      if (slug) u = await app.api('GET', `/api/usecases/${encodeURIComponent(slug)}`);
    } catch (e) {
      state.replaceWith(statusLine(errorDetail(app, e), 'error'));
      return;
    }
    state.remove();
    const questions = (list && list.questionnaire) || [];
    const inputs = {};
    const text = (name, multi) => {
      const el = multi ? h('textarea', { name, rows: '3' }) : h('input', { name, type: 'text' });
      inputs[name] = el;
      return el;
    };
    const form = h('form', { class: 'uc-form', novalidate: true, 'aria-labelledby': 'uc-form-h' });
    form.append(h('h2', { id: 'uc-form-h' }, slug ? t('usecases.editTitle', { slug }) : t('usecases.newTitle')));
    const slugIn = text('slug');
    slugIn.required = true;
    slugIn.setAttribute('pattern', '[a-z0-9-]{1,63}');
    slugIn.setAttribute('autocomplete', 'off');
    if (slug) slugIn.readOnly = true;
    const purpose = text('purpose', true);
    purpose.required = true;
    const basics = h('fieldset', null, h('legend', null, t('usecases.basics')),
      h('div', { class: 'row' },
        field(t('usecases.f.slug'), slugIn, t(slug ? 'usecases.slugFixed' : 'usecases.slugHint')),
        field(t('usecases.f.name'), text('name')),
        field(t('usecases.f.owner'), text('owner'))),
      field(t('usecases.f.purpose') + ' *', purpose),
      field(t('usecases.f.known_limits'), text('known_limits', true)));
    const lists = h('fieldset', null, h('legend', null, t('usecases.listsLegend')),
      h('p', { class: 'small muted' }, t('usecases.listsHint')),
      h('div', { class: 'row' }, LISTS.map((k) => field(t(`usecases.f.${k}`), text(k, true),
        t(`usecases.hint.${k}`) === `usecases.hint.${k}` ? null : t(`usecases.hint.${k}`)))));
    const answers = {};
    const qset = h('fieldset', { class: 'questionnaire' }, h('legend', null, t('usecases.questionnaire')),
      h('p', { class: 'small muted' }, t('usecases.questionnaireHint')));
    for (const [prefix, key] of GROUPS) {
      const qs = questions.filter((q) => q.id.startsWith(`${prefix}_`));
      if (!qs.length) continue;
      const g = h('fieldset', { class: 'qgroup' }, h('legend', null, t(key)));
      for (const q of qs) {
        const cb = h('input', { type: 'checkbox', name: q.id, id: uid('q') });
        answers[q.id] = cb;
        g.append(h('div', { class: 'opt q' }, cb,
          h('label', { for: cb.id }, questionText(t, q), ' ', h('span', { class: 'small muted' }, `(${q.article})`))));
      }
      qset.append(g);
    }
    const disabled = h('input', { type: 'checkbox', name: 'disabled', id: uid('dis') });
    const live = h('section', { class: 'card uc-class', 'aria-labelledby': 'uc-class-h' },
      h('h3', { id: 'uc-class-h' }, t('usecases.liveClass')));
    const liveOut = h('div', { role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    live.append(liveOut);
    const out = h('p', { class: 'status', role: 'status' });
    form.append(basics, lists, qset);
    if (slug) form.append(h('div', { class: 'opt' }, disabled, h('label', { for: disabled.id }, t('usecases.disableLabel'))));
    form.append(live,
      h('p', { class: 'small muted' }, t('usecases.audited')),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' },
        t(slug ? 'usecases.save' : 'usecases.create'))),
      out);
    main.append(form);

    // fill from the stored use case
    if (u) {
      for (const k of ['slug', 'name', 'purpose', 'owner', 'known_limits']) inputs[k].value = u[k] || '';
      for (const k of LISTS) inputs[k].value = (u[k] || []).join('\n');
      for (const [id, cb] of Object.entries(answers)) cb.checked = !!(u.answers && u.answers[id] === true);
      disabled.checked = !!u.disabled;
    }

    const collectAnswers = () => {
      const a = {};
      for (const [id, cb] of Object.entries(answers)) if (cb.checked) a[id] = true;
      return a;
    };
    const policy = u && u.policy && typeof u.policy === 'object' ? u.policy : undefined;
    let asked = 0;
    const classify = async () => {
      const mine = ++asked;
      try {
        const c = await app.api('POST', '/api/usecases?classify=true', { answers: collectAnswers(), policy });
        if (mine !== asked) return;
        liveOut.replaceChildren(...[
          h('p', null, t('usecases.classIs'), ' ', riskBadge(app, c.risk_class)),
          c.effective_policy && c.effective_policy.approval_required
            ? h('p', null, t(c.hr ? 'usecases.approvalHr' : 'usecases.approvalNeeded')) : null,
          c.risk_class === 'prohibited' ? h('p', { class: 'error' }, t('usecases.prohibitedNote')) : null,
          h('p', { class: 'small' }, t('usecases.reasons')), reasonsList(c.reasons)].filter(Boolean));
      } catch (e) {
        if (mine !== asked) return;
        liveOut.replaceChildren(h('p', { class: 'error' }, errorDetail(app, e)));
      }
    };
    qset.addEventListener('change', classify);
    await classify();

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const bad = [];
      if (!slug && !/^[a-z0-9-]{1,63}$/.test(slugIn.value.trim())) bad.push(slugIn);
      if (!purpose.value.trim()) bad.push(purpose);
      for (const el of [slugIn, purpose]) el.toggleAttribute('aria-invalid', bad.includes(el));
      if (bad.length) {
        out.className = 'error';
        out.textContent = t(bad[0] === slugIn ? 'usecases.needSlug' : 'usecases.needPurpose');
        bad[0].focus();
        return;
      }
      const doc = {
        name: inputs.name.value.trim(),
        purpose: purpose.value.trim(),
        owner: inputs.owner.value.trim(),
        known_limits: inputs.known_limits.value.trim(),
        answers: {},
      };
      for (const k of LISTS) doc[k] = inputs[k].value.split('\n').map((s) => s.trim()).filter(Boolean);
      for (const [id, cb] of Object.entries(answers)) doc.answers[id] = cb.checked;
      if (slug) doc.disabled = disabled.checked;
      else doc.slug = slugIn.value.trim();
      out.className = 'status';
      out.textContent = t('usecases.saving');
      try {
        const saved = slug
          ? await app.api('PUT', `/api/usecases/${encodeURIComponent(slug)}`, doc)
          : await app.api('POST', '/api/usecases', doc);
        const msg = t('usecases.saved', { name: saved.name || saved.slug, cls: t(`risk.${saved.risk_class}`) });
        flash = msg;
        app.announce(msg);
        location.hash = `#/usecases/${encodeURIComponent(saved.slug)}`;
      } catch (e) {
        out.className = 'error';
        out.setAttribute('role', 'alert');
        out.textContent = errorDetail(app, e);
      }
    });
  },
};
