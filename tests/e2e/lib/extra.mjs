// extra: helpers for the resume / faults / shares / liveness e2e files.
//
// Builds on lib/harness.mjs (which it never changes). Everything here that
// starts a process or opens a socket registers its cleanup with the test's
// scope — the second argument e2e() passes to a test body — so it is torn
// down with the rest of the test, also on failure; the scope's resources
// are also in harness's after(cleanupAll) safety net.
//
//  - OutputStream: a session's output stream reassembled by offset across
//    any number of viewer connections: counts duplicated bytes, records
//    holes (announced by `gap` or not), finds markers in the byte stream.
//  - openViewer(): a lean browser on /session (ws or wss) that feeds an
//    OutputStream, checks offsets, optionally sends explicit `ack`s, and can
//    stop reading its socket (pause) like a stalled browser tab.
//  - TcpProxy: a loopback TCP forwarder that can stall (stop forwarding
//    both ways without closing) or refuse connections (gate).
//  - process helpers: RSS from /proc, processes carrying the harness's
//    CLAWLINK_E2E_TAG, hard kills that the harness's stop() accepts.
//  - TLS helpers: self-signed certificates, a relay started with
//    --tls-cert/--tls-key, HTTPS JSON calls and pairing with --ca-file.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import WebSocket from 'ws';
import {
  ms, sleep, msg, tail, tempDir, freePort, RELAY_BIN, AGENT_BIN, SANITIZED, waitFor,
  startRelay, signup, createProject, pairAgent, startAgent, encodeBinFrame, decodeBinFrame,
} from './harness.mjs';

const SANITIZER_PATTERNS = [/ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/];

/** Adds a resource {name, cleanup, logs?} to the test's scope (from e2e()). */
export function own(scope, res) {
  if (!scope || typeof scope.add !== 'function') throw new Error('own(): pass the scope e2e() gives the test body');
  return scope.add(res);
}

// ---------------------------------------------------------------------------
// Output stream, reassembled by offset

/**
 * A session's output as a browser would rebuild it: bytes placed at their
 * stream offsets. add() takes a chunk at an offset (or, for a v1 browser
 * that ignores offsets, at the end); bytes before `next` are duplicates
 * (counted, dropped), a chunk after `next` leaves a hole.
 */
export class OutputStream {
  constructor({ keep = true } = {}) {
    this.chunks = [];      // Buffers, contiguous from `base`
    this.base = null;      // offset of the first byte kept
    this.next = null;      // offset after the last byte kept
    this.dups = 0;         // bytes received again (same offset)
    this.dupEvents = [];   // first few {offset, len}
    this.holes = [];       // {from, to, announced}
    this.keep = keep;
    this.waiters = [];
    this.tailBuf = Buffer.alloc(0); // last bytes, for markers split across chunks
  }

  get length() { return this.next === null ? 0 : this.next - this.base; }

  /** Adds buf at offset (undefined: at the end). Returns bytes appended. */
  add(offset, buf) {
    if (this.next === null) {
      this.base = offset ?? 0;
      this.next = this.base;
    }
    if (offset === undefined) offset = this.next;
    if (offset < this.next) {
      const dup = Math.min(buf.length, this.next - offset);
      this.dups += dup;
      if (this.dupEvents.length < 10) this.dupEvents.push({ offset, len: buf.length, dup });
      buf = buf.subarray(dup);
      offset += dup;
      if (!buf.length) return 0;
    }
    if (offset > this.next) {
      const announced = this.pendingGap && this.pendingGap.from <= this.next && this.pendingGap.to >= offset;
      this.holes.push({ from: this.next, to: offset, announced: !!announced });
      // keep positions honest: fill the hole with nothing, restart from offset
      if (this.keep) this.chunks.push({ hole: true, from: this.next, to: offset });
      this.next = offset;
    }
    this.pendingGap = null;
    const start = this.next;
    if (this.keep) this.chunks.push(buf);
    this.next += buf.length;
    this._scan(start, buf);
    return buf.length;
  }

  /** A gap notice {from, to}: the next add() at `to` is an announced hole. */
  gap(from, to) { this.pendingGap = { from, to }; }

  /** All kept bytes (holes left out) as one Buffer. */
  buffer() { return Buffer.concat(this.chunks.filter((c) => Buffer.isBuffer(c))); }

  /** The bytes strictly between the first `a` and the first `b` after it. */
  between(a, b) {
    const all = this.buffer();
    const i = all.indexOf(a);
    if (i < 0) return null;
    const j = all.indexOf(b, i + a.length);
    if (j < 0) return null;
    return all.subarray(i + Buffer.byteLength(a), j);
  }

  /** Resolves with the stream offset of `marker` (a string) at or after `from`. */
  waitFor(marker, { from = 0, timeout = ms(30_000), what } = {}) {
    const m = Buffer.from(marker);
    if (this.keep && this.next !== null) {
      const all = this.buffer();
      const start = Math.max(0, from - this.base);
      const i = all.indexOf(m, start);
      if (i >= 0) return Promise.resolve(this.base + i);
    }
    return new Promise((resolve, reject) => {
      const w = { m, from, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no ${JSON.stringify(marker)} in the output within ${timeout} ms (${what ?? ''}); ` +
          `stream has ${this.length} bytes up to offset ${this.next}, last: ${JSON.stringify(this.tailBuf.toString('latin1').slice(-300))}`));
      }, timeout);
      this.waiters.push(w);
    });
  }

  _scan(start, buf) {
    const prev = this.tailBuf;
    const win = Buffer.concat([prev, buf]);
    const winStart = start - prev.length;
    for (const w of [...this.waiters]) {
      const i = win.indexOf(w.m, Math.max(0, w.from - winStart));
      if (i >= 0) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(winStart + i);
      }
    }
    this.tailBuf = win.subarray(Math.max(0, win.length - 512));
  }
}

// ---------------------------------------------------------------------------
// A browser on /session

/**
 * Opens /session, sends auth (with resume_offset when given), and returns
 * once auth_ok (or an auth error, when expectAuthOk is false) arrived.
 *
 * Options:
 *  stream        OutputStream to feed (a new one by default); share one
 *                across reconnects to rebuild the whole session output
 *  resumeOffset  auth.resume_offset (undefined: a PrivaClaw browser)
 *  ack           'explicit' (send ack {offset} after each stdout; stop
 *                while paused) or false (never ack: a PrivaClaw browser)
 *  start         {cols, rows} to send session_start after auth_ok, or null
 *  ca            PEM for wss:// with a self-signed relay
 *  ignoreOffsets place stdout by arrival, as a PrivaClaw browser does
 *  proto         2: ask for protocol v2 (binary stdin/stdout frames); v.proto
 *                is what auth_ok accepted
 *
 * The viewer checks offsets as protocol.md says: the first stdout at
 * resume_offset (or at a gap's `to`), each next one where the last ended.
 */
export async function openViewer(scope, { wsUrl, token, sessionId, deviceId, stream = new OutputStream(), resumeOffset,
  ack = false, start = { cols: 200, rows: 50 }, ca, label, ignoreOffsets = false, expectAuthOk = true, timeout = ms(15_000), proto }) {
  const ws = new WebSocket(`${wsUrl}/session`, { maxPayload: 64 << 20, handshakeTimeout: timeout, ...(ca ? { ca } : {}) });
  const v = {
    ws, sessionId, stream, label: label || `viewer ${sessionId.slice(0, 8)}`,
    log: [],            // every message, stdout summarised as {type, offset, len}
    queue: [],          // unconsumed non-stdout messages
    waiters: [],
    expected: resumeOffset, // offset the next stdout must carry (undefined: take the first)
    problems: [],
    gaps: [],
    stdoutBytes: 0,
    acking: ack === 'explicit',
    ackedTo: 0,
    paused: false,
    closeInfo: null,
    types: new Set(),
    send(obj) { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); },
    proto: 1,           // what auth_ok accepted
    binaryFrames: 0,    // stdout frames that came as v2 binary
    write(str) {
      if (v.proto >= 2) { if (ws.readyState === WebSocket.OPEN) ws.send(encodeBinFrame('stdin', sessionId, 0, Buffer.from(str)), { binary: true }); }
      else v.send(msg('stdin', { session_id: sessionId, data_b64: Buffer.from(str).toString('base64') }));
    },
    /** Stops reading the socket (and acking): the relay's writes back up. */
    pause() { v.paused = true; v.acking = false; ws._socket.pause(); },
    /** Reads again; explicit acks resume (and catch up at once). */
    resume() {
      v.paused = false;
      v.acking = ack === 'explicit';
      ws._socket.resume();
      v.sendAck();
    },
    sendAck() {
      if (!v.acking || stream.next === null || stream.next <= v.ackedTo) return;
      v.ackedTo = stream.next;
      v.send(msg('ack', { session_id: sessionId, offset: stream.next }));
    },
    next(pred, t = ms(15_000)) {
      const match = typeof pred === 'function' ? pred : (m) => m.type === pred;
      const i = v.queue.findIndex((m) => match(m));
      if (i >= 0) return Promise.resolve(v.queue.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const w = { match, resolve, reject };
        w.timer = setTimeout(() => {
          v.waiters.splice(v.waiters.indexOf(w), 1);
          reject(new Error(`${v.label}: no message matching ${typeof pred === 'string' ? pred : pred.toString().slice(0, 100)} within ${t} ms; ${v.describe()}`));
        }, t);
        v.waiters.push(w);
        if (v.closeInfo) v._failWaiters();
      });
    },
    /** Non-stdout messages received so far matching pred (not consumed). */
    seen(pred) {
      const match = typeof pred === 'function' ? pred : (m) => m.type === pred;
      return v.log.filter((m) => m.type !== 'stdout' && match(m));
    },
    close() { try { ws.close(1000); } catch { /* already */ } return v.closed; },
    terminate() { try { ws.terminate(); } catch { /* already */ } return v.closed; },
    describe() {
      const last = v.log.slice(-12).map((m) => JSON.stringify(m).slice(0, 200)).join('\n    ');
      return `${v.label}: ${v.log.length} message(s), ${v.stdoutBytes} stdout bytes, last:\n    ${last || '(none)'}` +
        (v.closeInfo ? `\n  closed: ${JSON.stringify(v.closeInfo)}` : '');
    },
    _failWaiters() {
      for (const w of v.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`${v.label}: socket closed while waiting; ${v.describe()}`));
      }
    },
  };
  const problem = (p) => { if (v.problems.length < 10) v.problems.push(p); };
  v.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      v.closeInfo = { code, reason: reason.toString() };
      v._failWaiters();
      resolve(v.closeInfo);
    });
  });
  ws.on('message', (data, isBinary) => {
    let m;
    if (isBinary) {
      const f = decodeBinFrame(data);
      if (f && f.type === 'stdout') {
        v.binaryFrames++;
        m = { type: 'stdout', data: { session_id: f.sessionId, offset: f.offset, data_b64: f.payload.toString('base64') } };
      } else {
        m = { type: '<binary>', len: data.length };
      }
    } else {
      try { m = JSON.parse(data.toString()); } catch { m = { type: '<non-json>', raw: data.toString().slice(0, 200) }; }
    }
    v.types.add(m.type);
    if (m.type === 'stdout' && m.data?.session_id === sessionId && typeof m.data.data_b64 === 'string') {
      const raw = Buffer.from(m.data.data_b64, 'base64');
      const off = m.data.offset;
      v.log.push({ type: 'stdout', offset: off, len: raw.length });
      if (typeof off === 'number') {
        if (v.expected !== undefined && off !== v.expected) problem(`stdout at offset ${off}, expected ${v.expected} (${v.stdoutBytes} bytes in)`);
        v.expected = off + raw.length;
      }
      v.stdoutBytes += raw.length;
      stream.add(typeof off === 'number' && !ignoreOffsets ? off : undefined, raw);
      v.sendAck();
      return;
    }
    if (m.type === 'gap' && m.data?.session_id === sessionId) {
      v.gaps.push(m.data);
      if (v.expected !== undefined && m.data.from !== v.expected) problem(`gap ${JSON.stringify(m.data)} does not start at ${v.expected}`);
      if (!(m.data.to > m.data.from)) problem(`gap ${JSON.stringify(m.data)}: to is not after from`);
      v.expected = m.data.to;
      stream.gap(m.data.from, m.data.to);
    }
    v.log.push(m);
    const wi = v.waiters.findIndex((w) => { try { return w.match(m); } catch { return false; } });
    if (wi >= 0) {
      const [w] = v.waiters.splice(wi, 1);
      clearTimeout(w.timer);
      w.resolve(m);
    } else {
      v.queue.push(m);
    }
  });
  ws.on('error', () => { /* close follows */ });
  own(scope, { name: `ws ${v.label}`, cleanup: async () => { if (!v.closeInfo) { if (v.paused) ws._socket?.resume(); ws.terminate(); await v.closed; } } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', (e) => reject(new Error(`WebSocket ${wsUrl}/session failed to open: ${e.message}`)));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`WebSocket ${wsUrl}/session: HTTP ${res.statusCode}`)));
  });
  const auth = { token, session_id: sessionId, device_id: deviceId };
  if (resumeOffset !== undefined) auth.resume_offset = resumeOffset;
  if (proto !== undefined) auth.proto = proto;
  v.send(msg('auth', auth));
  if (!expectAuthOk) return v;
  await v.next((m) => m.type === 'auth_ok' || m.type === 'error', timeout).then((m) => {
    if (m.type !== 'auth_ok') throw new Error(`${v.label}: auth refused: ${JSON.stringify(m)}`);
    v.proto = m.data?.proto ?? 1;
  });
  if (start) v.send(msg('session_start', { session_id: sessionId, ...start }));
  return v;
}

/**
 * Keeps trying to attach a viewer (the relay may still be starting, the
 * agent may not be back yet) until auth_ok; returns the viewer.
 */
export async function reattach(scope, opts, { timeout = ms(60_000) } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      return await openViewer(scope, { ...opts, resumeOffset: opts.stream.next ?? 0, timeout: ms(5_000) });
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw new Error(`could not re-attach within ${timeout} ms: ${lastErr?.message}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------
// TCP proxy

/**
 * 127.0.0.1:port → target port. mode: 'forward' (default), 'stall' (no
 * byte moves in either direction on any connection, none is closed; new
 * connections are accepted and held the same way) or 'refuse' (new
 * connections are closed at once; existing ones keep forwarding).
 */
export async function startProxy(scope, targetPort, { host = '127.0.0.1' } = {}) {
  const conns = new Set();
  const proxy = {
    mode: 'forward',
    port: 0,
    accepted: 0,
    conns,
    stall() {
      proxy.mode = 'stall';
      for (const c of conns) c.stall();
    },
    refuse() { proxy.mode = 'refuse'; },
    forward() { proxy.mode = 'forward'; },
    /** Destroys every connection (both sides). */
    dropAll() { for (const c of conns) c.destroy(); },
  };
  const server = net.createServer((client) => {
    proxy.accepted++;
    client.on('error', () => {});
    if (proxy.mode === 'refuse') { client.destroy(); return; }
    const upstream = net.connect(targetPort, host);
    upstream.on('error', () => {});
    let stalled = false;
    const c = {
      stall() {
        stalled = true;
        client.unpipe(upstream);
        upstream.unpipe(client);
        // keep reading and discard, so no one sees back-pressure or a close
        client.on('data', () => {});
        upstream.on('data', () => {});
        client.resume();
        upstream.resume();
      },
      destroy() { client.destroy(); upstream.destroy(); },
    };
    conns.add(c);
    const done = () => { if (!stalled) { client.destroy(); upstream.destroy(); } conns.delete(c); };
    client.on('close', done);
    upstream.on('close', done);
    if (proxy.mode === 'stall') {
      c.stall();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  proxy.port = server.address().port;
  proxy.server = server;
  own(scope, {
    name: `tcp proxy :${proxy.port} → :${targetPort}`,
    cleanup: () => new Promise((resolve) => {
      for (const c of conns) c.destroy();
      server.close(() => resolve());
    }),
  });
  return proxy;
}

// ---------------------------------------------------------------------------
// Processes

/** VmRSS of pid in KiB (null if gone). */
export async function rssKiB(pid) {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Processes whose environment carries CLAWLINK_E2E_TAG=tag: [{pid, comm, state}]. */
export async function taggedProcesses(tag) {
  const needle = `CLAWLINK_E2E_TAG=${tag}`;
  const found = [];
  let entries = [];
  try { entries = await readdir('/proc'); } catch { return found; }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = await readFile(`/proc/${e}/environ`, 'latin1');
      if (!env.split('\0').includes(needle)) continue;
      const stat = await readFile(`/proc/${e}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (state !== 'Z') found.push({ pid: Number(e), comm, state });
    } catch { /* gone or not ours */ }
  }
  return found;
}

/**
 * SIGKILLs a process started by the harness (relay or agent) and waits for
 * it; marks it stopped so that the harness's cleanup does not report it as
 * having died on its own.
 */
export async function killHard(p) {
  p.stopped = true;
  try { p.proc.kill('SIGKILL'); } catch { /* gone */ }
  return p.exited;
}

/** Throws if a sanitizer report is in text. */
export function checkSanitizerText(text, name) {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) throw new Error(`sanitizer report in ${name}'s output:\n${text.slice(Math.max(0, m.index - 200), m.index + 4000)}`);
  }
}

function envFor(extra = {}) {
  const env = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...extra };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined && env[k] === undefined) env[k] = process.env[k];
  }
  if (SANITIZED && env.UBSAN_OPTIONS === undefined) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  return env;
}

function runFile(bin, args, { env, timeout }) {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------
// TLS

/** Writes a self-signed cert/key for 127.0.0.1 into dir; returns paths, PEM and SHA-256 fingerprint. */
export async function makeSelfSigned(dir, name = 'relay') {
  const cert = path.join(dir, `${name}-cert.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  const r = await runFile('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'], { env: envFor(), timeout: ms(60_000) });
  if (r.code !== 0) throw new Error(`openssl req failed (${r.code}): ${r.stderr}`);
  const pem = await readFile(cert, 'utf8');
  return { cert, key, pem, fingerprint256: new crypto.X509Certificate(pem).fingerprint256 };
}

/** JSON over HTTPS trusting `ca`. Returns {status, body, text}. */
export function httpsJson(baseUrl, method, pathname, body, token, ca) {
  return new Promise((resolve, reject) => {
    const u = new URL(baseUrl + pathname);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = {};
    if (payload !== undefined) { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = Buffer.byteLength(payload); }
    if (token) headers.Authorization = `Bearer ${token}`;
    const req = https.request({ hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, ca, timeout: ms(20_000) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: parsed, text, method, path: pathname });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The certificate a fresh TLS handshake with 127.0.0.1:port presents (SHA-256 fingerprint). */
export function peerFingerprint(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: undefined }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.setTimeout(ms(10_000), () => s.destroy(new Error('TLS handshake timed out')));
    s.on('error', reject);
  });
}

/**
 * Starts clawlink-relay with --tls-cert/--tls-key and --public-url
 * https://127.0.0.1:PORT; waits for GET /healthz over HTTPS (trusting ca).
 * Returns {url, wsUrl, port, dataDir, proc, exited, logs(), stop()}.
 */
export async function startTlsRelay(scope, { cert, key, ca, dataDir, port, extraArgs = [] }) {
  dataDir = dataDir || await tempDir('clawlink-relay-tls-');
  port = port || await freePort();
  const url = `https://127.0.0.1:${port}`;
  const home = await tempDir('clawlink-relay-home-');
  const level = process.env.CL_E2E_LOG_LEVEL || 'debug';
  const args = ['--listen', `127.0.0.1:${port}`, '--data', dataDir, '--public-url', url,
    '--tls-cert', cert, '--tls-key', key, ...(level === 'none' ? [] : ['--log-level', level]), ...extraArgs];
  if (!existsSync(RELAY_BIN)) throw new Error(`binary not found: ${RELAY_BIN}`);
  const proc = spawn(RELAY_BIN, args, { env: envFor({ HOME: home }), cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => { logs += d; });
  proc.stdout.on('data', (d) => { logs += d; });
  const exited = new Promise((resolve) => {
    proc.on('error', (e) => { logs += `\n[spawn error: ${e.message}]\n`; });
    proc.on('close', (code, signal) => resolve({ code, signal }));
  });
  const relay = {
    name: `clawlink-relay (tls) :${port}`, url, wsUrl: `wss://127.0.0.1:${port}`, port, dataDir, proc, exited, args,
    logs: () => logs,
    stopped: false,
    async stop() {
      const died = !relay.stopped && (proc.exitCode !== null || proc.signalCode !== null);
      relay.stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => { logs += '\n[extra: no exit 10 s after SIGTERM; SIGKILL]\n'; proc.kill('SIGKILL'); }, ms(10_000));
        await exited;
        clearTimeout(t);
      }
      checkSanitizerText(logs, relay.name);
      if (died) throw new Error(`${relay.name} exited on its own during the test: code ${proc.exitCode} signal ${proc.signalCode}\n${tail(logs, 30)}`);
    },
  };
  process.once('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  own(scope, { name: relay.name, logs: relay.logs, cleanup: () => relay.stop() });
  await waitFor(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw Object.assign(new Error('exited'), { fatal: true });
    const r = await httpsJson(url, 'GET', '/healthz', undefined, undefined, ca);
    return r.status === 200;
  }, { timeout: ms(15_000), what: `${relay.name} to answer /healthz over HTTPS`, describe: () => tail(logs, 30) });
  return relay;
}

/** `clawlink pair CODE --api https://…/functions/v1 --ca-file PEM --config DIR/agent.json`. */
export async function pairAgentTls(relay, { code, caFile, name = 'tls-agent' }) {
  const dir = await tempDir('clawlink-agent-tls-');
  const configPath = path.join(dir, 'agent.json');
  const args = ['pair', code, '--api', `${relay.url}/functions/v1`, '--ca-file', caFile, '--name', name, '--config', configPath];
  const r = await runFile(AGENT_BIN, args, { env: envFor({ HOME: dir }), timeout: ms(30_000) });
  checkSanitizerText(r.stderr, 'clawlink pair');
  if (r.code !== 0) throw new Error(`clawlink ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${r.stdout}\n--- relay ---\n${tail(relay.logs(), 20)}`);
  return { configPath, config: JSON.parse(await readFile(configPath, 'utf8')) };
}

/** Rewrites the agent config's relay_url (mode kept at 0600). */
export async function setRelayUrl(configPath, relayUrl) {
  const cfg = JSON.parse(await readFile(configPath, 'utf8'));
  cfg.relay_url = relayUrl;
  await writeFile(configPath, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  await chmod(configPath, 0o600);
  return cfg;
}

/** Expected `seq a b` output with the given line ending. */
export function seqText(a, b, eol = '\n') {
  const parts = [];
  for (let i = a; i <= b; i++) parts.push(String(i));
  return parts.join(eol) + eol;
}

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Random printable text of about n bytes: base64 lines of 76 characters + '\n' (like `base64 -w 76`). */
export function bigText(n) {
  const b = crypto.randomBytes(Math.ceil((n * 57) / 77)).toString('base64');
  const lines = [];
  for (let i = 0; i < b.length; i += 76) lines.push(b.slice(i, i + 76));
  return Buffer.from(`${lines.join('\n')}\n`);
}

/**
 * Whether `clawlink-relay --help` lists flag. Tests of a documented flag
 * the binary does not have yet are marked todo with this (they still run
 * and show their failure) rather than breaking the whole suite.
 */
export function relayHasFlag(flag) {
  try {
    const out = execFileSync(RELAY_BIN, ['--help'], { encoding: 'utf8', timeout: 10_000 });
    return out.includes(flag);
  } catch (e) {
    return String(e.stdout ?? '').includes(flag);
  }
}

/** node:test option: todo with the reason when the relay lacks flag (README documents it). */
export function todoUnlessRelayFlag(flag) {
  return relayHasFlag(flag) ? {} : { todo: `PRODUCT BUG: clawlink-relay does not accept ${flag} (README.md documents it); this test runs but cannot pass until it does` };
}

/**
 * A relay (the one given, or a new one with relayArgs), a user, a project,
 * and the real agent paired and online (with agentArgs; through a stallable
 * proxy when viaProxy, which needs the test's scope).
 */
export async function setupAgent({ relay, relayArgs = [], agentArgs = [], viaProxy, scope } = {}) {
  relay = relay || await startRelay({ extraArgs: relayArgs });
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  let proxy;
  if (viaProxy) {
    proxy = await startProxy(scope, relay.port);
    await setRelayUrl(paired.configPath, `ws://127.0.0.1:${proxy.port}`);
  }
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId, extraArgs: agentArgs,
  });
  return { relay, user, token: user.token, projectId: project.id, deviceId: paired.deviceId, paired, agent, proxy };
}

/**
 * Like harness api(), from a chosen local address (127.0.0.x: the whole
 * /8 is loopback, and the relay tells its addresses apart like any
 * clients'). Resolves {status, body, text, headers, method, path}.
 */
export function apiFrom(relay, localAddress, method, pathname, body, token, extraHeaders = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { ...extraHeaders };
  if (payload !== undefined) { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = Buffer.byteLength(payload); }
  if (token) headers.Authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const u = new URL(relay.url + pathname);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, localAddress, agent: false, headers, timeout: ms(20_000) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
        resolve({ status: res.statusCode, body: parsed, text, headers: h, method, path: pathname });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
