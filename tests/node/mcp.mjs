// mcp.mjs - the official MCP TypeScript SDK's client (@modelcontextprotocol/sdk,
// StreamableHTTPClientTransport) against a running `hoheit serve` at /mcp.
// Env: HOHEIT_MCP_URL (http://127.0.0.1:PORT/mcp), HOHEIT_KEY (a member of
// Sales: reads sales-docs with SALESMARK, not hr-docs with HRSECRET).
// Ends with "mcp: N passed, N failed"; exit status 1 if any failed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.HOHEIT_MCP_URL);
const key = process.env.HOHEIT_KEY;

let passed = 0, failed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function connectAs(k) {
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${k}` } },
  });
  const client = new Client({ name: 'hoheit-node-test', version: '1.0.0' });
  return { client, transport, ready: client.connect(transport) };
}

const { client, transport, ready } = connectAs(key);
await test('mcp_connect_negotiates', async () => {
  await ready;
  const info = client.getServerVersion();
  check(info && info.name === 'hoheit', `serverInfo hoheit, got ${JSON.stringify(info)}`);
  // the SDK asks for its newest revision; hoheit answers with 2025-06-18, which the SDK speaks
  check(transport.protocolVersion === '2025-06-18', `protocol 2025-06-18, got ${transport.protocolVersion}`);
  check(typeof transport.sessionId === 'string' && transport.sessionId.length === 32, 'a session id');
  check(client.getServerCapabilities().tools, 'tools capability');
  await client.ping();
});

await test('mcp_tools_list', async () => {
  const r = await client.listTools();
  const names = r.tools.map((t) => t.name);
  check(JSON.stringify(names) === '["knowledge_search","ask"]', `two tools, got ${JSON.stringify(names)}`);
  const ask = r.tools.find((t) => t.name === 'ask');
  check(ask.inputSchema.type === 'object' && ask.inputSchema.required.includes('question'), 'ask schema');
});

await test('mcp_knowledge_search_callers_rights', async () => {
  const r = await client.callTool({ name: 'knowledge_search', arguments: { query: 'travel expenses refunded' } });
  check(r.isError === false, `no error: ${JSON.stringify(r)}`);
  const text = r.content[0].text;
  check(text.includes('SALESMARK'), `Sales passage in ${text}`);
  check(!text.includes('HRSECRET'), 'no HR passage');
  check(Array.isArray(r.structuredContent.results) && r.structuredContent.results.length === 1,
    `one result: ${JSON.stringify(r.structuredContent)}`);
});

await test('mcp_ask_grounded', async () => {
  const r = await client.callTool({ name: 'ask', arguments: { question: 'When are travel expenses refunded?' } });
  check(r.isError === false, `no error: ${JSON.stringify(r)}`);
  const a = r.structuredContent;
  check(typeof a.answer === 'string' && a.answer.length > 0, 'an answer');
  check(typeof a.confidence === 'number' && a.confidence >= 0 && a.confidence <= 1, `confidence ${a.confidence}`);
  check(a.sources.length >= 1 && a.sources.every((s) => s.title === 'travel'), `sources ${JSON.stringify(a.sources)}`);
  check(!r.content[0].text.includes('HRSECRET'), 'no HR text');
});

await test('mcp_ask_other_departments_collection', async () => {
  const hr = await client.callTool({ name: 'ask', arguments: { question: 'salaries', collections: ['hr-docs'] } });
  const none = await client.callTool({ name: 'ask', arguments: { question: 'salaries', collections: ['nope-docs'] } });
  check(hr.isError === true && none.isError === true, 'both tool errors');
  check(hr.content[0].text.replace('hr-docs', 'X') === none.content[0].text.replace('nope-docs', 'X'),
    `same text: ${hr.content[0].text} / ${none.content[0].text}`);
});

await test('mcp_unknown_tool_rejected', async () => {
  let err = null;
  try {
    await client.callTool({ name: 'sql_query', arguments: {} });
  } catch (e) {
    err = e;
  }
  check(err && err.code === -32602, `-32602, got ${err && err.code}`);
});

await test('mcp_wrong_key_refused', async () => {
  const bad = connectAs('hh-not-a-key');
  let err = null;
  try {
    await bad.ready;
  } catch (e) {
    err = e;
  }
  check(err && err.code === 401 && /invalid_api_key/.test(err.message), `401, got ${err && err.code} ${err}`);
});

await test('mcp_terminate_session', async () => {
  await transport.terminateSession();
  check(transport.sessionId === undefined, 'session cleared');
  await client.close();
});

console.log(`mcp: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
