// `make run`'s demo as a newcomer sees it: scripts/run-demo with the build
// directory, a free loopback port and an empty data directory starts the
// relay, pairs this machine's agent as the demo device and prints a
// one-time sign-in link. Opened in the browser, the link signs in to a
// dashboard with the demo device online; its terminal runs
// `echo $((6*7))` → 42. A second run on the same data prints a new link
// that works too, and the device comes back online with its saved config.
// Every process the script starts (relay, agent, the agent's shells) is
// gone after Ctrl-C (SIGINT to its process group, as a terminal sends it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  e2e, cleanupAll, ms, waitFor, tempDir, freePort, randomId, BIN_DIR, SANITIZED, tail,
} from '../lib/harness.mjs';
import { own, taggedProcesses, checkSanitizerText } from '../lib/extra.mjs';
import { launchBrowser, openPage, screenshot, tid, openTerminalAndEcho } from '../lib/browser.mjs';

after(cleanupAll);

const RUN_DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'run-demo');
const LINK_RE = /(http:\/\/127\.0\.0\.1:\d+\/auth#one-time=[A-Za-z0-9_-]+)/;

const groupAlive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts scripts/run-demo BIN_DIR 127.0.0.1:port dataDir in its own
 * process group and waits for the sign-in link it prints. Owned by the
 * scope: stopped with SIGINT to the group (Ctrl-C), SIGKILL if anything is
 * left; the agent's shells (found by their tag) too.
 */
async function runDemo(scope, { port, dataDir, home, tag }) {
  const env = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: home,
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    CLAWLINK_E2E_TAG: tag, // inherited by the relay, the agent and its shells
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  if (SANITIZED && env.UBSAN_OPTIONS === undefined) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  const proc = spawn(RUN_DEMO, [BIN_DIR, `127.0.0.1:${port}`, dataDir], { env, cwd: home, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  const pgid = proc.pid;
  const demo = {
    proc,
    exited,
    stdout: () => out,
    logs: () => `${err}\n[stdout]\n${out}`,
    stopped: false,
    /** Ctrl-C: SIGINT to the group; everything must be gone. */
    async stop() {
      if (demo.stopped) return demo.result;
      demo.stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        try { process.kill(-pgid, 'SIGINT'); } catch { /* gone */ }
      }
      const t = setTimeout(() => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } }, ms(15_000));
      demo.result = await exited;
      clearTimeout(t);
      const left = [];
      await waitFor(async () => !groupAlive(pgid) && (await taggedProcesses(tag)).length === 0, { timeout: ms(10_000), what: 'no process left' })
        .catch(async () => {
          left.push(...(await taggedProcesses(tag)).map((p) => `${p.pid} ${p.comm}`));
          try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
          for (const p of await taggedProcesses(tag)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
        });
      checkSanitizerText(demo.logs(), 'run-demo (relay)');
      checkSanitizerText(await readFile(path.join(dataDir, 'demo-agent', 'agent.log'), 'utf8').catch(() => ''), 'the demo agent');
      if (left.length) throw new Error(`after Ctrl-C, processes of the demo are still running (killed now): ${left.join(', ')}\n${tail(demo.logs(), 30)}`);
      return demo.result;
    },
  };
  process.once('exit', () => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } });
  own(scope, { name: `run-demo :${port}`, logs: demo.logs, cleanup: () => demo.stop() });
  await waitFor(() => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw Object.assign(new Error('run-demo exited'), { fatal: true });
    return LINK_RE.test(out);
  }, { timeout: ms(45_000), what: 'run-demo to print the one-time link', describe: () => tail(demo.logs(), 40) });
  demo.link = LINK_RE.exec(out)[1];
  return demo;
}

// The newcomer's path: link → dashboard → project "Demo" → the demo device
// online → open a terminal → 42.
async function clickThrough(scope, browser, demo, label, shot) {
  const relay = { url: new URL(demo.link).origin };
  const { page, problems } = await openPage(scope, browser, relay, { label });
  await page.goto(demo.link);
  await page.waitForURL(/\/dashboard$/);
  assert.ok(!page.url().includes('one-time'), `the code left the address bar: ${page.url()}`);
  const card = tid(page, 'project-card').filter({ hasText: 'Demo' });
  await card.waitFor();
  await card.locator('[data-testid="device-status"][data-status="online"]').first().waitFor({ timeout: ms(30_000) });
  if (shot) await screenshot(page, shot);
  await card.getByRole('link', { name: 'Demo' }).first().click();
  await page.waitForURL(/\/project\//);
  const row = tid(page, 'device-row').first();
  await row.locator('[data-testid="device-status"]').filter({ hasText: /online/i }).waitFor({ timeout: ms(30_000) });
  await openTerminalAndEcho(page, row);
  return { page, problems };
}

test('make run\'s demo: the printed one-time link, the demo device, a terminal; a second run prints a new link', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const dataDir = path.join(await tempDir('clawlink-demo-data-'), 'var');
  const home = await tempDir('clawlink-demo-home-');
  const port = await freePort();
  const tag = `clawlink-e2e-demo-${randomId()}`;
  const browser = await launchBrowser(scope);

  const first = await runDemo(scope, { port, dataDir, home, tag });
  assert.match(first.stdout(), new RegExp(`clawlink is running at http://127\\.0\\.0\\.1:${port}`));
  const a = await clickThrough(scope, browser, first, 'first run', '60-demo-dashboard');
  await screenshot(a.page, '61-demo-terminal');

  // Ctrl-C: the relay, the agent and the shell are gone.
  const r1 = await first.stop();
  assert.ok(r1.code === 130 || r1.code === 0 || r1.signal === 'SIGINT', `run-demo stopped by Ctrl-C: ${JSON.stringify(r1)}`);

  // Used already: the first link does not sign in on the second run.
  const second = await runDemo(scope, { port, dataDir, home, tag });
  assert.notEqual(second.link, first.link, 'every run prints a new link');
  const stale = await openPage(scope, browser, { url: `http://127.0.0.1:${port}` }, { label: 'old link' });
  await stale.page.goto(first.link);
  await tid(stale.page, 'one-time-error').waitFor();
  const b = await clickThrough(scope, browser, second, 'second run');
  await second.stop();

  assert.deepEqual([...a.problems, ...stale.problems, ...b.problems], [], 'no page errors, console errors or CSP violations');
}));
