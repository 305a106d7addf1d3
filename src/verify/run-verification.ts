import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RegistryClient, type Credentials } from '../registry/client.js';
import { credentialsFromDockerConfig } from '../registry/docker-config-auth.js';
import { registryHost } from '../registry/image-ref.js';
import type { VerifyReport } from './report.js';
import { verifyImages, type VerifyRequest } from './verify-image.js';

export interface VerificationSetup {
  /** Registry the explicit credentials belong to (a `registry` input); empty means Docker Hub. */
  registry: string;
  credentials?: Credentials;
  /** Plain HTTP for every registry. Loopback registries are plain HTTP only when this is set. */
  insecure: boolean;
  log(message: string): void;
}

/** Shared by the root action, the verify/ sub-action and `nitro-registry verify`. */
export async function runVerification(request: VerifyRequest, setup: VerificationSetup): Promise<VerifyReport> {
  const explicitHost = registryHost(setup.registry);
  const clients = new Map<string, RegistryClient>();
  const clientFor = (host: string) => {
    let client = clients.get(host);
    if (!client) {
      const credentials = host === explicitHost && setup.credentials ? setup.credentials : credentialsFromDockerConfig(host);
      client = new RegistryClient({ host, insecure: setup.insecure, credentials, onRetry: setup.log });
      clients.set(host, client);
    }
    return client;
  };
  return verifyImages(request, { clientFor, log: setup.log });
}

export function writeReport(path: string, report: VerifyReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
