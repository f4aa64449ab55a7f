/**
 * What the commands write into an outbox row for a task to read: its kind, and the reset
 * payload's override version. Apart from the tasks so that the API's side, which only queues,
 * loads neither the tasks nor the mail transport they send with.
 */
export const PWD_RESET_EMAIL = 'pwd_reset_email';
export const PWD_CHANGED_EMAIL = 'pwd_changed_email';

/** The reset payload's version for a request that may override the address's cooldown. */
export const OVERRIDE_PAYLOAD_VERSION = 2;
