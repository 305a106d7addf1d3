// The reference server's image, started through NitroRegistryContainer, against real
// docker clients: the same scenarios Distribution passes in distribution.test.ts.
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { NitroRegistryContainer } from "../../testcontainers/index.js";
import { requireEngine } from "./lib/engine.js";
import { clientScenarios } from "./lib/client-scenarios.js";
import { DockerClient, healthStatus, runCommand, scratchContext } from "./lib/docker-cli.js";
import { getManifest } from "./lib/registry-http.js";
import { selfSignedCertificate, serverImage } from "./lib/server-image.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject).on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** Builds a one-file FROM scratch image (linux/amd64) and `docker push`es it; returns the result.
 *  provenance=false gives a plain image manifest; by default buildx adds a provenance
 *  attestation, so the image is an index of two manifests. */
async function pushScratch(docker: DockerClient, ref: string, content: string, options: { provenance?: boolean } = {}) {
  const context = await scratchContext(content);
  try {
    const provenance = options.provenance === false ? ["--provenance=false"] : [];
    await docker.ok(["buildx", "build", "--quiet", ...provenance, "--platform", "linux/amd64", "--load", "-t", ref, context.dir]);
    return await docker.run(["push", ref]);
  } finally {
    await docker.run(["image", "rm", "--force", ref]);
    await context.dispose();
  }
}

if (await requireEngine(t)) {
  const image = await serverImage();

  await t.test("image metadata: non-root, /data volume, health check", async (t) => {
    const r = await runCommand("docker", ["image", "inspect", "--format", "{{json .Config}}", image]);
    t.equal(r.code, 0, r.stderr);
    const config = JSON.parse(r.stdout) as { User: string; Volumes: Record<string, unknown>; Healthcheck?: { Test: string[] } };
    t.equal(config.User, "1000:1000");
    t.ok(config.Volumes["/data"], "declares /data as a volume");
    t.equal(config.Healthcheck?.Test[0], "CMD", "has an exec-form health check");
  });

  await t.test("open nitro-registry (no auth)", async (t) => {
    const registry = await new NitroRegistryContainer(image).withoutAuth().start();
    t.teardown(() => registry.stop());
    t.match(registry.getRegistryUrl(), /^http:\/\/127\.0\.0\.1:\d+$/);
    await clientScenarios(t, { host: registry.getRegistryHost(), url: registry.getRegistryUrl() }, "it/open");
    // The image's own HEALTHCHECK (a node one-liner: there is no shell in the image).
    t.equal(await healthStatus(registry.getId()), "healthy", "docker reports the container healthy");
  });

  await t.test("data in /data survives a new container (bind mount owned by uid 1000)", async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), "nitro-data-"));
    await chown(dataDir, 1000, 1000); // the server runs as 1000:1000, not root
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    const start = () => new NitroRegistryContainer(image).withoutAuth().withBindMounts([{ source: dataDir, target: "/data" }]).start();
    const docker = await DockerClient.create();
    t.teardown(() => docker.dispose());

    const first = await start();
    const pushed = await pushScratch(docker, `${first.getRegistryHost()}/keep/app:1`, "kept\n", { provenance: false });
    t.equal(pushed.code, 0, `push: ${pushed.stderr.trim()}`);
    const digest = /sha256:[0-9a-f]{64}/.exec(pushed.stdout)?.[0];
    await first.stop();

    const second = await start();
    t.teardown(() => second.stop());
    const served = await getManifest(second.getRegistryUrl(), "keep/app", "1");
    t.equal(served.status, 200, "the tag is still there");
    t.equal(served.digest, digest, "with the same digest");
  });

  await t.test("the conformance suite passes against the container (every area, its own setup)", async (t) => {
    const registry = await new NitroRegistryContainer(image).withAdminPassword("conformance-admin-pw").start();
    t.teardown(() => registry.stop());
    const reports = await mkdtemp(join(tmpdir(), "nitro-conformance-"));
    t.teardown(() => rm(reports, { recursive: true, force: true }));
    const admin = registry.getAdminCredentials();
    // Exactly as a registry builder runs it: the CLI, admin credentials in the environment, no config file.
    const r = await runCommand(process.execPath, [join(repoRoot, "bin/nitro-registry.js"), "conformance", "--url", registry.getRegistryUrl(), "--report-dir", reports], {
      // The reference server also offers the optional features, so nothing is left to skip.
      env: { ...process.env, OCI_USERNAME: admin.username, OCI_PASSWORD: admin.password, NITRO_EXPECT_SHA512: "1", NITRO_EXPECT_MOUNT_WITHOUT_FROM: "1" },
      timeoutMs: 300_000,
    });
    t.equal(r.code, 0, `conformance exit code (stdout tail: ${r.stdout.slice(-1500)})`);
    const report = JSON.parse(await readFile(join(reports, "conformance.json"), "utf8")) as {
      summary: Record<string, number>;
      checks: { id: string; area: string; outcome: string; reason?: string }[];
    };
    t.equal(report.summary.failed, 0, "no check failed");
    t.equal(report.summary.error, 0, "no harness error");
    // Every check passed, except the optional OIDC area: it needs an issuer the registry trusts, which this
    // container is not given (test/conformance/oidc.test.ts runs that area against a test issuer).
    const notPassed = report.checks.filter((c) => c.outcome !== "passed");
    t.same(
      notPassed.filter((c) => c.area !== "oidc").map((c) => `${c.id}: ${c.outcome} ${c.reason ?? ""}`),
      [],
      `all ${report.summary.total} checks passed but the OIDC area (${notPassed.length} not run: no trusted issuer)`,
    );
    t.ok(report.checks.filter((c) => c.outcome === "passed").length >= report.summary.total - 5, "only the 5 OIDC checks are not run");
  });

  await t.test("nitro-registry with TLS", async (t) => {
    const tls = await selfSignedCertificate();
    const registry = await new NitroRegistryContainer(image).withoutAuth().withTls(tls).start();
    t.teardown(() => registry.stop());
    t.match(registry.getRegistryUrl(), /^https:\/\//);
    t.equal(await httpsStatus(`${registry.getRegistryUrl()}/v2/`, tls.cert), 200, "HTTPS with the given certificate");
    await t.rejects(fetch(`http://${registry.getRegistryHost()}/v2/`, { signal: AbortSignal.timeout(5_000) }), "no plain HTTP");
    t.equal(await healthStatus(registry.getId()), "healthy", "the health check follows NITRO_REGISTRY_TLS_CERT to HTTPS");
  });

  await t.test("nitro-registry with token auth, users, access tokens and push rules", async (t) => {
    const registry = await new NitroRegistryContainer(image)
      .withAdminPassword("admin-pw-for-tests")
      .withRepositories([
        { name: "team", config: { type: "Hosted", push_rules: { must_be_project_member: true } } },
        { name: "frozen", config: { type: "Hosted", push_rules: { allow_tag_overwrite: false } } },
      ])
      .withUsers([
        // Writes need the write role (docs/auth.md): alice has it on team and frozen, bob on nothing.
        { username: "alice", password: "alice-pw-for-tests", projects: { team: "write", frozen: "write" } },
        { username: "bob", password: "bob-pw-for-tests" },
      ])
      .withTokens([{ username: "alice", name: "ci" }])
      .start();
    t.teardown(() => registry.stop());
    const host = registry.getRegistryHost();
    const alice = registry.getUserCredentials("alice");
    t.same(registry.getAdminCredentials(), { username: "admin", password: "admin-pw-for-tests" });

    // The same clients as against Distribution, as a project member of `team`.
    await clientScenarios(t, { host, url: registry.getRegistryUrl(), credentials: alice }, "team/app");

    await t.test("must_be_project_member: a non-member cannot push", async (t) => {
      const bob = await DockerClient.create();
      t.teardown(() => bob.dispose());
      t.equal((await bob.login(host, "bob", "bob-pw-for-tests")).code, 0, "bob can log in");
      const push = await pushScratch(bob, `${host}/team/bob:1`, "bob was here\n");
      t.not(push.code, 0, "bob's push to team/ is refused");
      t.match(push.stderr, /denied|unauthorized|forbidden|must_be_project_member/i);
      const ownPush = await pushScratch(bob, `${host}/bob/app:1`, "bob's own\n");
      t.equal(ownPush.code, 0, `bob may push outside team/: ${ownPush.stderr.trim()}`);
    });

    await t.test("docker login with an access token as the password", async (t) => {
      const ci = await DockerClient.create();
      t.teardown(() => ci.dispose());
      const login = await ci.login(host, "alice", registry.getToken("alice", "ci"));
      t.equal(login.code, 0, `token login: ${login.stderr.trim()}`);
      const push = await pushScratch(ci, `${host}/team/from-ci:1`, "pushed with a token\n");
      t.equal(push.code, 0, `push with the token: ${push.stderr.trim()}`);
    });

    await t.test("allow_tag_overwrite=false: a pushed tag keeps its digest", async (t) => {
      const docker = await DockerClient.create();
      t.teardown(() => docker.dispose());
      t.equal((await docker.login(host, alice.username, alice.password)).code, 0);
      const first = await pushScratch(docker, `${host}/frozen/app:1.0`, "first\n", { provenance: false });
      t.equal(first.code, 0, `first push: ${first.stderr.trim()}`);
      const firstDigest = /sha256:[0-9a-f]{64}/.exec(first.stdout)?.[0];
      const second = await pushScratch(docker, `${host}/frozen/app:1.0`, "second\n", { provenance: false });
      t.not(second.code, 0, "overwriting the tag is refused");
      t.match(second.stderr, /409|conflict|overwrite|immutable/i);
      const served = await getManifest(registry.getRegistryUrl(), "frozen/app", "1.0", alice);
      t.equal(served.digest, firstDigest, "the tag still points at the first push");
    });

    // Docker's containerd image store pushes an index by PUTting each child manifest to
    // the TAG first and the index last (containerd/containerd#2639; the same happens in
    // buildx 0.13's second push). Against an immutable tag the server lets the tag move up to
    // the index that lists its current target, and keeps it there when children are re-sent.
    await t.test(
      "allow_tag_overwrite=false: first `docker push` of an index (provenance attestation) to a fresh tag",
      async (t) => {
        const docker = await DockerClient.create();
        t.teardown(() => docker.dispose());
        t.equal((await docker.login(host, alice.username, alice.password)).code, 0);
        const push = await pushScratch(docker, `${host}/frozen/attested:1.0`, "with provenance\n");
        t.equal(push.code, 0, `push: ${push.stderr.trim()}`);
        const pushedDigest = /sha256:[0-9a-f]{64}/.exec(push.stdout)?.[0];
        const served = await getManifest(registry.getRegistryUrl(), "frozen/attested", "1.0", alice);
        t.equal(served.digest, pushedDigest, "the tag names the index docker pushed");
      },
    );
  });
}
