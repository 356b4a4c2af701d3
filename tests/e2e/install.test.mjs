// Getting the agent onto another machine (docs/operations.md "Install the
// agent on a machine"): the relay serves /install.sh to anyone, and the
// agent binary to a POST that carries a live pairing code (never a token
// in a URL). The installer, run as a user would (real curl piped into
// sh), checks the binary's SHA-256, installs it where only its owner can
// write, pairs, and writes the systemd unit through `clawlink service
// install`; the unit's own command line then brings the device online.
// Bad codes, damaged downloads, and directories other users can write are
// refused with a clear error, and nothing is installed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, signup, createProject, createDevice, api, expectStatus,
  tempDir, waitDeviceStatus, AGENT_BIN, tail,
} from './lib/harness.mjs';

after(cleanupAll);

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const platform = () => {
  const os = spawnSync('uname', ['-s']).stdout.toString().trim().toLowerCase();
  const arch = spawnSync('uname', ['-m']).stdout.toString().trim().toLowerCase();
  return `${os}-${arch}`;
};

/** Runs a shell command line; resolves {code, out} (stdout and stderr together). */
function sh(cmdline, env) {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', cmdline], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), ms(60_000));
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

/** A home for one "machine": HOME, XDG_CONFIG_HOME, a bin dir only we can write. */
async function machine() {
  const root = await tempDir('clawlink-install-');
  const env = { HOME: path.join(root, 'home'), XDG_CONFIG_HOME: path.join(root, 'xdg') };
  await mkdir(env.HOME, { recursive: true });
  return { root, env, bin: path.join(root, 'bin'), config: path.join(root, 'agent.json') };
}

/** ExecStart of a unit file, split as systemd would for our quoting ("…" with \\ \" %% $$). */
function execStart(unitText) {
  const line = unitText.split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(line, `an ExecStart line in:\n${unitText}`);
  const args = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.slice('ExecStart='.length).matchAll(re)) {
    args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1').replace(/%%/g, '%').replace(/\$\$/g, '$') : m[2]);
  }
  return args;
}

test('curl | sh: the installer downloads with the pairing code, checks the sum, pairs, writes the unit; the unit brings the device online', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const { device, pairing_code: code } = await createDevice(relay, user.token, project.id, 'installed-box');

  // The script: public, a shell script, this relay's address and the sum
  // of the binary it would serve filled in, valid sh.
  const r = await fetch(`${relay.url}/install.sh`);
  const script = await r.text();
  assert.equal(r.status, 200, script);
  assert.match(r.headers.get('content-type'), /^text\/x-shellscript/);
  assert.doesNotMatch(script, /@CLAWLINK_/, 'every placeholder is filled');
  assert.ok(script.includes(`api='${relay.url}'`), 'the relay\'s own address');
  const binSum = sha256(await readFile(AGENT_BIN));
  assert.ok(script.includes(`${platform()} ${binSum}`), `the sum of ${AGENT_BIN} for ${platform()}`);
  const scriptFile = path.join(await tempDir(), 'install.sh');
  await writeFile(scriptFile, script);
  assert.equal(spawnSync('sh', ['-n', scriptFile]).status, 0, 'sh -n accepts it');

  // The download with a code: a wrong code or no platform is refused; a
  // bearer-less GET is still 401.
  expectStatus(await api(relay, 'POST', '/functions/v1/download-connector', { pairing_code: 'ZZZZ-ZZZZ', platform: platform() }), 404, relay);
  expectStatus(await api(relay, 'POST', '/functions/v1/download-connector', { pairing_code: code }), 400, relay);
  expectStatus(await api(relay, 'GET', `/functions/v1/download-connector?platform=${platform()}`), 401, relay);

  // A damaged download (the sum the script expects differs): refused,
  // nothing installed.
  const m0 = await machine();
  const badScript = path.join(m0.root, 'bad.sh');
  await writeFile(badScript, script.replace(binSum, '0'.repeat(64)));
  const bad = await sh(`sh ${badScript} ${code} --bin-dir ${m0.bin} --config ${m0.config} --user-service`, m0.env);
  assert.notEqual(bad.code, 0, bad.out);
  assert.match(bad.out, /the download is damaged: SHA-256/, bad.out);
  assert.equal(existsSync(path.join(m0.bin, 'clawlink')), false, 'no binary installed');
  assert.equal(existsSync(m0.config), false, 'not paired');

  // A bin dir others can write: refused before anything is downloaded.
  await mkdir(m0.bin, { recursive: true });
  await chmod(m0.bin, 0o777);
  const open = await sh(`curl -fsSL ${relay.url}/install.sh | sh -s -- ${code} --bin-dir ${m0.bin} --config ${m0.config} --user-service`, m0.env);
  assert.notEqual(open.code, 0, open.out);
  assert.match(open.out, /can be written by other users/, open.out);
  assert.equal(existsSync(path.join(m0.bin, 'clawlink')), false);

  // The real run, as a user would paste it.
  const m = await machine();
  const run = await sh(`curl -fsSL ${relay.url}/install.sh | sh -s -- ${code} --name installed-box --bin-dir ${m.bin} --config ${m.config} --user-service`, m.env);
  assert.equal(run.code, 0, run.out);
  const installed = path.join(m.bin, 'clawlink');
  assert.equal(sha256(await readFile(installed)), binSum, 'the very binary the relay has');
  assert.equal((await stat(installed)).mode & 0o777, 0o755);
  assert.equal((await stat(m.config)).mode & 0o777, 0o600, 'the config is private');
  const paired = JSON.parse(await readFile(m.config, 'utf8'));
  assert.equal(paired.device_id, device.id);
  assert.equal(run.out.includes(paired.token), false, 'the device token is never printed');

  // The unit: where systemd looks for user units, valid to systemd, and
  // its command line is a working agent.
  const unitPath = path.join(m.env.XDG_CONFIG_HOME, 'systemd', 'user', 'clawlink.service');
  const unit = await readFile(unitPath, 'utf8');
  assert.deepEqual(execStart(unit), [installed, 'up', '--config', m.config]);
  const verify = spawnSync('systemd-analyze', ['verify', unitPath], { env: { ...process.env, ...m.env } });
  assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
  if (!existsSync('/run/systemd/system')) assert.match(run.out, /systemd is not running on this machine/);

  const [exe, ...args] = execStart(unit);
  const agent = spawn(exe, args, { env: { PATH: process.env.PATH, ...m.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let agentLog = '';
  agent.stderr.on('data', (d) => { agentLog += d; });
  t.after(() => agent.kill('SIGTERM'));
  await waitDeviceStatus(relay, user.token, project.id, device.id, 'online', { procs: [{ name: 'installed agent', logs: () => agentLog }] });

  // The code is spent now: the installer cannot fetch with it again, and
  // changes nothing that is installed.
  const before = (await stat(installed)).mtimeMs;
  const again = await sh(`curl -fsSL ${relay.url}/install.sh | sh -s -- ${code} --bin-dir ${m.bin} --config ${m.config} --user-service`, m.env);
  assert.notEqual(again.code, 0, again.out);
  assert.match(again.out, /refused the download \(HTTP 404\): unknown or already used pairing code/, again.out);
  assert.equal((await stat(installed)).mtimeMs, before, 'the installed binary is untouched');
  assert.doesNotMatch(relay.logs(), new RegExp(code.replace('-', '-?')), 'the pairing code is never logged');
  void tail;
}));

test('clawlink service: install refuses a binary others can replace; status and uninstall', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const m = await machine();
  await writeFile(m.config, JSON.stringify({ device_id: 'dev-1', token: 'cld_not_a_real_token_0000000000', relay_url: 'ws://127.0.0.1:9' }), { mode: 0o600 });
  const env = { ...m.env };
  const unitPath = path.join(env.XDG_CONFIG_HOME, 'systemd', 'user', 'clawlink.service');

  // In a directory any user may write, someone could swap the program the
  // service runs: refused, and no unit is written.
  const openDir = path.join(m.root, 'open');
  await mkdir(openDir);
  await chmod(openDir, 0o777);
  await copyFile(AGENT_BIN, path.join(openDir, 'clawlink'));
  await chmod(path.join(openDir, 'clawlink'), 0o755);
  const refused = await sh(`${openDir}/clawlink service install --user --config ${m.config}`, env);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, new RegExp(`refusing to make a service of it: ${openDir} can be written by other users \\(mode 0777\\)`), refused.out);
  assert.equal(existsSync(unitPath), false);

  // A binary writable by others, in a safe place: refused too.
  await mkdir(m.bin);
  await copyFile(AGENT_BIN, path.join(m.bin, 'clawlink'));
  await chmod(path.join(m.bin, 'clawlink'), 0o757);
  const refused2 = await sh(`${m.bin}/clawlink service install --user --config ${m.config}`, env);
  assert.equal(refused2.code, 1, refused2.out);
  assert.match(refused2.out, /clawlink can be written by other users \(mode 0757\)/, refused2.out);

  // Not paired yet: install says so.
  await chmod(path.join(m.bin, 'clawlink'), 0o755);
  const unpaired = await sh(`${m.bin}/clawlink service install --user --config ${m.root}/none.json`, env);
  assert.equal(unpaired.code, 1, unpaired.out);
  assert.match(unpaired.out, /pair first/, unpaired.out);

  // Status before, install (unit only), status, PrivaClaw's flag spelling, uninstall.
  assert.equal((await sh(`${m.bin}/clawlink service status --user --config ${m.config}`, env)).code, 3);
  const ok = await sh(`${m.bin}/clawlink service install --user --no-start --config ${m.config}`, env);
  assert.equal(ok.code, 0, ok.out);
  assert.equal((await stat(unitPath)).mode & 0o777, 0o644);
  const st = await sh(`${m.bin}/clawlink service status --user --config ${m.config}`, env);
  assert.equal(st.code, 0, st.out);
  assert.match(st.out, new RegExp(`service:  user unit ${unitPath}`));
  assert.match(st.out, /runs: {5}".*\/bin\/clawlink" up --config ".*agent\.json"/);
  const full = await sh(`${m.bin}/clawlink status --config ${m.config}`, env);
  assert.match(full.out, /service: {2}user unit/, `clawlink status shows the service:\n${full.out}`);
  const un = await sh(`${m.bin}/clawlink --uninstall-agent --user --no-start --config ${m.config}`, env);
  assert.equal(un.code, 0, un.out);
  assert.equal(existsSync(unitPath), false);
  assert.equal((await sh(`${m.bin}/clawlink service status --user --config ${m.config}`, env)).code, 3);
  const unAgain = await sh(`${m.bin}/clawlink service uninstall --user --config ${m.config}`, env);
  assert.equal(unAgain.code, 0);
  assert.match(unAgain.out, /nothing to remove/);

  // Usage errors.
  const usage = await sh(`${m.bin}/clawlink service`, env);
  assert.equal(usage.code, 2);
  assert.match(usage.out, /service needs install, uninstall or status/);
  assert.equal((await sh(`${m.bin}/clawlink up --user`, env)).code, 2);
}));
