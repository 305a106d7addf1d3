/**
 * Exit codes every `nitro-registry` command documents, and the error for a problem of the machine the
 * server runs on (port taken, file missing, directory that cannot be created). bin/nitro-registry.js
 * prints such errors as one line, `nitro-registry <command>: <setting>: <what is wrong>`, no stack trace,
 * and exits with their exitCode.
 */
export const EXIT = {
  /** Done (serve: stopped by SIGINT/SIGTERM). */
  ok: 0,
  /** The command ran and failed, or an unexpected internal error (printed with its stack). */
  failed: 1,
  /** Usage or configuration error: a bad flag, config file syntax or key, environment variable or value. */
  usage: 2,
  /** Environment problem: port in use, TLS file missing or unreadable, data directory cannot be created. */
  environment: 3,
  /** stdout was closed by its reader (e.g. `| head`): the command stops quietly, as on SIGPIPE. */
  pipeClosed: 141,
} as const;

export class SetupError extends Error {
  override name = 'SetupError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.environment,
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'is a directory',
  EROFS: 'read-only file system',
  EEXIST: 'exists and is not a directory',
  ENOSPC: 'no space left on the device',
};

/** A file-system error in words, without the errno noise: "no such file or directory". */
export const fsReason = (e: unknown): string => {
  const code = (e as { code?: string }).code;
  return (code && REASONS[code]) ?? (e as Error).message?.split('\n')[0] ?? String(e);
};

/** Why the server could not listen, naming the setting. */
export function listenError(e: unknown, listen: string): Error {
  const code = (e as { code?: string }).code;
  const what =
    code === 'EADDRINUSE'
      ? 'the address is already in use (another process listens there); stop it or choose another port'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL'
          ? 'this machine has no such address'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'the host name does not resolve'
            : ((e as Error).message ?? String(e)).split('\n')[0];
  return new SetupError(`listen ${listen}: ${what}`);
}
