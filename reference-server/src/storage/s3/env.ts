/**
 * The keys of `storage.s3`, and their NITRO_REGISTRY_S3_<KEY> environment variables. Apart from the
 * driver (no AWS SDK import) because config.ts reads the environment for every command.
 */
export const S3_CONFIG_KEYS = [
  'endpoint',
  'bucket',
  'region',
  'access_key_id',
  'secret_access_key',
  'session_token',
  'force_path_style',
  'redirect',
  'redirect_expiry_seconds',
  'prefix',
  'part_size',
] as const;

/** NITRO_REGISTRY_S3_<KEY> → storage.s3.<key>, merged by config.ts over the config file's values. */
export function s3EnvSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of S3_CONFIG_KEYS) {
    const v = env[`NITRO_REGISTRY_S3_${k.toUpperCase()}`];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}
