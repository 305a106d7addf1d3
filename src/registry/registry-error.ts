import { ActionError, type ErrorCode } from '../errors.js';

/** A failure talking to a registry (auth, network, deadline, unexpected status), with the HTTP status when there was one. */
export class RegistryError extends ActionError {
  readonly status: number | undefined;
  constructor(code: ErrorCode, detail: string, status?: number) {
    super(code, detail);
    this.status = status;
  }
}
