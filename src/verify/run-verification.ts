import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RegistryClient, type Credentials } from '../registry/client.js';
import { credentialsFromDockerConfig } from '../registry/docker-config-auth.js';
import { registryHost } from '../registry/image-ref.js';
import { Transport } from '../registry/transport.js';
import type { VerifyReport } from './report.js';
import { verifyImages, type VerifyRequest } from './verify-image.js';

export interface VerificationSetup {
  /** Registry the explicit credentials belong to (a `registry` input); empty means Docker Hub. */
  registry: string;
  credentials?: Credentials;
  /** Plain HTTP for every registry. Without it, loopback registries may still answer in plain HTTP (as with Docker). */
  insecure: boolean;
  /** PEM of a private CA to trust besides the system's (and NODE_EXTRA_CA_CERTS). */
  caCert?: string;
  /** Overall deadline for every registry request of this verification, in ms (0: none; default 10 min). */
  deadlineMs?: number;
  log(message: string): void;
}

/** Shared by the root action, the verify/ sub-action and `nitro-registry verify`. */
export async function runVerification(request: VerifyRequest, setup: VerificationSetup): Promise<VerifyReport> {
  const explicitHost = registryHost(setup.registry);
  const transport = new Transport({ caCert: setup.caCert, deadlineMs: setup.deadlineMs });
  const clients = new Map<string, RegistryClient>();
  const clientFor = (host: string) => {
    let client = clients.get(host);
    if (!client) {
      const credentials = host === explicitHost && setup.credentials ? setup.credentials : credentialsFromDockerConfig(host);
      client = new RegistryClient({ host, insecure: setup.insecure, credentials, onRetry: setup.log, transport });
      clients.set(host, client);
    }
    return client;
  };
  try {
    return await verifyImages(request, { clientFor, log: setup.log });
  } finally {
    await transport.close();
  }
}

export function writeReport(path: string, report: VerifyReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
