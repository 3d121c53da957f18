import { expect, test } from '@jest/globals';
import { memoryLocker } from '@tied/core';

test('memory locker is FIFO: a read arriving after a waiting write waits behind it, so writers do not starve', async () => {
  const locker = memoryLocker();
  const order: string[] = [];
  const firstReader = await locker.acquire('id', 'read');
  const writer = locker.acquire('id', 'write').then((lock) => { order.push('writer'); return lock; });
  const lateReader = locker.acquire('id', 'read').then((lock) => { order.push('late reader'); return lock; });
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(order).toEqual([]);
  await firstReader.release();
  const writeLock = await writer;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(order).toEqual(['writer']);
  await writeLock.release();
  await (await lateReader).release();
  expect(order).toEqual(['writer', 'late reader']);
});

test('memory locker: a timed-out write at the head of the queue lets the reads behind it through', async () => {
  const locker = memoryLocker();
  const reader = await locker.acquire('id', 'read');
  const writer = locker.acquire('id', 'write', { timeout: 30 });
  const secondReader = locker.acquire('id', 'read');
  await expect(writer).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
  await (await secondReader).release();
  await reader.release();
});
