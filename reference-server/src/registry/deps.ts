/** What the v2 handlers need, built once by server.ts. */
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataStore } from '../metadata/store.js';
import type { RegistryHooks } from './hooks.js';
import type { UploadService } from './uploads.js';

export interface RegistryDeps {
  readonly meta: MetadataStore;
  readonly blobs: BlobStore;
  readonly uploads: UploadService;
  readonly hooks: RegistryHooks;
  readonly options: {
    /** Advertised on upload session creation (OCI-Chunk-Min-Length); advisory, smaller chunks are accepted. */
    readonly chunkMinLength: number;
    /** Largest page of tags/catalog/referrers returned at once. */
    readonly maxPageSize: number;
    readonly deleteEnabled: boolean;
  };
}
