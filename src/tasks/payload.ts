/** Reading a row's payload with its kind's schema: what cannot be read is dead at once, saying why. */
import type { z } from 'zod';
import { UnreadablePayload } from '../outbox/tasks.ts';

export function readPayload<S extends z.ZodType>(schema: S, payload: unknown): z.infer<S> {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new UnreadablePayload(`${issue.path.join('.') || 'payload'}: ${issue.message}`);
}
