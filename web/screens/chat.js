// screens/chat.js - Chat: conversation list (left), messages (centre),
// sources (right; below on a phone). Two modes:
//  - chat: POST /v1/chat/completions with stream: true, read as SSE over
//    fetch; Stop aborts the request (the server stops generating when the
//    connection closes);
//  - knowledge ("Wissen"): POST /api/ask over the chosen collections:
//    the answer with numbered sources, its confidence in words and the
//    passage of a source on click.
// Every answer says "KI-generiert" (EU AI Act Art. 50) and under which use
// case it ran. An answer held for a human (202) shows as held and is
// polled at GET /api/approvals/{id} until released or rejected.
//
// SEAM (s13-conv): conversations are kept in the browser (localStorage,
// per user) by `localConversations` below. A server-side store only has
// to provide the same four async functions (list, get, save, remove) over
// /api/conversations and be assigned to `conversations`.
import { h, heading, statusLine } from '../dom.js';

const POLL_MS = 2500;

function localConversations(user) {
  const key = `hoheit.conversations.${user}`;
  const read = () => { try { return JSON.parse(localStorage.getItem(key)) || []; } catch { return []; } };
  const write = (list) => localStorage.setItem(key, JSON.stringify(list.slice(0, 100)));
  return {
    async list() { return read().map(({ id, title, updated }) => ({ id, title, updated })); },
    async get(id) { return read().find((c) => c.id === id) || null; },
    async save(conv) {
      const list = read().filter((c) => c.id !== conv.id);
      conv.updated = Date.now();
      list.unshift(conv);
      write(list);
      return conv;
    },
    async remove(id) { write(read().filter((c) => c.id !== id)); },
  };
}

export let conversations = null;   // set per user in render(); s13-conv swaps in the server's

/* Reads an SSE stream from a fetch Response: calls onEvent(obj) for each
 * `data:` JSON line, stops at [DONE]. */
async function readSSE(resp, onEvent) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of block.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const payload = line.slice(5).trim();
        if (payload === '[DONE]') return;
        try { onEvent(JSON.parse(payload)); } catch { /* a broken line is skipped */ }
      }
    }
  }
}

function confidenceWord(t, g) {
  if (g.abstained) return { key: 'notfound', text: t('chat.conf.notfound') };
  if (g.unsure) return { key: 'unsure', text: t('chat.conf.unsure') };
  return { key: 'sure', text: t('chat.conf.sure') };
}

/* The content words of a text (for marking a passage's cited words). */
function words(text) {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]{4,}/gu) || []));
}

export default {
  id: 'chat',
  nav: 'nav.chat',
  roles: null,

  leave() {
    if (this.state) {
      if (this.state.abort) this.state.abort.abort();
      for (const tm of this.state.timers) clearTimeout(tm);
      this.state = null;
    }
  },

  async render(main, app) {
    const t = app.t;
    conversations = conversations && conversations.user === app.user.user
      ? conversations : Object.assign(localConversations(app.user.user), { user: app.user.user });
    const st = { abort: null, timers: [], conv: null, mode: localStorage.getItem('hoheit.chat.mode') || 'chat' };
    this.state = st;

    // --- controls
    const modelSel = h('select', { id: 'chat-model' });
    const ucSel = h('select', { id: 'chat-usecase' }, h('option', { value: '' }, t('chat.usecaseDefault')));
    const modeChat = h('input', { type: 'radio', name: 'chat-mode', id: 'mode-chat', value: 'chat' });
    const modeKb = h('input', { type: 'radio', name: 'chat-mode', id: 'mode-kb', value: 'knowledge' });
    const collBox = h('fieldset', { class: 'collections', id: 'chat-collections' },
      h('legend', {}, t('chat.collections')));
    const modeSet = h('fieldset', { class: 'modes' }, h('legend', {}, t('chat.mode')),
      h('span', { class: 'opt' }, modeChat, h('label', { for: 'mode-chat' }, t('chat.modeChat'))),
      h('span', { class: 'opt' }, modeKb, h('label', { for: 'mode-kb' }, t('chat.modeKnowledge'))));
    const controls = h('div', { class: 'controls' },
      modeSet,
      h('div', { class: 'field' }, h('label', { for: 'chat-model' }, t('chat.model')), modelSel),
      h('div', { class: 'field' }, h('label', { for: 'chat-usecase' }, t('chat.usecase')), ucSel),
      collBox);

    // --- messages + composer
    const log = h('ol', { class: 'messages', id: 'messages', 'aria-label': t('chat.messages') });
    const state = h('div', { class: 'chat-state', id: 'chat-state', role: 'status' });
    const input = h('textarea', { id: 'chat-input', rows: '3', placeholder: t('chat.placeholder') });
    const send = h('button', { type: 'submit', class: 'primary', id: 'chat-send' }, t('chat.send'));
    const stop = h('button', { type: 'button', id: 'chat-stop', disabled: true }, t('chat.stop'));
    const form = h('form', { class: 'composer' },
      h('label', { for: 'chat-input', class: 'vh' }, t('chat.question')), input,
      h('div', { class: 'actions' }, send, stop));

    // --- conversations + sources
    const convList = h('ul', { class: 'convs', id: 'conv-list' });
    const newBtn = h('button', { type: 'button', id: 'conv-new' }, t('chat.new'));
    const convNav = h('nav', { class: 'conv-pane', 'aria-label': t('chat.conversations') },
      h('h2', {}, t('chat.conversations')), newBtn, convList,
      h('p', { class: 'muted small' }, t('chat.localNote')));
    const sources = h('aside', { class: 'source-pane', id: 'source-pane', 'aria-label': t('chat.sourceTitle') },
      h('h2', {}, t('chat.sourceTitle')), h('p', { class: 'muted', id: 'source-body' }, t('chat.sourceNone')));

    const centre = h('section', { class: 'chat-main', 'aria-labelledby': 'chat-h' },
      Object.assign(heading(t('chat.title')), { id: 'chat-h' }), controls, log, state, form);
    main.append(h('div', { class: 'chat-layout' }, convNav, centre, sources));

    const setMode = (m) => {
      st.mode = m;
      localStorage.setItem('hoheit.chat.mode', m);
      modeChat.checked = m === 'chat';
      modeKb.checked = m === 'knowledge';
      collBox.hidden = m !== 'knowledge';
      const noModel = modelSel.querySelector('option[value=""]');
      if (noModel) noModel.hidden = m !== 'knowledge';
      if (m !== 'knowledge' && !modelSel.value && modelSel.options.length > 1) modelSel.selectedIndex = 1;
      send.textContent = t(m === 'knowledge' ? 'chat.ask' : 'chat.send');
    };
    modeChat.addEventListener('change', () => setMode('chat'));
    modeKb.addEventListener('change', () => setMode('knowledge'));

    // --- data: models, use cases, collections
    modelSel.append(h('option', { value: '' }, t('chat.noModel')));
    try {
      const models = await app.api('GET', '/v1/models');
      for (const m of models.data || []) modelSel.append(h('option', { value: m.id }, m.id));
    } catch (e) { state.replaceChildren(statusLine(app.errorText(e), 'error')); }
    const savedModel = localStorage.getItem('hoheit.chat.model');
    if (savedModel !== null && [...modelSel.options].some((o) => o.value === savedModel)) modelSel.value = savedModel;
    else if (modelSel.options.length > 1) modelSel.selectedIndex = 1;
    modelSel.addEventListener('change', () => localStorage.setItem('hoheit.chat.model', modelSel.value));
    try {
      const ucs = await app.api('GET', '/api/usecases');
      for (const u of ucs.data || []) {
        if (u.risk_class === 'prohibited' || u.disabled === true || u.status === 'disabled') continue;
        ucSel.append(h('option', { value: u.slug }, `${u.name || u.slug} (${t(`risk.${u.risk_class}`)})`));
      }
    } catch { /* no register access: the default use case applies */ }
    const collections = await app.readableCollections().catch(() => []);
    if (!collections.length) collBox.append(h('p', { class: 'muted small' }, t('chat.noCollections')));
    for (const c of collections) {
      const id = `coll-${c.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      collBox.append(h('span', { class: 'opt' },
        h('input', { type: 'checkbox', id, value: c.name, checked: true }), h('label', { for: id }, c.name)));
    }
    if (modelSel.options.length < 2) {   // no generative model: knowledge mode gives the extractive answer
      modeChat.disabled = true;
      st.mode = 'knowledge';
    }
    setMode(st.mode);

    // --- rendering of messages
    const showSource = (src, cited) => {
      const body = h('div', { id: 'source-body', class: 'source' });
      const where = [src.heading_path, src.page ? t('chat.page', { page: src.page }) : ''].filter(Boolean).join(' · ');
      body.append(h('h3', {}, `[${src.n}] ${src.title || ''}`), where ? h('p', { class: 'muted' }, where) : '');
      const q = h('blockquote', { class: 'passage' });
      const cw = words(cited || '');
      for (const part of String(src.quote || '').split(/([\p{L}\p{N}]+)/u)) {
        q.append(part.length >= 4 && cw.has(part.toLowerCase()) ? h('mark', {}, part) : part);
      }
      body.append(q);
      if (src.document_id && app.documentUrl) {
        body.append(h('p', {}, h('a', { href: app.documentUrl(src.document_id), target: '_blank',
          rel: 'noopener' }, t('chat.original'))));
      }
      sources.querySelector('#source-body').replaceWith(body);
      sources.classList.add('open');
      const h2 = sources.querySelector('h2');
      h2.tabIndex = -1;
      h2.focus();
    };

    const answerBody = (text, g) => {
      const p = h('div', { class: 'answer-text' });
      const srcs = (g && g.sources) || [];
      const byN = new Map(srcs.map((s) => [s.n, s]));
      // sentences keep their markers, so a click can mark the cited words
      // a marker after a sentence's end belongs to that sentence
      for (const sentence of String(text).split(/(?<=[.!?\]])\s+(?!\[)/)) {
        const span = h('span', {});
        for (const part of sentence.split(/(\[\d+(?:\s*,\s*\d+)*\])/)) {
          const m = part.match(/^\[(\d+(?:\s*,\s*\d+)*)\]$/);
          if (!m || !srcs.length) { span.append(part); continue; }
          for (const n of m[1].split(',').map((x) => Number(x.trim()))) {
            const src = byN.get(n);
            if (!src) continue;
            span.append(h('button', { type: 'button', class: 'cite', 'aria-label': t('chat.sourceN', { n }),
              onclick: () => showSource(src, sentence) }, `[${n}]`));
          }
        }
        p.append(span, ' ');
      }
      return p;
    };

    const metaLine = (meta) => {
      const bits = [h('span', { class: 'badge ai' }, t('chat.aiGenerated'))];
      if (meta.model) bits.push(h('span', { class: 'muted' }, t('chat.byModel', { model: meta.model })));
      bits.push(h('span', { class: 'muted' }, t('chat.underUsecase', { uc: meta.use_case || t('chat.usecaseDefault') })));
      if (meta.collections && meta.collections.length) {
        bits.push(h('span', { class: 'muted' }, t('chat.searched', { list: meta.collections.join(', ') })));
      }
      return h('p', { class: 'meta' }, bits);
    };

    // "Title › Heading › Sub" (the heading path often starts with the title already)
    const where = (s) => {
      const title = s.title || '';
      const hp = s.heading_path || '';
      if (!hp) return title;
      return hp.startsWith(title) ? hp : `${title} › ${hp}`;
    };

    const renderGrounding = (li, text, g, meta) => {
      const conf = confidenceWord(t, g);
      const confEl = h('span', { class: `conf conf-${conf.key}`, title: t('chat.confNumber',
        { c: typeof g.confidence === 'number' ? g.confidence.toFixed(2) : '–' }), tabindex: '0' }, conf.text);
      li.append(h('p', { class: 'conf-line' }, t('chat.confidence'), ' ', confEl),
        answerBody(text, g));
      const srcs = g.sources || [];
      if (srcs.length) {
        li.append(h('h3', { class: 'small' }, t('chat.sources')), h('ul', { class: 'sources' },
          srcs.map((s) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => showSource(s, '') },
            `[${s.n}] ${where(s)}${s.page ? `, ${t('chat.page', { page: s.page })}` : ''}`)))));
      }
      li.append(metaLine(meta));
    };

    const msgEl = (m) => {
      const li = h('li', { class: `msg ${m.role}` });
      li.append(h('p', { class: 'who small' }, t(m.role === 'user' ? 'chat.you' : 'chat.assistant')));
      if (m.role === 'user') li.append(h('div', { class: 'user-text' }, m.content));
      else if (m.pending) { /* filled by the request under way */ }
      else if (m.held) renderHeld(li, m);
      else if (m.error) li.append(statusLine(m.error, 'error'));
      else if (m.grounding) renderGrounding(li, m.content, m.grounding, m.meta || {});
      else li.append(h('div', { class: 'answer-text' }, m.content), metaLine(m.meta || {}));
      return li;
    };

    const renderHeld = (li, m) => {
      const since = new Date(m.held.since).toLocaleTimeString(app.lang);
      li.append(h('p', { class: 'held' }, h('span', { class: 'badge held' }, t('chat.held')), ' ',
        t('chat.heldText', { id: m.held.id, since })), metaLine(m.meta || {}));
    };

    const redraw = () => {
      log.replaceChildren(...(st.conv ? st.conv.messages.map(msgEl) : []));
      log.lastElementChild && log.lastElementChild.scrollIntoView({ block: 'end' });
    };

    const refreshConvs = async () => {
      const list = await conversations.list();
      convList.replaceChildren(...list.map((c) => h('li', {},
        h('button', { type: 'button', class: `link${st.conv && st.conv.id === c.id ? ' current' : ''}`,
          'aria-current': st.conv && st.conv.id === c.id ? 'true' : false,
          onclick: async () => {
            st.conv = await conversations.get(c.id);
            for (const m of st.conv ? st.conv.messages : []) if (m.held) poll(st.conv, m);
            redraw();
            refreshConvs();
          } }, c.title),
        h('button', { type: 'button', class: 'ghost small', 'aria-label': t('chat.deleteConv', { title: c.title }),
          onclick: async () => {
            await conversations.remove(c.id);
            if (st.conv && st.conv.id === c.id) { st.conv = null; redraw(); }
            refreshConvs();
          } }, '×'))));
      if (!list.length) convList.append(h('li', { class: 'muted small' }, t('chat.noConvs')));
    };
    newBtn.addEventListener('click', () => { st.conv = null; redraw(); refreshConvs(); input.focus(); });

    const busy = (on, text) => {
      send.disabled = on;
      stop.disabled = !on;
      state.replaceChildren(text ? statusLine(text) : '');
    };

    // --- held answers: poll until decided
    const poll = (conv, m) => {
      if (this.state !== st) return;
      st.timers.push(setTimeout(async () => {
        if (this.state !== st) return;
        try {
          const a = await app.api('GET', `/api/approvals/${m.held.id}`);
          if (a.status === 'pending') { poll(conv, m); return; }
          if (a.status === 'rejected') {
            m.error = t('chat.rejected', { reason: a.reason || '' });
          } else {
            m.content = a.text || '';
            if (a.grounding) m.grounding = a.grounding;
            m.meta.released = a.status;
          }
          delete m.held;
          await conversations.save(conv);
          if (st.conv && st.conv.id === conv.id) redraw();
          app.announce(a.status === 'rejected' ? t('chat.rejectedShort') : t('chat.released'));
        } catch (e) {
          if (e.status && e.status !== 429) { m.error = app.errorText(e); delete m.held; redraw(); return; }
          poll(conv, m);
        }
      }, POLL_MS));
    };

    const chosenCollections = () => [...collBox.querySelectorAll('input:checked')].map((i) => i.value);

    const ask = async (question) => {
      if (!st.conv) {
        st.conv = { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
          title: question.slice(0, 60), messages: [] };
      }
      const conv = st.conv;
      conv.messages.push({ role: 'user', content: question });
      const meta = { model: modelSel.value || '', use_case: ucSel.value || '' };
      const m = { role: 'assistant', content: '', meta, pending: true };
      conv.messages.push(m);
      redraw();
      const li = log.lastElementChild;
      st.abort = new AbortController();
      try {
        if (st.mode === 'knowledge') {
          busy(true, t('chat.searching'));
          meta.collections = chosenCollections();
          const body = { question };
          if (meta.collections.length) body.collections = meta.collections;
          if (meta.model) body.model = meta.model;
          if (meta.use_case) body.use_case = meta.use_case;
          const r = await app.request('POST', '/api/ask', body, { signal: st.abort.signal });
          if (r.status === 202) {
            m.held = { id: r.data.hoheit.approval.id, since: Date.now() };
            poll(conv, m);
          } else if (!r.ok) {
            const e = r.data && r.data.error ? r.data.error : {};
            m.error = app.errorText(new app.ApiError(r.status, e.code, e.message));
          } else {
            m.content = r.data.answer || '';
            m.grounding = r.data;
            if (r.data.hoheit && r.data.hoheit.use_case) meta.use_case = r.data.hoheit.use_case;
          }
        } else {
          busy(true, t('chat.streaming'));
          const messages = conv.messages.slice(0, -1)
            .filter((x) => !x.held && !x.error && x.content)
            .map((x) => ({ role: x.role, content: x.content }));
          const body = { model: meta.model, messages, stream: true };
          if (meta.use_case) body.hoheit = { use_case: meta.use_case };
          const resp = await fetch('/v1/chat/completions', {
            method: 'POST', credentials: 'same-origin', signal: st.abort.signal,
            headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'X-CSRF-Token': app.csrf },
            body: JSON.stringify(body),
          });
          if (resp.status === 202) {
            const d = await resp.json();
            m.held = { id: d.hoheit.approval.id, since: Date.now() };
            if (d.hoheit.use_case) meta.use_case = d.hoheit.use_case;
            poll(conv, m);
          } else if (!resp.ok) {
            let d = null;
            try { d = await resp.json(); } catch { /* not JSON */ }
            const e = d && d.error ? d.error : {};
            m.error = app.errorText(new app.ApiError(resp.status, e.code, e.message));
          } else {
            const textEl = h('div', { class: 'answer-text streaming', 'aria-busy': 'true' });
            li.append(textEl);
            await readSSE(resp, (ev) => {
              const d = ev.choices && ev.choices[0] && ev.choices[0].delta;
              if (d && d.content) { m.content += d.content; textEl.textContent = m.content; }
              if (ev.hoheit) {
                if (ev.hoheit.use_case) meta.use_case = ev.hoheit.use_case;
                if (ev.hoheit.sources) m.grounding = ev.hoheit;
              }
            });
          }
        }
        busy(false, '');
      } catch (e) {
        if (e.name === 'AbortError') {
          m.stopped = true;
          m.content += m.content ? ' …' : '';
          if (!m.content) m.error = t('chat.stoppedEmpty');
          busy(false, t('chat.stopped'));
        } else {
          m.error = app.errorText(e);
          busy(false, '');
        }
      }
      st.abort = null;
      delete m.pending;
      if (this.state !== st) return;
      await conversations.save(conv);
      redraw();
      refreshConvs();
      app.announce(m.error || t('chat.answered'));
    };

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = input.value.trim();
      if (!q || st.abort) return;
      input.value = '';
      ask(q);
    });
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
    });
    stop.addEventListener('click', () => { if (st.abort) st.abort.abort(); });

    await refreshConvs();
    redraw();
  },
};
