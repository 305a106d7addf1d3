/** Media types the registry understands as manifests (anything else is refused on manifest PUT). */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
]);

export const isIndexType = (t: string): boolean => t === MediaType.OciIndex || t === MediaType.DockerManifestList;

/** Manifests above this size are refused with 413 (the spec lets registries pick; 4 MiB is common). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
