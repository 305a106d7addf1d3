import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from './client.js';

/**
 * Credentials `docker login` stored, for verifying images on registries this run did not log in to
 * itself (the verify/ sub-action after docker/login-action). Honours DOCKER_CONFIG, plain `auths`
 * entries and credential helpers (credHelpers / credsStore), and the `identitytoken` that `docker login`
 * stores instead of the password when the registry's token endpoint issues refresh tokens (our reference
 * server, Azure ACR…): the entry then holds "user:" with an empty password, and a helper answers with
 * Username "<token>". That token is used with the OAuth2 refresh-token grant (see client.ts).
 */
interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

export function credentialsFromDockerConfig(host: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(join(dockerConfigDir(env), 'config.json'), 'utf8')) as DockerConfig;
  } catch {
    return undefined;
  }
  const keys = host === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io'] : [host, `https://${host}`, `http://${host}`];
  const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
  if (helper) {
    const fromHelper = askHelper(helper, keys[0]);
    if (fromHelper) return fromHelper;
  }
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    let username = entry.username ?? '';
    let password = entry.password ?? '';
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
    }
    if (entry.identitytoken) return { username, password, identityToken: entry.identitytoken };
    if (username && password) return { username, password };
  }
  return undefined;
}

/** docker-credential-helpers' convention: this user name means "the secret is an identity token". */
const IDENTITY_TOKEN_USERNAME = '<token>';

function askHelper(helper: string, serverUrl: string): Credentials | undefined {
  // The server URL goes on stdin, the secret comes back on stdout: neither is in argv.
  const res = spawnSync(`docker-credential-${helper}`, ['get'], { input: serverUrl, encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0 || !res.stdout) return undefined;
  try {
    const parsed = JSON.parse(res.stdout) as { Username?: string; Secret?: string };
    if (parsed.Username === IDENTITY_TOKEN_USERNAME && parsed.Secret) return { username: '', password: '', identityToken: parsed.Secret };
    if (parsed.Username && parsed.Secret) return { username: parsed.Username, password: parsed.Secret };
  } catch {
    return undefined;
  }
  return undefined;
}
