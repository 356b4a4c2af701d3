// `clawlink audit` (issue 14; docs/audit.md) on the real binary: a
// deliberately bad machine in a temporary HOME — agent config and device
// key readable by others, a group-writable directory above them, a
// symlinked config, a plain ws:// relay across the network, restart in the
// capabilities, a secret passed to shells, an open chat store, and an
// OpenClaw beside it bound to the LAN without auth, its config and state
// readable by everyone, log redaction off, exec approvals wide open (in
// openclaw.json, the legacy exec-approvals.json and the SQLite row
// OpenClaw 2026.9 keeps). The audit must flag each; --fix must tighten the
// modes and change nothing else; a second run finds them fixed; --json
// has its schema. --deep: against a real OpenClaw gateway (refuses a
// client without a token), a socket that accepts anyone, a TLS relay (its
// certificate and HSTS) and an https server without HSTS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile, chmod, symlink, stat, readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { e2e, cleanupAll, ms, tempDir, freePort, AGENT_BIN } from './lib/harness.mjs';
import { checkSanitizerText, makeSelfSigned, startTlsRelay } from './lib/extra.mjs';
import { startGateway } from './lib/openclaw.mjs';
import { startFakeModel } from './lib/fake-model.mjs';

after(cleanupAll);

const DEVICE_TOKEN = 'cld_auditTestTokenNeverPrintedAnywhere0123456789';

/** Runs `clawlink audit ARGS` with exactly env (plus PATH and sanitizer settings). */
function audit(args, env) {
  const full = { PATH: process.env.PATH || '/usr/bin:/bin', LANG: 'C.UTF-8', ...env };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) full[k] = process.env[k];
  }
  return new Promise((resolve) => {
    execFile(AGENT_BIN, ['audit', ...args], { env: full, timeout: ms(60_000), killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      checkSanitizerText(stderr, 'clawlink audit');
      let json = null;
      if (args.includes('--json')) json = JSON.parse(stdout);
      resolve({ code: err ? err.code : 0, stdout, stderr, json });
    });
  });
}

const mode = async (p) => (await stat(p)).mode & 0o7777;
const ids = (r) => r.json.findings.map((f) => f.id);
function finding(r, id, severity) {
  const f = r.json.findings.find((x) => x.id === id);
  assert.ok(f, `expected finding ${id}; got:\n${ids(r).join('\n')}`);
  if (severity) assert.equal(f.severity, severity, `${id}: ${JSON.stringify(f)}`);
  return f;
}

/** The --json schema (docs/audit.md), checked on every document. */
function checkSchema(doc) {
  assert.equal(doc.version, 1);
  assert.equal(typeof doc.clawlink, 'string');
  assert.equal(typeof doc.deep, 'boolean');
  assert.equal(typeof doc.fix, 'boolean');
  for (const k of ['critical', 'warn', 'info', 'fixed', 'critical_remaining']) assert.equal(typeof doc.summary[k], 'number', k);
  assert.ok(Array.isArray(doc.findings));
  for (const f of doc.findings) {
    assert.match(f.id, /^[a-z_]+(\.[a-z_]+)+$/);
    assert.ok(['critical', 'warn', 'info'].includes(f.severity));
    for (const k of ['title', 'detail', 'fix']) assert.equal(typeof f[k], 'string', `${f.id}.${k}`);
    assert.ok(f.title.length > 0 && f.detail.length > 0);
    assert.equal(typeof f.fixed, 'boolean');
  }
  assert.equal(doc.summary.critical, doc.findings.filter((f) => f.severity === 'critical').length);
  assert.equal(doc.summary.critical_remaining, doc.findings.filter((f) => f.severity === 'critical' && !f.fixed).length);
}

function sqlite(db, sql) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', [db, sql], (err, stdout, stderr) => (err ? reject(new Error(`sqlite3: ${stderr}`)) : resolve(stdout)));
  });
}

/** A HOME with everything wrong that the audit knows of. */
async function badMachine() {
  const root = await tempDir('clawlink-audit-');
  const home = path.join(root, 'home');
  const cfgDir = path.join(home, '.config', 'clawlink');
  const configPath = path.join(cfgDir, 'agent.json');
  const keyPath = path.join(cfgDir, 'openclaw-device.json');
  const state = path.join(home, '.openclaw');
  const ocConfig = path.join(state, 'openclaw.json');
  const dataHome = path.join(root, 'data');
  const chatDir = path.join(dataHome, 'clawlink');
  await mkdir(cfgDir, { recursive: true });
  await mkdir(path.join(state, 'state'), { recursive: true });
  await mkdir(chatDir, { recursive: true });
  await chmod(root, 0o700);
  await chmod(home, 0o755);
  await chmod(path.join(home, '.config'), 0o775); // group-writable, above the config
  await chmod(cfgDir, 0o755);
  const agentCfg = {
    device_id: 'dev-audit', token: DEVICE_TOKEN, relay_url: 'ws://relay.example.com:8080', name: 'audit',
    capabilities: ['chat', 'restart'],
  };
  await writeFile(configPath, JSON.stringify(agentCfg, null, 2));
  await chmod(configPath, 0o644);
  await writeFile(keyPath, JSON.stringify({ secret_key: 'not-a-real-key' }));
  await chmod(keyPath, 0o640);
  const oc = {
    gateway: { mode: 'local', bind: 'lan', port: 18789, auth: { mode: 'none' } },
    logging: { redactSensitive: 'off' },
    tools: { exec: { security: 'full', ask: 'off' } },
  };
  await writeFile(ocConfig, JSON.stringify(oc, null, 2));
  await chmod(ocConfig, 0o644);
  await chmod(state, 0o755);
  await writeFile(path.join(state, 'exec-approvals.json'), JSON.stringify({ version: 1, defaults: { security: 'full', askFallback: 'full' } }));
  await sqlite(path.join(state, 'state', 'openclaw.sqlite'),
    'CREATE TABLE exec_approvals_config (config_key TEXT NOT NULL PRIMARY KEY, raw_json TEXT NOT NULL, socket_path TEXT, ' +
    'has_socket_token INTEGER NOT NULL, default_security TEXT, default_ask TEXT, default_ask_fallback TEXT, auto_allow_skills INTEGER);' +
    `INSERT INTO exec_approvals_config VALUES ('default', '{"version":1,"defaults":{"security":"full","ask":"off","autoAllowSkills":true}}', NULL, 0, 'full', 'off', NULL, 1);`);
  await writeFile(path.join(chatDir, 'chat.db'), 'not yet a database');
  await chmod(path.join(chatDir, 'chat.db'), 0o644);
  await chmod(chatDir, 0o755);
  const env = {
    HOME: home, XDG_DATA_HOME: dataHome, GITHUB_TOKEN: 'ghp_auditSecretValue', OPENCLAW_GATEWAY_TOKEN: 'gw-secret-in-agent-env',
  };
  return { root, home, cfgDir, configPath, keyPath, state, ocConfig, chatDir, env, agentCfg, oc };
}

test('a bad setup is flagged; --fix tightens only modes, and a second run finds them fixed', { timeout: ms(120_000) }, e2e(async () => {
  const m = await badMachine();
  const before = { agent: await readFile(m.configPath, 'utf8'), oc: await readFile(m.ocConfig, 'utf8') };

  const r = await audit(['--json', '--pass-env', 'GITHUB_TOKEN,LANG'], m.env);
  assert.equal(r.code, 1, `critical findings exit 1\n${r.stdout}\n${r.stderr}`);
  checkSchema(r.json);
  assert.equal(r.json.fix, false);
  // the agent's files
  finding(r, 'agent.config.perms_open', 'critical');
  finding(r, 'agent.device_key.perms_open', 'critical');
  assert.ok(r.json.findings.some((f) => f.id === 'agent.config.parent_dir' && f.detail.includes(path.join(m.home, '.config'))),
    'the group-writable ~/.config is named');
  finding(r, 'agent.config_dir.perms_readable', 'warn');
  // the relay and what it may ask
  finding(r, 'relay.url.plaintext', 'critical');
  finding(r, 'agent.capabilities.admin_scope', 'warn');
  finding(r, 'agent.capabilities.chat_exec', 'warn');
  // shells
  assert.match(finding(r, 'shell.env.secret_passed', 'warn').detail, /GITHUB_TOKEN/);
  assert.ok(!ids(r).includes('shell.env.gateway_token'), 'the gateway token in the agent env never reaches shells');
  // chat
  finding(r, 'chat.store.perms_open', 'critical');
  finding(r, 'chat.store_dir.perms_readable', 'warn');
  finding(r, 'chat.api.not_present', 'info');
  // OpenClaw
  finding(r, 'openclaw.gateway.bind_no_auth', 'critical');
  finding(r, 'openclaw.config.perms_world_readable', 'critical');
  finding(r, 'openclaw.state_dir.perms_readable', 'warn');
  finding(r, 'openclaw.logging.redact_off', 'warn');
  finding(r, 'openclaw.exec.wide_open', 'warn');
  const full = r.json.findings.filter((f) => f.id === 'openclaw.exec_approvals.full').map((f) => f.detail);
  assert.ok(full.some((d) => d.includes('#exec_approvals_config')), `the SQLite row: ${full}`);
  assert.ok(full.some((d) => d.includes('exec-approvals.json')), `the legacy file: ${full}`);
  finding(r, 'openclaw.exec_approvals.ask_fallback_full', 'warn');
  finding(r, 'openclaw.exec_approvals.auto_allow_skills', 'warn');
  // no secret in what the audit prints
  for (const s of [DEVICE_TOKEN, 'ghp_auditSecretValue', 'gw-secret-in-agent-env']) {
    assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `the audit printed a secret: ${s}`);
  }

  // --fix: the modes, nothing else
  const f = await audit(['--fix', '--json', '--pass-env', 'GITHUB_TOKEN'], m.env);
  assert.equal(f.code, 1, 'a plain ws:// relay and a gateway without auth stay critical');
  checkSchema(f.json);
  assert.equal(f.json.fix, true);
  for (const id of ['agent.config.perms_open', 'agent.device_key.perms_open', 'agent.config.parent_dir', 'chat.store.perms_open',
    'openclaw.config.perms_world_readable', 'openclaw.state_dir.perms_readable', 'agent.config_dir.perms_readable']) {
    assert.equal(finding(f, id).fixed, true, `${id} fixed`);
  }
  for (const id of ['relay.url.plaintext', 'openclaw.gateway.bind_no_auth', 'openclaw.logging.redact_off']) {
    assert.equal(finding(f, id).fixed, false, `${id} is not a safe fix`);
  }
  assert.match(f.stderr, /fixed agent\.config\.perms_open: chmod go-rwx/);
  assert.equal(await mode(m.configPath), 0o600);
  assert.equal(await mode(m.keyPath), 0o600);
  assert.equal(await mode(path.join(m.home, '.config')), 0o755);
  assert.equal(await mode(m.cfgDir), 0o700);
  assert.equal(await mode(m.ocConfig), 0o600);
  assert.equal(await mode(m.state), 0o700);
  assert.equal(await mode(path.join(m.chatDir, 'chat.db')), 0o600);
  assert.equal(await mode(m.chatDir), 0o700);
  assert.equal(await readFile(m.configPath, 'utf8'), before.agent, 'the agent config is not edited');
  assert.equal(await readFile(m.ocConfig, 'utf8'), before.oc, 'openclaw.json is not edited');

  // a second run: the safe ones are gone, the rest stay
  const again = await audit(['--json', '--pass-env', 'GITHUB_TOKEN'], m.env);
  checkSchema(again.json);
  for (const id of ['agent.config.perms_open', 'agent.device_key.perms_open', 'agent.config.parent_dir', 'chat.store.perms_open',
    'openclaw.config.perms_world_readable', 'openclaw.state_dir.perms_readable']) {
    assert.ok(!ids(again).includes(id), `${id} is fixed`);
  }
  finding(again, 'relay.url.plaintext', 'critical');
  assert.equal(again.code, 1);

  // text output says the same
  const text = await audit([], m.env);
  assert.match(text.stdout, /^clawlink audit: \d+ critical, \d+ warn, \d+ info/);
  assert.match(text.stdout, /CRITICAL relay\.url\.plaintext/);
}));

test('a well-kept machine exits 0; then a symlinked config, openclaw.json modes, a stopped gateway, a broken config, no OpenClaw', { timeout: ms(120_000) }, e2e(async () => {
  const m = await badMachine();
  // a well-kept machine ...
  await chmod(path.join(m.home, '.config'), 0o755);
  await chmod(m.cfgDir, 0o700);
  await writeFile(m.configPath, JSON.stringify({ ...m.agentCfg, relay_url: 'ws://127.0.0.1:8080', capabilities: ['terminal', 'status'] }));
  await chmod(m.configPath, 0o600);
  await chmod(m.keyPath, 0o600);
  await writeFile(m.ocConfig, JSON.stringify({
    gateway: { mode: 'local', bind: 'loopback', auth: { mode: 'token', token: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5' } },
    tools: { exec: { mode: 'ask' } },
  }));
  await chmod(m.ocConfig, 0o600);
  await chmod(m.state, 0o700);
  await writeFile(path.join(m.state, 'exec-approvals.json'), JSON.stringify({ version: 1, defaults: { security: 'allowlist', ask: 'on-miss' } }));
  await sqlite(path.join(m.state, 'state', 'openclaw.sqlite'), 'DELETE FROM exec_approvals_config');
  await chmod(path.join(m.chatDir, 'chat.db'), 0o600);
  await chmod(m.chatDir, 0o700);
  const ok = await audit(['--json'], { HOME: m.home, XDG_DATA_HOME: path.join(m.root, 'data') });
  checkSchema(ok.json);
  assert.equal(ok.code, 0, `nothing critical: exit 0\n${JSON.stringify(ok.json.findings, null, 1)}`);
  assert.equal(ok.json.summary.critical, 0);
  assert.deepEqual(ok.json.findings.filter((f) => f.severity === 'warn').map((f) => f.id), []);
  finding(ok, 'relay.url.loopback_plaintext', 'info');

  // ... but its config reached through a symbolic link
  const link = path.join(m.cfgDir, 'link.json');
  await symlink(m.configPath, link);
  const l = await audit(['--json', '--config', link], { HOME: m.home });
  finding(l, 'agent.config.symlink', 'warn');
  const fx = await audit(['--json', '--fix', '--config', link], { HOME: m.home });
  assert.equal(finding(fx, 'agent.config.symlink').fixed, false, 'a link is never "fixed"');

  // openclaw.json writable by its group, then readable by it
  await chmod(m.ocConfig, 0o660);
  finding(await audit(['--json'], { HOME: m.home }), 'openclaw.config.perms_writable', 'critical');
  await chmod(m.ocConfig, 0o640);
  finding(await audit(['--json'], { HOME: m.home }), 'openclaw.config.perms_group_readable', 'warn');
  // --deep with nothing listening where the gateway should be
  const closed = await freePort();
  await writeFile(m.ocConfig, JSON.stringify({ gateway: { port: closed, auth: { token: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5' } } }));
  finding(await audit(['--json', '--deep'], { HOME: m.home }), 'openclaw.gateway.probe_failed', 'info');
  // a config that does not parse; no OpenClaw at all
  await writeFile(m.configPath, '{"device_id": 1}');
  const other = await tempDir('clawlink-audit-empty-');
  const bad = await audit(['--json', '--config', m.configPath], { HOME: other });
  finding(bad, 'agent.config.invalid', 'warn');
  finding(bad, 'openclaw.not_found', 'info');
  // the CLI refuses a --pass-env naming the gateway's token before it audits
  const gt = await audit(['--pass-env', 'OPENCLAW_GATEWAY_TOKEN'], { HOME: m.home });
  assert.equal(gt.code, 2);
  assert.match(gt.stderr, /never passed to a shell/);

  // usage errors exit 2
  assert.equal((await audit(['--user'], { HOME: m.home })).code, 2);
  assert.equal((await audit(['--bogus'], { HOME: m.home })).code, 2);
}));

test('--deep: a real gateway refuses a client without a token, an open one is critical; the relay\'s certificate and HSTS', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: 'unused' });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl, token: 'audit-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0' });
  const home = await tempDir('clawlink-audit-deep-');
  const configPath = path.join(home, 'agent.json');
  const certs = await makeSelfSigned(home);
  const relay = await startTlsRelay(scope, { cert: certs.cert, key: certs.key, ca: certs.pem });
  await writeFile(configPath, JSON.stringify({ device_id: 'dev-deep', token: DEVICE_TOKEN, relay_url: relay.wsUrl }));
  await chmod(configPath, 0o600);
  const env = { HOME: home, XDG_DATA_HOME: path.join(home, 'data'), OPENCLAW_CONFIG_PATH: gw.configPath, OPENCLAW_STATE_DIR: gw.stateDir };

  // The gateway may refuse with "starting" at first; wait for its auth to answer.
  let r;
  const deadline = Date.now() + ms(60_000);
  for (;;) {
    r = await audit(['--deep', '--json', '--config', configPath, '--ca-file', certs.cert], env);
    const p = r.json.findings.find((f) => f.id === 'openclaw.gateway.probe_refused');
    if ((p && /AUTH_/.test(p.detail)) || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  checkSchema(r.json);
  assert.equal(r.json.deep, true);
  assert.match(finding(r, 'openclaw.gateway.probe_refused', 'info').detail, /AUTH_TOKEN_MISSING/);
  assert.ok(!ids(r).includes('openclaw.gateway.probe_accepted'));
  assert.ok(!ids(r).includes('relay.tls.unverified'), JSON.stringify(r.json.findings));
  assert.ok(!ids(r).includes('relay.tls.hsts_missing'), 'the TLS relay sends Strict-Transport-Security');
  finding(r, 'chat.store.not_present', 'info');
  assert.ok(!r.stdout.includes(gw.token), 'the gateway token is not printed');

  // without the CA: the certificate does not verify
  const nca = await audit(['--deep', '--json', '--config', configPath], env);
  finding(nca, 'relay.tls.unverified', 'critical');
  assert.equal(nca.code, 1);

  // an https server without HSTS
  const plain = https.createServer({ cert: await readFile(certs.cert), key: await readFile(certs.key) }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise((res) => plain.listen(0, '127.0.0.1', res));
  scope.add({ name: 'https without HSTS', cleanup: () => new Promise((res) => plain.close(res)) });
  await writeFile(configPath, JSON.stringify({ device_id: 'dev-deep', token: DEVICE_TOKEN, relay_url: `wss://127.0.0.1:${plain.address().port}` }));
  const nh = await audit(['--deep', '--json', '--config', configPath, '--ca-file', certs.cert], env);
  finding(nh, 'relay.tls.hsts_missing', 'warn');

  // a gateway that lets anyone in: a socket that answers connect with hello-ok
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  scope.add({ name: 'open gateway', cleanup: () => new Promise((res) => wss.close(res)) });
  let connect;
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce: 'n0nce', ts: Date.now() } }));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      connect = m;
      ws.send(JSON.stringify({ type: 'res', id: m.id, ok: true, payload: { type: 'hello-ok', protocol: 4 } }));
    });
  });
  const openCfg = path.join(home, 'open-openclaw.json');
  await writeFile(openCfg, JSON.stringify({ gateway: { bind: 'loopback', port, auth: { mode: 'token', token: 'b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5' } } }));
  await chmod(openCfg, 0o600);
  const open = await audit(['--deep', '--json', '--config', configPath, '--ca-file', certs.cert],
    { ...env, OPENCLAW_CONFIG_PATH: openCfg, OPENCLAW_STATE_DIR: path.join(home, 'nostate') });
  finding(open, 'openclaw.gateway.probe_accepted', 'critical');
  assert.equal(open.code, 1);
  assert.equal(connect.method, 'connect');
  assert.equal(connect.params.auth, undefined, 'the probe sends no credential');
  assert.equal(connect.params.client.id, 'openclaw-probe');
  assert.equal(connect.params.device.nonce, 'n0nce', 'the probe signs the challenge with a throwaway identity');
}));

test('--deep: the gateway probe reads bounded: a huge hello-ok, a frame claiming 2^64-1 bytes, a 401 upgrade', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const home = await tempDir('clawlink-audit-probe-');
  const ocCfg = path.join(home, 'openclaw.json');
  const run = async (port) => {
    await writeFile(ocCfg, JSON.stringify({ gateway: { port, auth: { token: 'b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5' } } }));
    await chmod(ocCfg, 0o600);
    return audit(['--deep', '--json', '--config', path.join(home, 'none.json')],
      { HOME: home, OPENCLAW_CONFIG_PATH: ocCfg, OPENCLAW_STATE_DIR: path.join(home, 'state') });
  };
  // a hello-ok larger than the probe reads (300 KiB of method names)
  const port1 = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: port1, maxPayload: 1 << 20 });
  scope.add({ name: 'big gateway', cleanup: () => new Promise((res) => wss.close(res)) });
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce: 'n', ts: 1 } }));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      ws.send(JSON.stringify({ type: 'res', id: m.id, ok: true, payload: { type: 'hello-ok', methods: Array.from({ length: 30000 }, (_, i) => `method.number.${i}`) } }));
    });
  });
  finding(await run(port1), 'openclaw.gateway.probe_accepted', 'critical');

  // raw sockets: a 101 and then a frame header claiming 2^64-1 bytes (hdr + len wraps); a 401
  const net = await import('node:net');
  for (const [answer, expect] of [
    [Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      Buffer.from([0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(4096, 0x41)]), 'openclaw.gateway.probe_unclear'],
    [Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'), 'openclaw.gateway.probe_refused'],
  ]) {
    const srv = net.createServer((sock) => {
      sock.once('data', () => { sock.end(answer); });
      sock.on('error', () => {});
    });
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    scope.add({ name: 'raw gateway', cleanup: () => new Promise((res) => srv.close(res)) });
    const r = await run(srv.address().port);
    finding(r, expect);
    assert.ok(!ids(r).includes('openclaw.gateway.probe_accepted'));
  }
}));
