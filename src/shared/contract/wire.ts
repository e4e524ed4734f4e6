import { z } from 'zod';

/**
 * Wire envelope: every invoke answers with one of these, over Electron IPC and WebSocket alike,
 * so errors keep their code and field list instead of Electron's "Error invoking remote method".
 */

export const ErrorCode = z.enum(['unknown_channel', 'invalid_request', 'invalid_response', 'not_found', 'conflict', 'failed']);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const WireError = z.object({
  code: ErrorCode,
  message: z.string(),
  channel: z.string().optional(),
  /** For invalid_request: each problem with its dotted field path. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type WireError = z.infer<typeof WireError>;

export type Envelope<T = unknown> = { ok: true; data: T } | { ok: false; error: WireError };

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly channel?: string;
  readonly issues?: WireError['issues'];
  constructor(error: WireError) {
    super(error.message);
    this.name = 'ApiError';
    this.code = error.code;
    this.channel = error.channel;
    this.issues = error.issues;
  }
}

export function unwrap<T>(channel: string, envelope: Envelope<T> | unknown): T {
  const env = envelope as Envelope<T> | undefined;
  if (env && typeof env === 'object' && 'ok' in env) {
    if (env.ok) return env.data;
    throw new ApiError(env.error);
  }
  throw new ApiError({ code: 'failed', channel, message: `${channel}: malformed reply from main process` });
}
