// The reference server's images for the container tests: the slim server image (Dockerfile
// target `server`) and the full one (target `full`: + conformance, verify). With
// NITRO_REGISTRY_IMAGE / NITRO_REGISTRY_FULL_IMAGE set, those (already built) images are used
// as is. Otherwise the test builds both, nitro-registry:local and nitro-registry:local-full,
// from the current build/ with scripts/ci/build-server-image.sh (SKIP_BUILD=1: `npm test` has
// just compiled; run `npm run build` first when calling tap directly). ~10 s with warm caches.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./docker-cli.js";

const script = fileURLToPath(new URL("../../../scripts/ci/build-server-image.sh", import.meta.url));

let built: Promise<void> | undefined;
function buildImages(): Promise<void> {
  built ??= runCommand(script, [], { env: { ...process.env, IMAGE: "nitro-registry:local", FULL_IMAGE: "nitro-registry:local-full", SKIP_BUILD: "1" }, timeoutMs: 300_000 }).then((r) => {
    if (r.code !== 0) throw new Error(`${script} failed (${r.code}):\n${r.stderr.trim().slice(-2000)}`);
  });
  return built;
}

/** The slim image: the server and its commands only. */
export async function serverImage(): Promise<string> {
  const preset = process.env.NITRO_REGISTRY_IMAGE;
  if (preset) return preset;
  await buildImages();
  return "nitro-registry:local";
}

/** The full image: the server plus `conformance` and `verify`. */
export async function fullServerImage(): Promise<string> {
  const preset = process.env.NITRO_REGISTRY_FULL_IMAGE;
  if (preset) return preset;
  await buildImages();
  return "nitro-registry:local-full";
}

/** A self-signed certificate for 127.0.0.1 and localhost (openssl CLI), valid one day. */
export async function selfSignedCertificate(): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), "nitro-tls-"));
  try {
    const r = await runCommand("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    return { cert: await readFile(join(dir, "cert.pem"), "utf8"), key: await readFile(join(dir, "key.pem"), "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
