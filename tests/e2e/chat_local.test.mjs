// The chat API's loopback door (issue 15, "One API, several doors";
// docs/chat.md "On loopback"): `clawlink up --chat-listen 127.0.0.1:PORT`
// serves the same handlers as the relay at /api/v1/chat/... for local
// scripts, behind a bearer token. The real agent, its real chat store
// (no gateway needed for threads). Checked: no token, a wrong one, one in
// the URL (refused even when right), a browser page's request (Origin)
// are refused; with the token a thread is created and listed, and the
// relay's door sees the same store; a body over 64 KiB, a path outside the
// root, too many connections get their errors; /events streams as SSE; the
// token comes from the config or CLAWLINK_CHAT_TOKEN and is never logged;
// a non-loopback address, or no token, stops the agent with a clear error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, startRelay, api, show, expectStatus, signup, createProject,
  pairAgent, startAgent, waitFor, tail, tempDir, freePort, randomId, assertNoSecrets, AGENT_BIN,
} from './lib/harness.mjs';

after(cleanupAll);

const MAX_CONNS = 16; // CL_CHAT_HTTP_MAX_CONNS

/** A paired agent whose config holds chatToken (unless null), started with --chat-listen. */
async function setup(scope, { chatToken = `tok-${randomId(16)}`, env = {}, listen } = {}) {
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Local');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'local-agent' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.capabilities = ['terminal', 'chat', 'status'];
  if (chatToken !== null) cfg.chat_token = chatToken;
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const port = await freePort();
  const dbDir = await tempDir('clawlink-chatdb-');
  const agent = await startAgent(paired.configPath, {
    relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId, env,
    extraArgs: ['--chat-db', path.join(dbDir, 'chat.db'), '--chat-listen', listen || `127.0.0.1:${port}`],
  });
  await waitFor(() => /the chat API on loopback/.test(agent.logs()), { what: 'the loopback door', describe: () => tail(agent.logs(), 30) });
  const base = `http://127.0.0.1:${port}/api/v1/chat`;
  const call = async (method, p, { token, body, headers = {} } = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${base}${p}`, { method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)), signal: AbortSignal.timeout(ms(20_000)) });
    const text = await res.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed, text, headers: res.headers, method, path: p };
  };
  return { relay, owner, project, paired, agent, port, base, call, chatToken };
}

/** Runs `clawlink up ...` expecting it to stop at once; {code, stderr}. */
function runUp(args, env = {}) {
  return new Promise((resolve) => {
    execFile(AGENT_BIN, ['up', ...args], { env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env }, timeout: ms(30_000), killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr: String(stderr), stdout: String(stdout) }));
  });
}

test('the loopback door: the token required, never in a URL; a thread created and listed; limits; /events as SSE', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const s = await setup(scope);
  const { call, chatToken } = s;

  // an agent serving chat with the built-in memory never loads libpq and
  // the libraries it pulls in (~3 MiB resident: decisions 61)
  const maps = await readFile(`/proc/${s.agent.proc.pid}/maps`, 'utf8');
  assert.doesNotMatch(maps, /libpq\.so|libgnutls|libkrb5|libldap/, 'the agent maps no libpq while memory is built in');

  // without a token, with a wrong one: 401, and nothing reaches the API
  let r = await call('GET', '/threads');
  assert.equal(r.status, 401, show(r));
  assert.equal(r.body.error.code, 'unauthorized');
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  r = await call('GET', '/threads', { token: `${chatToken}x` });
  assert.equal(r.status, 401, show(r));
  r = await call('GET', '/threads', { token: chatToken.slice(0, -1) });
  assert.equal(r.status, 401, show(r));
  r = await call('GET', '/threads', { headers: { authorization: chatToken } });
  assert.equal(r.status, 401, 'the Bearer scheme is required');
  // in the URL: refused, right or wrong, with or without the header
  for (const q of [`?token=${chatToken}`, `?access_token=${chatToken}`, `?limit=5&chat_token=${chatToken}`]) {
    r = await call('GET', `/threads${q}`, { token: chatToken });
    assert.equal(r.status, 400, show(r));
    assert.equal(r.body.error.code, 'token_in_url', show(r));
    r = await call('GET', `/threads${q}`);
    assert.equal(r.status, 400, show(r));
  }
  // a web page's request (it always has an Origin)
  r = await call('GET', '/threads', { token: chatToken, headers: { origin: 'http://evil.example' } });
  assert.equal(r.status, 403, show(r));
  assert.equal(r.body.error.code, 'origin_refused');

  // with the token: create, list, get
  r = await call('POST', '/threads', { token: chatToken, body: { title: 'from a local script' } });
  const th = expectStatus(r, 201, s.agent);
  assert.equal(th.title, 'from a local script');
  assert.match(r.headers.get('content-type'), /^application\/json/);
  r = await call('GET', '/threads?limit=10', { token: chatToken });
  const list = expectStatus(r, 200);
  assert.ok(list.threads.some((x) => x.id === th.id), show(r));
  assert.ok('next_cursor' in list);
  r = await call('GET', `/threads/${th.id}`, { token: chatToken });
  assert.equal(expectStatus(r, 200).id, th.id);
  r = await call('GET', '/threads/999999', { token: chatToken });
  assert.equal(r.status, 404, show(r));
  // the relay's door answers from the same store
  r = await api(s.relay, 'GET', `/api/v1/devices/${s.paired.deviceId}/chat/threads`, undefined, s.owner.token);
  assert.ok(expectStatus(r, 200, s.relay).threads.some((x) => x.id === th.id), show(r));
  // a keep-alive connection takes several requests (fetch reuses it)
  for (let i = 0; i < 3; i++) expectStatus(await call('GET', '/workspaces', { token: chatToken }), 200);

  // limits and refusals
  r = await call('POST', '/memory', { token: chatToken, body: { text: 'x'.repeat(70_000) } });
  assert.equal(r.status, 413, show(r));
  assert.equal(r.body.error.code, 'body_too_large');
  r = await call('POST', '/threads', { token: chatToken, body: '{"title": ' });
  assert.equal(r.status, 400, show(r));
  assert.equal(r.body.error.code, 'bad_json');
  // headers over CL_CHAT_HTTP_HEADER_MAX (4096 bytes): lws closes the
  // connection without an answer; just under, the request is read
  const raw = (size) => new Promise((resolve) => {
    const c = net.connect(s.port, '127.0.0.1');
    let out = '';
    c.on('data', (d) => { out += d; });
    c.on('close', () => resolve(out));
    c.on('error', () => resolve(out));
    c.write(`GET /api/v1/chat/threads HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(size)}\r\nAuthorization: Bearer ${chatToken}\r\nConnection: close\r\n\r\n`);
  });
  assert.match(await raw(3000), /^HTTP\/1\.1 200/);
  assert.equal(await raw(5000), '', 'headers over the limit: closed, no answer');
  let res = await fetch(`http://127.0.0.1:${s.port}/api/v1/other`, { headers: { authorization: `Bearer ${chatToken}` } });
  assert.equal(res.status, 404);
  await res.text();

  // /events: server-sent events (a thread created meanwhile is announced)
  const ac = new AbortController();
  const evRes = fetch(`${s.base}/events`, { headers: { authorization: `Bearer ${chatToken}` }, signal: ac.signal });
  await new Promise((resolve) => setTimeout(resolve, 300));
  r = await call('POST', '/threads', { token: chatToken, body: { title: 'announced' } });
  const th2 = expectStatus(r, 201);
  res = await evRes;
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  let text = '';
  const dec = new TextDecoder();
  for await (const chunk of res.body) {
    text += dec.decode(chunk, { stream: true });
    if (text.includes('\n\n') && text.includes('announced')) break;
  }
  ac.abort();
  const block = text.split('\n\n').find((b) => b.includes('announced'));
  const lines = block.split('\n');
  assert.equal(lines[0], 'event: thread', text);
  assert.equal(lines.length, 2, 'one event line, one data line');
  assert.equal(JSON.parse(lines[1].slice(6)).thread.id, th2.id);

  // connections: MAX_CONNS open ones (streams), one more is refused
  const socks = [];
  const req = `GET /api/v1/chat/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${chatToken}\r\n\r\n`;
  for (let i = 0; i < MAX_CONNS; i++) {
    const c = net.connect(s.port, '127.0.0.1');
    scope.add({ name: `conn ${i}`, cleanup: () => c.destroy() });
    await new Promise((resolve) => c.once('connect', resolve));
    c.write(req);
    socks.push(c);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const extra = net.connect(s.port, '127.0.0.1');
  scope.add({ name: 'one too many', cleanup: () => extra.destroy() });
  let got = '';
  extra.on('data', (d) => { got += d; });
  await new Promise((resolve) => extra.once('connect', resolve));
  extra.write(req);
  await waitFor(() => got.includes('too_many_connections'), { what: '503 too_many_connections', describe: () => got });
  assert.match(got, /^HTTP\/1\.1 503/);
  for (const c of socks) c.destroy();
  // once they are gone, the door takes requests again: lws reads nothing
  // while a reply is pending, so a caller that left is seen at the next
  // write — here the API's ping to /events followers (every 15 s)
  await waitFor(async () => (await call('GET', '/workspaces', { token: chatToken })).status === 200, { what: 'the door free again', timeout: ms(30_000), interval: 500 });

  // the token is never logged
  assertNoSecrets(s.agent, [chatToken], 'agent');
  assert.match(s.agent.logs(), /token_from="chat_token in the agent config"/);
}));

test('a reader that does not read its stream is cut at CL_CHAT_HTTP_STREAM_MAX; the door goes on', { timeout: ms(180_000) }, e2e(async (t, scope) => {
  const s = await setup(scope);
  const { call, chatToken } = s;
  const th = expectStatus(await call('POST', '/threads', { token: chatToken, body: { title: 'renamed often' } }), 201);
  // a follower of /events that never reads
  const sock = net.connect(s.port, '127.0.0.1');
  scope.add({ name: 'slow reader', cleanup: () => sock.destroy() });
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.write(`GET /api/v1/chat/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${chatToken}\r\n\r\n`);
  sock.pause();
  let closed = false;
  sock.on('close', () => { closed = true; });
  // every rename is a `thread` event of ~400 bytes to every follower
  const title = (i) => `${String(i).padStart(6, '0')} ${'t'.repeat(240)}`;
  let i = 0;
  const started = Date.now();
  while (!/stream cut: the caller does not read/.test(s.agent.logs())) {
    const batch = [];
    for (let k = 0; k < 8; k++) batch.push(call('PATCH', `/threads/${th.id}`, { token: chatToken, body: { title: title(i++) } }));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 200, show(r));
    assert.ok(i < 40_000, `no cut after ${i} events of ~400 bytes\n${tail(s.agent.logs(), 10)}`);
  }
  assert.ok(i * 400 > 1024 * 1024, `cut after ${i} events: not before CL_CHAT_HTTP_STREAM_MAX`);
  sock.resume();
  await waitFor(() => closed, { what: 'the slow reader\'s connection closed' });
  // its call was cancelled and the door still answers
  await waitFor(() => /end=slow_reader/.test(s.agent.logs()), { what: 'the call cancelled' });
  expectStatus(await call('GET', `/threads/${th.id}`, { token: chatToken }), 200);
  t.diagnostic(`cut after ${i} events in ${Date.now() - started} ms`);
}));

test('CLAWLINK_CHAT_TOKEN wins over the config; no token, or an address off loopback, stops the agent with a clear error', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const envToken = `env-${randomId(16)}`;
  const s = await setup(scope, { chatToken: `cfg-${randomId(16)}`, env: { CLAWLINK_CHAT_TOKEN: envToken } });
  let r = await s.call('GET', '/threads', { token: envToken });
  assert.equal(r.status, 200, show(r));
  r = await s.call('GET', '/threads', { token: s.chatToken });
  assert.equal(r.status, 401, 'the config\'s token is not the one in use');
  assert.match(s.agent.logs(), /token_from="CLAWLINK_CHAT_TOKEN"/);
  assertNoSecrets(s.agent, [envToken, s.chatToken], 'agent');
  await s.agent.stop();

  // off loopback: refused before anything starts (a usage error)
  for (const addr of ['0.0.0.0:8765', '192.168.1.10:8765', '[::]:8765', 'example.com:8765', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000']) {
    const out = await runUp(['--config', s.paired.configPath, '--chat-listen', addr]);
    assert.equal(out.code, 2, `--chat-listen ${addr}: exit ${out.code}\n${out.stderr}`);
    assert.match(out.stderr, /chat-listen/, out.stderr);
  }
  const off = await runUp(['--config', s.paired.configPath, '--chat-listen', '10.1.2.3:8765']);
  assert.match(off.stderr, /not a loopback address/, off.stderr);

  // no token anywhere: the agent stops with the reason
  const cfg = JSON.parse(await readFile(s.paired.configPath, 'utf8'));
  delete cfg.chat_token;
  await writeFile(s.paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(s.paired.configPath, 0o600);
  const home = await tempDir('clawlink-home-');
  const none = await runUp(['--config', s.paired.configPath, '--chat-db', path.join(home, 'c.db'), '--chat-listen', `127.0.0.1:${await freePort()}`], { HOME: home });
  assert.equal(none.code, 1, `exit ${none.code}\n${none.stderr}`);
  assert.match(none.stderr, /needs a token/, none.stderr);
  // a token too short to guard anything
  const short = await runUp(['--config', s.paired.configPath, '--chat-db', path.join(home, 'c.db'), '--chat-listen', `127.0.0.1:${await freePort()}`], { HOME: home, CLAWLINK_CHAT_TOKEN: 'short' });
  assert.equal(short.code, 1, short.stderr);
  assert.match(short.stderr, /must be 16 to 128 bytes/, short.stderr);
}));
