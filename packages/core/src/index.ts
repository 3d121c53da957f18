export type {
  AcquireOptions,
  FusedAccess,
  Generator,
  Lock,
  LockMode,
  Locker,
  LockerCapabilities,
  Payload,
  PurgeOptions,
  PurgeProgress,
  Serializer,
  Store,
  StoreCapabilities,
  StoredSession,
  StoredSessionInfo,
} from './roles.js';
export * from './errors.js';
export { tied, touch, checkOpenOptions, OPEN_OPTION_NAMES, type OpenOptions, type Session, type SessionData, type SessionHandle, type SessionParts } from './session.js';
export { assertHeld, separateAccess } from './separate-access.js';
export { defineSession, type Flavor } from './flavor.js';
export { memoryStore } from './memory-store.js';
export { nullLocker } from './null-locker.js';
export { memoryLocker } from './memory-locker.js';
