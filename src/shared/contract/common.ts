import { z } from 'zod';

/** Field shapes and helpers every domain file of the contract builds on (not part of the API). */

export const Id = z.number().int().positive();
export const IsoTime = z.string();
export const JsonObject = z.record(z.string(), z.unknown());
export const MetricName = z.string().min(1).max(200);
export const SplitName = z.string().min(1).max(64);
/** Metric values that are not finite (empty lesion region, identical images) are sent as null. */
export const FiniteOrNull = z.number().nullable();

export const Empty = z.object({}).strict();
export const ById = z.object({ id: Id }).strict();
export const ByRunId = z.object({ runId: Id }).strict();

/** One request/response channel: both sides validate against these schemas. */
export function channel<Req extends z.ZodType, Res extends z.ZodType>(request: Req, response: Res) {
  return { request, response };
}
