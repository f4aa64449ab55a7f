import type { Limits } from '../auth/limits.ts';
import type { Settings } from '../config.ts';
import type { LimitedEnqueue } from '../commands/limitedEnqueue.ts';
import type { Db } from '../db/database.ts';
import type { EnqueueBatcher } from '../outbox/enqueueBatcher.ts';

/** What the API's routers and the pages are built from; one of each per app, shared by both. */
export interface RouterDeps {
  db: Db;
  config: Settings;
  /** Reset requests from the API and the pages share their INSERTs. */
  outbox: EnqueueBatcher;
  /** The API's reset requests, counted on `limits.resetRequestsPerClient` as they are queued; absent when that limit is off. */
  resetRequests?: LimitedEnqueue;
  /** A client has one budget whichever way it asks. */
  limits: Limits;
}
