import * as core from '@actions/core';
import * as exec from '@actions/exec';
import { ActionError, type ErrorCode } from '../errors.js';

/** How docker login's stderr maps to an error a user can act on. First match wins. */
const LOGIN_FAILURES: { pattern: RegExp; code: ErrorCode }[] = [
  { pattern: /server gave HTTP response to HTTPS client/i, code: 'PLAIN_HTTP' },
  { pattern: /unauthorized|incorrect username or password|authentication required|\b401\b/i, code: 'AUTH_FAILED' },
  { pattern: /denied|\b403\b/i, code: 'ACCESS_DENIED' },
  { pattern: /x509|certificate|tls: /i, code: 'TLS_ERROR' },
  { pattern: /connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|timeout|EOF/i, code: 'UNREACHABLE' },
];

export function classifyLoginFailure(stderr: string): ErrorCode {
  return LOGIN_FAILURES.find((f) => f.pattern.test(stderr))?.code ?? 'LOGIN_FAILED';
}

/** `docker login` with the password on stdin (callers mask it first with core.setSecret): it never appears in argv (visible in /proc) or in logs. */
export async function dockerLogin(host: string, username: string, password: string): Promise<void> {
  const out = await exec.getExecOutput('docker', ['login', '--username', username, '--password-stdin', host], {
    input: Buffer.from(password),
    ignoreReturnCode: true,
    silent: true,
  });
  if (out.exitCode !== 0) {
    const stderr = out.stderr.trim();
    throw new ActionError(classifyLoginFailure(stderr), `docker login to ${host} as "${username}" failed: ${stderr || `exit code ${out.exitCode}`}`);
  }
  core.info(`Logged in to ${host} as ${username}`);
}

export async function dockerLogout(host: string): Promise<void> {
  const code = await exec.exec('docker', ['logout', host], { ignoreReturnCode: true });
  if (code !== 0) core.warning(`docker logout ${host} exited with ${code}`);
}
