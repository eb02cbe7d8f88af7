// test.mjs - the official OpenAI npm client against a running `hoheit serve`
// with stories260K. Env: HOHEIT_URL (…/v1), HOHEIT_KEY, HOHEIT_MODEL.
// Ends with "node: N passed, N failed"; exit status 1 if any failed.
import http from 'node:http';
import OpenAI from 'openai';

const baseURL = process.env.HOHEIT_URL;
const apiKey = process.env.HOHEIT_KEY;
const model = process.env.HOHEIT_MODEL || 'stories260K';
// Node 18 (Debian 12's nodejs): the client's node-fetch 2 reports every
// streamed (chunked) response on a kept-alive socket as "Premature close",
// against Node's own http server as well; a client without keep-alive works
// there. Node 20 and later need nothing (docs/OPERATIONS.md, troubleshooting).
const nodeMajor = Number(process.versions.node.split('.')[0]);
const agent = nodeMajor < 20 ? { httpAgent: new http.Agent({ keepAlive: false }) } : {};
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000, ...agent });

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

const messages = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Once upon a time' },
];

await test('models_list', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  check(ids.includes(model), `${model} in ${JSON.stringify(ids)}`);
  const m = page.data.find((x) => x.id === model);
  check(m.object === 'model' && m.owned_by === 'hoheit' && m.created > 1e9, `model shape ${JSON.stringify(m)}`);
  const one = await client.models.retrieve(model);
  check(one.id === model, `retrieve ${JSON.stringify(one)}`);
});

let nonStreamText = null;
await test('chat_nonstream', async () => {
  const r = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 16 });
  check(r.object === 'chat.completion', `object chat.completion, got ${r.object}`);
  check(r.choices.length === 1 && r.choices[0].message.role === 'assistant', 'one assistant choice');
  check(typeof r.choices[0].message.content === 'string' && r.choices[0].message.content.length > 0, 'content');
  check(r.choices[0].finish_reason === 'length', `finish length, got ${r.choices[0].finish_reason}`);
  check(r.usage.completion_tokens === 16, `16 completion tokens, got ${r.usage.completion_tokens}`);
  check(r.usage.total_tokens === r.usage.prompt_tokens + 16, 'total = prompt + completion');
  nonStreamText = r.choices[0].message.content;
});

await test('chat_stream_equals_nonstream', async () => {
  const stream = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 16, stream: true, stream_options: { include_usage: true },
  });
  let text = '', finish = null, usage = null, first = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    check(c.object === 'chat.completion.chunk', `chunk object, got ${c.object}`);
    if (first === null) first = c;
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      if (ch.delta && ch.delta.content) text += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  check(first.choices[0].delta.role === 'assistant', 'role delta first');
  check(finish === 'length', `finish length, got ${finish}`);
  check(usage && usage.completion_tokens === 16, `usage chunk, got ${JSON.stringify(usage)}`);
  check(chunks >= 4, `several chunks, got ${chunks}`);
  check(text === nonStreamText, `stream text ${JSON.stringify(text)} == non-stream ${JSON.stringify(nonStreamText)}`);
});

await test('completions', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  check(r.object === 'text_completion', `object text_completion, got ${r.object}`);
  check(typeof r.choices[0].text === 'string' && r.choices[0].text.length > 0, 'text');
  check(r.usage.completion_tokens === 8, `8 tokens, got ${r.usage.completion_tokens}`);
  // Streaming completions reassemble to the same text.
  const s = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
  let t = '';
  for await (const c of s) for (const ch of c.choices) t += ch.text;
  check(t === r.choices[0].text, `stream ${JSON.stringify(t)} == ${JSON.stringify(r.choices[0].text)}`);
});

await test('chat_logprobs', async () => {
  const r = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 6, logprobs: true, top_logprobs: 3,
  });
  const lp = r.choices[0].logprobs.content;
  check(lp.length === 6, `6 logprob entries, got ${lp.length}`);
  let joined = '';
  for (const e of lp) {
    check(e.logprob <= 0 && e.top_logprobs.length === 3, 'logprob <= 0 and 3 alternatives');
    check(e.top_logprobs[0].logprob >= e.top_logprobs[2].logprob, 'alternatives sorted');
    check(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-5, 'greedy token is the top alternative');
    check(Buffer.from(e.bytes).toString('utf8') === e.token, 'bytes spell the token');
    joined += e.token;
  }
  check(joined === r.choices[0].message.content, `tokens ${JSON.stringify(joined)} spell the content`);
});

await test('json_schema', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' }, happy: { type: 'boolean' } },
    required: ['name', 'age', 'happy'],
    additionalProperties: false,
  };
  const r = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 200,
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
  });
  const obj = JSON.parse(r.choices[0].message.content);
  check(typeof obj.name === 'string' && obj.name.length <= 12, `name string, got ${JSON.stringify(obj)}`);
  check(Number.isInteger(obj.age), 'age integer');
  check(typeof obj.happy === 'boolean', 'happy boolean');
  check(Object.keys(obj).length === 3, 'no extra keys');
});

await test('tool_call', async () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'] },
    },
  }];
  const r = await client.chat.completions.create({
    model, temperature: 0, max_tokens: 100, tools,
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const ch = r.choices[0];
  check(ch.finish_reason === 'tool_calls', `finish tool_calls, got ${ch.finish_reason}`);
  const calls = ch.message.tool_calls;
  check(calls && calls.length === 1, `one call, got ${JSON.stringify(ch.message)}`);
  check(calls[0].type === 'function' && calls[0].function.name === 'get_weather', 'called get_weather');
  check(typeof calls[0].id === 'string' && calls[0].id.length > 0, 'call id');
  const args = JSON.parse(calls[0].function.arguments);
  check(typeof args.city === 'string', `arguments.city string, got ${calls[0].function.arguments}`);
  // The answer to the call goes back in as a tool message.
  const r2 = await client.chat.completions.create({
    model, temperature: 0, max_tokens: 8,
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      ch.message,
      { role: 'tool', tool_call_id: calls[0].id, content: '{"temp_c": 21}' },
    ],
  });
  check(typeof r2.choices[0].message.content === 'string', 'answer after the tool result');
});

await test('auth_failure', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'hk_wrong', maxRetries: 0 });
  try {
    await bad.models.list();
    throw new Error('expected AuthenticationError, got success');
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError, `AuthenticationError, got ${e && e.constructor && e.constructor.name}`);
    check(e.status === 401 && e.code === 'invalid_api_key', `401 invalid_api_key, got ${e.status} ${e.code}`);
  }
});

await test('unknown_model', async () => {
  try {
    await client.chat.completions.create({ model: 'gpt-4o', messages });
    throw new Error('expected NotFoundError, got success');
  } catch (e) {
    check(e instanceof OpenAI.NotFoundError, `NotFoundError, got ${e && e.constructor && e.constructor.name}`);
    check(e.code === 'model_not_found', `code model_not_found, got ${e.code}`);
  }
});

await test('bad_request', async () => {
  try {
    await client.chat.completions.create({ model, messages, temperature: 9 });
    throw new Error('expected BadRequestError, got success');
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError, `BadRequestError, got ${e && e.constructor && e.constructor.name}`);
    check(e.param === 'temperature', `param temperature, got ${e.param}`);
  }
});

// /v1/responses (issue 16): a function tool forced with tool_choice
// "required" comes back as a function_call item; the client runs it and
// sends a function_call_output with previous_response_id.
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 20 } },
    required: ['city'],
    additionalProperties: false,
  },
};

await test('responses_function_tool_loop', async () => {
  const r = await client.responses.create({
    model, input: 'What is the weather in Berlin?', tools: [weatherTool], tool_choice: 'required',
    temperature: 0, max_output_tokens: 100,
  });
  check(r.object === 'response' && r.id.startsWith('resp_'), `response object, got ${r.object} ${r.id}`);
  check(r.status === 'completed', `status completed, got ${r.status}`);
  const call = r.output.find((o) => o.type === 'function_call');
  check(call && call.name === 'get_weather' && call.call_id, `a function_call, got ${JSON.stringify(r.output)}`);
  const args = JSON.parse(call.arguments);
  check(typeof args.city === 'string' && Object.keys(args).length === 1, `arguments {city}, got ${call.arguments}`);
  check(r.usage.total_tokens === r.usage.input_tokens + r.usage.output_tokens, 'usage adds up');
  const r2 = await client.responses.create({
    model, previous_response_id: r.id, temperature: 0, max_output_tokens: 16,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temp_c: 21 }) }],
  });
  check(r2.previous_response_id === r.id, `previous_response_id ${r.id}, got ${r2.previous_response_id}`);
  check(r2.output.length === 1 && r2.output[0].type === 'message', `a message, got ${JSON.stringify(r2.output)}`);
  check(typeof r2.output_text === 'string' && r2.output_text === r2.output[0].content[0].text, 'output_text');
});

await test('responses_stream_events', async () => {
  const stream = await client.responses.create({
    model, input: 'Weather?', tools: [weatherTool], tool_choice: 'required', temperature: 0,
    max_output_tokens: 100, stream: true,
  });
  const types = [];
  let done = null;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.function_call_arguments.done') done = ev.arguments;
  }
  check(types[0] === 'response.created', `first event response.created, got ${types[0]}`);
  check(types[types.length - 1] === 'response.completed', `last event response.completed, got ${types.at(-1)}`);
  check(types.includes('response.output_item.added') && types.includes('response.output_item.done'), 'item events');
  check(done && typeof JSON.parse(done).city === 'string', `arguments done, got ${done}`);
});

await test('responses_unknown_agent', async () => {
  try {
    await client.responses.create({ model: 'agent:nobody', input: 'hi' });
    throw new Error('expected NotFoundError, got success');
  } catch (e) {
    check(e instanceof OpenAI.NotFoundError && e.code === 'model_not_found', `NotFoundError model_not_found, got ${e.status} ${e.code}`);
  }
});

console.log(`node: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
