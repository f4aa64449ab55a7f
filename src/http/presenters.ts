/**
 * The API's shapes of its rows: a presenter picks the public fields, so a column added to a table
 * never goes out by itself. `schemas.ts` documents the same shapes (`User`, `SecurityEvent`).
 */
import type { UserRow } from '../users/queries.ts';
import type { SecurityEventRow } from '../users/securityEvents.ts';

/** The public shape of a user (SPEC's UserResponse): never the e-mail, never the hash. */
export interface UserResponse {
  name: string;
  username: string;
  dept: string;
  avatar: string | null;
  bio: string | null;
  currency: string;
}

export function presentUser(user: UserRow): UserResponse {
  return {
    name: user.name,
    username: user.username,
    dept: user.dept,
    avatar: user.avatar,
    bio: user.bio,
    currency: user.currency,
  };
}

/** An event as its user sees it: everything but the user's id (the URL names them). */
export function presentSecurityEvent(event: SecurityEventRow) {
  return {
    id: String(event.id),
    at: new Date(event.at).toISOString(),
    kind: event.kind,
    detail: event.detail,
    client_address: event.client_address,
    user_agent: event.user_agent,
    request_id: event.request_id,
  };
}
