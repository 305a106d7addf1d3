// The reference server's image for the container tests. With NITRO_REGISTRY_IMAGE set,
// that (already built) image is used as is. Otherwise the test builds
// nitro-registry:local from the current build/ with scripts/ci/build-server-image.sh
// (SKIP_BUILD=1: `npm test` has just compiled; run `npm run build` first when calling
// tap directly). ~5 s with warm caches.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./docker-cli.js";

const script = fileURLToPath(new URL("../../../scripts/ci/build-server-image.sh", import.meta.url));

export async function serverImage(): Promise<string> {
  const preset = process.env.NITRO_REGISTRY_IMAGE;
  if (preset) return preset;
  const image = "nitro-registry:local";
  const r = await runCommand(script, [], { env: { ...process.env, IMAGE: image, SKIP_BUILD: "1" }, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`${script} failed (${r.code}):\n${r.stderr.trim().slice(-2000)}`);
  return image;
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
