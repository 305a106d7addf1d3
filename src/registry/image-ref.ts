/**
 * Image references: `host[:port]/path/name[:tag][@digest]`.
 * The registry host is the part before the first '/', so registries that serve repositories under a path
 * prefix (a Nitro-style `host/storage/repo/name`) work: everything after the host is the repository name.
 * Names without a host-looking first part (no '.', no ':', not `localhost`) are Docker Hub names, as in
 * the docker CLI.
 */
export interface ImageRef {
  /** Registry host as written (with port), e.g. `127.0.0.1:5000`, `ghcr.io`, `docker.io`. */
  host: string;
  /** Repository name inside the registry, e.g. `storage/repo/app`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function parseImageRef(input: string): ImageRef {
  let rest = input.trim();
  if (rest === '') throw new Error('empty image reference');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw new Error(`invalid digest in image reference "${input}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new Error(`invalid tag in image reference "${input}"`);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  let host: string;
  let repository: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    host = first;
    repository = rest.slice(slash + 1);
  } else {
    host = DOCKER_HUB;
    repository = slash >= 0 ? rest : `library/${rest}`;
  }
  if (repository === '' || !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new Error(`invalid repository name in image reference "${input}"`);
  }
  return { host, repository, tag, digest };
}

/** `host/repository` — the name used in `refs` outputs (`name@sha256:…`). */
export function repositoryName(ref: ImageRef): string {
  return `${ref.host}/${ref.repository}`;
}

export function formatImageRef(ref: ImageRef): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * Normalises a `registry` input (`https://host:port/`, `host/prefix`) to the host used by `docker login`
 * and by the HTTP API. Empty means Docker Hub.
 */
export function registryHost(input: string): string {
  let v = input.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = v.indexOf('/');
  if (slash >= 0) v = v.slice(0, slash);
  return v === '' ? DOCKER_HUB : v;
}

/** Docker Hub's API lives on another host than its image names say. */
export function apiHost(host: string): string {
  return host === DOCKER_HUB || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}
