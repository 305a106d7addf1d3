/**
 * The token signing key: a configured PEM private key (EC P-256 → ES256, RSA → RS256), else an ECDSA
 * P-256 key generated once into <data>/auth/token-signing-key.pem (mode 0600). The key id is the JWK
 * thumbprint (RFC 7638) of the public key, so it changes when the key does.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export type SigningAlg = 'ES256' | 'RS256';

export interface SigningKey {
  readonly alg: SigningAlg;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK with kid, alg and use, as served in the JWKS. */
  readonly jwk: JWK;
}

function algFor(key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw new Error('the token signing key must be an EC P-256 or RSA (≥ 2048 bit) private key');
}

export async function loadSigningKey(opts: { dataDir: string; keyFile?: string | undefined }): Promise<{ key: SigningKey; generated: boolean }> {
  let pem: string;
  let generated = false;
  if (opts.keyFile) {
    pem = readFileSync(opts.keyFile, 'utf8');
  } else {
    const dir = join(opts.dataDir, 'auth');
    const file = join(dir, 'token-signing-key.pem');
    if (existsSync(file)) {
      pem = readFileSync(file, 'utf8');
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      // 'wx': never overwrite a key another process wrote in the meantime.
      try {
        writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
        generated = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        pem = readFileSync(file, 'utf8');
      }
      chmodSync(file, 0o600);
    }
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const alg = algFor(privateKey);
  const base = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(base, 'sha256');
  return { key: { alg, kid, privateKey, publicKey, jwk: { ...base, kid, alg, use: 'sig' } }, generated };
}
