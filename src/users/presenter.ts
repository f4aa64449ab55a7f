import type { UserRow } from './queries.ts';

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

export const isSuperuser = (user: Pick<UserRow, 'dept'>) => user.dept === 'management';
