// Real docker clients against a registry under test. Shared by the Distribution and the
// nitro-registry container tests so both registries face exactly the same clients.
import { join } from "node:path";
import type { Test } from "tap";
import { builtDigest, DockerClient, scratchContext } from "./docker-cli.js";
import { getManifest, registryFetch, type Credentials } from "./registry-http.js";

export interface RegistryUnderTest {
  /** host:port for image references */
  host: string;
  /** http://host:port */
  url: string;
  /** a user allowed to push; undefined for an open registry */
  credentials?: Credentials;
}

const DIGEST = /sha256:[0-9a-f]{64}/;

function platformsOf(index: Record<string, unknown> | undefined): string[] {
  const manifests = (index?.manifests ?? []) as { platform?: { os?: string; architecture?: string } }[];
  return manifests
    .map((m) => `${m.platform?.os}/${m.platform?.architecture}`)
    .filter((p) => p !== "unknown/unknown") // buildx provenance attestations
    .sort();
}

export async function clientScenarios(t: Test, registry: RegistryUnderTest, repository: string): Promise<void> {
  const docker = await DockerClient.create();
  const context = await scratchContext(`hello from ${repository}\n`);
  const ref = (tag: string) => `${registry.host}/${repository}:${tag}`;
  t.teardown(async () => {
    // buildx --push (docker driver, containerd store) also keeps the image locally.
    await docker.run(["image", "rm", "--force", ref("single"), ref("multi")]);
    await docker.dispose();
    await context.dispose();
  });

  await t.test("GET /v2/ answers like a registry", async (t) => {
    const r = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(10_000) });
    await r.body?.cancel();
    if (registry.credentials) {
      t.equal(r.status, 401, "anonymous /v2/ is refused when auth is on");
      t.match(r.headers.get("www-authenticate") ?? "", /^(Basic|Bearer) /i, "with a challenge");
    } else {
      t.equal(r.status, 200);
    }
    t.match(r.headers.get("docker-distribution-api-version") ?? "", "registry/2.0");
  });

  if (registry.credentials) {
    const { username, password } = registry.credentials;
    await t.test("docker login (password on stdin)", async (t) => {
      const wrong = await docker.login(registry.host, username, `${password}-wrong`);
      t.not(wrong.code, 0, "a wrong password is refused");
      const right = await docker.login(registry.host, username, password);
      t.equal(right.code, 0, `login succeeds: ${right.stderr.trim()}`);
      t.match(right.stdout, /Login Succeeded/);
    });
  }

  let pushedDigest = "";
  await t.test("docker push of a FROM scratch image", async (t) => {
    await docker.ok(["buildx", "build", "--quiet", "--platform", "linux/amd64", "--load", "-t", ref("single"), context.dir]);
    const out = await docker.ok(["push", ref("single")]);
    pushedDigest = DIGEST.exec(out)?.[0] ?? "";
    t.match(pushedDigest, DIGEST, "docker push reports a digest");
    const served = await getManifest(registry.url, repository, "single", registry.credentials);
    t.equal(served.status, 200, "the tag resolves");
    t.equal(served.digest, pushedDigest, "to the digest docker pushed");
  });

  await t.test("docker pull of what was pushed", async (t) => {
    await docker.ok(["image", "rm", ref("single")]);
    const out = await docker.ok(["pull", ref("single")]);
    t.match(out, pushedDigest, "pull names the pushed digest");
    const repoDigests = await docker.ok(["image", "inspect", "--format", "{{json .RepoDigests}}", ref("single")]);
    t.match(repoDigests, `${registry.host}/${repository}@${pushedDigest}`);
    await docker.run(["image", "rm", ref("single")]);
  });

  await t.test("docker buildx build --platform linux/amd64,linux/arm64 --push", async (t) => {
    const metadata = join(context.dir, "metadata.json");
    const args = ["buildx", "build", "--quiet", "--platform", "linux/amd64,linux/arm64", "--metadata-file", metadata, "--push", "-t", ref("multi"), context.dir];
    // buildx 0.13 (Debian) pushes twice with the docker driver: BuildKit's push, then a
    // concurrent `docker push` of every child manifest to the tag (docker/buildx#3023).
    // That second push can fail transiently; retry once and check where the tag points.
    const first = await docker.run(args, { timeoutMs: 180_000 });
    if (first.code !== 0) {
      t.comment(`first multi-platform push failed, retrying once: ${first.stderr.trim().split("\n").pop()}`);
      await docker.ok(args, { timeoutMs: 180_000 });
    }
    const digest = await builtDigest(metadata);
    const served = await getManifest(registry.url, repository, "multi", registry.credentials);
    t.equal(served.status, 200);
    t.equal(served.digest, digest, "the tag resolves to the index buildx built");
    t.same(platformsOf(served.body), ["linux/amd64", "linux/arm64"], "both platforms in the index");
    for (const m of (served.body?.manifests ?? []) as { digest: string }[]) {
      const child = await registryFetch(
        `${registry.url}/v2/${repository}/manifests/${m.digest}`,
        { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" } },
        registry.credentials,
      );
      t.equal(child.status, 200, `child ${m.digest.slice(0, 19)} is served`);
    }
  });

  await t.test("docker manifest inspect of the multi-platform image", async (t) => {
    const out = await docker.ok(["manifest", "inspect", "--insecure", ref("multi")]);
    const index = JSON.parse(out) as Record<string, unknown>;
    t.same(platformsOf(index), ["linux/amd64", "linux/arm64"]);
  });
}
