// harness: black-box helpers for the clawlink end-to-end suite.
//
// Starts the real binaries from $CL_BIN_DIR (`clawlink-relay`, `clawlink`)
// on 127.0.0.1, talks to them over HTTP and WebSocket exactly as a browser
// or a PrivaClaw connector would, and cleans up every process and temp dir
// it created, even when a test fails or times out.
//
// Resource tracking: wrap each test body in `e2e(fn)`. Everything a helper
// spawns or creates while that body runs (found through AsyncLocalStorage)
// is torn down in reverse order when the body settles, and the stderr tails
// of its processes are appended to the failure message. Each test file also
// registers `after(cleanupAll)` as a safety net for bodies that time out.
//
// When CL_SANITIZED=1 the binaries are ASan/UBSan builds: timeouts are
// scaled up, and sanitizer reports in any process's stderr fail the test.

import { spawn, execFile } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, rm, writeFile, readFile, readdir, readlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const SANITIZED = process.env.CL_SANITIZED === '1';
/** Multiplier for every timeout; ASan builds are several times slower. */
export const SCALE = Number(process.env.CL_E2E_TIMEOUT_SCALE) || (SANITIZED ? 4 : 1);
/** Scaled milliseconds. */
export const ms = (n) => Math.round(n * SCALE);

export const BIN_DIR = path.resolve(process.env.CL_BIN_DIR || path.join(HERE, '..', '..', '..', 'build'));
export const RELAY_BIN = path.join(BIN_DIR, 'clawlink-relay');
export const AGENT_BIN = path.join(BIN_DIR, 'clawlink');

/** Per-test timeout for node:test, generous on purpose (no timing assertions). */
export const TEST_TIMEOUT = ms(120_000);

const SANITIZER_PATTERNS = [/ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/];

// ---------------------------------------------------------------------------
// Small utilities

export const sleep = (n) => new Promise((r) => setTimeout(r, n));
export const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');
export const randomId = (n = 8) => crypto.randomBytes(n).toString('hex');

/** Last `lines` lines of a log text. */
export function tail(text, lines = 40) {
  const all = String(text ?? '').split('\n');
  return all.slice(-lines).join('\n');
}

function requireBinary(p) {
  if (!existsSync(p)) {
    throw new Error(`binary not found: ${p} (set CL_BIN_DIR to the directory holding clawlink-relay and clawlink; ` +
      `build with: cmake -S . -B build && cmake --build build)`);
  }
}

/** Polls fn until it returns a truthy value; throws with describe() on timeout. */
export async function waitFor(fn, { timeout = ms(10_000), interval = 100, what = 'condition', describe } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const extra = describe ? `\n${await describe(last)}` : (last instanceof Error ? `\nlast error: ${last.message}` : '');
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${extra}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------
// Resource scopes: cleanup in reverse order, diagnostics on failure

const als = new AsyncLocalStorage();
const live = new Set(); // every resource not yet cleaned up, across scopes

class Scope {
  constructor(name) {
    this.name = name;
    this.resources = []; // {name, cleanup: async () => void, logs?: () => string}
  }
  add(res) {
    this.resources.push(res);
    live.add(res);
    return res;
  }
  diagnostics() {
    const parts = [];
    const seen = new Set();
    for (const r of this.resources) {
      if (!r.logs || seen.has(r.logs)) continue;
      seen.add(r.logs);
      parts.push(`--- ${r.name} (last lines) ---\n${tail(r.logs(), 40)}`);
    }
    return parts.join('\n');
  }
  async close() {
    const errors = [];
    for (const r of [...this.resources].reverse()) {
      try {
        await runCleanup(r);
      } catch (e) {
        errors.push(e);
      }
    }
    return errors;
  }
}

async function runCleanup(r) {
  if (!live.has(r)) return;
  live.delete(r);
  await r.cleanup();
}

function track(res) {
  const scope = als.getStore();
  if (scope) scope.add(res);
  else live.add(res);
  return res;
}

/**
 * Wraps a test body: resources created inside are cleaned up when it
 * settles; a failure gets the stderr tails of its processes appended.
 * Usage: test('name', { timeout: TEST_TIMEOUT }, e2e(async (t) => { ... }))
 */
export function e2e(fn) {
  return async (t) => {
    const scope = new Scope(t?.name ?? 'test');
    let failure;
    try {
      await als.run(scope, () => fn(t, scope));
    } catch (e) {
      failure = e;
    }
    const diag = scope.diagnostics();
    const cleanupErrors = await scope.close();
    if (failure) {
      if (diag && failure && typeof failure === 'object') {
        try {
          failure.message = `${failure.message}\n${diag}`;
        } catch { /* frozen error: leave it */ }
      }
      throw failure;
    }
    if (cleanupErrors.length) {
      const e = cleanupErrors[0];
      e.message = `during cleanup: ${e.message}${cleanupErrors.length > 1 ? ` (+${cleanupErrors.length - 1} more)` : ''}\n${diag}`;
      throw e;
    }
  };
}

/**
 * Adds a process started outside the current test (e.g. a relay shared by a
 * file) to the current test's failure diagnostics, without owning it.
 */
export function watch(p) {
  const scope = als.getStore();
  if (scope) scope.resources.push({ name: p.name ?? p.handle?.name ?? 'process', logs: p.logs, cleanup: async () => {} });
  return p;
}

/** Cleans up everything still alive (register with after() in each file). */
export async function cleanupAll() {
  const errors = [];
  for (const r of [...live].reverse()) {
    try {
      await runCleanup(r);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
}

// Last resort: never leave children behind, even on an abrupt exit.
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** Creates a temp dir removed at the end of the current test. */
export async function tempDir(prefix = 'clawlink-e2e-') {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  track({ name: `tmpdir ${dir}`, cleanup: () => rm(dir, { recursive: true, force: true }) });
  return dir;
}

/** A free TCP port on 127.0.0.1 (bind :0, read the port, release it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// Processes

function sanitizerReport(text) {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const start = Math.max(0, text.lastIndexOf('\n', Math.max(0, m.index - 1)));
      return text.slice(start, start + 4000);
    }
  }
  return null;
}

/**
 * Spawns a binary, collecting its output. Returns a handle with
 * logs(), exited (promise of {code, signal}) and stop(signal, timeout).
 */
function spawnTracked(name, bin, args, { env, cwd } = {}) {
  requireBinary(bin);
  const proc = spawn(bin, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let stderr = '';
  let stdout = '';
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => {
    proc.on('error', (err) => { stderr += `\n[spawn error: ${err.message}]\n`; });
    proc.on('close', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    });
  });
  const handle = {
    name,
    proc,
    exited,
    get exitInfo() { return proc.exitCode === null && proc.signalCode === null ? null : { code: proc.exitCode, signal: proc.signalCode }; },
    stderr: () => stderr,
    stdout: () => stdout,
    logs: () => (stdout ? `${stderr}\n[stdout]\n${stdout}` : stderr),
    /** Sends `signal`, waits for the exit (SIGKILL after timeout). */
    async stop(signal = 'SIGTERM', timeout = ms(10_000)) {
      if (proc.exitCode === null && proc.signalCode === null) {
        try { proc.kill(signal); } catch { /* gone */ }
        const t = setTimeout(() => {
          stderr += `\n[harness: ${name} did not exit ${timeout} ms after ${signal}; sending SIGKILL]\n`;
          handle.killedHard = true;
          try { proc.kill('SIGKILL'); } catch { /* gone */ }
        }, timeout);
        const info = await exited;
        clearTimeout(t);
        return { ...info, killedHard: !!handle.killedHard };
      }
      return { ...(await exited), killedHard: !!handle.killedHard };
    },
    /** Throws if the output holds an ASan/UBSan report. */
    checkSanitizer() {
      const rep = sanitizerReport(stderr) || sanitizerReport(stdout);
      if (rep) throw new Error(`sanitizer report in ${name}'s output:\n${rep}`);
    },
  };
  return handle;
}

function baseEnv(extra = {}) {
  const env = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...extra,
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  // Abort hard on UB so that it cannot go unnoticed (reports still go to stderr).
  if (SANITIZED && env.UBSAN_OPTIONS === undefined) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  return env;
}

// ---------------------------------------------------------------------------
// Relay

/**
 * Starts `clawlink-relay --listen 127.0.0.1:PORT --data DIR --public-url
 * http://127.0.0.1:PORT` and waits for GET /healthz → 200 (or GET `until`:
 * '/readyz' for a relay that starts unhealthy on purpose, e.g. with its
 * NATS server down).
 * Options: dataDir (kept by the caller; else a temp dir), port (else a
 * free one), extraArgs. Returns {url, wsUrl, port, dataDir, proc, stop(),
 * logs(), exited}.
 */
// The relay's store in PostgreSQL (docs/operations.md, "PostgreSQL"): with
// store 'postgres' (or CL_E2E_STORE=postgres for a whole file), each relay
// gets a fresh database on one server per test file (lib/postgres.mjs,
// started by the first relay that needs it, stopped by cleanupAll), its
// URL given by --store-file, as an operator should (never on the command
// line).
let sharedPg = null;
let pgDbSeq = 0;

/** The file's PostgreSQL server (started if need be): lib/postgres.mjs's handle. */
export async function relayPostgres() {
  if (!sharedPg) {
    const { startPostgres } = await import('./postgres.mjs');
    sharedPg = startPostgres().then((pg) => {
      live.add({
        name: 'postgres',
        logs: pg.logs,
        cleanup: async () => { sharedPg = null; pgStoreByDataDir.clear(); await pg.close(); },
      });
      return pg;
    });
  }
  return sharedPg;
}

// a relay restarted on the same data directory finds its database again
const pgStoreByDataDir = new Map();

async function postgresStoreArgs(dataDir) {
  if (pgStoreByDataDir.has(dataDir)) return pgStoreByDataDir.get(dataDir);
  const pg = await relayPostgres();
  const db = `relay_${process.pid}_${++pgDbSeq}`;
  await pg.psql(`CREATE DATABASE ${db}`);
  const file = path.join(await tempDir('clawlink-store-url-'), 'store-url');
  await writeFile(file, `${pg.url.replace('/postgres?', `/${db}?`)}\n`, { mode: 0o600 });
  const args = ['--store-file', file];
  pgStoreByDataDir.set(dataDir, args);
  return args;
}

export async function startRelay({
  dataDir, port, extraArgs = [], env: extraEnv = {}, wrapper = [], store = process.env.CL_E2E_STORE, until = '/healthz',
} = {}) {
  requireBinary(RELAY_BIN);
  dataDir = dataDir || await tempDir('clawlink-relay-');
  if (store === 'postgres' && !extraArgs.some((a) => a === '--store' || a === '--store-file')) {
    extraArgs = [...await postgresStoreArgs(path.resolve(dataDir)), ...extraArgs];
  }
  port = port || await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Debug logging by default: the more the relay logs, the more a leaked
  // secret would show (CL_E2E_LOG_LEVEL=none to leave the default).
  const level = process.env.CL_E2E_LOG_LEVEL || 'debug';
  const logArgs = level === 'none' ? [] : ['--log-level', level];
  const args = ['--listen', `127.0.0.1:${port}`, '--data', dataDir, '--public-url', url, ...logArgs, ...extraArgs];
  const home = await tempDir('clawlink-relay-home-');
  // wrapper: a command to run the relay under (prlimit), its arguments first.
  const [bin, ...argv] = wrapper.length ? [...wrapper, RELAY_BIN, ...args] : [RELAY_BIN, ...args];
  const h = spawnTracked(`clawlink-relay :${port}`, bin, argv, { env: baseEnv({ HOME: home, ...extraEnv }), cwd: home });
  const relay = {
    name: h.name,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    dataDir,
    args,
    proc: h.proc,
    handle: h,
    exited: h.exited,
    logs: h.logs,
    stderr: h.stderr,
    stopped: false,
    /** SIGTERM, wait for exit; returns {code, signal, killedHard}. */
    async stop() {
      const died = !relay.stopped && h.exitInfo;
      relay.stopped = true;
      const info = await h.stop('SIGTERM');
      h.checkSanitizer();
      if (died) throw new Error(`clawlink-relay exited on its own during the test: ${JSON.stringify(died)}\n${tail(h.logs(), 30)}`);
      return info;
    },
  };
  track({ name: h.name, logs: h.logs, cleanup: () => relay.stop() });

  const deadline = Date.now() + ms(10_000);
  for (;;) {
    if (h.exitInfo) {
      throw new Error(`clawlink-relay exited during startup (${JSON.stringify(h.exitInfo)}): ${RELAY_BIN} ${args.join(' ')}\n` +
        `--- relay stderr ---\n${tail(h.logs(), 40)}`);
    }
    try {
      const r = await fetch(`${url}${until}`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      throw new Error(`clawlink-relay did not answer GET ${until} with 200 within ${ms(10_000)} ms on ${url}\n` +
        `--- relay stderr ---\n${tail(h.logs(), 40)}`);
    }
    await sleep(100);
  }
  return relay;
}

/** `clawlink-relay login-link ARGS` (the operator's way back in): {code, stdout, stderr}. */
export function loginLink(args) {
  return new Promise((resolve) => {
    const p = spawn(RELAY_BIN, ['login-link', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Throws if any of `secrets` occurs in the process's logs. */
export function assertNoSecrets(proc, secrets, what = 'process') {
  const text = proc.logs();
  for (const s of secrets) {
    if (!s || s.length < 6) continue;
    if (text.includes(s)) {
      throw new Error(`${what} logs contain a secret that must never be logged: ${JSON.stringify(s.slice(0, 6))}…\n` +
        `--- ${what} log (last lines) ---\n${tail(text, 40)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// HTTP API

/**
 * fetch wrapper: api(relay, 'POST', '/api/v1/...', body, token).
 * body: an object (sent as JSON), a string/Buffer (sent raw) or undefined.
 * Returns {status, body (parsed JSON or null), text, headers}.
 */
export async function api(relay, method, pathname, body, token, { headers = {} } = {}) {
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(relay.url + pathname, { method, headers: h, body: payload, signal: AbortSignal.timeout(ms(20_000)) });
  const text = await res.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed, text, headers: res.headers, method, path: pathname };
}

/** One-line description of a response, for assertion messages. */
export function show(r) {
  return `${r.method} ${r.path} → ${r.status} ${r.text.length > 500 ? `${r.text.slice(0, 500)}…` : r.text}`;
}

/** Asserts the status and returns the parsed body. */
export function expectStatus(r, status, relay) {
  if (r.status !== status) {
    const logs = relay ? `\n--- relay log (last lines) ---\n${tail(relay.logs(), 25)}` : '';
    throw new Error(`expected HTTP ${status}, got: ${show(r)}${logs}`);
  }
  return r.body;
}

/** Signs up a fresh user with a random email. Returns {token, user, email, password}. */
export async function signup(relay, email, password) {
  email = email || `u${randomId()}@example.test`;
  password = password || `pw-${randomId(12)}`;
  const r = await api(relay, 'POST', '/api/v1/auth/signup', { email, password, display_name: 'E2E User' });
  const b = expectStatus(r, 201, relay);
  return { token: b.token, user: b.user, email, password };
}

export async function createProject(relay, token, name = `proj-${randomId(4)}`) {
  const r = await api(relay, 'POST', '/api/v1/projects', { name }, token);
  return expectStatus(r, 201, relay).project;
}

/** POST /api/v1/projects/{id}/devices → {device, pairing_code}. */
export async function createDevice(relay, token, projectId, name = `dev-${randomId(4)}`) {
  const r = await api(relay, 'POST', `/api/v1/projects/${projectId}/devices`, { name }, token);
  return expectStatus(r, 201, relay);
}

/** POST /functions/v1/pair-device over HTTP (what a PrivaClaw connector does). */
export async function pairViaHttp(relay, code, name = 'http-device') {
  const r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: code, name });
  return expectStatus(r, 200, relay);
}

export async function listDevices(relay, token, projectId) {
  const r = await api(relay, 'GET', `/api/v1/projects/${projectId}/devices`, undefined, token);
  return expectStatus(r, 200, relay).devices;
}

export async function getDevice(relay, token, projectId, deviceId) {
  const devices = await listDevices(relay, token, projectId);
  return devices.find((d) => d.id === deviceId);
}

/** Polls the device list until the device has `status`; returns the device. */
export async function waitDeviceStatus(relay, token, projectId, deviceId, status, { timeout = ms(15_000), procs = [] } = {}) {
  let last;
  return waitFor(async () => {
    last = await getDevice(relay, token, projectId, deviceId);
    return last && last.status === status ? last : null;
  }, {
    timeout,
    what: `device ${deviceId} to be ${status}`,
    describe: () => `last device record: ${JSON.stringify(last)}\n--- relay log ---\n${tail(relay.logs(), 25)}` +
      procs.map((p) => `\n--- ${p.name ?? 'process'} log ---\n${tail(p.logs(), 25)}`).join(''),
  });
}

/** Signs up, creates a project and a device, pairs it over HTTP. */
export async function setupDevice(relay) {
  const u = await signup(relay);
  const project = await createProject(relay, u.token);
  const { device, pairing_code } = await createDevice(relay, u.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  return { ...u, project, projectId: project.id, deviceId: device.id, device, pairingCode: pairing_code, deviceToken: paired.token, paired };
}

export async function startSession(relay, token, deviceId) {
  const r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: deviceId }, token);
  return expectStatus(r, 200, relay).session_id;
}

// ---------------------------------------------------------------------------
// Agent

function runFile(bin, args, { env, timeout }) {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      children.delete(child);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr, error: err });
    });
    children.add(child);
  });
}

/**
 * Creates a device in the project and pairs the REAL agent with its code:
 * `clawlink pair CODE --api URL/functions/v1 --name NAME --config TMP/agent.json`.
 * Returns {deviceId, configPath, config, pairingCode, device, pairOutput}.
 */
export async function pairAgent(relay, { token, projectId, name = `agent-${randomId(4)}` }) {
  requireBinary(AGENT_BIN);
  const { device, pairing_code: code } = await createDevice(relay, token, projectId, name);
  const dir = await tempDir('clawlink-agent-');
  const configPath = path.join(dir, 'agent.json');
  const args = ['pair', code, '--api', `${relay.url}/functions/v1`, '--name', name, '--config', configPath];
  const out = await runFile(AGENT_BIN, args, { env: baseEnv({ HOME: dir }), timeout: ms(30_000) });
  const outText = `exit=${out.code} signal=${out.signal}\n--- stderr ---\n${tail(out.stderr, 30)}\n--- stdout ---\n${tail(out.stdout, 30)}`;
  const rep = sanitizerReport(out.stderr);
  if (rep) throw new Error(`sanitizer report from \`clawlink pair\`:\n${rep}`);
  if (out.code !== 0) {
    throw new Error(`\`clawlink ${args.join(' ')}\` failed: ${outText}\n--- relay log ---\n${tail(relay.logs(), 25)}`);
  }
  let config;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`\`clawlink pair\` exited 0 but ${configPath} is not readable JSON: ${e.message}\n${outText}`);
  }
  return { deviceId: device.id, device, configPath, config, pairingCode: code, dir, pairOutput: out };
}

/**
 * Spawns `clawlink up --config PATH --shell SHELL` with a clean env (HOME
 * a temp dir with a .bashrc setting PS1='$ ', SHELL=/bin/bash). When relay,
 * token, projectId and deviceId are given, waits until the device is online.
 * Returns {proc, stop(), logs(), home, exited}.
 */
export async function startAgent(configPath, { shell = '/bin/bash', relay, token, projectId, deviceId, extraArgs = [], wrapper = [], env: extraEnv = {} } = {}) {
  requireBinary(AGENT_BIN);
  const home = await tempDir('clawlink-home-');
  const rc = [
    "PS1='$ '",
    'PS2=\'> \'',
    'unset PROMPT_COMMAND',
    'HISTFILE=/dev/null',
    '',
  ].join('\n');
  await writeFile(path.join(home, '.bashrc'), rc);
  await writeFile(path.join(home, '.bash_profile'), '. "$HOME/.bashrc"\n');
  await writeFile(path.join(home, '.profile'), '. "$HOME/.bashrc"\n');
  await writeFile(path.join(home, '.inputrc'), 'set enable-bracketed-paste off\nset bell-style none\n');
  const tag = `clawlink-e2e-${randomId()}`;
  const env = baseEnv({
    HOME: home,
    SHELL: shell,
    TERM: 'xterm-256color',
    INPUTRC: path.join(home, '.inputrc'),
    ENV: path.join(home, '.bashrc'),
    CLAWLINK_E2E_TAG: tag, // inherited by the shells: lets us find leftovers
    ...extraEnv,
  });
  // Shells get a login's environment, not the agent's (src/agent/shellenv.h):
  // the tag and the shell setup are passed on by name.
  const args = ['up', '--config', configPath, '--shell', shell, '--pass-env', 'CLAWLINK_E2E_TAG,INPUTRC,ENV', ...extraArgs];
  // wrapper: a command to run the agent under (valgrind), its arguments first.
  const [bin, ...argv] = wrapper.length ? [...wrapper, AGENT_BIN, ...args] : [AGENT_BIN, ...args];
  const h = spawnTracked(`clawlink agent ${path.basename(path.dirname(configPath))}`, bin, argv, { env, cwd: home });
  const agent = {
    proc: h.proc,
    handle: h,
    home,
    tag,
    exited: h.exited,
    logs: h.logs,
    stderr: h.stderr,
    name: h.name,
    /** SIGTERM, wait for exit; checks that no shell it spawned is left. */
    async stop(signal = 'SIGTERM') {
      const died = !agent.stopped && h.exitInfo;
      agent.stopped = true;
      const info = await h.stop(signal);
      h.checkSanitizer();
      if (died) throw new Error(`the agent exited on its own during the test: ${JSON.stringify(died)}\n${tail(h.logs(), 30)}`);
      const left = await waitNoTaggedProcesses(tag, ms(5_000));
      if (left.length) {
        throw new Error(`after the agent exited, processes it spawned are still running (killed now): ${left.join(', ')}`);
      }
      return info;
    },
  };
  track({ name: h.name, logs: h.logs, cleanup: () => agent.stop() });
  if (relay && token && projectId && deviceId) {
    await waitDeviceStatus(relay, token, projectId, deviceId, 'online', { timeout: ms(15_000), procs: [agent] });
  }
  return agent;
}

/** Processes whose environment carries CLAWLINK_E2E_TAG=tag. */
async function taggedProcesses(tag) {
  const needle = `CLAWLINK_E2E_TAG=${tag}`;
  const found = [];
  let entries = [];
  try { entries = await readdir('/proc'); } catch { return found; }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const envText = await readFile(`/proc/${e}/environ`, 'latin1');
      if (envText.split('\0').includes(needle)) {
        let exe = '?';
        try { exe = await readlink(`/proc/${e}/exe`); } catch { /* zombie */ }
        let state = '';
        try { state = (await readFile(`/proc/${e}/stat`, 'latin1')).split(') ')[1]?.[0] ?? ''; } catch { /* gone */ }
        if (state !== 'Z') found.push({ pid: Number(e), exe });
      }
    } catch { /* not ours or gone */ }
  }
  return found;
}

async function waitNoTaggedProcesses(tag, timeout) {
  const deadline = Date.now() + timeout;
  let left = await taggedProcesses(tag);
  while (left.length && Date.now() < deadline) {
    await sleep(100);
    left = await taggedProcesses(tag);
  }
  for (const p of left) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return left.map((p) => `${p.pid} (${p.exe})`);
}

// ---------------------------------------------------------------------------
// WebSocket client

/**
 * Protocol v2 data frames (docs/protocol.md): type byte (7 stdin, 8
 * stdout), session id length, 8-byte big-endian offset, session id, payload.
 */
export function encodeBinFrame(type, sessionId, offset, payload) {
  const sid = Buffer.from(sessionId, 'ascii');
  const h = Buffer.alloc(10);
  h[0] = type === 'stdin' ? 7 : type === 'stdout' ? 8 : Number(type);
  h[1] = sid.length;
  h.writeBigUInt64BE(BigInt(offset), 2);
  return Buffer.concat([h, sid, payload]);
}

/** Decodes a v2 data frame; null if it is malformed. */
export function decodeBinFrame(buf) {
  if (buf.length < 11) return null;
  const n = buf[1];
  if (n === 0 || buf.length < 10 + n) return null;
  const type = buf[0] === 7 ? 'stdin' : buf[0] === 8 ? 'stdout' : null;
  if (!type) return null;
  return { type, offset: Number(buf.readBigUInt64BE(2)), sessionId: buf.subarray(10, 10 + n).toString('ascii'), payload: buf.subarray(10 + n) };
}

/** The JSON envelope of a message. */
export const msg = (type, data) => (data === undefined ? { type } : { type, data });

/**
 * Opens a WebSocket and resolves once it is open. The returned client keeps
 * every received message: `next(predicate, timeoutMs)` resolves with (and
 * consumes) the first matching one, already received or future; predicate
 * is a type name or a function. `closed` resolves to {code, reason}.
 * wsOptions go to ws's constructor (e.g. autoPong: false).
 */
export async function wsClient(url, { timeout = ms(10_000), label, wsOptions = {} } = {}) {
  const ws = new WebSocket(url, { maxPayload: 64 << 20, handshakeTimeout: timeout, ...wsOptions });
  const c = {
    ws,
    url,
    label: label || url,
    queue: [],      // unconsumed messages
    received: [],   // every message, for diagnostics
    waiters: [],
    listeners: [],
    closeInfo: null,
    send(obj) { ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); },
    sendRaw(data, opts) { ws.send(data, opts); },
    close(code, reason) { try { ws.close(code, reason); } catch { /* already */ } return c.closed; },
    onMessage(fn) { c.listeners.push(fn); for (const m of c.received) fn(m); },
    next(pred, timeoutMs = ms(10_000)) {
      const match = typeof pred === 'function' ? pred : (m) => m.type === pred;
      const idx = c.queue.findIndex((m) => safeMatch(match, m));
      if (idx >= 0) return Promise.resolve(c.queue.splice(idx, 1)[0]);
      const what = typeof pred === 'function' ? (pred.description || pred.toString().slice(0, 120)) : `type "${pred}"`;
      return new Promise((resolve, reject) => {
        const w = { match, resolve, reject, what };
        w.timer = setTimeout(() => {
          c.waiters.splice(c.waiters.indexOf(w), 1);
          reject(new Error(`${c.label}: no message matching ${what} within ${timeoutMs} ms; ${c.describe()}`));
        }, timeoutMs);
        c.waiters.push(w);
        if (c.closeInfo) failWaiters();
      });
    },
    /** Asserts no unconsumed message matches pred (now). */
    pending(pred) {
      const match = typeof pred === 'function' ? pred : (m) => m.type === pred;
      return c.queue.filter((m) => safeMatch(match, m));
    },
    describe() {
      const shown = c.received.slice(-15).map((m) => summarize(m)).join('\n    ');
      return `received ${c.received.length} message(s)${c.received.length > 15 ? ' (last 15)' : ''}:\n    ${shown || '(none)'}` +
        `${c.closeInfo ? `\n  socket closed: code ${c.closeInfo.code} reason ${JSON.stringify(c.closeInfo.reason)}` : ''}`;
    },
  };
  function safeMatch(fn, m) { try { return !!fn(m); } catch { return false; } }
  function failWaiters() {
    for (const w of c.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${c.label}: socket closed before a message matching ${w.what} arrived; ${c.describe()}`));
    }
  }
  c.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      c.closeInfo = { code, reason: reason.toString() };
      failWaiters();
      resolve(c.closeInfo);
    });
  });
  ws.on('message', (data, isBinary) => {
    let m;
    if (isBinary) m = { binary: true, data };
    else {
      const text = data.toString();
      try { m = JSON.parse(text); } catch { m = { raw: text }; }
    }
    c.received.push(m);
    for (const fn of c.listeners) fn(m);
    const wi = c.waiters.findIndex((w) => safeMatch(w.match, m));
    if (wi >= 0) {
      const [w] = c.waiters.splice(wi, 1);
      clearTimeout(w.timer);
      w.resolve(m);
    } else {
      c.queue.push(m);
    }
  });
  track({ name: `ws ${c.label}`, cleanup: async () => { if (!c.closeInfo) { ws.terminate(); } } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', (e) => reject(new Error(`WebSocket ${url} failed to open: ${e.message}`)));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket ${url}: unexpected HTTP ${res.statusCode}`)));
  });
  ws.on('error', () => { /* close follows; reported there */ });
  return c;
}

function summarize(m) {
  if (m.binary) return `<binary ${m.data.length} bytes>`;
  if (m.raw !== undefined) return `<non-JSON text ${JSON.stringify(m.raw.slice(0, 120))}>`;
  if (m.type === 'stdout' && m.data && typeof m.data.data_b64 === 'string') {
    const txt = unb64(m.data.data_b64);
    return JSON.stringify({ ...m, data: { ...m.data, data_b64: undefined, text: txt.length > 160 ? `${txt.slice(0, 160)}…` : txt } });
  }
  const s = JSON.stringify(m);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** Predicate helpers for next(). */
export const isType = (type, extra = () => true) => {
  const f = (m) => m.type === type && extra(m);
  f.description = `type "${type}"`;
  return f;
};
export const isError = (code) => {
  const f = (m) => m.type === 'error' && m.data && m.data.code === code;
  f.description = `error with code "${code}"`;
  return f;
};

/** Waits for a close and asserts its code (with context on mismatch). */
export async function expectClose(c, code, timeoutMs = ms(10_000)) {
  const info = await Promise.race([
    c.closed,
    sleep(timeoutMs).then(() => null),
  ]);
  if (!info) throw new Error(`${c.label}: socket not closed within ${timeoutMs} ms (expected close ${code}); ${c.describe()}`);
  if (info.code !== code) throw new Error(`${c.label}: expected close code ${code}, got ${info.code} ${JSON.stringify(info.reason)}; ${c.describe()}`);
  return info;
}

/** Browser side: opens /session and authenticates. Returns the client. */
export async function browserAuth(relay, token, sessionId, deviceId, { label } = {}) {
  const c = await wsClient(`${relay.wsUrl}/session`, { label: label || `browser ${sessionId.slice(0, 8)}` });
  c.send(msg('auth', { token, session_id: sessionId, device_id: deviceId }));
  await c.next('auth_ok');
  return c;
}

/** Agent side, by hand: opens /connect and sends hello; waits for hello_ok. */
export async function connectorHello(relay, deviceId, deviceToken, { name = 'fake-connector', label } = {}) {
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: label || `connector ${deviceId.slice(0, 8)}` });
  c.send(msg('hello', { device_id: deviceId, token: deviceToken, meta: { name } }));
  await c.next('hello_ok');
  return c;
}

/**
 * start-session + /session auth + session_start; waits for
 * session_started. Returns a terminal (see attachTerminal).
 */
export async function openTerminal(relay, token, deviceId, opts = {}) {
  const sessionId = await startSession(relay, token, deviceId);
  return attachTerminal(relay, token, sessionId, deviceId, opts);
}

/**
 * A viewer of an existing session: /session auth (with resume_offset when
 * given) + session_start, waits for session_started. Returns {ws,
 * sessionId, readUntil(regex, timeout), write(str), resize(cols, rows),
 * output(), bytes(), gaps(), offsetProblems()}.
 *
 * Offsets are checked as protocol.md says: the first stdout starts at
 * resume_offset (0 without one, unless a gap says otherwise; anywhere with
 * anyStart), each next one where the last ended, and a jump only after a
 * `gap {from, to}`.
 */
export async function attachTerminal(relay, token, sessionId, deviceId, { cols = 80, rows = 24, label, resumeOffset, anyStart = false, proto } = {}) {
  const ws = await wsClient(`${relay.wsUrl}/session`, { label: label || `terminal ${sessionId.slice(0, 8)}` });
  const auth = { token, session_id: sessionId, device_id: deviceId };
  if (resumeOffset !== undefined) auth.resume_offset = resumeOffset;
  if (proto !== undefined) auth.proto = proto;
  let binaryFrames = 0; // v2 stdout frames received
  const decoder = new TextDecoder('utf-8');
  let out = '';
  let cursor = 0;
  const readers = [];
  const check = () => {
    for (const r of [...readers]) {
      r.re.lastIndex = cursor;
      const m = r.re.exec(out);
      if (m) {
        cursor = m.index + m[0].length;
        readers.splice(readers.indexOf(r), 1);
        clearTimeout(r.timer);
        r.resolve(m);
      }
    }
  };
  let bytes = 0; // raw stdout bytes this viewer got
  let expected = resumeOffset ?? 0; // the offset the next stdout must have
  const offsetProblems = [];
  const gaps = [];
  const problem = (p) => { if (offsetProblems.length < 10) offsetProblems.push(p); };
  ws.onMessage((m) => {
    if (m.binary) {
      const f = decodeBinFrame(m.data);
      if (!f || f.type !== 'stdout') { problem(`malformed binary frame ${m.data.length} bytes`); return; }
      binaryFrames++;
      m = { type: 'stdout', data: { session_id: f.sessionId, offset: f.offset, data_b64: f.payload.toString('base64') } };
    }
    if (m.data?.session_id !== sessionId) return;
    if (m.type === 'gap') {
      gaps.push(m.data);
      if (m.data.from !== expected) problem(`gap ${JSON.stringify(m.data)} does not start at ${expected}`);
      expected = m.data.to;
    } else if (m.type === 'stdout' && typeof m.data.data_b64 === 'string') {
      const raw = Buffer.from(m.data.data_b64, 'base64');
      // anyStart: only continuity is checked, not where the stream starts
      if (anyStart && bytes === 0 && gaps.length === 0 && typeof m.data.offset === 'number') expected = m.data.offset;
      // offset is an extra field; if absent, only the content can tell losses
      if (m.data.offset !== undefined && m.data.offset !== expected) problem(`stdout #${bytes} bytes in: offset ${JSON.stringify(m.data.offset)}, expected ${expected}`);
      expected = (typeof m.data.offset === 'number' ? m.data.offset : expected) + raw.length;
      bytes += raw.length;
      out += decoder.decode(raw, { stream: true });
      check();
    }
  });
  ws.send(msg('auth', auth));
  const ok = await ws.next('auth_ok');
  const accepted = ok.data?.proto ?? 1;
  // cols/rows null: session_start without a size (the documented default is 80x24)
  ws.send(msg('session_start', cols == null || rows == null ? { session_id: sessionId } : { session_id: sessionId, cols, rows }));
  await ws.next(isType('session_started', (m) => m.data?.session_id === sessionId), ms(15_000));
  const term = {
    ws,
    sessionId,
    output: () => out,
    /** Raw stdout bytes received (what resume_offset counts from, plus the start). */
    bytes: () => bytes,
    /** The offset of the next byte this viewer expects. */
    nextOffset: () => expected,
    gaps: () => gaps,
    offsetProblems: () => offsetProblems,
    /** The protocol auth_ok accepted (1 when it said nothing). */
    proto: accepted,
    /** How many stdout messages arrived as v2 binary frames. */
    binaryFrames: () => binaryFrames,
    write(str) {
      if (accepted >= 2) ws.sendRaw(encodeBinFrame('stdin', sessionId, 0, Buffer.from(str, 'utf8')), { binary: true });
      else ws.send(msg('stdin', { session_id: sessionId, data_b64: b64(str) }));
    },
    resize(c, r) { ws.send(msg('resize', { session_id: sessionId, cols: c, rows: r })); },
    /** Resolves with the regex match in the output after the last match. */
    readUntil(re, timeout = ms(10_000)) {
      const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
      return new Promise((resolve, reject) => {
        const r = { re: g, resolve };
        r.timer = setTimeout(() => {
          readers.splice(readers.indexOf(r), 1);
          reject(new Error(`terminal ${sessionId}: output did not match ${re} within ${timeout} ms; ` +
            `output since last match: ${JSON.stringify(out.slice(cursor).slice(-800))}\n  ${ws.describe()}`));
        }, timeout);
        readers.push(r);
        check();
      });
    },
  };
  return term;
}

/** Reads the agent's config file (device_id, token, relay_url). */
export function readAgentConfig(configPath) {
  return JSON.parse(readFileSync(configPath, 'utf8'));
}
