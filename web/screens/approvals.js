// screens/approvals.js - Freigaben (EU AI Act Art. 14): the inbox of held
// answers this user may decide (GET /api/approvals: approvers see their
// departments' use cases, admins and auditors all), the history
// (?status=all), and one approval (#/approvals/ID): the request, the held
// draft with its sources and confidence (grounded answers carry
// request.grounding), and the decision: approve, approve an edited text,
// reject with a reason (POST /api/approvals/{id}/approve|edit|reject).
// Auditors read but never decide. A refusal (four-eyes: nobody decides
// their own request; another department's approval; already decided) is
// shown as text.
import { h, heading, statusLine } from '../dom.js';
import { fmtTime, tableBox, table, errorDetail, facts, field, uid } from './kit.js';

function mayDecide(app) {
  return app.user.role === 'approver' || app.user.role === 'admin';
}

/* The request as the approver needs to read it: chat messages, a
 * completion prompt or a knowledge question. */
function requestView(t, req) {
  const box = h('div', { class: 'ap-request' });
  if (!req || typeof req !== 'object') return box;
  if (Array.isArray(req.messages)) {
    const ol = h('ol', { class: 'messages' });
    for (const m of req.messages) {
      let text = m.content;
      if (Array.isArray(text)) text = text.map((p) => (p && p.text) || '').join('\n');
      ol.append(h('li', { class: `msg ${m.role === 'user' ? 'user' : ''}` },
        h('p', { class: 'who small' }, t(`approvals.role.${m.role}`) === `approvals.role.${m.role}` ? m.role : t(`approvals.role.${m.role}`)),
        h('p', { class: 'user-text' }, typeof text === 'string' ? text : JSON.stringify(text))));
    }
    box.append(ol);
  }
  if (typeof req.question === 'string') box.append(h('p', { class: 'user-text' }, req.question));
  if (req.prompt !== undefined) {
    const p = Array.isArray(req.prompt) ? req.prompt.join('\n') : String(req.prompt);
    box.append(h('p', { class: 'user-text' }, p));
  }
  const meta = [];
  if (req.model) meta.push(t('approvals.model', { model: req.model }));
  if (Array.isArray(req.collections) && req.collections.length) {
    meta.push(t('approvals.collections', { list: req.collections.join(', ') }));
  }
  if (meta.length) box.append(h('p', { class: 'meta' }, meta.map((m) => h('span', null, m))));
  return box;
}

function confidence(t, g) {
  if (g.abstained) return { key: 'notfound', text: t('approvals.conf.notfound') };
  if (g.unsure) return { key: 'unsure', text: t('approvals.conf.unsure') };
  return { key: 'sure', text: t('approvals.conf.sure') };
}

/* The sources a grounded draft rests on, numbered as cited. */
function groundingView(t, g) {
  if (!g || typeof g !== 'object') return null;
  const c = confidence(t, g);
  const num = typeof g.confidence === 'number' ? g.confidence.toFixed(2) : '–';
  const sec = h('section', { class: 'ap-sources', 'aria-labelledby': uid('src') });
  const hid = sec.getAttribute('aria-labelledby');
  sec.append(h('h3', { id: hid }, t('approvals.sources')),
    h('p', null, t('approvals.confidence'), ' ',
      h('span', { class: `conf conf-${c.key}`, title: t('approvals.confNumber', { c: num }) }, c.text),
      h('span', { class: 'small muted' }, ` (${t('approvals.confNumber', { c: num })})`)));
  if (g.extractive) sec.append(h('p', { class: 'small muted' }, t('approvals.extractive')));
  const sources = Array.isArray(g.sources) ? g.sources : [];
  if (!sources.length) {
    sec.append(h('p', { class: 'muted' }, t('approvals.noSources')));
    return sec;
  }
  const ol = h('ol', { class: 'sources' });
  for (const s of sources) {
    const title = s.title || t('approvals.untitled');
    const hp = s.heading_path || '';
    // the heading path often starts with the document's title already
    const head = (hp.startsWith(title) ? hp : [title, hp].filter(Boolean).join(' › ')) + (s.page ? `, ${t('approvals.page', { page: s.page })}` : '');
    ol.append(h('li', { value: s.n || undefined },
      h('p', { class: 'src-head' }, h('strong', null, head)),
      s.quote ? h('blockquote', { class: 'passage' }, s.quote) : null));
  }
  sec.append(ol);
  return sec;
}

function statusWord(t, s) {
  const k = `approvals.status.${s}`;
  const w = t(k);
  return w === k ? s : w;
}

export default {
  id: 'approvals',
  nav: 'nav.approvals',
  roles: ['approver', 'admin', 'auditor'],

  async render(main, app, arg) {
    const { t } = app;
    const id = /^\d+$/.test(arg || '') ? Number(arg) : null;
    main.append(heading(t('approvals.title')));
    if (id) return this.detail(main, app, id);
    return this.inbox(main, app, /(^|[?&])status=all/.test(arg || ''));
  },

  async inbox(main, app, history) {
    const { t } = app;
    const nav = h('p', { class: 'controls' },
      h('a', { href: '#/approvals', 'aria-current': history ? null : 'true' }, t('approvals.pending')),
      h('a', { href: '#/approvals/?status=all', 'aria-current': history ? 'true' : null }, t('approvals.history')),
      h('button', { type: 'button', class: 'ghost', onclick: () => app.navigate(history ? 'approvals/?status=all' : 'approvals') },
        t('approvals.refresh')));
    main.append(h('p', { class: 'muted' }, t(mayDecide(app) ? 'approvals.intro' : 'approvals.introReadOnly')), nav);
    const state = statusLine(t('approvals.loading'));
    main.append(state);
    let list;
    try {
      list = await app.api('GET', history ? '/api/approvals?status=all' : '/api/approvals');
    } catch (e) {
      state.replaceWith(statusLine(errorDetail(app, e), 'error'));
      return;
    }
    const data = (list && list.data) || [];
    if (history) data.sort((a, b) => b.id - a.id);
    const h2 = h('h2', null, t(history ? 'approvals.historyTitle' : 'approvals.pendingTitle', { n: data.length }));
    if (!data.length) {
      state.replaceWith(h2, h('p', { class: 'status', role: 'status' },
        t(history ? 'approvals.noneAtAll' : 'approvals.none')));
      return;
    }
    const rows = data.map((a) => [
      h('a', { href: `#/approvals/${a.id}`, 'aria-label': t('approvals.open', { id: a.id }) }, `#${a.id}`),
      a.use_case + (a.hr ? ` (${t('approvals.hr')})` : ''),
      a.requester,
      fmtTime(app, a.created_at),
      history ? statusWord(t, a.status) + (a.decided_by ? ` – ${a.decided_by}` : '') : t('approvals.status.pending'),
    ]);
    state.replaceWith(h2, tableBox(h2.textContent, table(h2.textContent,
      [t('approvals.col.id'), t('approvals.col.usecase'), t('approvals.col.requester'),
        t('approvals.col.since'), t('approvals.col.status')], rows)));
  },

  async detail(main, app, id) {
    const { t } = app;
    main.append(h('p', null, h('a', { href: '#/approvals' }, t('approvals.back'))));
    const state = statusLine(t('approvals.loading'));
    main.append(state);
    let a;
    try {
      a = await app.api('GET', `/api/approvals/${id}`);
    } catch (e) {
      state.replaceWith(statusLine(errorDetail(app, e), 'error'));
      return;
    }
    state.remove();
    const sec = h('section', { class: 'card', 'aria-labelledby': 'ap-h' });
    sec.append(h('h2', { id: 'ap-h', tabindex: '-1' }, t('approvals.detailTitle', { id: a.id })),
      facts([
        [t('approvals.col.status'), statusWord(t, a.status)],
        [t('approvals.col.usecase'), a.use_case],
        [t('approvals.col.requester'), a.requester],
        [t('approvals.col.since'), fmtTime(app, a.created_at)],
        [t('approvals.fourEyes'), a.hr ? t('approvals.fourEyesHr') : t('approvals.fourEyesStd')],
        a.decided_by ? [t('approvals.decidedBy'), `${a.decided_by}, ${fmtTime(app, a.decided_at)}`] : [null, null],
        a.reason ? [t('approvals.reason'), a.reason] : [null, null],
      ].filter((p) => p[0])));
    const req = a.request || {};
    sec.append(h('h3', null, t('approvals.request')), requestView(t, req));
    const draftId = uid('draft');
    sec.append(h('h3', { id: draftId }, t(a.status === 'pending' ? 'approvals.draft' : 'approvals.generated')),
      h('div', { class: 'answer-text passage', 'aria-labelledby': draftId, role: 'group' }, a.output || ''),
      h('p', { class: 'meta' }, h('span', { class: 'badge ai' }, t('approvals.aiGenerated'))));
    if (a.text !== undefined && a.status === 'edited') {
      sec.append(h('h3', null, t('approvals.released')), h('div', { class: 'answer-text passage' }, a.text));
    }
    const g = groundingView(t, req.grounding);
    if (g) sec.append(g);
    main.append(sec);
    if (a.status === 'pending' && mayDecide(app)) main.append(this.decideForm(app, a));
    else if (a.status === 'pending') main.append(h('p', { class: 'muted' }, t('approvals.readOnly')));
  },

  decideForm(app, a) {
    const { t } = app;
    const text = h('textarea', { rows: '8', name: 'text' });
    text.value = a.output || '';
    const reason = h('textarea', { rows: '3', name: 'reason' });
    const out = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const buttons = [];
    const form = h('form', { class: 'card ap-decide', 'aria-labelledby': 'ap-dec' },
      h('h2', { id: 'ap-dec' }, t('approvals.decide')),
      field(t('approvals.textLabel'), text, t('approvals.textHint')),
      field(t('approvals.reasonLabel'), reason, t('approvals.reasonHint')));
    const decide = async (action) => {
      const body = {};
      const r = reason.value.trim();
      if (r) body.reason = r;
      if (action === 'edit') {
        if (!text.value.trim()) {
          text.setAttribute('aria-invalid', 'true');
          out.className = 'error';
          out.textContent = t('approvals.needText');
          text.focus();
          return;
        }
        body.text = text.value;
      }
      if (action === 'approve' && text.value !== (a.output || '')) {
        text.setAttribute('aria-invalid', 'true');
        out.className = 'error';
        out.textContent = t('approvals.changedUseEdit');
        text.focus();
        return;
      }
      if (action === 'reject' && !r) {
        reason.setAttribute('aria-invalid', 'true');
        out.className = 'error';
        out.textContent = t('approvals.needReason');
        reason.focus();
        return;
      }
      reason.removeAttribute('aria-invalid');
      text.removeAttribute('aria-invalid');
      for (const b of buttons) b.disabled = true;
      out.className = 'status';
      out.textContent = t('approvals.sending');
      try {
        const d = await app.api('POST', `/api/approvals/${a.id}/${action}`, body);
        const msg = t(`approvals.done.${d.status}`, { id: a.id });
        app.announce(msg);
        const main = form.parentElement;
        main.replaceChildren(heading(t('approvals.title')));
        main.append(statusLine(msg));
        await this.detail(main, app, a.id);
        main.querySelector('h1').focus();
      } catch (e) {
        for (const b of buttons) b.disabled = false;
        out.className = 'error';
        out.setAttribute('role', 'alert');
        out.textContent = e.code === 'four_eyes' ? `${t('approvals.fourEyesRefused')} (${e.message})`
          : errorDetail(app, e);
      }
    };
    const mk = (action, cls) => {
      const b = h('button', { type: 'button', class: cls, onclick: () => decide(action) }, t(`approvals.do.${action}`));
      buttons.push(b);
      return b;
    };
    form.append(h('div', { class: 'actions row' }, mk('approve', 'primary'), mk('edit', ''), mk('reject', 'danger')),
      h('p', { class: 'small muted' }, t('approvals.audited')), out);
    form.addEventListener('submit', (ev) => ev.preventDefault());
    return form;
  },
};
