// The oidc area's token source and token surgery. The token comes fresh for each check (OIDC tokens live
// minutes): the configured command's stdout (run by /bin/sh, secrets only through its environment) or the
// configured file. Forgeries are made from a real token without any key: a flipped signature, and the
// same claims re-sent unsigned (alg none) — a registry must refuse both.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { CheckContext } from '../harness/types.js';
import type { OidcConfig } from '../config.js';

const COMMAND_TIMEOUT_MS = 30_000;

export function requireOidc(ctx: CheckContext): OidcConfig {
  if (!ctx.config.oidc) ctx.skip(OIDC_NOT_CONFIGURED);
  return ctx.config.oidc;
}

export const OIDC_NOT_CONFIGURED =
  'no OIDC token configured (oidc.token_command or oidc.token_file, NITRO_OIDC_TOKEN_COMMAND / NITRO_OIDC_TOKEN_FILE): the area needs a token of an issuer the registry trusts';

export async function oidcToken(cfg: OidcConfig, signal: AbortSignal): Promise<string> {
  let out: string;
  if (cfg.tokenCommand) {
    out = await new Promise<string>((resolve, reject) => {
      execFile('/bin/sh', ['-c', cfg.tokenCommand!], { timeout: COMMAND_TIMEOUT_MS, signal, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        // stderr may explain the failure; stdout would be the token, so it is never quoted.
        if (err) reject(new Error(`oidc.token_command failed (${err.code ?? err.signal ?? err.message}): ${String(stderr).trim().slice(0, 300)}`));
        else resolve(String(stdout));
      });
    });
  } else {
    out = await readFile(cfg.tokenFile!, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot read oidc.token_file ${cfg.tokenFile}: ${e.code ?? e.message}`);
    });
  }
  const token = out.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw new Error('the OIDC token source did not yield a signed JWT (three base64url parts)');
  return token;
}

/** The token's claims, read without verification (the suite has no business verifying; the registry does). */
export function claimsOf(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Same header and claims, one signature byte changed. */
export function tamperedSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  sig[Math.floor(sig.length / 2)] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** Same claims, `{"alg":"none"}`, empty signature. */
export function unsigned(token: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  return `${header}.${token.split('.')[1]}.`;
}
