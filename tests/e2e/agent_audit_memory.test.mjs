// `clawlink audit` on the PostgreSQL memory provider's connection string
// (docs/chat.md "Memory providers", docs/audit.md `memory.pg.*`), on the
// real binary: a password in an agent config other users can read is
// critical; a password in a 0600 config, notes kept on another machine,
// and that machine reached without TLS required are reported; a local
// socket without a password says nothing; the password never appears in
// what the audit prints, text or --json.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { e2e, cleanupAll, ms, tempDir, AGENT_BIN } from './lib/harness.mjs';
import { checkSanitizerText } from './lib/extra.mjs';

after(cleanupAll);

const PASSWORD = 'pgPasswordNeverPrinted0123';

function audit(args, env) {
  const full = { PATH: process.env.PATH || '/usr/bin:/bin', LANG: 'C.UTF-8', ...env };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) full[k] = process.env[k];
  }
  return new Promise((resolve) => {
    execFile(AGENT_BIN, ['audit', ...args], { env: full, timeout: ms(60_000), killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      checkSanitizerText(stderr, 'clawlink audit');
      resolve({ code: err ? err.code : 0, stdout, stderr, json: args.includes('--json') ? JSON.parse(stdout) : null });
    });
  });
}

const severityOf = (r, id) => r.json.findings.find((f) => f.id === id)?.severity;

test('the memory database\'s connection string: password exposure, a remote server, no TLS; never printed', { timeout: ms(120_000) }, e2e(async () => {
  const root = await tempDir('clawlink-audit-mem-');
  const home = path.join(root, 'home');
  const cfgDir = path.join(home, '.config', 'clawlink');
  const configPath = path.join(cfgDir, 'agent.json');
  await mkdir(cfgDir, { recursive: true });
  await chmod(root, 0o700);
  await chmod(home, 0o755);
  await chmod(path.join(home, '.config'), 0o755);
  await chmod(cfgDir, 0o700);
  const env = { HOME: home, XDG_DATA_HOME: path.join(root, 'data') };
  const base = { device_id: 'dev-mem', token: 'cld_memAuditToken0123456789abcdefABCDEF', relay_url: 'wss://relay.example.com' };
  const write = async (extra, mode) => {
    await writeFile(configPath, JSON.stringify({ ...base, ...extra }));
    await chmod(configPath, mode);
  };
  const noPassword = (r) => {
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password was printed');
  };

  // a password, readable by others, to a server elsewhere, TLS not required
  await write({ memory_provider: 'postgres', memory_pg_url: `postgresql://clawlink:${PASSWORD}@db.example.com:5432/memory` }, 0o644);
  let r = await audit(['--json'], env);
  noPassword(r);
  assert.equal(severityOf(r, 'memory.pg.password_exposed'), 'critical');
  assert.equal(severityOf(r, 'memory.pg.remote'), 'info');
  assert.equal(severityOf(r, 'memory.pg.plaintext'), 'warn');
  assert.notEqual(r.code, 0, 'a critical finding: nonzero exit');
  const remote = r.json.findings.find((f) => f.id === 'memory.pg.remote');
  assert.match(remote.detail, /db\.example\.com/); // named by host, not by its URL
  noPassword(await audit([], env)); // the text report too

  // 0600, TLS required: the password is only worth a note
  await write({ memory_provider: 'postgres', memory_pg_url: `postgresql://clawlink:${PASSWORD}@db.example.com/memory?sslmode=verify-full` }, 0o600);
  r = await audit(['--json'], env);
  noPassword(r);
  assert.equal(severityOf(r, 'memory.pg.password_in_config'), 'info');
  assert.equal(severityOf(r, 'memory.pg.password_exposed'), undefined);
  assert.equal(severityOf(r, 'memory.pg.plaintext'), undefined);
  assert.equal(severityOf(r, 'memory.pg.remote'), 'info');

  // a local socket and ~/.pgpass: nothing to say; the built-in provider: nothing either
  await write({ memory_provider: 'postgres', memory_pg_url: 'host=/run/postgresql dbname=memory' }, 0o600);
  r = await audit(['--json'], env);
  assert.deepEqual(r.json.findings.filter((f) => f.id.startsWith('memory.')), []);
  await write({ memory_provider: 'builtin', memory_pg_url: `postgresql://x:${PASSWORD}@db.example.com/m` }, 0o600);
  r = await audit(['--json'], env);
  noPassword(r);
  assert.deepEqual(r.json.findings.filter((f) => f.id.startsWith('memory.')), []);
}));
