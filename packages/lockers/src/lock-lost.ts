import { TiedError } from '@tied/core';

/**
 * The database connection that held (or was taking) a session's lock went away — killed on the
 * server, a server restart, a network failure — so the server let go of the lock. Nothing was written
 * on that connection: the stored version is the one before. Open the session again to go on.
 */
export class LockLostError extends TiedError {
  readonly code = 'ERR_LOCK_LOST';
  constructor(readonly sessionId: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
