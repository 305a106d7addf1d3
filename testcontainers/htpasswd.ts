// bcrypt htpasswd lines for CNCF Distribution's htpasswd auth (it accepts bcrypt only).
// There is no bcrypt implementation among our dependencies, so we use Apache's
// `htpasswd` (Debian package apache2-utils, installed by scripts/ci/setup-docker.sh).
// The password goes through stdin (-i), never argv, so it does not show up in `ps`.
import { spawn } from "node:child_process";

export async function htpasswdLine(username: string, password: string): Promise<string> {
  if (username.includes(":")) throw new Error("htpasswd user names cannot contain ':'");
  return await new Promise<string>((resolve, reject) => {
    const child = spawn("htpasswd", ["-niB", username], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.on("error", (e) => reject(new Error(`cannot run htpasswd (apt package apache2-utils): ${e.message}`)));
    child.on("close", (code) => {
      const line = out.trim();
      if (code === 0 && line.startsWith(`${username}:$2`)) resolve(line);
      else reject(new Error(`htpasswd exited with ${code}: ${err.trim()}`));
    });
    child.stdin.end(`${password}\n`);
  });
}
