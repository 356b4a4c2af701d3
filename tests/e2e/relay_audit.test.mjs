// `clawlink-relay audit` (docs/operations.md "Audit", src/relay/audit.h) on
// the real binary. A deliberately bad setup — a 0755 data directory with
// 0644 database and outbox files, a plain http:// public URL and a
// listener beyond loopback, SMTP credentials on the relay's command line,
// a relay running under a 200-file limit, an API token and a paired device
// unused for 100 days — must be flagged; --fix must repair the safe ones
// (modes) and nothing else; --json must parse in the documented schema; a
// clean setup raises nothing critical; --deep probes a live TLS relay
// (certificate, HSTS, /healthz).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, RELAY_BIN, startRelay, signup, createProject, createDevice,
  pairViaHttp, tempDir,
} from './lib/harness.mjs';
import { makeSelfSigned, startTlsRelay } from './lib/extra.mjs';

after(cleanupAll);

const PRLIMIT = '/usr/bin/prlimit';
const SHIPPED_UNIT = new URL('../../deploy/clawlink-relay.service', import.meta.url).pathname;
const DAY = 86400;

/** `clawlink-relay audit ARGS` → {code, stdout, stderr} (async: --deep may probe this process). */
function audit(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(RELAY_BIN, ['audit', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), ms(60_000));
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/** audit --json: the parsed document, checked against the schema. */
async function auditJson(args) {
  const r = await audit([...args, '--json']);
  let doc;
  try { doc = JSON.parse(r.stdout); } catch (e) { throw new Error(`--json did not parse (${e.message}):\n${r.stdout}\n${r.stderr}`); }
  assert.equal(doc.version, 1);
  assert.ok(Array.isArray(doc.findings));
  for (const f of doc.findings) {
    assert.deepEqual(Object.keys(f).sort(), ['detail', 'fix', 'fixed', 'id', 'severity', 'title'], JSON.stringify(f));
    assert.ok(['critical', 'warn', 'info'].includes(f.severity), JSON.stringify(f));
    assert.equal(typeof f.fixed, 'boolean');
  }
  const critical = doc.findings.filter((f) => f.severity === 'critical' && !f.fixed).length;
  assert.equal(doc.summary.critical, critical);
  assert.equal(r.code, critical ? 1 : 0, `exit status with ${critical} critical:\n${r.stdout}`);
  return { ...r, doc, ids: doc.findings.map((f) => f.id), find: (id) => doc.findings.filter((x) => x.id === id) };
}

const mode = async (p) => ((await stat(p)).mode & 0o777).toString(8);
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();

test('audit: a bad setup is flagged, --fix repairs the modes and only those, --json parses', { timeout: TEST_TIMEOUT, skip: !existsSync(PRLIMIT) && 'no prlimit' }, e2e(async () => {
  const dataDir = path.join(await tempDir('clawlink-audit-'), 'state');
  await mkdir(dataDir, { mode: 0o755 });
  await chmod(dataDir, 0o755);
  const smtpPass = `pw-${Date.now()}`;
  const smtpUrl = `smtp://mailer:${smtpPass}@127.0.0.1:2525`;
  // a relay as a careless unit would run it: systemd's default file limit, credentials in argv
  const relay = await startRelay({ dataDir, extraArgs: ['--smtp-url', smtpUrl], wrapper: [PRLIMIT, '--nofile=200:200', '--'] });

  // an account, a sign-in and a paired device, then 100 days pass for them
  const { token } = await signup(relay);
  const project = await createProject(relay, token);
  const { pairing_code: code } = await createDevice(relay, token, project.id);
  await pairViaHttp(relay, code);
  const db = path.join(dataDir, 'clawlink.db');
  const old = Math.floor(Date.now() / 1000) - 100 * DAY;
  sql(db, `UPDATE api_tokens SET created_at = ${old}, last_used_at = ${old}; UPDATE devices SET created_at = ${old}, last_seen = ${old}; UPDATE users SET created_at = ${old};`);
  const verifiable = sql(db, 'SELECT count(*) FROM pragma_table_info(\'users\') WHERE name = \'email_verified_at\'') === '1';

  // files left readable, as an older relay or a careless copy left them
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) await chmod(path.join(dataDir, f), 0o644);
  await mkdir(path.join(dataDir, 'outbox'), { recursive: true });
  await chmod(path.join(dataDir, 'outbox'), 0o755);
  await writeFile(path.join(dataDir, 'outbox', '1-reset.eml'), 'Subject: reset\r\n\r\nhttps://relay/reset#t=secret\r\n', { mode: 0o644 });
  const smtpFile = path.join(dataDir, '..', 'smtp-url');
  await writeFile(smtpFile, `${smtpUrl}\n`, { mode: 0o644 });
  const unit = path.join(dataDir, '..', 'clawlink-relay.service');
  await writeFile(unit, '[Service]\nExecStart=/usr/local/bin/clawlink-relay --data /var/lib/clawlink\nLimitNOFILE=1024\n');

  const flags = ['--data', dataDir, '--listen', `0.0.0.0:${relay.port}`, '--public-url', 'http://relay.example.com',
    '--smtp-url', smtpUrl, '--log-level', 'debug', '--unit', unit];
  const before = await auditJson(flags);
  const ids = before.ids;
  for (const id of ['data.dir_mode', 'data.db_mode', 'data.outbox_mode', 'data.outbox_file_mode', 'listen.plaintext',
    'url.plaintext', 'limits.nofile', 'limits.unit_nofile', 'smtp.credentials_on_command_line', 'tokens.unused', 'devices.unused', 'accounts.unverified']) {
    assert.ok(ids.includes(id), `${id} flagged: ${ids.join(', ')}`);
  }
  assert.equal(before.find('data.db_mode').length, 3, 'the database, -wal and -shm');
  for (const id of ['data.db_mode', 'data.outbox_file_mode', 'listen.plaintext', 'url.plaintext', 'limits.nofile', 'limits.unit_nofile']) {
    assert.ok(before.find(id).every((f) => f.severity === 'critical' && !f.fixed), `${id} critical, not fixed: ${JSON.stringify(before.find(id))}`);
  }
  assert.match(before.find('limits.nofile')[0].detail, new RegExp(`running relay \\(pid ${relay.proc.pid}\\): soft 200`));
  assert.equal(before.find('accounts.unverified')[0].severity, verifiable ? 'warn' : 'info');
  assert.equal(before.code, 1);
  assert.ok(!before.stdout.includes(smtpPass), 'the audit never prints the SMTP password');
  // the same in text form
  const text = await audit(flags);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /CRITICAL data\.db_mode: database file .*clawlink\.db is mode 0644/);
  assert.match(text.stdout, /fix: chmod 600 /);

  // the SMTP URL from a file instead: the file's mode is what matters then
  const viaFile = await auditJson(['--data', dataDir, '--smtp-url-file', smtpFile]);
  assert.equal(viaFile.find('smtp.file_mode')[0]?.severity, 'critical');

  // --fix: the modes, each reported; nothing else
  const fixed = await auditJson([...flags, '--smtp-url-file', smtpFile, '--fix']);
  for (const id of ['data.dir_mode', 'data.db_mode', 'data.outbox_mode', 'data.outbox_file_mode', 'smtp.file_mode']) {
    assert.ok(fixed.find(id).length && fixed.find(id).every((f) => f.fixed), `${id} fixed: ${JSON.stringify(fixed.find(id))}`);
  }
  for (const id of ['listen.plaintext', 'url.plaintext', 'limits.nofile', 'tokens.unused', 'devices.unused', 'smtp.credentials_on_command_line']) {
    assert.ok(fixed.find(id).length && fixed.find(id).every((f) => !f.fixed), `${id} is not the audit's to fix`);
  }
  assert.equal(fixed.code, 1, 'the network and the file limit are still critical');
  assert.equal(await mode(dataDir), '700');
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) assert.equal(await mode(path.join(dataDir, f)), '600', f);
  assert.equal(await mode(path.join(dataDir, 'outbox')), '700');
  assert.equal(await mode(path.join(dataDir, 'outbox', '1-reset.eml')), '600');
  assert.equal(await mode(smtpFile), '600');
  // nothing else changed: the token and the device are still there, the relay still serves
  assert.equal(sql(db, 'SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL'), '1');
  assert.equal(sql(db, 'SELECT count(*) FROM devices WHERE paired = 1'), '1');
  const after = await auditJson(flags);
  assert.deepEqual(after.ids.filter((id) => id.startsWith('data.')), [], 'the data directory is clean now');
  assert.equal((await fetch(`${relay.url}/healthz`)).status, 200);
  await relay.stop();
}));

test('audit: a careful setup has nothing critical; the relay takes its SMTP URL from a file', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const dir = await tempDir('clawlink-audit-ok-');
  const dataDir = path.join(dir, 'state');
  const smtpFile = path.join(dir, 'smtp-url');
  await writeFile(smtpFile, 'smtp://mailer:file-secret@127.0.0.1:2525\n', { mode: 0o600 });
  const relay = await startRelay({ dataDir, extraArgs: ['--smtp-url-file', smtpFile] });
  await signup(relay);
  const ok = await auditJson(['--data', dataDir, '--listen', `127.0.0.1:${relay.port}`, '--public-url', relay.url, '--smtp-url-file', smtpFile,
    '--unit', SHIPPED_UNIT]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.deepEqual(ok.doc.findings.filter((f) => f.severity === 'critical'), []);
  for (const id of ['data.dir_mode', 'data.db_mode', 'limits.unit_nofile', 'smtp.credentials_on_command_line', 'smtp.file_mode', 'listen.plaintext', 'url.plaintext', 'tokens.unused', 'devices.unused']) {
    assert.ok(!ok.ids.includes(id), `${id} not raised on a careful setup: ${JSON.stringify(ok.find(id))}`);
  }
  await relay.stop();

  // a URL file the relay cannot use, and both ways at once: usage errors
  await writeFile(smtpFile, 'http://not-smtp\n', { mode: 0o600 });
  const bad = execFileStatus(RELAY_BIN, ['--data', dataDir, '--smtp-url-file', smtpFile]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.doesNotMatch(bad.stderr, /not-smtp/, 'the file\'s text is not echoed');
  const both = execFileStatus(RELAY_BIN, ['--data', dataDir, '--smtp-url-file', smtpFile, '--smtp-url', 'smtp://x']);
  assert.equal(both.status, 2);
  assert.equal((await audit(['--data', path.join(dir, 'nope')])).code, 2, 'no such data directory: usage error');
  assert.equal((await audit(['--data', dataDir, '--bogus'])).code, 2);
  // a unit without LimitNOFILE is worth a warning (the shipped one sets it)
  const bare = path.join(dir, 'bare.service');
  await writeFile(bare, '[Service]\nExecStart=/usr/local/bin/clawlink-relay\n');
  assert.equal((await auditJson(['--data', dataDir, '--unit', bare])).find('limits.unit_nofile')[0]?.severity, 'warn');
}));

function execFileStatus(bin, args) {
  try {
    execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: ms(10_000) });
    return { status: 0, stderr: '' };
  } catch (e) {
    return { status: e.status, stderr: String(e.stderr) };
  }
}

test('audit --deep: certificate, HSTS and /healthz of the live relay', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const dir = await tempDir('clawlink-audit-tls-');
  const { cert, key, pem } = await makeSelfSigned(dir); // valid for one day: expiring soon
  await chmod(key, 0o644);
  const relay = await startTlsRelay(scope, { cert, key, ca: pem });
  const flags = ['--data', relay.dataDir, '--listen', `127.0.0.1:${relay.port}`, '--public-url', relay.url, '--tls-cert', cert, '--tls-key', key];

  const deep = await auditJson([...flags, '--deep', '--ca', cert]);
  assert.ok(!deep.ids.includes('deep.unreachable') && !deep.ids.includes('deep.cert_invalid') && !deep.ids.includes('deep.unhealthy'), deep.stdout);
  assert.ok(!deep.ids.includes('deep.hsts_missing'), 'the relay sends HSTS over TLS');
  assert.equal(deep.find('deep.cert_expiring')[0]?.severity, 'warn', deep.stdout);
  assert.equal(deep.find('tls.cert_expiring')[0]?.severity, 'warn', deep.stdout);
  assert.equal(deep.find('tls.key_mode')[0]?.severity, 'critical', 'a TLS key others can read');

  // without trusting the private CA: the certificate is not valid
  const untrusted = await auditJson([...flags, '--deep']);
  assert.equal(untrusted.find('deep.cert_invalid')[0]?.severity, 'critical', untrusted.stdout);
  // without --deep nothing is probed
  assert.ok(!(await auditJson(flags)).ids.some((id) => id.startsWith('deep.')));

  // a TLS front without HSTS, and a relay that is down
  const longCert = path.join(dir, 'long-cert.pem');
  const longKey = path.join(dir, 'long-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', longKey, '-out', longCert,
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '365'], { stdio: 'ignore' });
  const front = https.createServer({ cert: await readFile(longCert), key: await readFile(longKey) }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise((r) => front.listen(0, '127.0.0.1', r));
  t.after(() => front.close());
  const frontUrl = `https://127.0.0.1:${front.address().port}`;
  const noHsts = await auditJson(['--data', relay.dataDir, '--public-url', frontUrl, '--deep', '--ca', longCert]);
  assert.equal(noHsts.find('deep.hsts_missing')[0]?.severity, 'warn', noHsts.stdout);
  assert.ok(!noHsts.ids.includes('deep.cert_expiring'), 'a certificate valid for a year is not expiring');

  // --fix tightens the key (the relay's own file)
  const fixed = await auditJson([...flags, '--fix']);
  assert.ok(fixed.find('tls.key_mode')[0]?.fixed);
  assert.equal(await mode(key), '600');

  await relay.stop();
  const down = await auditJson([...flags, '--deep', '--ca', cert]);
  assert.equal(down.find('deep.unreachable')[0]?.severity, 'critical', down.stdout);
}));

test('audit takes every option the relay takes (an operator pastes the unit\'s ExecStart flags), and flags a metrics token file others can read', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const help = execFileSync(RELAY_BIN, ['--help'], { encoding: 'utf8' });
  const opts = [...new Set([...help.matchAll(/(?:^|\s)(--[a-z][a-z-]+)/gm)].map((m) => m[1]))]
    .filter((o) => !['--help', '--version'].includes(o));
  assert.ok(opts.includes('--metrics-token-file') && opts.includes('--drain') && opts.includes('--max-pending-invitations'), opts.join(' '));
  const dir = await tempDir('clawlink-audit-opts-');
  const dataDir = path.join(dir, 'state');
  await mkdir(dataDir, { mode: 0o700 });
  for (const o of opts) {
    const r = await audit(['--data', dataDir, o, '1']);
    assert.doesNotMatch(r.stderr, /unrecognized option|invalid option/, `audit refuses the relay's ${o}:\n${r.stderr}`);
  }

  const tokenFile = path.join(dir, 'metrics.token');
  await writeFile(tokenFile, `${'m'.repeat(40)}\n`);
  await chmod(tokenFile, 0o644);
  let r = await auditJson(['--data', dataDir, '--metrics-token-file', tokenFile]);
  assert.equal(r.find('metrics.token_file_mode').length, 1, r.stdout);
  assert.equal(r.find('metrics.token_file_mode')[0].severity, 'critical');
  assert.ok(!r.stdout.includes('m'.repeat(40)), 'the token is never printed');
  r = await auditJson(['--data', dataDir, '--metrics-token-file', tokenFile, '--fix']);
  assert.equal(r.find('metrics.token_file_mode')[0].fixed, true, r.stdout);
  assert.equal(await mode(tokenFile), '600');
  r = await auditJson(['--data', dataDir, '--metrics-token-file', tokenFile]);
  assert.equal(r.find('metrics.token_file_mode').length, 0, r.stdout);
}));
