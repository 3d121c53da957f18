/**
 * The two-slot session file: a 16-byte header, then two slots of `capacity` bytes each. A slot is a
 * 32-byte slot header (CRC32, sequence number, updatedAt, payload length) and the payload. A save
 * writes the slot that does not hold the current version, in one pwrite, so a torn write can only
 * damage the older version; a read takes the valid slot with the higher sequence number.
 *
 *   header  0  magic "TIEDSLT1"   8  capacity u32   12  CRC32 of bytes 0..11
 *   slot    0  CRC32 of bytes 4..(32 + length)   4  sequence (6 bytes)   12  updatedAt f64 (ms)
 *          20  length u32   24..31 zero   32  payload
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

export const HEADER_SIZE = 16;
export const SLOT_HEADER_SIZE = 32;
const MAGIC = Buffer.from('TIEDSLT1', 'latin1');
/** The smallest slot: a session of a few hundred bytes fits without growing. */
const MIN_CAPACITY = 512;

/** node:zlib has crc32 from Node 20.15 / 22.2; before that, the table version below. */
export const crc32: (data: Uint8Array) => number = typeof zlibCrc32 === 'function' ? (data) => zlibCrc32(data) : tableCrc32();

function tableCrc32(): (data: Uint8Array) => number {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data) => {
    let c = 0xffffffff;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
}

/** What a read found in a session file. */
export type Decoded =
  /** Empty, or a crashed insert (the header is written last): the session does not exist. */
  | { kind: 'missing' }
  /** Not a two-slot file at all (e.g. a file of the Perl-format File store), or a damaged header. */
  | { kind: 'foreign'; why: string }
  /** A header but no valid slot: damaged on disk. */
  | { kind: 'corrupt'; why: string }
  | { kind: 'session'; state: SlotState; data: Buffer; updatedAt: number };

/** Where the current version sits, which is what the next write needs. */
export interface SlotState {
  readonly capacity: number;
  /** 0 or 1: the slot holding the current version. */
  readonly current: number;
  readonly sequence: number;
}

/** The file size for a slot capacity. */
export const fileSize = (capacity: number): number => HEADER_SIZE + 2 * capacity;

/** The slot capacity for a payload of `length` bytes: room for it twice over, a power of two. */
export function capacityFor(length: number): number {
  let capacity = MIN_CAPACITY;
  while (capacity < 2 * (SLOT_HEADER_SIZE + length)) capacity *= 2;
  return capacity;
}

/** True when the payload fits a slot of `capacity`. */
export const fits = (capacity: number, length: number): boolean => SLOT_HEADER_SIZE + length <= capacity;

/** Reads a file's bytes (the whole file, or at least header + both slots). */
export function decode(bytes: Buffer): Decoded {
  if (bytes.length < HEADER_SIZE || isZero(bytes, 0, MAGIC.length)) {
    return bytes.length === 0 || isZero(bytes, 0, Math.min(bytes.length, MAGIC.length)) ? { kind: 'missing' } : { kind: 'foreign', why: 'it is too short to be a session file' };
  }
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) return { kind: 'foreign', why: 'it does not start with the two-slot header (it may be a file of the Perl-format File store)' };
  if (crc32(bytes.subarray(0, 12)) !== bytes.readUInt32LE(12)) return { kind: 'foreign', why: 'its header is damaged' };
  const capacity = bytes.readUInt32LE(8);
  let best: { slot: number; sequence: number; start: number; length: number; updatedAt: number } | undefined;
  for (let slot = 0; slot < 2; slot++) {
    const start = HEADER_SIZE + slot * capacity;
    if (start + SLOT_HEADER_SIZE > bytes.length) continue;
    const length = bytes.readUInt32LE(start + 20);
    const end = start + SLOT_HEADER_SIZE + length;
    if (length > capacity - SLOT_HEADER_SIZE || end > bytes.length) continue;
    if (crc32(bytes.subarray(start + 4, end)) !== bytes.readUInt32LE(start)) continue;
    const sequence = bytes.readUIntLE(start + 4, 6);
    if (sequence === 0) continue; // a slot never written (all zeros, whose CRC32 is 0)
    if (!best || sequence > best.sequence) best = { slot, sequence, start, length, updatedAt: bytes.readDoubleLE(start + 12) };
  }
  if (!best) return { kind: 'corrupt', why: 'neither of its two slots holds a valid version' };
  return {
    kind: 'session',
    state: { capacity, current: best.slot, sequence: best.sequence },
    data: bytes.subarray(best.start + SLOT_HEADER_SIZE, best.start + SLOT_HEADER_SIZE + best.length),
    updatedAt: best.updatedAt,
  };
}

/**
 * The payload length of the newest slot, from the header and the two slot headers alone (no CRC
 * check: for `list`, which reads no payload). `readAt(position, length)` reads from the file.
 * Undefined when the file holds no two-slot session.
 */
export function newestLength(readAt: (position: number, length: number) => Buffer): number | undefined {
  const header = readAt(0, HEADER_SIZE + SLOT_HEADER_SIZE);
  if (header.length < HEADER_SIZE || !header.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const capacity = header.readUInt32LE(8);
  const second = readAt(slotOffset(capacity, 1), SLOT_HEADER_SIZE);
  let best: { sequence: number; length: number } | undefined;
  for (const slot of [header.subarray(HEADER_SIZE), second]) {
    if (slot.length < SLOT_HEADER_SIZE) continue;
    const sequence = slot.readUIntLE(4, 6);
    if (sequence > 0 && (!best || sequence > best.sequence)) best = { sequence, length: slot.readUInt32LE(20) };
  }
  return best?.length;
}

/** One slot's bytes (slot header + payload), ready for one pwrite at `slotOffset(capacity, slot)`. */
export function encodeSlot(sequence: number, updatedAt: number, payload: Buffer): Buffer {
  const slot = Buffer.allocUnsafe(SLOT_HEADER_SIZE + payload.length);
  slot.writeUIntLE(sequence, 4, 6);
  slot.writeUInt16LE(0, 10);
  slot.writeDoubleLE(updatedAt, 12);
  slot.writeUInt32LE(payload.length, 20);
  slot.fill(0, 24, SLOT_HEADER_SIZE);
  payload.copy(slot, SLOT_HEADER_SIZE);
  slot.writeUInt32LE(crc32(slot.subarray(4)), 0);
  return slot;
}

export const slotOffset = (capacity: number, slot: number): number => HEADER_SIZE + slot * capacity;

export function encodeHeader(capacity: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(capacity, 8);
  header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
  return header;
}

/** A whole file holding one version in slot 0 (slot 1 empty): an insert, or a file grown for a larger payload. */
export function encodeFile(capacity: number, sequence: number, updatedAt: number, payload: Buffer): Buffer {
  const file = Buffer.alloc(fileSize(capacity));
  encodeHeader(capacity).copy(file, 0);
  encodeSlot(sequence, updatedAt, payload).copy(file, HEADER_SIZE);
  return file;
}

function isZero(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}
