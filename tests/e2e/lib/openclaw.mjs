/**
 * A REAL OpenClaw gateway for the end-to-end tests, offline on loopback:
 * installed by scripts/install-openclaw (Node 24 and a pinned openclaw from
 * the npm registry, cached in ~/.cache/clawlink-test/openclaw), configured
 * in a temporary state directory to use the fake model server
 * (fake-model.mjs), and started with `openclaw gateway run`. See
 * docs/openclaw.md and ../shared/notes/openclaw-gateway.md.
 *
 *   const oc = ensureOpenclaw();                  // {openclawBin, nodeBin}
 *   const model = await startFakeModel({ reply });
 *   const gw = await startGateway(scope, { modelUrl: model.baseUrl });
 *   gw.url, gw.token; await gw.stop(); await gw.start();
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { tempDir, freePort, ms, sleep, tail } from './harness.mjs';
import { own } from './extra.mjs';
import { FAKE_MODEL_ID } from './fake-model.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..', '..');

let installed;

/**
 * Runs scripts/install-openclaw (idempotent: quick once cached) and
 * returns the paths of the openclaw launcher and of Node 24. Throws with
 * the installer's output when it cannot install (no network on a cold
 * cache, for one).
 */
export function ensureOpenclaw() {
  if (installed) return installed;
  let out;
  try {
    out = execFileSync(path.join(REPO, 'scripts', 'install-openclaw'), ['--print-bin'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000, maxBuffer: 16 << 20,
    });
  } catch (e) {
    throw new Error(`scripts/install-openclaw failed (exit ${e.status}):\n${tail(`${e.stdout || ''}\n${e.stderr || ''}`, 40)}`);
  }
  const [openclawBin, nodeBin] = out.trim().split('\n').slice(-2);
  installed = { openclawBin, nodeBin };
  return installed;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Writes a gateway config in a fresh state directory and starts the
 * gateway; resolves when it logs "ready". Options: modelUrl (the fake
 * model's /v1 base URL), token, port. Returns {url, port, token, stateDir,
 * logs(), stop(), start(), running}. Owned by scope: stopped at the end
 * of the test.
 */
export async function startGateway(scope, { modelUrl, token = `gw-token-${Date.now()}`, port } = {}) {
  const { openclawBin, nodeBin } = ensureOpenclaw();
  const stateDir = await tempDir('clawlink-openclaw-');
  port = port || await freePort();
  await mkdir(path.join(stateDir, 'tmp'), { recursive: true });
  const configPath = path.join(stateDir, 'openclaw.json');
  const config = {
    gateway: { mode: 'local', bind: 'loopback', port, auth: { mode: 'token', token } },
    logging: { file: path.join(stateDir, 'gateway.log') },
    models: {
      providers: {
        fake: {
          baseUrl: modelUrl, api: 'openai-completions', apiKey: 'local',
          models: [{ id: FAKE_MODEL_ID, name: 'Fake 1', input: ['text'], contextWindow: 32768, maxTokens: 1024 }],
        },
      },
    },
    agents: { defaults: { model: { primary: `fake/${FAKE_MODEL_ID}` } } },
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const env = {
    PATH: `${path.dirname(nodeBin)}:${process.env.PATH || '/usr/bin:/bin'}`,
    HOME: stateDir,
    LANG: 'C.UTF-8',
    TMPDIR: path.join(stateDir, 'tmp'),
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_NO_RESPAWN: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
  };
  let out = '';
  let proc = null;
  const gw = {
    name: `openclaw gateway :${port}`,
    url: `ws://127.0.0.1:${port}`,
    port,
    token,
    stateDir,
    configPath,
    logs: () => out,
    get running() { return !!proc; },
    /** Starts the gateway (again); resolves when it is ready. */
    async start({ timeout = 90_000 } = {}) {
      if (proc) return;
      out += `\n[harness: starting the gateway]\n`;
      const p = spawn(nodeBin, [openclawBin, 'gateway', 'run', '--port', String(port), '--bind', 'loopback', '--auth', 'token', '--token', token], {
        env, cwd: stateDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      });
      proc = p;
      let ready = false;
      const onData = (d) => {
        out += d;
        // "[gateway] ready" (ANSI colours around it when the log is a TTY)
        if (/\[gateway\][^\n]*\bready\b/.test(out.slice(-4096))) ready = true;
      };
      p.stdout.setEncoding('utf8');
      p.stderr.setEncoding('utf8');
      p.stdout.on('data', onData);
      p.stderr.on('data', onData);
      p.exited = new Promise((resolve) => p.on('close', (code, signal) => {
        out += `\n[harness: gateway exited code=${code} signal=${signal}]\n`;
        if (proc === p) proc = null;
        resolve({ code, signal });
      }));
      const deadline = Date.now() + timeout;
      while (!(ready && await portOpen(port))) {
        if (proc !== p) throw new Error(`the OpenClaw gateway exited while starting:\n${tail(out, 40)}`);
        if (Date.now() > deadline) throw new Error(`the OpenClaw gateway was not ready in ${timeout} ms:\n${tail(out, 40)}`);
        await sleep(200);
      }
    },
    /** Stops the gateway and everything it spawned (its process group). */
    async stop() {
      const p = proc;
      if (!p) return;
      try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
      await p.exited;
      clearTimeout(t);
      // its helpers (spawn broker) share the group: make sure none is left
      try { process.kill(-p.pid, 'SIGKILL'); } catch { /* all gone */ }
    },
  };
  own(scope, { name: gw.name, logs: gw.logs, cleanup: () => gw.stop() });
  await gw.start();
  return gw;
}

/**
 * POSTs to an event-stream route and collects the server-sent events until
 * the stream ends. Returns {status, type, events: [{event, data}], body}
 * (body: the parsed JSON when the answer was not a stream).
 */
export async function postSse(relay, pathname, body, token, { timeout = ms(60_000) } = {}) {
  const res = await fetch(`${relay.url}${pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
  const type = res.headers.get('content-type') || '';
  const text = await res.text();
  if (!type.startsWith('text/event-stream')) {
    let parsed;
    try { parsed = JSON.parse(text); } catch { parsed = text; }
    return { status: res.status, type, events: [], body: parsed, text };
  }
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    events.push({ event, data: data.length ? JSON.parse(data.join('\n')) : null });
  }
  return { status: res.status, type, events, text };
}
