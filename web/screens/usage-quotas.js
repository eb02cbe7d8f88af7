// screens/usage-quotas.js - the quota part of Nutzung & Kontingente (not a
// screen of its own; usage.js mounts it for admins and auditors). Lists
// every quota with today's and this month's tokens next to its limits
// (GET /api/admin/quotas); admins add one for a user or a department chosen
// from a list (GET /api/admin/users, /api/admin/departments), edit one
// (PUT /api/admin/quotas/users|departments/{name}: the form is the whole
// quota, an empty field is "no limit") and remove one (DELETE, asks once
// naming the limits that go). The form checks each limit before sending (a
// whole number from 1, or empty) and shows the server's refusal otherwise.
// Strings: usage.quota.* in web/i18n/usage.{de,en}.json.
import { h, statusLine } from '../dom.js';
import { fmtNum, tableBox, table, field, uid } from './kit.js';
import { auditNote, doneLine, errLine, confirmOnce, seg } from './admin-kit.js';

const LIMITS = ['tokens_per_day', 'tokens_per_month', 'requests_per_minute', 'concurrent'];
const MAX = 1e15;   /* HH_QUOTA_MAX of the server */

/* A limit typed by a person: "20000", "20.000", "20,000", "20 000" -> 20000;
 * "" -> null (no limit); anything else (0, 1.5, -3, words) -> NaN. */
export function parseLimit(text) {
  const v = String(text || '').trim();
  if (!v) return null;
  const grouped = /^\d{1,3}([.,\u00a0\u202f' ]\d{3})+$/.test(v);
  if (!grouped && !/^\d+$/.test(v)) return NaN;
  const n = Number(v.replace(/\D/g, ''));
  return n >= 1 && n <= MAX ? n : NaN;
}

function limitText(app, v) {
  return v === null || v === undefined ? app.t('usage.quota.unlimited') : fmtNum(app, v);
}

/* A token limit with what was used of it: "20.000 (heute 412)". */
function tokenCell(app, limit, used, key) {
  if (limit === null || limit === undefined) return limitText(app, limit);
  const over = used !== null && used !== undefined && used >= limit;
  return h('span', null, fmtNum(app, limit), ' ',
    h('span', { class: 'small muted' }, app.t(key, { n: used === null || used === undefined ? '–' : fmtNum(app, used) })),
    over ? h('span', { class: 'small warn-text' }, ` ${app.t('usage.quota.reached')}`) : null);
}

function subjectText(app, q) {
  return app.t(`usage.quota.scope.${q.scope}`, { name: q.name });
}

/* Mounts the quota section into box (emptied); message: a line to show on top. */
export async function quotaPanel(box, app, message) {
  const { t } = app;
  const isAdmin = app.user.role === 'admin';
  const msg = h('div', { class: 'msg-area' });
  if (message) msg.append(message);
  box.replaceChildren(h('h2', { id: 'uq-h' }, t('usage.quota.title')),
    h('p', { class: 'muted' }, t(isAdmin ? 'usage.quota.intro' : 'usage.quota.introReadOnly')), msg);
  let quotas;
  let users = [];
  let depts = [];
  try {
    const r = await app.api('GET', '/api/admin/quotas');
    quotas = r.data || [];
    if (isAdmin) {
      [users, depts] = await Promise.all([app.api('GET', '/api/admin/users'), app.api('GET', '/api/admin/departments')]
        .map((p) => p.then((x) => (x.data || []).map((o) => o.name))));
    }
  } catch (e) {
    box.append(errLine(app, e));
    return;
  }
  const again = async (line) => {
    await quotaPanel(box, app, line);
    const p = box.querySelector('.msg-area p');
    if (p) p.focus();
  };
  const work = h('div');
  const rows = quotas.map((q) => [
    subjectText(app, q),
    tokenCell(app, q.tokens_per_day, q.usage && q.usage.tokens_today, 'usage.quota.today'),
    tokenCell(app, q.tokens_per_month, q.usage && q.usage.tokens_this_month, 'usage.quota.thisMonth'),
    limitText(app, q.requests_per_minute),
    limitText(app, q.concurrent),
    isAdmin ? h('span', { class: 'row-actions' },
      h('button', { type: 'button', 'aria-label': t('usage.quota.editOf', { who: subjectText(app, q) }),
        onclick: () => form(q) }, t('usage.quota.edit')),
      h('button', { type: 'button', class: 'danger', 'aria-label': t('usage.quota.removeOf', { who: subjectText(app, q) }),
        onclick: () => remove(q) }, t('usage.quota.remove'))) : '']);
  const cap = t('usage.quota.caption', { n: quotas.length });
  box.append(quotas.length
    ? tableBox(cap, table(cap, [t('usage.quota.col.who'), t('usage.quota.col.tokens_per_day'),
      t('usage.quota.col.tokens_per_month'), t('usage.quota.col.requests_per_minute'),
      t('usage.quota.col.concurrent'), isAdmin ? t('usage.quota.col.actions') : ''], rows))
    : h('p', { class: 'muted' }, t('usage.quota.empty')));
  if (!isAdmin) return;
  box.append(work);

  /* The add form (q undefined) or the edit form of quota q. */
  function form(q) {
    const editing = Boolean(q);
    const hid = uid('uq-form');
    const scopeName = uid('uq-scope');
    const radios = ['user', 'department'].map((s) => h('input', { type: 'radio', name: scopeName, value: s,
      id: `${scopeName}-${s}`, checked: (editing ? q.scope : 'user') === s, disabled: editing }));
    const who = h('select', { name: 'who', required: true, disabled: editing });
    const fillWho = () => {
      const scope = radios.find((r) => r.checked).value;
      const names = editing ? [q.name] : scope === 'user' ? users : depts;
      who.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    };
    fillWho();
    radios.forEach((r) => r.addEventListener('change', fillWho));
    const inputs = LIMITS.map((k) => h('input', { type: 'text', inputmode: 'numeric', name: k, autocomplete: 'off',
      value: editing && q[k] !== null && q[k] !== undefined ? String(q[k]) : '' }));
    const out = h('div');
    const f = h('form', { class: 'card', 'aria-labelledby': hid, novalidate: true },
      h('h3', { id: hid, tabindex: '-1' }, editing ? t('usage.quota.editTitle', { who: subjectText(app, q) })
        : t('usage.quota.addTitle')),
      h('fieldset', null, h('legend', null, t('usage.quota.forLabel')),
        h('div', { class: 'row' }, radios.map((r) => h('label', { for: r.id }, r, ' ', t(`usage.quota.kind.${r.value}`))))),
      field(t('usage.quota.whoLabel'), who),
      h('div', { class: 'row' }, inputs.map((inp, i) => field(t(`usage.quota.col.${LIMITS[i]}`), inp,
        t('usage.quota.hint')))),
      h('div', { class: 'actions row' },
        h('button', { type: 'submit', class: 'primary' }, t('usage.quota.save')),
        h('button', { type: 'button', onclick: () => work.replaceChildren(addButton()) }, t('admin.cancel'))),
      out, auditNote(app));
    work.replaceChildren(f);
    (editing ? inputs[0] : radios[0]).focus();
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      let bad = null;
      inputs.forEach((inp, i) => {
        const v = parseLimit(inp.value);
        if (Number.isNaN(v)) {
          inp.setAttribute('aria-invalid', 'true');
          if (!bad) bad = { inp, key: LIMITS[i] };
        } else {
          inp.removeAttribute('aria-invalid');
        }
        body[LIMITS[i]] = Number.isNaN(v) ? null : v;
      });
      if (bad) {
        out.replaceChildren(statusLine(t('usage.quota.badLimit', { field: t(`usage.quota.col.${bad.key}`) }), 'error'));
        bad.inp.focus();
        return;
      }
      if (LIMITS.every((k) => body[k] === null)) {
        inputs.forEach((inp) => inp.setAttribute('aria-invalid', 'true'));
        out.replaceChildren(statusLine(t('usage.quota.noLimit'), 'error'));
        inputs[0].focus();
        return;
      }
      if (!who.value) {
        who.setAttribute('aria-invalid', 'true');
        out.replaceChildren(statusLine(t('usage.quota.noSubject'), 'error'));
        who.focus();
        return;
      }
      const scope = radios.find((r) => r.checked).value;
      try {
        const r = await app.api('PUT', `/api/admin/quotas/${scope === 'user' ? 'users' : 'departments'}/${seg(who.value)}`,
          body);
        const text = t(r.created ? 'usage.quota.created' : 'usage.quota.saved', { who: subjectText(app, r) });
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
  }

  async function remove(q) {
    const goes = LIMITS.filter((k) => q[k] !== null && q[k] !== undefined)
      .map((k) => `${t(`usage.quota.col.${k}`)}: ${fmtNum(app, q[k])}`).join(', ');
    const ok = await confirmOnce(app, work, t('usage.quota.removeTitle', { who: subjectText(app, q) }), [
      t('usage.quota.removeGoes', { list: goes }),
      t(q.scope === 'user' ? 'usage.quota.removeAfterUser' : 'usage.quota.removeAfterDept'),
      t('admin.audited')], t('usage.quota.removeYes'));
    if (!ok) {
      work.replaceChildren(addButton());
      return;
    }
    try {
      await app.api('DELETE', `/api/admin/quotas/${q.scope === 'user' ? 'users' : 'departments'}/${seg(q.name)}`);
      const text = t('usage.quota.removed', { who: subjectText(app, q) });
      app.announce(text);
      await again(doneLine(app, text));
    } catch (e) {
      work.replaceChildren(errLine(app, e), addButton());
    }
  }

  function addButton() {
    return h('button', { type: 'button', class: 'primary', onclick: () => form() }, t('usage.quota.add'));
  }
  work.replaceChildren(addButton());
}
