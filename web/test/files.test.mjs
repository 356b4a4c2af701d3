// The files panel's pure parts (web/src/chat/files.ts; docs/chat.md,
// "Files"): base64 of bytes both ways against node's Buffer, how a file is
// cut into upload chunks (never over the agent's CL_FILES_UPLOAD_CHUNK,
// covering every byte once, the last one final), paths and breadcrumbs
// from ~, sizes in words, the listing's order, names fit to be written,
// and refusals in words. Seeded fuzzes for base64 and the chunk plan.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from './lib/load.mjs';
import { prng, SEED, FUZZ_RUNS } from './lib/prng.mjs';

const F = await load('chat/files.ts');
const RUNS = Math.max(200, Math.floor(FUZZ_RUNS / 10)); // base64 of up to 200 KB a run: a tenth of the runs

test('limits match the agent\'s (docs/chat.md "Files")', () => {
  assert.equal(F.UPLOAD_CHUNK, 40 * 1024, 'CL_FILES_UPLOAD_CHUNK');
  assert.equal(F.UPLOAD_MAX, 64 * 1024 * 1024, 'CL_FILES_UPLOAD_MAX');
  // a chunk's base64 plus its JSON stays within the relay's 64 KiB body
  const b64 = Math.ceil(F.UPLOAD_CHUNK / 3) * 4;
  const body = JSON.stringify({ path: '/home/x/' + 'n'.repeat(255), offset: F.UPLOAD_MAX, data_b64: 'A'.repeat(b64), final: true, upload_id: 'u'.repeat(64) });
  assert.ok(body.length < 64 * 1024, `a full chunk's body is ${body.length} bytes`);
});

test('base64: known values, both ways', () => {
  const enc = (a) => F.bytesToBase64(Uint8Array.from(a));
  assert.equal(enc([]), '');
  assert.equal(enc([0]), 'AA==');
  assert.equal(enc([0xff, 0xfe]), '//4=');
  assert.equal(enc([0x66, 0x6f, 0x6f]), 'Zm9v');
  assert.deepEqual([...F.base64ToBytes('Zm9vYg==')], [0x66, 0x6f, 0x6f, 0x62]);
  assert.deepEqual([...F.base64ToBytes('Zm9vYg')], [0x66, 0x6f, 0x6f, 0x62], 'unpadded');
  assert.deepEqual([...F.base64ToBytes('')], []);
  // every byte value, and a large buffer (no stack overflow from spreading it)
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(F.bytesToBase64(all), Buffer.from(all).toString('base64'));
  const big = new Uint8Array(3 * 1024 * 1024 + 1).map((_, i) => (i * 31) & 0xff);
  const b = F.bytesToBase64(big);
  assert.equal(b, Buffer.from(big).toString('base64'));
  assert.deepEqual(Buffer.from(F.base64ToBytes(b)), Buffer.from(big));
});

test('base64: what is not base64 is null, never garbage', () => {
  for (const bad of ['A', 'AAAAA', 'Zm9v\n', 'Zm 9v', 'Zm9v!', 'Zm9v-_', '=AAA', 'AA=A', 'AA===', 'Zm9vY===', 'Zg=', null, undefined, 42]) {
    assert.equal(F.base64ToBytes(bad), null, JSON.stringify(bad));
  }
});

test(`base64: fuzz against Buffer (${RUNS} runs) # seed ${SEED}`, () => {
  const r = prng(SEED);
  for (let i = 0; i < RUNS; i++) {
    const n = r.chance(0.05) ? r.int(200_000) : r.int(100);
    const bytes = new Uint8Array(n);
    for (let j = 0; j < n; j++) bytes[j] = r.int(256);
    const s = F.bytesToBase64(bytes);
    assert.equal(s, Buffer.from(bytes).toString('base64'), `# seed ${SEED} run ${i}`);
    assert.deepEqual(Buffer.from(F.base64ToBytes(s)), Buffer.from(bytes), `# seed ${SEED} run ${i}`);
    // a random string: null, or the bytes Buffer reads from it (unused
    // low bits of a last character are ignored, as by atob and Buffer)
    const junk = Array.from({ length: r.int(12) }, () => r.pick('AZaz09+/=-_ \n!'.split(''))).join('');
    const got = F.base64ToBytes(junk);
    if (got !== null) {
      assert.match(junk, /^[A-Za-z0-9+/]*={0,2}$/, `# seed ${SEED} junk ${JSON.stringify(junk)} accepted`);
      assert.deepEqual(Buffer.from(got), Buffer.from(junk, 'base64'), `# seed ${SEED} junk ${JSON.stringify(junk)}`);
    }
  }
});

test('chunks: every byte once, in order, none over the limit, the last final', () => {
  assert.deepEqual(F.chunkPlan(0, 10), [{ offset: 0, length: 0, final: true }], 'an empty file is one empty final chunk');
  assert.deepEqual(F.chunkPlan(10, 10), [{ offset: 0, length: 10, final: true }]);
  assert.deepEqual(F.chunkPlan(11, 10), [{ offset: 0, length: 10, final: false }, { offset: 10, length: 1, final: true }]);
  assert.throws(() => F.chunkPlan(-1, 10), RangeError);
  assert.throws(() => F.chunkPlan(1.5, 10), RangeError);
  assert.throws(() => F.chunkPlan(10, 0), RangeError);
  const r = prng(SEED ^ 0x5a5a);
  for (let i = 0; i < RUNS; i++) {
    const max = 1 + r.int(r.chance(0.5) ? 8 : F.UPLOAD_CHUNK);
    const size = r.chance(0.1) ? max * r.int(5) : r.int(max * 6 + 1);
    const plan = F.chunkPlan(size, max);
    let off = 0;
    plan.forEach((c, k) => {
      assert.equal(c.offset, off, `# seed ${SEED} size ${size} max ${max}`);
      assert.ok(c.length <= max && (c.length > 0 || size === 0));
      assert.equal(c.final, k === plan.length - 1);
      off += c.length;
    });
    assert.equal(off, size);
    assert.equal(plan.length, Math.max(1, Math.ceil(size / max)));
  }
});

test('sizes in words', () => {
  const cases = [[0, '0 B'], [1, '1 B'], [1023, '1023 B'], [1024, '1.0 KiB'], [1536, '1.5 KiB'], [40 * 1024, '40.0 KiB'],
    [1048575, '1.0 MiB'], [1048576, '1.0 MiB'], [64 * 1048576, '64.0 MiB'], [1.5 * 2 ** 30, '1.5 GiB'], [2 ** 50, '1024.0 TiB'], [-1, '?'], [NaN, '?']];
  for (const [n, s] of cases) assert.equal(F.fmtSize(n), s, String(n));
  assert.equal(F.fmtPercent(0, 0), '100 %');
  assert.equal(F.fmtPercent(1, 3), '33 %');
  assert.equal(F.fmtPercent(5, 3), '100 %');
});

test('paths: normalise, join, parent, inside', () => {
  assert.equal(F.normalizePath('/home//ann/./docs/'), '/home/ann/docs');
  assert.equal(F.normalizePath('/a/b/../c'), '/a/c');
  assert.equal(F.normalizePath('/../..'), '/');
  assert.equal(F.normalizePath(''), '/');
  assert.equal(F.joinPath('/home/ann', 'x.txt'), '/home/ann/x.txt');
  assert.equal(F.joinPath('/', 'tmp'), '/tmp');
  assert.equal(F.parentPath('/home/ann/x'), '/home/ann');
  assert.equal(F.parentPath('/tmp'), '/');
  assert.equal(F.parentPath('/'), '/');
  assert.equal(F.baseName('/home/ann/x.txt'), 'x.txt');
  assert.equal(F.baseName('/'), '/');
  assert.ok(F.isInside('/home/ann', '/home/ann'));
  assert.ok(F.isInside('/home/ann/a/b', '/home/ann/'));
  assert.ok(!F.isInside('/home/ann2', '/home/ann'), 'a sibling with the same prefix is not inside');
  assert.ok(!F.isInside('/tmp', '/home/ann'));
  assert.ok(!F.isInside('/home/ann/../bob', '/home/ann'), '.. is resolved before the test');
  assert.ok(F.isInside('/anything', '/'));
});

test('paths: ~ shown for the home directory, and read back', () => {
  const home = '/home/ann';
  assert.equal(F.displayPath('/home/ann', home), '~');
  assert.equal(F.displayPath('/home/ann/docs/a.md', home), '~/docs/a.md');
  assert.equal(F.displayPath('/home/anna', home), '/home/anna');
  assert.equal(F.displayPath('/tmp/x', home), '/tmp/x');
  assert.equal(F.displayPath('/tmp/x', null), '/tmp/x');
  assert.equal(F.displayPath('/x', '/'), '/x', 'a home of / is not shortened');
  assert.equal(F.expandHome('~', home), '/home/ann');
  assert.equal(F.expandHome(' ~/docs/ ', home), '/home/ann/docs');
  assert.equal(F.expandHome('/tmp', home), '/tmp');
  assert.equal(F.expandHome('~bob', home), '/~bob', 'only ~ and ~/ mean home');
});

test('breadcrumbs start at ~ inside home, at / elsewhere; each opens its folder', () => {
  const home = '/home/ann';
  assert.deepEqual(F.breadcrumbs('/home/ann', home), [{ label: '~', path: '/home/ann' }]);
  assert.deepEqual(F.breadcrumbs('/home/ann/docs/2026', home), [
    { label: '~', path: '/home/ann' },
    { label: 'docs', path: '/home/ann/docs' },
    { label: '2026', path: '/home/ann/docs/2026' },
  ]);
  assert.deepEqual(F.breadcrumbs('/tmp/up', home), [
    { label: '/', path: '/' },
    { label: 'tmp', path: '/tmp' },
    { label: 'up', path: '/tmp/up' },
  ]);
  assert.deepEqual(F.breadcrumbs('/home/annex', home).map((c) => c.label), ['/', 'home', 'annex']);
  assert.deepEqual(F.breadcrumbs('/', null), [{ label: '/', path: '/' }]);
  // a name that looks like a path part stays one crumb
  assert.deepEqual(F.breadcrumbs('/home/ann/~', home).map((c) => c.path), ['/home/ann', '/home/ann/~']);
});

test('a listing: folders first, then by name as people sort', () => {
  const e = (name, type) => ({ name, type });
  const got = F.sortEntries([e('b.txt', 'file'), e('Zeta', 'dir'), e('a10', 'file'), e('a9', 'file'), e('alpha', 'dir'), e('link', 'link'), e('B.txt', 'file')]);
  assert.deepEqual(got.map((x) => x.name), ['alpha', 'Zeta', 'a9', 'a10', 'B.txt', 'b.txt', 'link']);
});

test('names fit to be written', () => {
  assert.equal(F.safeFileName('report.pdf'), 'report.pdf');
  assert.equal(F.safeFileName('a/b\\c'), 'a_b_c');
  assert.equal(F.safeFileName('x\u0000y\ny'), 'x_y_y');
  assert.equal(F.safeFileName(''), 'file');
  assert.equal(F.safeFileName('..'), 'file');
  assert.equal(F.safeFileName('.'), 'file');
  assert.equal(F.safeFileName('  '), 'file');
  const long = 'é'.repeat(300) + '.tar.gz';
  const cut = F.safeFileName(long);
  assert.ok(new TextEncoder().encode(cut).length <= 255, 'at most 255 bytes');
  assert.ok(cut.endsWith('.gz') && cut.startsWith('ééé'), cut);
  assert.ok(!cut.includes('\ufffd'), 'cut on a character boundary');
  assert.match(F.pastedName('image/png', new Date(2026, 11, 7, 9, 5, 3)), /^pasted-20261207-090503\.png$/);
  assert.match(F.pastedName('application/x-odd', new Date(2026, 0, 1)), /\.bin$/);
});

test('refusals in words, with the code; others left to the chat view', () => {
  const t = (status, code, message = '') => F.filesErrorText({ status, code, message });
  assert.equal(t(403, 'forbidden_path', 'writes are allowed only inside $HOME'), 'Not allowed there. The agent says: writes are allowed only inside $HOME. (forbidden_path)');
  assert.match(t(403, 'forbidden_path'), /^Not allowed there: .*writes only inside \$HOME.*\(forbidden_path\)$/, 'the rules, when the agent gives no reason');
  assert.match(t(413, 'upload_too_large'), /at most 64\.0 MiB.*\(upload_too_large\)/);
  assert.match(t(404, 'not_found'), /^Not found.*\(not_found\)$/);
  assert.equal(t(400, 'bad_path', 'a .. component'), 'That path is not accepted. The agent says: a .. component. (bad_path)');
  assert.match(t(409, 'exists'), /already/);
  assert.match(t(429, 'too_many_uploads'), /too many uploads/);
  assert.match(t(403, 'capability_denied'), /files/);
  assert.match(t(404, 'no_route', 'no such endpoint'), /does not serve files.*\(no_route\)$/);
  assert.match(t(503, 'files_unavailable'), /home directory.*files_read_roots.*\(files_unavailable\)$/);
  assert.equal(t(409, 'device_offline'), null);
  assert.equal(t(500, 'whatever'), null);
});

test('attachments: at most 4, 2 MiB together, none empty; each in a folder of its own', () => {
  assert.equal(F.ATTACH_COUNT_MAX, 4, 'CL_CHAT_ATTACH_COUNT_MAX');
  assert.equal(F.ATTACH_MAX, 2 * 1024 * 1024, 'CL_CHAT_ATTACH_MAX');
  assert.equal(F.attachRefusal([], 'a.txt', 10), null);
  assert.equal(F.attachRefusal([1, 2, 3], 'd.txt', 10), null);
  assert.match(F.attachRefusal([1, 2, 3, 4], 'e.txt', 10), /^e\.txt: a message carries at most 4 files\.$/);
  assert.match(F.attachRefusal([], 'z.txt', 0), /z\.txt is empty/);
  assert.equal(F.attachRefusal([F.ATTACH_MAX - 10], 'fits', 10), null, 'exactly the limit fits');
  assert.match(F.attachRefusal([F.ATTACH_MAX - 10], 'big.bin', 11), /^big\.bin \(11 B\) is too large to attach: .*at most 2\.0 MiB .*\(2\.0 MiB attached already\)/);
  assert.match(F.attachRefusal([], 'huge.iso', 3 * 1024 * 1024), /too large.*Upload it with Files instead/);
  assert.equal(F.uploadDir(new Date(2026, 11, 7, 9, 5, 3), 'a1b2'), '.clawlink/uploads/20261207-090503-a1b2');
});
