/**
 * Default OCI labels from the GitHub context. Read from the runner's environment (the same variables
 * @actions/github's `context` reads) to keep Octokit out of the bundle.
 */
export function defaultOciLabels(env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): Map<string, string> {
  const labels = new Map<string, string>();
  const server = env.GITHUB_SERVER_URL || 'https://github.com';
  if (env.GITHUB_REPOSITORY) labels.set('org.opencontainers.image.source', `${server}/${env.GITHUB_REPOSITORY}`);
  if (env.GITHUB_SHA) labels.set('org.opencontainers.image.revision', env.GITHUB_SHA);
  labels.set('org.opencontainers.image.created', now.toISOString());
  return labels;
}

/** User labels win over defaults with the same key. */
export function mergeLabels(defaults: Map<string, string>, user: Map<string, string>): Map<string, string> {
  return new Map([...defaults, ...user]);
}
