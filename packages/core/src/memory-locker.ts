import type { AcquireOptions, Lock, LockMode, Locker } from './roles.js';
import { LockTimeoutError, abortReason } from './errors.js';

interface Waiter {
  readonly mode: LockMode;
  grant(): void;
}

/** The holders and the FIFO queue of one id. */
interface Slot {
  readers: number;
  writer: boolean;
  readonly queue: Waiter[];
}

/**
 * How long an in-process wait goes on before tied warns, once per process, that a session of this
 * same process holds the lock (typically: a session opened twice in one async flow, which waits for
 * ever).
 */
const WAIT_WARNING_MS = 5_000;
let waitWarned = false;

function warnLongWait(id: string, mode: LockMode): void {
  if (waitWarned) return;
  waitWarned = true;
  process.emitWarning(
    `Session ${id} has waited ${WAIT_WARNING_MS / 1000} s for its ${mode} lock, held by another session of this same process. `
      + 'A session opened again before the first open of it is released (in one async flow) waits for ever: release the first one, or pass lockTimeout.',
    { code: 'TIED_LOCK_WAIT' },
  );
}

/**
 * A held lock of the memory locker: one object per lock, its methods on the prototype (an object
 * literal with a getter and a closure per lock cost more than the rest of an uncontended acquire).
 */
class MemoryLock implements Lock {
  private isHeld = true;

  constructor(
    readonly id: string,
    readonly mode: LockMode,
    private readonly slot: Slot,
    /** The locker's own: takes this lock's hold off its slot and grants the waiters it unblocks. */
    private readonly unhold: (id: string, mode: LockMode, slot: Slot) => void,
  ) {}

  get held(): boolean { return this.isHeld; }

  async release(): Promise<void> {
    if (!this.isHeld) return;
    this.isHeld = false;
    this.unhold(this.id, this.mode, this.slot);
  }
}

/**
 * An in-process readers–writer lock per id. Waiters are served first come, first served: a read
 * that arrives after a waiting write waits behind it, so a stream of readers cannot starve writers.
 */
export function memoryLocker(): Locker {
  const slots = new Map<string, Slot>();

  const compatible = (slot: Slot, mode: LockMode) =>
    mode === 'read' ? !slot.writer : !slot.writer && slot.readers === 0;

  const take = (slot: Slot, mode: LockMode) => {
    if (mode === 'read') slot.readers++;
    else slot.writer = true;
  };

  // Grants waiters from the head of the queue while they are compatible with the holders.
  const drain = (id: string, slot: Slot) => {
    while (slot.queue.length > 0 && compatible(slot, slot.queue[0]!.mode)) {
      const waiter = slot.queue.shift()!;
      take(slot, waiter.mode);
      waiter.grant();
    }
    if (slot.readers === 0 && !slot.writer && slot.queue.length === 0) slots.delete(id);
  };

  const unhold = (id: string, mode: LockMode, slot: Slot) => {
    if (mode === 'read') slot.readers--;
    else slot.writer = false;
    drain(id, slot);
  };
  const holdLock = (id: string, mode: LockMode, slot: Slot): Lock => new MemoryLock(id, mode, slot, unhold);

  return {
    name: 'memory',
    capabilities: { sharedReads: true, crossProcess: false, excludes: true },
    acquire(id: string, mode: LockMode, options: AcquireOptions = {}): Promise<Lock> {
      const { timeout, signal } = options;
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      let slot = slots.get(id);
      if (!slot) {
        slot = { readers: 0, writer: false, queue: [] };
        slots.set(id, slot);
      }
      if (slot.queue.length === 0 && compatible(slot, mode)) {
        take(slot, mode);
        return Promise.resolve(holdLock(id, mode, slot));
      }
      const waitingSlot = slot;
      return new Promise<Lock>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        // A pending promise alone does not keep Node running: without this timer a process whose only
        // work is this wait would exit (code 13 for a top-level await) without a word. It keeps the
        // process alive while the wait lasts and warns once when it lasts long.
        const watch = setInterval(() => warnLongWait(id, mode), WAIT_WARNING_MS);
        const giveUp = (reason: unknown) => {
          const index = waitingSlot.queue.indexOf(waiter);
          if (index < 0) return;
          waitingSlot.queue.splice(index, 1);
          cleanup();
          reject(reason);
          // A write leaving the head of the queue may unblock the reads behind it.
          drain(id, waitingSlot);
        };
        const onAbort = () => giveUp(abortReason(signal!));
        const cleanup = () => {
          clearInterval(watch);
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const waiter: Waiter = {
          mode,
          grant: () => {
            cleanup();
            resolve(holdLock(id, mode, waitingSlot));
          },
        };
        waitingSlot.queue.push(waiter);
        if (timeout !== undefined) timer = setTimeout(() => giveUp(new LockTimeoutError(id, timeout)), timeout);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
