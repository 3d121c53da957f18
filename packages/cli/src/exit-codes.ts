/**
 * The command's exit codes. Stable: cron jobs and scripts rely on them, and the README documents
 * this table. An error with a tied `code` is mapped by `exitCodeOf`.
 */
export const EXIT = {
  ok: 0,
  /** Anything unexpected (a bug, an I/O error nobody planned for). */
  failure: 1,
  /** Bad arguments: unknown option, bad duration, bad JSON, bad path, unknown part name. */
  usage: 2,
  /** The store URL's scheme is none of file, mysql, postgres, postgresql, redis (or the URL is malformed). */
  unknownStore: 3,
  /** The server cannot be reached, refuses the login, or fails (tied's BackendError). */
  unreachable: 4,
  /** No session with that id. */
  notFound: 5,
  /** The id is not one the generator could make (refused before any store or lock is touched). */
  invalidId: 6,
  /** The stored session cannot be read by the serializer. */
  corrupt: 7,
  /** The session's lock was not granted within --lock-timeout. */
  lockTimeout: 8,
  /** The store (or locker) cannot do this: list, purge, clean locks. */
  unsupported: 9,
  /** import --on-conflict fail met an id that exists, or new --id an id that is taken. */
  conflict: 10,
  /** The serializer cannot hold the value, or the store cannot hold the session's size. */
  cannotStore: 11,
  /** The lock was lost during the operation (a killed connection, an expired Redis lease). */
  lockLost: 12,
  /** Stopped by SIGINT or SIGTERM (after finishing the session at hand). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** tied's typed errors (their stable `code`) and the exit code each gives. */
const BY_TIED_CODE: Readonly<Record<string, ExitCode>> = {
  ERR_SESSION_NOT_FOUND: EXIT.notFound,
  ERR_SESSION_EXISTS: EXIT.conflict,
  ERR_INVALID_SESSION_ID: EXIT.invalidId,
  ERR_LOCK_TIMEOUT: EXIT.lockTimeout,
  ERR_SESSION_CORRUPT: EXIT.corrupt,
  ERR_SERIALIZATION: EXIT.cannotStore,
  ERR_SESSION_TOO_LARGE: EXIT.cannotStore,
  ERR_LOCK_LOST: EXIT.lockLost,
  ERR_BACKEND: EXIT.unreachable,
};

/** Driver error codes that mean the server is not there, or will not let us in. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_DBACCESS_DENIED_ERROR',
  // PostgreSQL SQLSTATEs: invalid password / authorization, database does not exist, cannot connect now.
  '28P01', '28000', '3D000', '57P03',
]);

/** An error the command raises itself, with the exit code it means. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
  }
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    const mapped = BY_TIED_CODE[code];
    if (mapped !== undefined) return mapped;
    if (UNREACHABLE_CODES.has(code)) return EXIT.unreachable;
  }
  // AggregateError from net.connect when every address of a host refused.
  if (error instanceof AggregateError && error.errors.some((inner) => exitCodeOf(inner) === EXIT.unreachable)) return EXIT.unreachable;
  return EXIT.failure;
}

/** An error's message; for a driver's AggregateError (every address refused), its errors' messages. */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') return error.errors.map(messageOf).join('; ');
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}
