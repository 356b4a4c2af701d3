// Real relay + real agent + real bash PTYs, driven like a browser would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, tempDir, api, show, expectStatus, signup, createProject,
  pairAgent, startAgent, openTerminal, wsClient, msg, isType, isError, expectClose, browserAuth,
  waitDeviceStatus, readAgentConfig, assertNoSecrets, tail, sleep, waitFor, startSession, attachTerminal,
  AGENT_BIN,
} from './lib/harness.mjs';

after(cleanupAll);

const PROMPT = /\$ $/m;

function processAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is gone for our purposes only once reaped; treat it as alive
  return true;
}

/** Relay, user, project, paired real agent, online. */
async function setup({ relay } = {}) {
  relay = relay || await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  const agent = await startAgent(paired.configPath, {
    shell: '/bin/bash', relay, token: user.token, projectId: project.id, deviceId: paired.deviceId,
  });
  return { relay, user, token: user.token, project, projectId: project.id, paired, deviceId: paired.deviceId, agent };
}

/** Opens a terminal and waits for the first prompt. */
async function terminal(env, opts = {}) {
  const term = await openTerminal(env.relay, env.token, env.deviceId, opts);
  await term.readUntil(PROMPT, ms(15_000));
  return term;
}

test('pair the real agent, open a terminal, run a command', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const { paired, relay } = env;

  // the agent wrote its config (mode 0600) with the device id and a device token
  const st = await stat(paired.configPath);
  assert.equal(st.mode & 0o777, 0o600, `config file mode is 0600, got ${(st.mode & 0o777).toString(8)}`);
  assert.equal(paired.config.device_id, paired.deviceId, `config: ${JSON.stringify({ ...paired.config, token: '…' })}`);
  assert.match(String(paired.config.token), /^cld_/, 'config holds the device token');

  const devs = expectStatus(await api(relay, 'GET', `/api/v1/projects/${env.projectId}/devices`, undefined, env.token), 200, relay).devices;
  const d = devs.find((x) => x.id === env.deviceId);
  assert.equal(d.status, 'online', JSON.stringify(d));
  assert.equal(d.paired, true, JSON.stringify(d));

  const term = await terminal(env, { cols: 80, rows: 24 });
  term.write('echo $((6*7))\r');
  await term.readUntil(/\r?\n42\r?\n/);
  assert.deepEqual(term.offsetProblems(), [], 'stdout offsets are continuous from 0');
  const noOffset = term.ws.received.filter((m) => m.type === 'stdout' && typeof m.data?.offset !== 'number');
  assert.deepEqual(noOffset, [], 'every stdout from the agent carries offset (protocol.md, agent connection 5)');

  // pings are answered
  term.ws.send(msg('ping'));
  await term.ws.next('pong');

  // secrets never reach the relay's log
  assertNoSecrets(relay, [env.token, env.user.password, paired.config.token, paired.pairingCode], 'relay');
  assertNoSecrets(env.agent, [paired.config.token, paired.pairingCode], 'agent');
}));

test('a shell gets a login\'s environment, not the agent\'s: never the gateway token; --pass-env adds by name', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  const agentEnv = { OPENCLAW_GATEWAY_TOKEN: 'gw-secret-4f1c', AGENT_ONLY: 'not-for-shells', PASSED_ON: 'asked-for', LC_TIME: 'C', TZ: 'UTC' };
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId, env: agentEnv,
    extraArgs: ['--pass-env', 'CLAWLINK_E2E_TAG,INPUTRC,ENV,PASSED_ON'],
  });
  const term = await openTerminal(relay, user.token, paired.deviceId);
  await term.readUntil(PROMPT, ms(15_000));
  term.write("env | grep -v '^_=' | sort | sed 's/^/ENV:/'; echo END-OF-$((1+1))\r");
  const [, text] = await term.readUntil(/((?:ENV:[^\r\n]*\r?\n)+)END-OF-2/);
  const vars = Object.fromEntries(text.split(/\r?\n/).filter((l) => l.startsWith('ENV:')).map((l) => {
    const [k, ...v] = l.slice(4).split('=');
    return [k, v.join('=')];
  }));
  assert.equal(vars.OPENCLAW_GATEWAY_TOKEN, undefined, 'the gateway token never reaches a shell');
  assert.equal(vars.AGENT_ONLY, undefined, 'nor the rest of the agent\'s environment');
  assert.equal(vars.PASSED_ON, 'asked-for', '--pass-env passes a name on');
  for (const [k, v] of Object.entries({ TERM: 'xterm-256color', COLORTERM: 'truecolor', SHELL: '/bin/bash', LANG: 'C.UTF-8', LC_TIME: 'C', TZ: 'UTC' })) {
    assert.equal(vars[k], v, `${k}=${v}`);
  }
  for (const k of ['HOME', 'PATH', 'USER', 'LOGNAME']) assert.ok(vars[k], `${k} is set`);
  assert.equal(vars.HOME, agent.home);
  await agent.stop();

  // The gateway's token cannot be asked for.
  const bad = spawnSync(AGENT_BIN, ['up', '--config', paired.configPath, '--pass-env', 'PATH,OPENCLAW_GATEWAY_TOKEN'], { encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /OPENCLAW_GATEWAY_TOKEN is never passed to a shell/);
  assert.equal(spawnSync(AGENT_BIN, ['up', '--config', paired.configPath, '--pass-env', 'A-B'], { encoding: 'utf8' }).status, 2);
}));

test('resize reaches the PTY: stty size after resize 100x30 → "30 100"', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env, { cols: 80, rows: 24 });
  term.write('stty size\r');
  await term.readUntil(/\r?\n24 80\r?\n/);
  await term.readUntil(PROMPT);
  term.resize(100, 30);
  // resize has no acknowledgement; the next command runs after it was applied
  // only if the relay forwards messages of one session in order.
  term.write('stty size\r');
  await term.readUntil(/\r?\n30 100\r?\n/);
}));

test('session_start without a size gives an 80x24 PTY', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env, { cols: null, rows: null });
  term.write('stty size\r');
  await term.readUntil(/\r?\n24 80\r?\n/);
}));

test('two concurrent sessions are isolated', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const a = await terminal(env, { label: 'terminal A' });
  const b = await terminal(env, { label: 'terminal B' });
  assert.notEqual(a.sessionId, b.sessionId);

  a.write('echo MARK_A_$((1000+234))\r');
  await a.readUntil(/MARK_A_1234/);
  b.write('echo MARK_B_$((5000+678))\r');
  await b.readUntil(/MARK_B_5678/);
  // a later round trip on each: everything the other emitted earlier would have arrived by now
  a.write('echo SYNC_A_$((1+1))\r');
  await a.readUntil(/SYNC_A_2/);
  b.write('echo SYNC_B_$((2+2))\r');
  await b.readUntil(/SYNC_B_4/);

  assert.equal(b.output().includes('MARK_A'), false, `A's output leaked into B: ${JSON.stringify(b.output())}`);
  assert.equal(a.output().includes('MARK_B'), false, `B's output leaked into A: ${JSON.stringify(a.output())}`);
  for (const [t, other] of [[a, b], [b, a]]) {
    const foreign = t.ws.received.filter((m) => m.data?.session_id && m.data.session_id !== t.sessionId);
    assert.deepEqual(foreign, [], `${t.ws.label} received messages of session ${other.sessionId}`);
  }
}));

test('exit 3 → session_end {reason: exit, exit_code: 3}; the ended session refuses auth', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env);
  term.write('exit 3\r');
  const end = await term.ws.next(isType('session_end', (m) => m.data?.session_id === term.sessionId), ms(15_000));
  assert.equal(end.data.reason, 'exit', JSON.stringify(end));
  assert.equal(end.data.exit_code, 3, JSON.stringify(end));

  // a new viewer for the ended session: error session_ended, close 1008
  const late = await wsClient(`${env.relay.wsUrl}/session`, { label: 'late viewer' });
  late.send(msg('auth', { token: env.token, session_id: term.sessionId, device_id: env.deviceId }));
  await late.next(isError('session_ended'));
  await expectClose(late, 1008);

  // the device still serves new sessions
  const t2 = await terminal(env);
  t2.write('echo $((6*7))\r');
  await t2.readUntil(/\r?\n42\r?\n/);
}));

test('a shell killed by a signal reports exit_code 128+N', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env);
  term.write('kill -9 $$\r');
  const end = await term.ws.next(isType('session_end', (m) => m.data?.session_id === term.sessionId), ms(15_000));
  assert.equal(end.data.reason, 'exit', JSON.stringify(end));
  assert.equal(end.data.exit_code, 128 + 9, JSON.stringify(end));
}));

test('a viewer that disconnects can re-attach: the shell lives on, output replayed from the ring', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env);
  term.write('KEEP=kept_$((40+2))\r');
  await term.readUntil(PROMPT);
  const before = term.output();
  term.ws.close(); // no session_end: the session must survive
  await term.ws.closed;

  // no resume_offset: starts from the oldest byte the agent holds (here: 0)
  const again = await attachTerminal(env.relay, env.token, term.sessionId, env.deviceId, { label: 're-attached viewer' });
  await again.readUntil(/KEEP=kept_/); // the replayed history
  again.write('echo "[$KEEP]"\r');
  await again.readUntil(/\[kept_42\]/);
  assert.ok(again.output().startsWith(before), `replay from 0 repeats the earlier output: ${JSON.stringify(again.output().slice(0, 200))}`);
  assert.deepEqual(again.gaps(), [], 'nothing was lost: no gap');
  assert.deepEqual(again.offsetProblems(), [], 'offsets continuous from 0');
  assert.deepEqual(again.ws.pending('session_end'), [], 'the session was not ended');
}));

test('resume_offset: a viewer that comes back gets exactly the bytes it missed', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env, { cols: 200, rows: 50 });
  // the shell blocks in `read` until the next viewer releases it
  term.write('echo P1_$((1+1)); read x; seq 1 20000; echo END_$((2+1))\r');
  await term.readUntil(/P1_2\r?\n/);
  const had = term.bytes();
  assert.equal(term.nextOffset(), had);
  term.ws.close();
  await term.ws.closed;

  const back = await attachTerminal(env.relay, env.token, term.sessionId, env.deviceId, { resumeOffset: had, cols: 200, rows: 50, label: 'resumed viewer' });
  back.write('\r');
  await back.readUntil(/END_3\r?\n/, ms(30_000));
  assert.deepEqual(back.offsetProblems(), [], 'the first byte is at resume_offset, then continuous');
  assert.deepEqual(back.gaps(), []);
  const text = back.output();
  assert.equal(text.includes('P1_2'), false, `bytes before resume_offset were sent again: ${JSON.stringify(text.slice(0, 300))}`);
  const lines = text.slice(text.indexOf('\n1\r\n') + 1, text.indexOf('END_3')).split('\r\n').filter((l) => l !== '');
  assert.equal(lines.length, 20000, `seq output complete: ${lines.length} lines`);
  assert.equal(lines.findIndex((l, i) => l !== String(i + 1)), -1, 'seq output in order');
}));

for (const [kind, resumeOffset] of [['a clawlink browser (resume_offset 0)', 0], ['a PrivaClaw browser (no resume_offset, no ack)', undefined]]) {
test(`a viewer that stops reading does not hold back another; it catches up losslessly: ${kind}`, { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  // a ring larger than all the output, so a lagging viewer can always be replayed
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId, extraArgs: ['--ring-size', String(32 << 20)],
  });
  const env = { relay, token: user.token, projectId: project.id, deviceId: paired.deviceId, agent, paired };
  const fast = await terminal(env, { cols: 200, rows: 50, label: 'fast viewer' });
  // attaches after the first prompt; where a viewer without resume_offset
  // starts is the re-attach test's business: here only continuity counts
  const slow = await attachTerminal(relay, env.token, fast.sessionId, env.deviceId, { resumeOffset, anyStart: resumeOffset === undefined, cols: 200, rows: 50, label: 'slow viewer' });
  const other = await terminal(env, { label: 'other session' });
  slow.ws.ws._socket.pause(); // stop reading: socket buffers fill, then the relay's queue (2 MiB: lagging)

  const N = 1_000_000; // ~6.9 MB of output, well past CL_VIEWER_QUEUE_MAX and socket buffers
  fast.write(`seq 1 ${N}; echo END_$((4+4))\r`);
  await fast.readUntil(/END_8\r?\n/, ms(120_000));
  other.write('echo $((6*7))\r');
  await other.readUntil(/\r?\n42\r?\n/);

  slow.ws.ws._socket.resume();
  await slow.readUntil(/END_8\r?\n/, ms(120_000));
  for (const [t, name] of [[fast, 'fast'], [slow, 'slow']]) {
    assert.deepEqual(t.offsetProblems(), [], `${name}: offsets continuous`);
    assert.deepEqual(t.gaps(), [], `${name}: nothing lost (the ring holds it all)`);
    const text = t.output();
    const lines = text.slice(text.indexOf('\n1\r\n') + 1, text.indexOf('END_8')).split('\r\n').filter((l) => l !== '');
    const bad = lines.findIndex((l, i) => l !== String(i + 1));
    assert.equal(bad, -1, `${name}: line ${bad + 1} is ${JSON.stringify(lines[bad])}`);
    assert.equal(lines.length, N, `${name}: ${lines.length} lines of ${N}`);
  }
  assert.equal(slow.ws.closeInfo, null, 'the slow viewer was not dropped');
}));
}

test('bulk output arrives complete and in order', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env, { cols: 200, rows: 50 });
  const N = 60000; // ~350 KB of output: many PTY reads, many stdout messages
  term.write(`seq 1 ${N}; echo END_$((1+1))\r`);
  const m = await term.readUntil(/\r?\nEND_2\r?\n/, ms(60_000));
  assert.ok(m);
  const text = term.output();
  const start = text.indexOf('\n1\r\n');
  assert.ok(start >= 0, `the first line of seq: ${JSON.stringify(text.slice(0, 300))}`);
  const lines = text.slice(start + 1, text.indexOf('END_2')).split('\r\n').filter((l) => l !== '');
  const bad = lines.findIndex((l, i) => l !== String(i + 1));
  assert.equal(bad, -1, `line ${bad + 1} is ${JSON.stringify(lines[bad])} (context ${JSON.stringify(lines.slice(Math.max(0, bad - 2), bad + 3))})`);
  assert.equal(lines.length, N, `got ${lines.length} lines of ${N}`);
  // protocol.md: each stdout's offset is the position of its first byte, from 0 at spawn
  assert.deepEqual(term.offsetProblems(), [], 'stdout offsets are continuous from 0');
}));

test('busy sessions that end mid-stream (their PTYs read on worker threads) leave the agent and a stream beside them intact', { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  // The agent lends a busy PTY to a worker thread for each read (session.c,
  // cl__lend): a session that ends while its read is out must neither lose
  // the agent nor anyone else's bytes.
  const env = await setup();
  const exact = await terminal(env, { cols: 200, rows: 50, label: 'exact stream' });
  const ended = await terminal(env, { label: 'ended by the API' });
  const exits = await terminal(env, { label: 'exits mid-stream' });
  const killed = await terminal(env, { label: 'killed mid-stream' });
  const N = 200000;
  killed.write('echo PID_$$_; exec seq 1 3000000\r');
  const pid = Number((await killed.readUntil(/PID_(\d+)_/))[1]);
  ended.write('seq 1 3000000\r');
  exits.write('seq 1 3000000 | head -c 2000000; exit 7\r');
  exact.write(`seq 1 ${N}; echo END_$((1+1))\r`);
  await ended.readUntil(/\n100000\r?\n/, ms(30_000));
  const r = await api(env.relay, 'POST', '/functions/v1/end-session', { session_id: ended.sessionId }, env.token);
  expectStatus(r, 200, env.relay);
  await killed.readUntil(/\n50000\r?\n/, ms(30_000));
  process.kill(pid, 'SIGKILL');
  const endOf = (t) => t.ws.next(isType('session_end', (m) => m.data?.session_id === t.sessionId), ms(30_000));
  const [e1, e2, e3] = await Promise.all([endOf(ended), endOf(exits), endOf(killed)]);
  assert.equal(e1.data.reason, 'ended_by_user', JSON.stringify(e1));
  assert.deepEqual([e2.data.reason, e2.data.exit_code], ['exit', 7], JSON.stringify(e2));
  assert.deepEqual([e3.data.reason, e3.data.exit_code], ['exit', 128 + 9], JSON.stringify(e3));
  assert.deepEqual([ended, exits, killed].flatMap((t) => t.offsetProblems()), [], 'stdout offsets are continuous');

  await exact.readUntil(/\r?\nEND_2\r?\n/, ms(60_000));
  const text = exact.output();
  const start = text.indexOf('\n1\r\n');
  const lines = text.slice(start + 1, text.indexOf('END_2')).split('\r\n').filter((l) => l !== '');
  const bad = lines.findIndex((l, i) => l !== String(i + 1));
  assert.equal(bad, -1, `line ${bad + 1} is ${JSON.stringify(lines[bad])}`);
  assert.equal(lines.length, N, `got ${lines.length} lines of ${N}`);
  assert.deepEqual(exact.offsetProblems(), [], 'stdout offsets are continuous from 0');

  assert.ok(processAlive(env.agent.proc.pid), 'the agent is still running');
  const again = await terminal(env, { label: 'after' });
  again.write('echo $((6*7))\r');
  await again.readUntil(/\r?\n42\r?\n/);
}));

test('the agent refuses sessions over CL_AGENT_MAX_SESSIONS (64) with session_end reason "limit"', { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  // The relay would refuse the 65th at start-session (--max-sessions-per-device,
  // 64 by default: api.test): raised here so the agent's own limit is what
  // a 65th meets, as it would from a relay configured otherwise.
  const env = await setup({ relay: await startRelay({ extraArgs: ['--max-sessions-per-device', '100'] }) });
  const MAX = 64;
  const terms = [];
  for (let i = 0; i < MAX; i += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, MAX - i) }, (_, k) => openTerminal(env.relay, env.token, env.deviceId, { label: `terminal ${i + k}` })));
    terms.push(...batch);
  }
  assert.equal(terms.length, MAX);
  // one more: spawned never, refused with reason "limit"
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const extra = await browserAuth(env.relay, env.token, sessionId, env.deviceId, { label: 'terminal 65' });
  extra.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  const end = await extra.next(isType('session_end', (m) => m.data?.session_id === sessionId), ms(20_000));
  assert.equal(end.data.reason, 'limit', JSON.stringify(end));
  assert.deepEqual(extra.pending('session_started'), [], 'the refused session was never started');
  // the 64 are fine, and freeing one makes room
  terms[0].write('exit\r');
  await terms[0].ws.next(isType('session_end', (m) => m.data?.session_id === terms[0].sessionId), ms(15_000));
  const again = await terminal(env, { label: 'terminal after one exited' });
  again.write('echo $((6*7))\r');
  await again.readUntil(/\r?\n42\r?\n/);
  terms[MAX - 1].write('echo $((7*6))\r');
  await terms[MAX - 1].readUntil(/\r?\n42\r?\n/, ms(15_000));
}));

test('end-session API ends a live session; viewers get session_end; the shell is gone', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env);
  term.write('echo PID_$$_\r');
  const pid = Number((await term.readUntil(/PID_(\d+)_/))[1]);
  assert.ok(pid > 1 && processAlive(pid), `shell pid ${pid}`);
  // a second viewer attached to the same running session
  const second = await browserAuth(env.relay, env.token, term.sessionId, env.deviceId, { label: 'second viewer' });
  second.send(msg('session_start', { session_id: term.sessionId, cols: 80, rows: 24 }));
  await second.next(isType('session_started', (m) => m.data?.session_id === term.sessionId));

  const r = await api(env.relay, 'POST', '/functions/v1/end-session', { session_id: term.sessionId }, env.token);
  assert.equal(expectStatus(r, 200, env.relay).ok, true, show(r));
  for (const c of [term.ws, second]) {
    const end = await c.next(isType('session_end', (m) => m.data?.session_id === term.sessionId), ms(15_000));
    assert.equal(end.data.reason, 'ended_by_user', `${c.label}: ${JSON.stringify(end)}`);
  }
  // the agent hung up the shell
  await waitFor(() => !processAlive(pid), { timeout: ms(10_000), what: `shell ${pid} to exit after end-session` });
  // ending it again is not an error
  const r2 = await api(env.relay, 'POST', '/functions/v1/end-session', { session_id: term.sessionId }, env.token);
  expectStatus(r2, 200, env.relay);
  // and it is over for new viewers
  const late = await wsClient(`${env.relay.wsUrl}/session`, { label: 'late viewer' });
  late.send(msg('auth', { token: env.token, session_id: term.sessionId, device_id: env.deviceId }));
  await late.next(isError('session_ended'));
  await expectClose(late, 1008);
}));

test('agent SIGTERM: exits 0, device goes offline with last_seen set', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setup();
  const term = await terminal(env);
  term.write('echo $((6*7))\r');
  await term.readUntil(/\r?\n42\r?\n/);

  const info = await env.agent.stop('SIGTERM');
  assert.equal(info.killedHard, false, `agent did not exit after SIGTERM\n${tail(env.agent.logs())}`);
  assert.equal(info.code, 0, `agent exit after SIGTERM: ${JSON.stringify(info)}\n${tail(env.agent.logs())}`);

  const dev = await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'offline');
  assert.ok(dev.last_seen !== null && dev.last_seen !== undefined && dev.last_seen !== 0 && dev.last_seen !== '',
    `last_seen set: ${JSON.stringify(dev)}`);
  if (typeof dev.last_seen === 'number') {
    assert.ok(Math.abs(dev.last_seen - Date.now() / 1000) < 3600, `last_seen is recent Unix seconds: ${JSON.stringify(dev)}`);
  }
  const r = await api(env.relay, 'POST', '/functions/v1/start-session', { device_id: env.deviceId }, env.token);
  assert.equal(r.status, 409, show(r));
  assert.equal(r.body?.error?.code, 'device_offline', show(r));
}));

test('agent reconnects after the relay restarts on the same port and data dir', { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  const dataDir = await tempDir('clawlink-relay-data-');
  const relay1 = await startRelay({ dataDir });
  const env = await setup({ relay: relay1 });
  const term = await terminal(env);
  term.write('KEEP=before_restart_$((3+4))\r');
  await term.readUntil(PROMPT);

  const info = await relay1.stop();
  assert.equal(info.killedHard, false, `relay did not exit after SIGTERM\n${tail(relay1.logs())}`);
  assert.equal(info.code, 0, `relay exit status after SIGTERM (docs/operations.md: exit 0): ${JSON.stringify(info)}`);
  // viewers are told the relay is going away (checked at the end, so that a
  // wrong close code does not hide whether reconnection works)
  const closed = await term.ws.closed;

  const relay2 = await startRelay({ dataDir, port: relay1.port });
  env.relay = relay2;
  // backoff is 1 s → 2 s → 4 s … (+20%); leave plenty of room
  await waitDeviceStatus(relay2, env.token, env.projectId, env.deviceId, 'online', { timeout: ms(45_000), procs: [env.agent] });
  const t2 = await terminal(env);
  t2.write('echo $((6*7))\r');
  await t2.readUntil(/\r?\n42\r?\n/);
  assert.equal(env.agent.proc.exitCode, null, 'the agent kept running across the relay restart');

  // the session from before the restart lives on (operations.md: the agent
  // keeps the shells and re-announces them), resumable where we left off
  const back = await attachTerminal(relay2, env.token, term.sessionId, env.deviceId, { resumeOffset: term.bytes(), label: 'resumed after restart' });
  back.write('echo "[$KEEP]"\r');
  await back.readUntil(/\[before_restart_7\]/, ms(15_000));
  assert.deepEqual(back.offsetProblems(), [], 'resumed at resume_offset, continuous');
  assert.equal(closed.code, 1001, `browser close on relay shutdown (the reconnection itself worked): ${JSON.stringify(closed)}`);
}));

test('a second hello for the device replaces the older connection (close 4001)', { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  const env = await setup();
  const cfg = readAgentConfig(env.paired.configPath);
  assert.equal(cfg.device_id, env.deviceId);
  const hello = msg('hello', { device_id: cfg.device_id, token: cfg.token, meta: { name: 'impostor' } });

  // X replaces the agent's connection; Y then replaces X. X is the older one
  // either way (the agent may reconnect in between), so X gets 4001.
  const x = await wsClient(`${env.relay.wsUrl}/connect`, { label: 'hand-written connector X' });
  x.send(hello);
  await x.next('hello_ok');
  const y = await wsClient(`${env.relay.wsUrl}/connect`, { label: 'hand-written connector Y' });
  y.send(hello);
  await y.next('hello_ok');
  // checked at the end, so that a wrong close code does not hide the rest
  const xc = await Promise.race([x.closed, sleep(ms(10_000)).then(() => null)]);
  assert.equal(env.agent.proc.exitCode, null, `the agent is still running\n${tail(env.agent.logs())}`);

  // let the real agent take over again: close ours, it reconnects with backoff.
  // Until it does, the device may still look online (Y's close may not be
  // processed yet), so a terminal is retried until one works.
  y.close();
  await y.closed;
  // protocol.md: after a 4001 the agent waits the full 30 s (+20% jitter)
  const deadline = Date.now() + ms(75_000);
  const attempts = [];
  for (;;) {
    try {
      await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'online', { timeout: ms(75_000), procs: [env.agent] });
      const t = await terminal(env);
      t.write('echo $((6*7))\r');
      await t.readUntil(/\r?\n42\r?\n/);
      t.ws.close();
      break;
    } catch (e) {
      attempts.push(e.message.split('\n')[0]);
      if (Date.now() > deadline) {
        assert.fail(`the real agent never served a terminal again after being replaced; attempts:\n  ${attempts.join('\n  ')}`);
      }
      await sleep(500);
    }
  }
  assert.ok(xc, `the replaced connection X was not closed; ${x.describe()}`);
  assert.equal(xc.code, 4001, `close of the replaced connection (the agent recovered fine): ${JSON.stringify(xc)}`);
  assert.match(xc.reason, /replaced/i, `close reason: ${JSON.stringify(xc)}`);
}));
