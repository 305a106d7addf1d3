import type { Platform } from '../registry/media-types.js';

/**
 * Platform strings compare after normalisation, the way containerd's platforms package does:
 * `linux/arm64` == `linux/arm64/v8`, `linux/amd64` == `linux/amd64/v1`, `linux/arm` == `linux/arm/v7`,
 * and uname-style names (`aarch64`, `x86_64`) map to GOARCH names.
 */
const ARCH_ALIASES: Record<string, string> = { aarch64: 'arm64', x86_64: 'amd64', 'x86-64': 'amd64', i386: '386', armhf: 'arm', armel: 'arm' };
const DEFAULT_VARIANTS: Record<string, string> = { arm64: 'v8', amd64: 'v1' };

export function normalizePlatform(p: Platform): string {
  const os = p.os.toLowerCase();
  const rawArch = p.architecture.toLowerCase();
  const arch = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = (p.variant ?? '').toLowerCase();
  if (rawArch === 'armhf' && variant === '') variant = 'v7';
  if (rawArch === 'armel' && variant === '') variant = 'v6';
  if (arch === 'arm64' && variant === '8') variant = 'v8';
  if (arch === 'arm' && variant === '') variant = 'v7';
  if (arch === 'arm' && /^\d$/.test(variant)) variant = `v${variant}`;
  if (DEFAULT_VARIANTS[arch] === variant) variant = '';
  return variant ? `${os}/${arch}/${variant}` : `${os}/${arch}`;
}

export function parsePlatform(value: string): Platform {
  const parts = value.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform "${value}" (expected os/arch[/variant])`);
  }
  return { os: parts[0], architecture: parts[1], variant: parts[2] };
}

/** Display form of a platform as the registry lists it (variant kept). */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

export function samePlatform(requested: string, actual: Platform): boolean {
  return normalizePlatform(parsePlatform(requested)) === normalizePlatform(actual);
}
