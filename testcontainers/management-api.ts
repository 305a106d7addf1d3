// A few calls to the server's management API (/api/...), used to provision users, tokens
// and project memberships in a freshly started container: the server keeps accounts in
// its database, not in the config file. Secrets travel only in request bodies and the
// Authorization header, never in URLs or logs.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface ApiTarget {
  /** http(s)://host:port */
  baseUrl: string;
  username: string;
  password: string;
  /** With TLS: trust this PEM certificate (the container's own, self-signed). */
  ca?: string | Buffer;
}

export class ManagementApiError extends Error {
  override name = "ManagementApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function apiRequest(target: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(path, target.baseUrl);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString("base64")}`,
    accept: "application/json",
  };
  if (payload) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return await new Promise((resolve, reject) => {
    const req = request(
      url,
      // The certificate is the one we copied into the container; it may name another
      // host than the one testcontainers maps the port to, so only the chain is checked.
      { method, headers, timeout: 15_000, ca: target.ca, checkServerIdentity: () => undefined },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new ManagementApiError(status, `${method} ${url.pathname} answered ${status}: ${text.slice(0, 500)}`));
            return;
          }
          resolve(text === "" ? undefined : (JSON.parse(text) as unknown));
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject).on("timeout", () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    req.end(payload);
  });
}
