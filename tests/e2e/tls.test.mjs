// The relay's TLS (docs/security.md "Transport"): TLS 1.2 and 1.3 only, and
// in 1.2 only ECDHE key exchange with an AEAD cipher, so a stolen key never
// opens recorded traffic. A client that offers RSA key exchange only, or
// TLS 1.1, fails the handshake; a modern client gets 1.3, and a 1.2 client
// with an ECDHE suite gets it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, tempDir } from './lib/harness.mjs';
import { makeSelfSigned, startTlsRelay } from './lib/extra.mjs';

after(cleanupAll);

/** A TLS handshake with options; resolves {ok, protocol, cipher} or {ok: false, error}. */
function handshake(port, opts) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const r = { ok: true, protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.destroy();
      resolve(r);
    });
    s.setTimeout(ms(10_000), () => s.destroy(new Error('timed out')));
    s.on('error', (e) => resolve({ ok: false, error: e.code || e.message }));
  });
}

test('TLS: 1.3 by default, 1.2 only with ECDHE + AEAD, no RSA key exchange, nothing below 1.2', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const dir = await tempDir('clawlink-tls-');
  const { cert, key, pem } = await makeSelfSigned(dir);
  const relay = await startTlsRelay(scope, { cert, key, ca: pem });

  const modern = await handshake(relay.port, {});
  assert.deepEqual([modern.ok, modern.protocol], [true, 'TLSv1.3'], JSON.stringify(modern));

  const fs12 = await handshake(relay.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
  assert.deepEqual([fs12.ok, fs12.protocol, fs12.cipher], [true, 'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256'], JSON.stringify(fs12));

  for (const ciphers of ['AES128-GCM-SHA256', 'AES256-SHA256', 'ECDHE-RSA-AES128-SHA']) {
    const r = await handshake(relay.port, { maxVersion: 'TLSv1.2', ciphers });
    assert.equal(r.ok, false, `${ciphers} (no forward secrecy or no AEAD) is refused: ${JSON.stringify(r)}`);
  }
  const old = await handshake(relay.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  assert.equal(old.ok, false, `TLS 1.1 is refused: ${JSON.stringify(old)}`);
}));
