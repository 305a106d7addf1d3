// Credentials `docker login` stored for a registry host: DOCKER_CONFIG (or ~/.docker)/config.json, its `auths`
// entries and credential helpers (credHelpers / credsStore). When the registry issued OAuth2 refresh tokens,
// `docker login` keeps an `identitytoken` instead of the password (a helper answers Username "<token>"): the suite
// then exchanges it with grant_type=refresh_token, as Docker does, and never sees a password.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from '../config.js';

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

type Env = Record<string, string | undefined>;

export function credentialsFromDockerConfig(host: string, env: Env = process.env): { credentials: Credentials; source: string } | undefined {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  const file = join(dir, 'config.json');
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as DockerConfig;
  } catch {
    return undefined;
  }
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v2/`, `http://${host}/v2/`];
  const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
  if (helper) {
    const got = askHelper(helper, host, env);
    if (got) return { credentials: got, source: `docker credential helper ${helper}` };
  }
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    let username = entry.username ?? '';
    let password = entry.password ?? '';
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    }
    if (entry.identitytoken) return { credentials: { username, password: '', identityToken: entry.identitytoken }, source: `${file} (identitytoken)` };
    if (username && password) return { credentials: { username, password }, source: file };
  }
  return undefined;
}

function askHelper(helper: string, serverUrl: string, env: Env): Credentials | undefined {
  // The server URL goes on stdin, the secret comes back on stdout: neither is in argv.
  const res = spawnSync(`docker-credential-${helper}`, ['get'], { input: serverUrl, encoding: 'utf8', timeout: 10_000, env: env as NodeJS.ProcessEnv });
  if (res.status !== 0 || !res.stdout) return undefined;
  try {
    const p = JSON.parse(res.stdout) as { Username?: string; Secret?: string };
    if (!p.Secret) return undefined;
    if (p.Username === '<token>') return { username: '', password: '', identityToken: p.Secret };
    if (p.Username) return { username: p.Username, password: p.Secret };
  } catch {
    return undefined;
  }
  return undefined;
}
