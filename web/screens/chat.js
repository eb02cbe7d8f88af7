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
// Conversations live on the server (/api/conversations, docs/SERVER.md
// "Conversations"): the list (newest first, paged, searched with ?q=),
// rename, delete, export; a new chat creates one and every question
// carries its id, so the server records the question and the answer (a
// stopped stream with its partial text; a held answer resolved by the
// server's GET once decided).
import { h, heading, statusLine } from '../dom.js';

const POLL_MS = 2500;
const PAGE = 50;

/* The server's conversations of the logged-in user. */
function serverConversations(app) {
  const path = (id) => `/api/conversations/${encodeURIComponent(id)}`;
  return {
    /* {data: [{id, title, updated_at, n_messages}], has_more, total} */
    async list(q, offset) {
      const qs = new URLSearchParams({ limit: String(PAGE), offset: String(offset || 0) });
      if (q) qs.set('q', q);
      return app.api('GET', `/api/conversations?${qs}`);
    },
    async get(id) { return app.api('GET', path(id)); },
    async create() { return app.api('POST', '/api/conversations', {}); },
    async rename(id, title) { return app.api('PATCH', path(id), { title }); },
    async remove(id) { return app.api('DELETE', path(id)); },
    exportUrl(id, format) { return `${path(id)}/export?format=${format}`; },
  };
}

/* A stored conversation as the screen shows it: its messages with
 * sources, confidence and the held / released / rejected state. */
function fromServer(c) {
  const meta = { model: c.model || '', use_case: c.use_case || '', collections: c.collections || [] };
  const messages = (c.messages || []).map((x) => {
    if (x.role === 'user') return { role: 'user', content: x.content || '' };
    const m = { role: 'assistant', content: x.content || '', meta: { ...meta } };
    const ap = x.approval;
    if (x.held || (ap && ap.status === 'pending')) {
      m.held = { id: ap ? ap.id : '', since: x.created_at || Date.now() };
    } else if (ap && ap.status === 'rejected') {
      m.rejected = true;
    } else if (x.grounding) {
      m.grounding = { ...x.grounding };
      if (typeof x.confidence === 'number' && typeof m.grounding.confidence !== 'number') {
        m.grounding.confidence = x.confidence;
      }
    }
    if (ap && (ap.status === 'approved' || ap.status === 'edited')) m.meta.released = ap.status;
    return m;
  });
  return { id: c.id, title: c.title || '', messages };
}

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
    const conversations = serverConversations(app);
    localStorage.removeItem(`hoheit.conversations.${app.user.user}`);   // chats an older UI kept in this browser
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
    const search = h('input', { type: 'search', id: 'conv-search', maxlength: '256' });
    const searchForm = h('form', { class: 'conv-search', role: 'search' },
      h('label', { for: 'conv-search' }, t('chat.search')), search);
    const more = h('button', { type: 'button', id: 'conv-more', hidden: true }, t('chat.more'));
    const convNav = h('nav', { class: 'conv-pane', 'aria-label': t('chat.conversations') },
      h('h2', {}, t('chat.conversations')), newBtn, searchForm, convList, more);
    // the open conversation's own actions: rename, delete (asks once), export
    const convBar = h('div', { class: 'conv-bar', id: 'conv-bar', hidden: true });
    const sources = h('aside', { class: 'source-pane', id: 'source-pane', 'aria-label': t('chat.sourceTitle') },
      h('h2', {}, t('chat.sourceTitle')), h('p', { class: 'muted', id: 'source-body' }, t('chat.sourceNone')));

    const centre = h('section', { class: 'chat-main', 'aria-labelledby': 'chat-h' },
      Object.assign(heading(t('chat.title')), { id: 'chat-h' }), convBar, controls, log, state, form);
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
    main.dataset.ready = 'true';   // every control is filled (the tests wait for this)

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
        body.append(h('p', {}, h('a', { href: app.documentUrl(src.document_id), download: '',
          id: 'source-original' }, t('chat.original'))));
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
      else if (m.rejected) li.append(statusLine(t('chat.rejectedShort'), 'error'));
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

    const convState = { q: '', offset: 0, items: [] };
    const openConv = async (id) => {
      try {
        st.conv = fromServer(await conversations.get(id));
      } catch (e) {
        state.replaceChildren(statusLine(app.errorText(e), 'error'));
        st.conv = null;
      }
      for (const m of st.conv ? st.conv.messages : []) if (m.held) poll(st.conv, m);
      redraw();
      drawList();
    };
    const drawList = () => {
      const cur = st.conv && st.conv.id;
      convList.replaceChildren(...convState.items.map((c) => h('li', {},
        h('button', { type: 'button', class: `link${cur === c.id ? ' current' : ''}`,
          'aria-current': cur === c.id ? 'true' : false,
          onclick: () => openConv(c.id) }, c.title || t('chat.untitled')))));
      if (!convState.items.length) {
        convList.append(h('li', { class: 'muted small' }, t(convState.q ? 'chat.noMatch' : 'chat.noConvs')));
      }
      drawBar();
    };
    const refreshConvs = async (append) => {
      if (!append) convState.offset = 0;
      try {
        const r = await conversations.list(convState.q, convState.offset);
        const items = (r.data || []).map((c) => ({ id: c.id, title: c.title }));
        convState.items = append ? convState.items.concat(items) : items;
        const cur = st.conv && items.find((c) => c.id === st.conv.id);
        if (cur) st.conv.title = cur.title;   // the server's title (its own cut of the question)
        more.hidden = !r.has_more;
      } catch (e) {
        state.replaceChildren(statusLine(app.errorText(e), 'error'));
      }
      drawList();
    };
    more.addEventListener('click', () => { convState.offset += PAGE; refreshConvs(true); });
    let searchTimer = null;
    const runSearch = () => { convState.q = search.value.trim(); refreshConvs(); };
    search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 250); });
    search.addEventListener('search', () => { clearTimeout(searchTimer); runSearch(); });   // the field's clear button
    searchForm.addEventListener('submit', (ev) => { ev.preventDefault(); clearTimeout(searchTimer); runSearch(); });

    // the bar of the open conversation: title, rename, delete (asks once), export
    const drawBar = (mode) => {
      const c = st.conv;
      convBar.hidden = !c || !c.id;
      if (convBar.hidden) { convBar.replaceChildren(); return; }
      if (mode === 'rename') {
        const field = h('input', { type: 'text', id: 'conv-title', value: c.title, maxlength: '200', required: true });
        const f = h('form', { class: 'conv-rename' },
          h('label', { for: 'conv-title' }, t('chat.newTitle')), field,
          h('button', { type: 'submit', class: 'primary' }, t('chat.save')),
          h('button', { type: 'button', onclick: () => drawBar() }, t('chat.cancel')));
        f.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          const title = field.value.trim();
          if (!title) return;
          try {
            await conversations.rename(c.id, title);
            c.title = title;
            app.announce(t('chat.renamed'));
            drawBar();
            refreshConvs();
          } catch (e) { state.replaceChildren(statusLine(app.errorText(e), 'error')); }
        });
        convBar.replaceChildren(f);
        field.focus();
        field.select();
        return;
      }
      if (mode === 'delete') {
        const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
          try {
            await conversations.remove(c.id);
            st.conv = null;
            redraw();
            app.announce(t('chat.deleted', { title: c.title }));
            refreshConvs();
          } catch (e) { state.replaceChildren(statusLine(app.errorText(e), 'error')); drawBar(); }
        } }, t('chat.deleteYes'));
        convBar.replaceChildren(h('div', { class: 'confirm', role: 'alert' },
          h('p', {}, t('chat.deleteAsk', { title: c.title, n: c.messages.length })), yes,
          h('button', { type: 'button', onclick: () => drawBar() }, t('chat.cancel'))));
        yes.focus();
        return;
      }
      convBar.replaceChildren(
        h('h2', { class: 'conv-title' }, c.title || t('chat.untitled')),
        h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => drawBar('rename') }, t('chat.rename')),
          h('button', { type: 'button', onclick: () => drawBar('delete') }, t('chat.delete')),
          h('a', { class: 'button', href: conversations.exportUrl(c.id, 'md'), download: `conversation-${c.id}.md` },
            t('chat.exportMd')),
          h('a', { class: 'button', href: conversations.exportUrl(c.id, 'json'), download: `conversation-${c.id}.json` },
            t('chat.exportJson'))));
    };

    newBtn.addEventListener('click', () => { st.conv = null; redraw(); drawList(); input.focus(); });

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
        try {
          const c = await conversations.create();
          st.conv = { id: c.id, title: question.slice(0, 60), messages: [] };
        } catch (e) {
          state.replaceChildren(statusLine(app.errorText(e), 'error'));
          return;
        }
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
          const body = { question, conversation_id: conv.id };
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
          const body = { model: meta.model, messages, stream: true, hoheit: { conversation_id: conv.id } };
          if (meta.use_case) body.hoheit.use_case = meta.use_case;
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
