// Interop cases, official `openai` Node SDK: one target (clawshim or a gateway's built-in endpoint).
//
// run.sh calls this once per target with the suite's Node 22 and --sdk-dir pointing at the folder
// where `openai` (6.x) is installed. The cases, their names and their checks are the same as in
// cases.py (read that file's docstring first); results go to --out as JSON for report.py.
// Every SDK call has a 60 s timeout and no retries; every case is bounded as a whole too.

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';

const CASE_TIMEOUT_MS = 150_000;
const REQUEST_TIMEOUT_MS = 60_000;
const MAIN = 'openclaw/main';
const BETA = 'openclaw/beta';
const BROKEN = 'openclaw/broken';
const AGENT_HEADER = 'x-openclaw-agent-id';
const RUN_ID_HEADER = 'x-clawshim-run-id';
const PARALLEL = 20;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    target: { type: 'string' },
    kind: { type: 'string', default: 'clawshim' },
    protocol: { type: 'string', default: '4' },
    'base-url': { type: 'string' },
    token: { type: 'string' },
    'api-key': { type: 'string', default: '' },
    'mock-url': { type: 'string' },
    'gateway-ws': { type: 'string', default: '' },
    probe: { type: 'string', default: '' },
    'sdk-dir': { type: 'string' },
    python: { type: 'string', default: 'python3' },
    unavailable: { type: 'string', default: '' },
    only: { type: 'string', default: '' },
  },
});

const sdkRequire = createRequire(`${args['sdk-dir']}/`);
const sdk = sdkRequire('openai');
const OpenAI = sdk.OpenAI ?? sdk.default ?? sdk;
const SDK_VERSION = JSON.parse(readFileSync(`${args['sdk-dir']}/node_modules/openai/package.json`, 'utf8')).version;

class Fail extends Error {}
class NotApplicable extends Error {}

const nonce = () => randomUUID().replace(/-/g, '').slice(0, 10);
const check = (cond, reason) => {
  if (!cond) throw new Fail(reason);
};
const short = (value, n = 160) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text && text.length > n ? `${text.slice(0, n - 3)}...` : text;
};
const q = (s) => JSON.stringify(s);

const client = new OpenAI({
  baseURL: args['base-url'],
  apiKey: args.token,
  timeout: REQUEST_TIMEOUT_MS,
  maxRetries: 0,
});
const kind = args.kind;
const protocol = Number(args.protocol);

async function mockRequests(needle) {
  const res = await fetch(`${args['mock-url']}/__mock__/requests?contains=${encodeURIComponent(needle)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  return (await res.json()).requests;
}

async function mockRequestFor(needle) {
  const found = await mockRequests(needle);
  check(found.length > 0, `the mock LLM received no request containing ${q(needle)}`);
  return found[found.length - 1];
}

function chat(text, { model = MAIN, messages, headers, ...rest } = {}) {
  return client.chat.completions.create(
    { model, messages: messages ?? [{ role: 'user', content: text }], ...rest },
    headers ? { headers } : undefined,
  );
}

function replyOf(completion) {
  check(completion.choices?.length, 'no choices in the response');
  return completion.choices[0].message.content;
}

function expectEcho(reply, text) {
  check(reply === `echo: ${text}`, `reply ${q(short(reply))}, expected ${q(short(`echo: ${text}`))}`);
}

async function collectStream(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
  return { chunks, content };
}

// ------------------------------------------------------------------ cases

async function rawGet(path) {
  const res = await fetch(`${args['base-url']}${path}`, {
    headers: { authorization: `Bearer ${args.token}` },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  await res.arrayBuffer();
  return `HTTP ${res.status} ${res.headers.get('content-type')}`;
}

async function caseModels() {
  const ids = [];
  try {
    for await (const m of client.models.list()) ids.push(m.id);
  } catch (err) {
    if (err instanceof OpenAI.APIError) throw err;
    throw new Fail(`GET /models did not return a model list (${await rawGet('/models')})`);
  }
  if (!ids.includes(MAIN)) throw new Fail(`models list ${short(ids)} lacks ${MAIN} (GET /models: ${await rawGet('/models')})`);
  const model = await client.models.retrieve(MAIN);
  check(model.id === MAIN, `retrieve(${MAIN}) returned id ${q(model.id)}`);
}

async function caseNonStream() {
  const text = `hello non-stream ${nonce()}`;
  const r = await chat(text);
  check(r.object === 'chat.completion', `object ${q(r.object)}`);
  check(r.choices?.[0]?.message?.role === 'assistant', 'no assistant message');
  expectEcho(replyOf(r), text);
  check(r.choices[0].finish_reason === 'stop', `finish_reason ${q(r.choices[0].finish_reason)}`);
}

async function rawSseData(body) {
  const res = await fetch(`${args['base-url']}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${args.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  check(res.status === 200, `raw stream: HTTP ${res.status}`);
  const text = await res.text();
  return text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim());
}

async function caseStream() {
  const text = `hello stream ${nonce()} with several words`;
  const { chunks, content } = await collectStream(await chat(text, { stream: true }));
  check(chunks.length, 'no chunks');
  check(chunks[0].choices?.[0]?.delta?.role === 'assistant', `first chunk is not a role chunk: ${short(chunks[0])}`);
  check(content === `echo: ${text}`, `streamed content ${q(short(content))}`);
  const withChoices = chunks.filter((c) => c.choices?.length);
  const finishes = withChoices.map((c) => c.choices[0].finish_reason).filter(Boolean);
  check(finishes.length === 1 && finishes[0] === 'stop', `finish reasons seen ${short(finishes)}, expected one 'stop' chunk`);
  check(withChoices[withChoices.length - 1].choices[0].finish_reason === 'stop', 'the finish chunk is not the last chunk');
  check(chunks.every((c) => c.object === 'chat.completion.chunk'), 'a chunk with another object type');
  // the SDK ends quietly on EOF too, so check the wire: the last event must be [DONE]
  const lines = await rawSseData({ model: MAIN, stream: true, messages: [{ role: 'user', content: `done check ${nonce()}` }] });
  check(lines.length && lines[lines.length - 1] === '[DONE]', `the stream does not end with data: [DONE] (last: ${q(short(lines[lines.length - 1] ?? null))})`);
}

async function caseStreamUsage() {
  const text = `usage please ${nonce()}`;
  const { chunks, content } = await collectStream(await chat(text, { stream: true, stream_options: { include_usage: true } }));
  check(content === `echo: ${text}`, `streamed content ${q(short(content))}`);
  check(chunks.length, 'no chunks');
  const last = chunks[chunks.length - 1];
  check(Array.isArray(last.choices) && last.choices.length === 0, 'no usage chunk: the last chunk has choices');
  const u = last.usage;
  check(u, 'last chunk has no usage');
  check([u.prompt_tokens, u.completion_tokens, u.total_tokens].every(Number.isInteger), `usage fields are not integers: ${short(u)}`);
  check(u.total_tokens === u.prompt_tokens + u.completion_tokens, 'total_tokens != prompt + completion');
}

async function expectAgent(needle, model) {
  const req = await mockRequestFor(needle);
  const agent = { 'mock-echo-beta': 'beta', 'mock-echo': 'main' }[req.model] ?? req.model;
  check(req.model === model, `the run used agent ${agent} (LLM model ${req.model})`);
}

async function caseAgentByModel() {
  const n = nonce();
  const text = `route by model ${n}`;
  expectEcho(replyOf(await chat(text, { model: BETA })), text);
  await expectAgent(n, 'mock-echo-beta');
}

async function caseAgentByHeader() {
  const n = nonce();
  const text = `route by header ${n}`;
  expectEcho(replyOf(await chat(text, { model: MAIN, headers: { [AGENT_HEADER]: 'beta' } })), text);
  await expectAgent(n, 'mock-echo-beta');
}

async function caseSessionUser() {
  const user = `interop-user-${nonce()}`;
  const first = `remember KIWI-${nonce()}`;
  expectEcho(replyOf(await chat(first, { user })), first);
  const n2 = nonce();
  const second = `second turn ${n2}`;
  expectEcho(replyOf(await chat(second, { user })), second);
  const req = await mockRequestFor(n2);
  check(JSON.stringify(req.messages).includes(first), "the second run's LLM prompt does not contain the first turn");
}

async function caseHistory() {
  const earlier = `earlier question ${nonce()}`;
  const current = `current question ${nonce()}`;
  const r = await chat(null, {
    messages: [
      { role: 'user', content: earlier },
      { role: 'assistant', content: `echo: ${earlier}` },
      { role: 'user', content: current },
    ],
  });
  expectEcho(replyOf(r), current);
  const req = await mockRequestFor(current);
  check(JSON.stringify(req.messages).includes(earlier), 'the earlier turns did not reach the LLM');
}

async function caseSystemPrompt() {
  const marker = `SYSMARK-${nonce()}`;
  const n = nonce();
  const text = `system check ${n}`;
  const r = await chat(null, {
    messages: [
      { role: 'system', content: `You are a test fixture. ${marker}` },
      { role: 'user', content: text },
    ],
  });
  expectEcho(replyOf(r), text);
  const req = await mockRequestFor(n);
  check(JSON.stringify(req.messages).includes(marker), 'the system prompt did not reach the LLM');
}

async function caseContentParts() {
  const n = nonce();
  const parts = [`part one ${n}`, `part two ${n}`];
  const r = await chat(null, { messages: [{ role: 'user', content: parts.map((text) => ({ type: 'text', text })) }] });
  const reply = replyOf(r);
  check(reply.startsWith('echo: ') && parts.every((p) => reply.includes(p)), `reply ${q(short(reply))} lacks a text part`);
}

async function caseWrongToken() {
  const bad = new OpenAI({ baseURL: args['base-url'], apiKey: `wrong-${args.token}`, timeout: REQUEST_TIMEOUT_MS, maxRetries: 0 });
  try {
    await bad.chat.completions.create({ model: MAIN, messages: [{ role: 'user', content: 'hi' }] });
  } catch (err) {
    if (err instanceof OpenAI.AuthenticationError) return;
    if (err instanceof OpenAI.APIError && err.status) throw new Fail(`HTTP ${err.status} instead of 401`);
    throw err;
  }
  throw new Fail('request with a wrong token succeeded');
}

async function caseBrokenAgent() {
  const t0 = Date.now();
  const n = nonce();
  try {
    const r = await chat(`broken agent ${n}`, { model: BROKEN });
    const ran = (await mockRequests(n)).map((x) => x.model);
    throw new Fail(`non-stream: HTTP 200 with content ${q(short(replyOf(r)))} (LLM model of the run: ${ran.join(', ') || 'none'})`);
  } catch (err) {
    if (err instanceof Fail) throw err;
    if (err instanceof OpenAI.APIConnectionTimeoutError) throw new Fail(`non-stream: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    if (!(err instanceof OpenAI.APIError) || !(err.status >= 400)) throw err;
  }
  // streaming: an HTTP error status, or an error event in the stream; never a normal reply
  try {
    const { content } = await collectStream(await chat(`broken agent stream ${nonce()}`, { model: BROKEN, stream: true }));
    throw new Fail(`stream: ended normally with content ${q(short(content))}`);
  } catch (err) {
    if (err instanceof Fail) throw err;
    if (err instanceof OpenAI.APIConnectionTimeoutError) throw new Fail(`stream: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    if (!(err instanceof OpenAI.APIError)) throw err;
  }
  check(Date.now() - t0 < 2 * REQUEST_TIMEOUT_MS, 'took too long');
}

function probeWait(runId) {
  return new Promise((resolve) => {
    execFile(
      args.python,
      [args.probe, 'wait', '--url', args['gateway-ws'], '--token', args.token, '--run-id', runId, '--timeout-ms', '15000'],
      { timeout: 45_000 },
      (err, stdout) => {
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()));
        } catch {
          resolve({ ok: false, error: { message: `probe failed: ${err?.message ?? stdout}` } });
        }
      },
    );
  });
}

async function caseAbortStream() {
  const n = nonce();
  const text = `MOCK_SLOW abort ${n} ${Array.from({ length: 16 }, (_, i) => `w${i}`).join(' ')}`;
  const { data: stream, response } = await client.chat.completions
    .create({ model: MAIN, stream: true, messages: [{ role: 'user', content: text }] })
    .withResponse();
  const runId = response.headers.get(RUN_ID_HEADER);
  let got = '';
  for await (const chunk of stream) {
    const piece = chunk.choices?.[0]?.delta?.content;
    if (piece) {
      got = piece;
      break; // leaving the loop aborts the request: the client goes away mid-stream
    }
  }
  stream.controller.abort();
  check(got, 'no content before the abort');
  if (kind !== 'clawshim') throw new NotApplicable('the built-in endpoint returns no run id to check the gateway run with');
  check(runId, `no ${RUN_ID_HEADER} response header`);
  if (protocol === 3) {
    // protocol v3 has no method to abort an agent run: the run finishes on the gateway;
    // check clawshim still serves after the disconnect.
    const text2 = `after abort ${nonce()}`;
    expectEcho(replyOf(await chat(text2)), text2);
    return;
  }
  const res = await probeWait(runId);
  const payload = res.payload ?? {};
  check(res.ok, `agent.wait failed: ${short(res.error)}`);
  // traces: openclaw-lab abort_chat. agent.wait on an aborted run answers {status:"error",
  // stopReason:"rpc"}; "timeout" without stopReason means the run is unknown or still running.
  if (payload.stopReason !== 'rpc' && !['aborted', 'cancelled'].includes(payload.status)) {
    const llm = (await mockRequests(n)).map((r) => r.outcome);
    const what = payload.status === 'ok' ? 'completed' : 'was not aborted';
    throw new Fail(`the gateway run ${what}: agent.wait ${short(payload, 120)}, LLM call outcome ${short(llm)}`);
  }
}

async function caseParallelStreams() {
  const n = nonce();
  const one = async (i) => {
    const text = `parallel ${i} ${n}`;
    const { content } = await collectStream(await chat(text, { stream: true }));
    return [text, content];
  };
  const settled = await Promise.allSettled(Array.from({ length: PARALLEL }, (_, i) => one(i)));
  const errors = settled.filter((s) => s.status === 'rejected');
  check(!errors.length, `${errors.length} of ${PARALLEL} streams failed, e.g. ${short(String(errors[0]?.reason))}`);
  const wrong = settled.map((s) => s.value).filter(([text, got]) => got !== `echo: ${text}`);
  check(!wrong.length, `${wrong.length} of ${PARALLEL} replies do not match their request, e.g. ${q(short(wrong[0]?.[1], 80))} for ${q(wrong[0]?.[0])}`);
}

// Passthrough involves no SDK: the Python client checks it (the Control UI page and its
// WebSocket through clawshim).
async function casePassthrough() {
  throw new NotApplicable('no SDK involved; checked by the Python client');
}

// An API key of clawshim's own cannot name the owner's main session: 403 before any run (the
// LLM never sees the message), while the same key works in its own namespace.
async function caseKeySessionScope() {
  if (kind !== 'clawshim') throw new NotApplicable('the built-in endpoint has no API keys');
  if (!args['api-key']) throw new NotApplicable('no --api-key given');
  const keyed = new OpenAI({ baseURL: args['base-url'], apiKey: args['api-key'], timeout: REQUEST_TIMEOUT_MS, maxRetries: 0 });
  const own = `key in its namespace ${nonce()}`;
  expectEcho(replyOf(await keyed.chat.completions.create({ model: MAIN, messages: [{ role: 'user', content: own }] })), own);
  const n = nonce();
  for (const session of ['agent:main:main', 'main', 'global']) {
    try {
      await keyed.chat.completions.create(
        { model: MAIN, messages: [{ role: 'user', content: `owner's chat ${n}` }] },
        { headers: { 'x-openclaw-session-key': session } },
      );
    } catch (err) {
      if (err instanceof OpenAI.PermissionDeniedError) continue;
      if (err instanceof OpenAI.APIError && err.status) throw new Fail(`HTTP ${err.status} instead of 403 for session ${session}`);
      throw err;
    }
    throw new Fail(`the key reached session ${session}`);
  }
  check(!(await mockRequests(n)).length, 'a refused request reached the LLM');
}

// A 600 KB message (200k CJK characters) beside a running stream: 413 request_too_large naming
// clawdbot 2026.1.24's 524288-byte frame limit, nothing sent, the stream completes; on openclaw
// 2026.9.6 (25 MiB) the same request runs. See case_frame_limit in cases.py.
async function caseFrameLimit() {
  if (kind !== 'clawshim') throw new NotApplicable("the frame limit is on clawshim's socket to the gateway");
  const n = nonce();
  const big = `${'\u6f22'.repeat(200_000)} ${n}`;
  const small = `beside the big one ${n}`;
  const stream = await chat(small, { stream: true });
  let content = '';
  let bigResult;
  let first = true;
  for await (const chunk of stream) {
    content += chunk.choices?.[0]?.delta?.content ?? '';
    if (first) {
      first = false;
      bigResult = await chat(big).catch((err) => err);
    }
  }
  expectEcho(content, small);
  if (protocol === 3) {
    check(bigResult instanceof OpenAI.APIError, `the 600 KB request was not refused: ${short(bigResult)}`);
    const err = bigResult.error ?? {};
    check(bigResult.status === 413 && (bigResult.code ?? err.code) === 'request_too_large',
      `expected 413 request_too_large, got HTTP ${bigResult.status} ${short(err)}`);
    check(String(err.message ?? bigResult.message).includes('524288'),
      `the message does not name the gateway's limit: ${short(err.message ?? bigResult.message)}`);
    check(!(await mockRequests(big.slice(-40))).length, 'the big request reached the LLM');
  } else {
    if (bigResult instanceof Error) throw new Fail(`the 600 KB request failed on v4: ${short(String(bigResult.message))}`);
    expectEcho(replyOf(bigResult), big);
  }
}

// A real PNG (solid red), built here as in cases.py.
function smallPng(width = 8, height = 8) {
  const chunk = (tag, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(tag, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([0xff, 0, 0]))]);
  const rows = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const pngDataUrl = () => `data:image/png;base64,${smallPng().toString('base64')}`;

async function caseImagePng() {
  const n = nonce();
  const r = await chat(null, {
    messages: [{ role: 'user', content: [
      { type: 'text', text: `what colour is this ${n}` },
      { type: 'image_url', image_url: { url: pngDataUrl() } },
    ] }],
  });
  replyOf(r);
  const seen = await mockRequestFor(n);
  check((seen.images ?? 0) >= 1, `the mock LLM got no image (${seen.images ?? 0} image parts)`);
}

function responseText(resp) {
  check(resp.status === 'completed', `status ${q(resp.status)}`);
  return resp.output_text;
}

async function caseResponsesCreate() {
  const n = nonce();
  const text = `respond to ${n}`;
  const resp = await client.responses.create({ model: MAIN, input: text, instructions: 'Answer briefly.' });
  check(resp.id.startsWith('resp_'), `id ${q(resp.id)}`);
  expectEcho(responseText(resp), text);
  check(resp.usage && resp.usage.total_tokens >= resp.usage.output_tokens, 'no usage');
  const n2 = nonce();
  const follow = await client.responses.create({ model: MAIN, input: `and then ${n2}`, previous_response_id: resp.id });
  expectEcho(responseText(follow), `and then ${n2}`);
}

async function caseResponsesStream() {
  const n = nonce();
  const text = `stream a response ${n}`;
  const stream = client.responses.stream({ model: MAIN, input: text });
  const deltas = [];
  const names = [];
  for await (const event of stream) {
    names.push(event.type);
    if (event.type === 'response.output_text.delta') deltas.push(event.delta);
  }
  const final = await stream.finalResponse();
  expectEcho(deltas.join(''), text);
  expectEcho(responseText(final), text);
  check(names[names.length - 1] === 'response.completed', `last event ${q(names[names.length - 1])}`);
}

async function caseResponsesImage() {
  const n = nonce();
  const resp = await client.responses.create({
    model: MAIN,
    input: [{ role: 'user', content: [
      { type: 'input_text', text: `describe ${n}` },
      { type: 'input_image', image_url: pngDataUrl() },
    ] }],
  });
  responseText(resp);
  const seen = await mockRequestFor(n);
  check((seen.images ?? 0) >= 1, `the mock LLM got no image (${seen.images ?? 0} image parts)`);
}

// The Agents SDK is a Python package: checked by the Python client.
async function caseAgentsSdk() {
  throw new NotApplicable('the OpenAI Agents SDK is checked by the Python client');
}

// ---------------------------------------------------------------- client tools (issue 20)
// The same cases as cases.py's (read its notes): the mock LLM calls MOCK_TOOL:<name> {args}.

const WEATHER_CHAT = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const WEATHER_RESP = {
  type: 'function', name: 'get_weather', description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const TOOLS_HEADER = 'x-clawshim-tools';
const toolPrompt = (name, n) => `MOCK_TOOL:${name} {"city":"Paris-${n}"}`;

async function v3GetsAnAnswer(text, tools) {
  const { data, response } = await client.chat.completions
    .create({ model: MAIN, messages: [{ role: 'user', content: text }], tools })
    .withResponse();
  check(data.choices[0].finish_reason === 'stop', `finish_reason ${q(data.choices[0].finish_reason)}`);
  check(data.choices[0].message.content, 'no answer');
  if (kind === 'clawshim') {
    const header = response.headers.get(TOOLS_HEADER);
    check(header === 'ignored; reason=unsupported-gateway', `${TOOLS_HEADER}: ${q(header)}`);
  }
}

async function caseToolsChat() {
  const n = nonce();
  const text = toolPrompt('get_weather', n);
  if (protocol === 3) return v3GetsAnAnswer(text, [WEATHER_CHAT]);
  const r = await chat(text, { tools: [WEATHER_CHAT] });
  const choice = r.choices[0];
  check(choice.finish_reason === 'tool_calls', `finish_reason ${q(choice.finish_reason)}`);
  const calls = choice.message.tool_calls ?? [];
  check(calls.length === 1 && calls[0].function.name === 'get_weather', `tool_calls ${short(calls)}`);
  check(JSON.parse(calls[0].function.arguments).city === `Paris-${n}`, `arguments ${q(calls[0].function.arguments)}`);
  const messages = [
    { role: 'user', content: text },
    { role: 'assistant', content: null, tool_calls: calls },
    { role: 'tool', tool_call_id: calls[0].id, content: `sunny ${n}` },
  ];
  const answer = await chat(null, { messages, tools: [WEATHER_CHAT] });
  check(answer.choices[0].finish_reason === 'stop', `finish_reason ${q(answer.choices[0].finish_reason)}`);
  expectEcho(replyOf(answer), `tool result sunny ${n}`);
}

async function caseToolsChatStream() {
  const n = nonce();
  const text = toolPrompt('get_weather', n);
  if (protocol === 3) return v3GetsAnAnswer(text, [WEATHER_CHAT]);
  const stream = await chat(text, { tools: [WEATHER_CHAT], stream: true });
  const deltas = [];
  const finishes = [];
  for await (const c of stream) {
    if (!c.choices?.length) continue;
    deltas.push(...(c.choices[0].delta?.tool_calls ?? []));
    if (c.choices[0].finish_reason) finishes.push(c.choices[0].finish_reason);
  }
  check(deltas.length && deltas[0].id && deltas[0].function?.name === 'get_weather', `first call delta ${short(deltas[0])}`);
  const argsText = deltas.map((d) => d.function?.arguments ?? '').join('');
  check(JSON.parse(argsText).city === `Paris-${n}`, `arguments ${q(argsText)}`);
  check(finishes.length === 1 && finishes[0] === 'tool_calls', `finish reasons ${q(finishes)}`);
}

function responsesCall(resp) {
  const calls = resp.output.filter((o) => o.type === 'function_call');
  check(calls.length === 1, `function_call items: ${short(resp.output.map((o) => o.type))}`);
  return calls[0];
}

async function caseToolsResponses() {
  const n = nonce();
  const text = toolPrompt('get_weather', n);
  const resp = await client.responses.create({ model: MAIN, input: text, tools: [WEATHER_RESP] });
  if (protocol === 3) {
    check(responseText(resp), 'no answer');
    return;
  }
  const call = responsesCall(resp);
  check(call.name === 'get_weather' && JSON.parse(call.arguments).city === `Paris-${n}`, `call ${short(call)}`);
  const follow = await client.responses.create({
    model: MAIN, previous_response_id: resp.id, tools: [WEATHER_RESP],
    input: [{ type: 'function_call_output', call_id: call.call_id, output: `sunny ${n}` }],
  });
  expectEcho(responseText(follow), `tool result sunny ${n}`);
}

async function caseToolsCodexList() {
  const n = nonce();
  const shell = {
    type: 'function', name: 'shell', description: 'Runs a command', strict: false,
    parameters: {
      type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } }, required: ['command'],
    },
  };
  const tools = [
    shell,
    { type: 'web_search' },
    { type: 'custom', name: 'apply_patch', description: 'patch', format: { type: 'grammar', syntax: 'lark', definition: 'start: /.+/' } },
    { type: 'namespace', name: 'mcp__files', description: 'files', tools: [] },
  ];
  const resp = await client.responses.create({ model: MAIN, input: `MOCK_TOOL:shell {"command":["echo","${n}"]}`, tools });
  if (protocol === 3) {
    check(responseText(resp), 'no answer');
    return;
  }
  const call = responsesCall(resp);
  check(call.name === 'shell' && JSON.parse(call.arguments).command[1] === n, `call ${short(call)}`);
}

async function caseAgentsSdkTools() {
  throw new NotApplicable('the OpenAI Agents SDK is checked by the Python client');
}

async function caseToolsAskUser() {
  const n = nonce();
  const ask = {
    type: 'function',
    function: {
      name: 'ask_user', description: 'Ask the user',
      parameters: { type: 'object', properties: { question: { type: 'string' } }, required: ['question'] },
    },
  };
  const text = `MOCK_TOOL:ask_user {"question":"why-${n}"}`;
  if (protocol === 3) return v3GetsAnAnswer(text, [WEATHER_CHAT, ask]);
  const r = await chat(text, { tools: [WEATHER_CHAT, ask] });
  const calls = r.choices[0].message.tool_calls ?? [];
  check(calls.length === 1 && calls[0].function.name === 'ask_user', `tool_calls ${short(calls)}`);
}

async function caseToolsChoiceRequired() {
  const n = nonce();
  if (protocol === 4) {
    const r = await chat(toolPrompt('get_weather', n), { tools: [WEATHER_CHAT], tool_choice: 'required' });
    check(r.choices[0].finish_reason === 'tool_calls', `finish_reason ${q(r.choices[0].finish_reason)}`);
    return;
  }
  if (kind === 'builtin') throw new NotApplicable("clawdbot 2026.1.24's endpoint ignores tools and tool_choice");
  try {
    await chat(`hello ${n}`, { tools: [WEATHER_CHAT], tool_choice: 'required' });
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || err.status !== 400) throw err;
    check(err.param === 'tool_choice', `the 400 does not name tool_choice: ${short(err.message)}`);
    return;
  }
  throw new Fail('tool_choice=required on a gateway without client tools was answered');
}

async function caseToolSteps() {
  // The agent runs a real tool (the mock LLM's MOCK_TOOL): the step is reasoning before the
  // answer in a chat stream and a whole answer, and a reasoning item before the message in
  // the Responses API (see cases.py `case_tool_steps`).
  if (protocol === 3) throw new NotApplicable('clawdbot 2026.1.24 sends tool events only for sessions whose verbose level is on');
  let reasoning = '';
  let content = '';
  const order = [];
  for await (const c of await chat(`look around ${nonce()} MOCK_TOOL:agents_list`, { stream: true })) {
    const d = c.choices?.[0]?.delta ?? {};
    if (d.reasoning_content) { reasoning += d.reasoning_content; order.push('r'); }
    if (d.content) { content += d.content; order.push('c'); }
  }
  check(content.startsWith('echo: tool agents_list returned'), `answer ${q(short(content))}`);
  check(reasoning.includes('Running: '), `no step in reasoning_content: ${q(short(reasoning))}`);
  check(order.indexOf('r') >= 0 && order.indexOf('r') < order.indexOf('c'), `reasoning after the answer started: ${order.join('')}`);
  const whole = await chat(`again ${nonce()} MOCK_TOOL:agents_list`);
  check((whole.choices[0].message.reasoning_content ?? '').includes('Running: '), `no reasoning_content in the whole answer: ${short(whole.choices[0].message)}`);
  const r = await client.responses.create({ model: MAIN, input: `responses ${nonce()} MOCK_TOOL:agents_list` });
  const kinds = r.output.map((o) => o.type);
  check(kinds.join(',') === 'reasoning,message', `output items ${short(kinds)}`);
  check(r.output[0].summary[0].text.includes('Running: '), `summary ${q(short(r.output[0].summary[0].text))}`);
}

const CASES = [
  ['models', caseModels],
  ['non_stream', caseNonStream],
  ['stream', caseStream],
  ['stream_usage', caseStreamUsage],
  ['agent_by_model', caseAgentByModel],
  ['agent_by_header', caseAgentByHeader],
  ['session_user', caseSessionUser],
  ['history', caseHistory],
  ['system_prompt', caseSystemPrompt],
  ['content_parts', caseContentParts],
  ['wrong_token', caseWrongToken],
  ['broken_agent', caseBrokenAgent],
  ['abort_stream', caseAbortStream],
  ['parallel_streams', caseParallelStreams],
  ['passthrough', casePassthrough],
  ['key_session_scope', caseKeySessionScope],
  ['frame_limit', caseFrameLimit],
  ['image_png', caseImagePng],
  ['responses_create', caseResponsesCreate],
  ['responses_stream', caseResponsesStream],
  ['responses_image', caseResponsesImage],
  ['agents_sdk', caseAgentsSdk],
  ['tool_steps', caseToolSteps],
  ['tools_chat', caseToolsChat],
  ['tools_chat_stream', caseToolsChatStream],
  ['tools_responses', caseToolsResponses],
  ['tools_codex_list', caseToolsCodexList],
  ['tools_ask_user', caseToolsAskUser],
  ['tools_choice_required', caseToolsChoiceRequired],
  ['agents_sdk_tools', caseAgentsSdkTools],
];

async function runCase(fn) {
  const t0 = Date.now();
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Fail(`case did not finish within ${CASE_TIMEOUT_MS / 1000} s`)), CASE_TIMEOUT_MS);
  });
  let out;
  try {
    await Promise.race([fn(), limit]);
    out = { status: 'pass', reason: '' };
  } catch (err) {
    if (err instanceof NotApplicable) out = { status: 'n/a', reason: err.message };
    else if (err instanceof Fail) out = { status: 'fail', reason: err.message };
    else if (err instanceof OpenAI.APIError && err.status) out = { status: 'fail', reason: `${err.constructor.name}: HTTP ${err.status} ${short(err.message, 200)}` };
    else out = { status: 'fail', reason: `${err?.constructor?.name ?? 'Error'}: ${short(String(err?.message ?? err), 200)}` };
  } finally {
    clearTimeout(timer);
  }
  out.seconds = Math.round((Date.now() - t0) / 10) / 100;
  return out;
}

const only = new Set(args.only.split(',').filter(Boolean));
const doc = { client: 'node', target: args.target, sdk: `openai ${SDK_VERSION}`, cases: {} };
for (const [name, fn] of CASES) {
  if (only.size && !only.has(name)) continue;
  const res = args.unavailable ? { status: 'fail', reason: args.unavailable, seconds: 0 } : await runCase(fn);
  doc.cases[name] = res;
  console.log(`${name.padEnd(18)} ${res.status.padEnd(5)} ${res.seconds.toFixed(1).padStart(5)}s ${res.reason}`);
}
writeFileSync(args.out, JSON.stringify(doc, null, 1));
process.exit(0); // do not wait for a request stuck past its case timeout
