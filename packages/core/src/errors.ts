/**
 * Every error tied throws on purpose is one of these classes, each with a stable `code` that callers
 * can switch on without `instanceof` (which breaks across duplicated installs).
 */
export abstract class TiedError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class SessionNotFoundError extends TiedError {
  readonly code = 'ERR_SESSION_NOT_FOUND';
  constructor(readonly sessionId: string, options?: ErrorOptions) {
    // The Perl message, so code that greps for it keeps working.
    super(`Object does not exist in the data store: ${sessionId}`, options);
  }
}

export class SessionExistsError extends TiedError {
  readonly code = 'ERR_SESSION_EXISTS';
  constructor(readonly sessionId: string, options?: ErrorOptions) {
    super(`A session with this id already exists in the data store: ${sessionId}`, options);
  }
}

export class InvalidSessionIdError extends TiedError {
  readonly code = 'ERR_INVALID_SESSION_ID';
}

export class LockTimeoutError extends TiedError {
  readonly code = 'ERR_LOCK_TIMEOUT';
  constructor(readonly sessionId: string, readonly timeout: number, options?: ErrorOptions) {
    super(`Timed out after ${timeout} ms waiting for the lock of session ${sessionId}`, options);
  }
}

export class SessionCorruptError extends TiedError {
  readonly code = 'ERR_SESSION_CORRUPT';
}

export class SerializationError extends TiedError {
  readonly code = 'ERR_SERIALIZATION';
}

export class SessionTooLargeError extends TiedError {
  readonly code = 'ERR_SESSION_TOO_LARGE';
  /** What `size` and `limit` count: bytes, or characters for a text column that limits characters. */
  readonly unit: 'bytes' | 'characters';
  constructor(readonly size: number, readonly limit: number, where: string, options?: ErrorOptions & { unit?: 'bytes' | 'characters' }) {
    const unit = options?.unit ?? 'bytes';
    super(`Session of ${size} ${unit} does not fit ${where} (at most ${limit} ${unit}); nothing was written`, options);
    this.unit = unit;
  }
}

export class SessionReleasedError extends TiedError {
  readonly code = 'ERR_SESSION_RELEASED';
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} was released; open it again to use it`);
  }
}

export class ReadonlySessionError extends TiedError {
  readonly code = 'ERR_SESSION_READONLY';
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} was opened readonly and cannot be changed`);
  }
}

/**
 * The lock a session relied on is gone — its database connection was killed or lost, or its Redis
 * lease ran out — so the write that needed it was refused: nothing was written, the stored version is
 * the one before. Open the session again to go on.
 */
export class LockLostError extends TiedError {
  readonly code = 'ERR_LOCK_LOST';
  constructor(readonly sessionId: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * No connection of a database pool came free within the lock timeout: every one was in use — most
 * often held by locked sessions (each holds one from open to release). Not a lock wait: the session's
 * lock was never asked for. Release sessions sooner, or give the pool more connections.
 */
export class PoolTimeoutError extends TiedError {
  readonly code = 'ERR_POOL_TIMEOUT';
  constructor(
    readonly sessionId: string,
    readonly timeout: number,
    /** The pool, as the backend names it (e.g. `mysql://root@127.0.0.1:3306/test`). */
    readonly pool: string,
    /** Its number of connections, when the driver tells. */
    readonly size: number | undefined,
    /** How many of them locked sessions of this process held when the wait gave up. */
    readonly heldBySessions: number,
    options?: ErrorOptions,
  ) {
    super(
      `Timed out after ${timeout} ms waiting for a connection of the pool ${pool} (${size === undefined ? 'size unknown' : `${size} connections`}, ` +
        `${heldBySessions} held by locked sessions) to open session ${sessionId}; the session's lock was not asked for. ` +
        'Release sessions sooner or make the pool larger.',
      options,
    );
  }
}

/** The backend failed (connection lost for good, server error): the operation may or may not have reached it. */
export class BackendError extends TiedError {
  readonly code = 'ERR_BACKEND';
}

/** What an aborted wait rejects with: the signal's reason, as fetch and timers/promises do. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
