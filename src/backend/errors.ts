import type { ErrorCode } from '../shared/contract';

/** A failure a service reports to its caller on purpose; `code` travels over IPC unchanged. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export class NotFoundError extends ServiceError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ServiceError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

export class InvalidInputError extends ServiceError {
  constructor(message: string) {
    super('invalid_request', message);
    this.name = 'InvalidInputError';
  }
}
