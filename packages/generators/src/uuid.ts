import { randomUUID } from 'node:crypto';
import type { Generator } from '@tied/core';
import { assertIdShape } from './validate.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** RFC 9562 UUIDs (version 4, lower case); validation accepts any version, lower case only. */
export function uuid(): Generator {
  return {
    name: 'uuid',
    generate: () => randomUUID(),
    validate(id: unknown): asserts id is string {
      assertIdShape(id, 'uuid', UUID, 'a lower-case UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e');
    },
  };
}
