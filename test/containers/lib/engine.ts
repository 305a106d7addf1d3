// Is a Docker engine reachable? Container tests skip with the reason when not, unless
// REQUIRE_DOCKER=1 (CI), where a missing engine must fail the run instead of hiding it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Test } from "tap";

const run = promisify(execFile);

// Defaults for machines without a reachable container registry and with /.dockerenv
// (our CI); see testcontainers/index.ts. The caller's own settings win.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";

export async function dockerEngineProblem(): Promise<string | undefined> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 15_000 });
    return undefined;
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === "ENOENT") return "docker CLI not installed";
    return `\`docker info\` failed: ${(err.stderr || err.message).trim().split("\n")[0]}`;
  }
}

/** Returns true when the file's tests should run; otherwise ends `t` as skipped or failed. */
export async function requireEngine(t: Test): Promise<boolean> {
  const problem = await dockerEngineProblem();
  if (problem === undefined) return true;
  if (process.env.REQUIRE_DOCKER === "1") {
    t.fail(`REQUIRE_DOCKER=1 but no Docker engine: ${problem}`);
  } else {
    t.plan(0, `no Docker engine (${problem}); run scripts/ci/setup-docker.sh, or set REQUIRE_DOCKER=1 to fail instead`);
  }
  return false;
}

/** Fails (or skips, like requireEngine) when a local image is missing. */
export async function requireImage(t: Test, image: string, howToBuild: string): Promise<boolean> {
  try {
    await run("docker", ["image", "inspect", image], { timeout: 15_000 });
    return true;
  } catch {
    const reason = `image ${image} missing; build it with ${howToBuild}`;
    if (process.env.REQUIRE_DOCKER === "1") t.fail(reason);
    else t.plan(0, reason);
    return false;
  }
}
