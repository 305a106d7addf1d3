// The two server images: the slim default (Dockerfile target `server`: the server's commands and
// dependencies only) and the full one (target `full`: + the conformance suite with tap, + verify).
// The full image runs the suite against a slim server container, sharing its network namespace (the
// suite talks to 127.0.0.1 inside it; nothing leaves the machine).
import t from "tap";
import { requireEngine } from "./lib/engine.js";
import { runCommand } from "./lib/docker-cli.js";
import { fullServerImage, serverImage } from "./lib/server-image.js";

/** Unpacked size in bytes (what `docker images` shows): the sum of the image's layers on disk. */
async function imageSize(image: string): Promise<number> {
  const r = await runCommand("docker", ["image", "ls", "--format", "{{.Size}}", image]);
  const m = /^([\d.]+)\s*([kMG]?B)$/.exec(r.stdout.trim().split("\n")[0] ?? "");
  if (!m) throw new Error(`cannot read the size of ${image}: ${r.stdout}${r.stderr}`);
  return Number(m[1]) * ({ B: 1, kB: 1e3, MB: 1e6, GB: 1e9 } as Record<string, number>)[m[2]];
}

if (await requireEngine(t)) {
  const slim = await serverImage();
  const full = await fullServerImage();

  await t.test("the slim image has the server's commands and none of the suite's runtime", async (t) => {
    const help = await runCommand("docker", ["run", "--rm", slim, "--help"]);
    t.equal(help.code, 0);
    t.match(help.stdout, /serve\s/);
    t.notMatch(help.stdout, /conformance|verify/, "only the commands it can run are listed");
    const conformance = await runCommand("docker", ["run", "--rm", slim, "conformance", "--help"]);
    t.equal(conformance.code, 2);
    t.match(conformance.stderr, /'conformance' is not available here .* use the full image \(tag suffix -full\)/);
    const tap = await runCommand("docker", ["run", "--rm", "--entrypoint", "node", slim, "-e", "require.resolve('tap')"]);
    t.not(tap.code, 0, "tap is not in the slim image");
    const serve = await runCommand("docker", ["run", "--rm", slim, "serve", "--help"]);
    t.equal(serve.code, 0, "serve --help runs: the server's dependencies are complete");
  });

  await t.test("sizes: the slim image is much smaller than the full one", async (t) => {
    const [s, f] = [await imageSize(slim), await imageSize(full)];
    t.comment(`slim ${slim}: ${(s / 1e6).toFixed(0)} MB; full ${full}: ${(f / 1e6).toFixed(0)} MB`);
    t.ok(s < f * 0.6, `slim (${(s / 1e6).toFixed(0)} MB) < 60% of full (${(f / 1e6).toFixed(0)} MB)`);
  });

  await t.test("the full image runs the conformance suite against a slim server container", async (t) => {
    const server = await runCommand("docker", ["run", "-d", "-e", "NITRO_REGISTRY_AUTH=false", slim]);
    t.equal(server.code, 0, server.stderr);
    const id = server.stdout.trim();
    t.teardown(() => runCommand("docker", ["rm", "-f", id]).then(() => undefined));
    // Wait for /v2/ from inside the server's namespace (the image has no shell: node it is).
    const ready = await runCommand("docker", ["run", "--rm", "--network", `container:${id}`, "--entrypoint", "node", full, "-e",
      "const go=(n)=>fetch('http://127.0.0.1:5000/v2/').then(r=>process.exit(r.status===200?0:1),()=>n>0?setTimeout(()=>go(n-1),250):process.exit(1));go(80)"]);
    t.equal(ready.code, 0, "the server answers /v2/");
    const r = await runCommand("docker", ["run", "--rm", "--network", `container:${id}`, full,
      "conformance", "--url", "http://127.0.0.1:5000", "--only", "api,pull-push", "--report-dir", "/tmp/reports"], { timeoutMs: 300_000 });
    t.equal(r.code, 0, `conformance in the full image: ${r.stdout.slice(-1500)}${r.stderr.slice(-500)}`);
    t.match(r.stdout, /conformance: \d+ passed, 0 failed/);
    const verify = await runCommand("docker", ["run", "--rm", full, "verify", "--help"]);
    t.equal(verify.code, 0);
    t.match(verify.stdout, /--ca-cert FILE/);
  });
}
