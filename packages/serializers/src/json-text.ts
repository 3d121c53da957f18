import { SerializationError, SessionCorruptError, type Payload } from '@tied/core';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function corruptJson(serializer: string, problem: string): never {
  throw new SessionCorruptError(`Stored session is not ${serializer} data: ${problem}`);
}

/** Decodes JSON text (or its UTF-8 bytes) that must hold an object. */
export function parseJsonSession(data: Payload, serializer: string): Record<string, unknown> {
  let text: string;
  try {
    text = typeof data === 'string' ? data : utf8.decode(data);
  } catch {
    return corruptJson(serializer, 'it is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return corruptJson(serializer, (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return corruptJson(serializer, 'the top level is not an object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * JSON.stringify drops functions and symbols without a word; a session must not lose data silently,
 * so they are refused. `strictJson` also refuses what plain JSON would mangle (Map, Set, BigInt) or
 * cannot hold (cycles).
 */
export function refuseUnstorable(value: unknown, serializer: string, strictJson: boolean): void {
  const ancestors = new Set<object>();
  const visit = (node: unknown, path: string): void => {
    switch (typeof node) {
      case 'function':
      case 'symbol':
        throw new SerializationError(`${serializer} cannot hold the ${typeof node} at ${path}`);
      case 'bigint':
        if (strictJson) throw new SerializationError(`${serializer} cannot hold the BigInt at ${path}`);
        return;
      case 'object':
        break;
      default:
        return;
    }
    if (node === null || node instanceof Date || node instanceof RegExp) return;
    if (strictJson && (node instanceof Map || node instanceof Set)) {
      throw new SerializationError(`${serializer} cannot hold the ${node.constructor.name} at ${path}; use superjson`);
    }
    if (ancestors.has(node)) {
      if (strictJson) throw new SerializationError(`${serializer} cannot hold the cycle at ${path}`);
      return;
    }
    ancestors.add(node);
    if (node instanceof Map) {
      for (const [key, item] of node) { visit(key, `${path}<key>`); visit(item, `${path}.get(…)`); }
    } else if (node instanceof Set) {
      for (const item of node) visit(item, `${path}<item>`);
    } else {
      for (const key of Object.keys(node)) visit((node as Record<string, unknown>)[key], `${path}.${key}`);
      for (const symbol of Object.getOwnPropertySymbols(node)) {
        throw new SerializationError(`${serializer} cannot hold the symbol key ${String(symbol)} at ${path}`);
      }
    }
    ancestors.delete(node);
  };
  visit(value, 'session');
}
