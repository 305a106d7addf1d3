// Runs the real docker CLI the way a user would, against registries started by the
// tests: a throw-away DOCKER_CONFIG per client (so credentials never touch the
// machine's own ~/.docker), passwords on stdin, every command bounded in time.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runCommand(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading stdin (openssl) closes the pipe first: EPIPE is not an error here.
    child.stdin.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") reject(e);
    });
    child.stdin.end(options.stdin ?? "");
  });
}

export class DockerClient {
  private constructor(readonly configDir: string) {}

  static async create(): Promise<DockerClient> {
    return new DockerClient(await mkdtemp(join(tmpdir(), "nitro-docker-config-")));
  }

  private env(): NodeJS.ProcessEnv {
    // BUILDX_NO_DEFAULT_ATTESTATIONS unset on purpose: buildx's default provenance
    // attestations are what real users push.
    return { ...process.env, DOCKER_CONFIG: this.configDir };
  }

  async run(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return await runCommand("docker", args, { env: this.env(), ...options });
  }

  /** Like run(), but throws with the command's stderr when it fails. */
  async ok(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr.trim().slice(-800)}`);
    return r.stdout;
  }

  async login(host: string, username: string, password: string): Promise<CommandResult> {
    return await this.run(["login", "--username", username, "--password-stdin", host], { stdin: `${password}\n` });
  }

  async dispose(): Promise<void> {
    await rm(this.configDir, { recursive: true, force: true });
  }
}

/** A build context with a FROM scratch Dockerfile: one file, no RUN (no emulation needed). */
export async function scratchContext(content: string): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "nitro-ctx-"));
  await writeFile(join(dir, "hello.txt"), content);
  await writeFile(
    join(dir, "Dockerfile"),
    ["FROM scratch", "ARG TARGETPLATFORM", "COPY hello.txt /hello.txt", 'LABEL org.example.platform="${TARGETPLATFORM}"', ""].join("\n"),
  );
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** containerimage.digest from a `--metadata-file` written by buildx. */
export async function builtDigest(metadataFile: string): Promise<string> {
  const meta = JSON.parse(await readFile(metadataFile, "utf8")) as Record<string, unknown>;
  const digest = meta["containerimage.digest"];
  if (typeof digest !== "string") throw new Error(`no containerimage.digest in ${metadataFile}`);
  return digest;
}

/** The container's HEALTHCHECK status once it is no longer "starting" (bounded wait). */
export async function healthStatus(containerId: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = "";
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    const r = await runCommand("docker", ["inspect", "--format", "{{.State.Health.Status}}", containerId], { timeoutMs: 10_000 });
    status = r.stdout.trim();
    if (status === "healthy" || status === "unhealthy") break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return status;
}
