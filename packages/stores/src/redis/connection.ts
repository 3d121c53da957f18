/**
 * How a Redis part reaches its server: the caller's ioredis client or one made from a url, the
 * scripts it runs, and the errors of the backend.
 */
import { Redis } from 'ioredis';
import { BackendError, TiedError } from '@tied/core';
import type { Script } from './scripts.js';

/** A SCAN-able server of a Cluster (what `Cluster.nodes('master')` returns). */
export interface RedisNode {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', batch: number): Promise<[cursor: string, keys: string[]]>;
}

/**
 * The members of an ioredis 5 client that tied uses, declared here so that tied's types do not need
 * ioredis: any ioredis `Redis` (single server, Sentinel) or `Cluster` fits.
 */
export interface RedisClient extends RedisNode {
  readonly isCluster: boolean;
  readonly status: string;
  readonly options: { readonly keyPrefix?: string };
  /** Scripts (tied calls its Buffer form, `evalshaBuffer`, which ioredis has but does not declare). */
  evalsha(sha: string, numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): Promise<unknown>;
  /** A Cluster's servers (absent on a single-server client). */
  nodes?(role: 'master'): RedisNode[];
  quit(): Promise<unknown>;
  disconnect(): void;
}

/**
 * Scripts go as EVALSHA/EVAL with Buffer replies. ioredis has `evalshaBuffer`/`evalBuffer` at run time
 * (its typings lack them); `callBuffer('EVALSHA', …)` would be shorter but loses the command name under
 * `enableAutoPipelining` (ioredis issue #1923), where these work.
 */
interface ScriptRunner {
  evalshaBuffer(sha: string, numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): Promise<unknown>;
  evalBuffer(source: string, numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): Promise<unknown>;
  pipeline(): ScriptPipeline;
  /** The socket of a single-server client (absent on a Cluster, and before the first connect). */
  readonly stream?: CorkableStream;
}

/** What tick batching needs of a socket (a net or tls Socket). */
interface CorkableStream {
  cork(): void;
  uncork(): void;
}

/** An ioredis pipeline: its commands leave in one write, their replies come back together. */
interface ScriptPipeline {
  evalshaBuffer(sha: string, numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): ScriptPipeline;
  evalBuffer(source: string, numKeys: number, ...keysAndArgs: (string | Buffer | number)[]): ScriptPipeline;
  wait(replicas: number, timeout: number): ScriptPipeline;
  exec(): Promise<[error: Error | null, result: unknown][] | null>;
}

/** Writes acknowledged only once this many replicas have them (Redis WAIT), waiting at most `timeout` ms. */
export interface Replication {
  readonly replicas: number;
  readonly timeout: number;
}

/** How a part gets its connection: the caller's client, or a URL it connects to itself. */
export interface RedisConnectionOptions {
  /**
   * An ioredis client you already have (`Redis` or `Cluster`). The part uses it as is and never
   * closes it, and leaves its 'error' events to you (ioredis logs them when nobody listens; they
   * never crash the process): a command that fails reaches the session as `BackendError`.
   */
  client?: RedisClient;
  /**
   * `redis://[user:password@]host[:port][/db]` (or `rediss://`): the part makes its own client,
   * listens to its 'error' events (the last one is named in the `BackendError` of a failed command),
   * and `close()` quits it.
   */
  url?: string;
}

/** A part's connection: its client and what it runs on it. */
export interface Connection {
  readonly client: RedisClient;
  /** The url the client was made from (undefined for a client given): parts made from one url share a server. */
  readonly url: string | undefined;
  /**
   * Runs a script by its SHA (one round trip); the first time a server sees it (NOSCRIPT), it is
   * sent whole. Bulk replies come back as Buffers. A failure becomes `BackendError`.
   */
  run(script: Script, keys: string[], args: (string | number | Buffer)[]): Promise<unknown>;
  /**
   * `run` for a script that writes a session: with `replication`, WAIT follows it in the same round
   * trip (a pipeline), and fewer replicas than asked for within its timeout is a `BackendError` (the
   * write was made on the master, but a failover may lose it).
   */
  runWrite(script: Script, keys: string[], args: (string | number | Buffer)[], replication: Replication | undefined): Promise<unknown>;
  /** Sends a command: a failure becomes `BackendError`, and so does a wait that `close()` ends. */
  send<T>(command: () => Promise<T>): Promise<T>;
  /** Closes the client when the part made it: QUIT when connected, else at once (what is pending fails with `BackendError`). */
  close(): Promise<void>;
}

/**
 * Refuses what is not an options object, and names a misspelt or unknown option with the known
 * ones (an ignored `tll` would be a session that never expires).
 */
export function checkOptions(options: unknown, part: string, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${part} needs options: { client } or { url }, and ${known.filter((name) => name !== 'client' && name !== 'url').join(', ')}`);
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new TypeError(`${part}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the options are ${known.join(', ')}`);
}

export function connect(options: RedisConnectionOptions, part: string): Connection {
  if (options.client !== undefined && options.url !== undefined) throw new TypeError(`${part}: give either client or url, not both`);
  let lastError: Error | undefined;
  const { client, url } = clientOf(options, part, (error) => { lastError = error; });
  const owned = url !== undefined;
  const runner = client as unknown as ScriptRunner;
  const batchTick = tickBatcher(client, runner);

  const failure = (error: unknown): TiedError => {
    if (error instanceof TiedError) return error;
    const message = error instanceof Error ? error.message : String(error);
    const last = lastError && lastError !== error && lastError.message !== message ? ` (the connection's last error: ${lastError.message})` : '';
    return new BackendError(`Redis failed: ${message}${last}`, { cause: error });
  };

  /**
   * The commands under way on a client this part made, so that `close()` can fail them: ioredis keeps
   * commands queued while it reconnects (up to maxRetriesPerRequest), and a disconnect between two
   * reconnect attempts leaves them queued for good.
   */
  const underWay = new Set<(error: Error) => void>();
  const send = <T>(command: () => Promise<T>): Promise<T> => {
    if (!owned) return command().catch((error: unknown) => { throw failure(error); });
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown) => reject(failure(error));
      underWay.add(fail);
      command().then(resolve, fail).finally(() => underWay.delete(fail));
    });
  };

  const run = ({ source, sha }: Script, keys: string[], args: (string | number | Buffer)[]) => send(async () => {
    batchTick();
    try {
      return await runner.evalshaBuffer(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await runner.evalBuffer(source, keys.length, ...keys, ...args);
    }
  });

  /** The script and WAIT in one pipeline (on a Cluster it goes to the master of the script's keys). */
  const runAndWait = ({ source, sha }: Script, keys: string[], args: (string | number | Buffer)[], { replicas, timeout }: Replication) => send(async () => {
    const exec = async (bySource: boolean) => {
      batchTick();
      const pipeline = runner.pipeline();
      (bySource ? pipeline.evalBuffer(source, keys.length, ...keys, ...args) : pipeline.evalshaBuffer(sha, keys.length, ...keys, ...args)).wait(replicas, timeout);
      const [scriptResult, waitResult] = (await pipeline.exec()) ?? [];
      if (!scriptResult || !waitResult) throw new Error('the pipeline of a script and WAIT came back empty');
      return { scriptResult, waitResult };
    };
    let { scriptResult, waitResult } = await exec(false);
    if (scriptResult[0]?.message.startsWith('NOSCRIPT')) ({ scriptResult, waitResult } = await exec(true));
    if (scriptResult[0]) throw scriptResult[0];
    const confirmed = waitResult[0] ? 0 : Number(waitResult[1]);
    if (confirmed < replicas) {
      throw new BackendError(`Redis made the write, but only ${confirmed} of the ${replicas} replicas asked for confirmed it within ${timeout} ms: a failover of its master may lose it`, { cause: waitResult[0] ?? undefined });
    }
    return scriptResult[1];
  });

  return {
    client,
    url,
    send,
    run,
    runWrite: (script, keys, args, replication) => (replication ? runAndWait(script, keys, args, replication) : run(script, keys, args)),
    async close() {
      if (!owned) return;
      if (client.status === 'ready') {
        await client.quit().catch(() => client.disconnect());
      } else if (client.status !== 'end') {
        // Not connected: QUIT would wait behind the queued commands for a reconnect.
        client.disconnect();
        for (const fail of underWay) fail(new Error('Connection is closed (the part was closed while Redis was unreachable)'));
      }
    },
  };
}

/**
 * ioredis writes every command to its socket at once: a system call per command, which under load
 * costs more than the command itself (at 128 concurrent cycles, ~3× the client CPU of one write per
 * batch). `batchTick()`, called before a command is sent, corks the socket for the rest of the tick,
 * so every command sent in the same tick (each session whose reply came in the same read, say)
 * leaves in one write; it is uncorked once the tick's microtasks have run (Node's cork + nextTick
 * pattern). A Cluster sends each command to a node of its own, and is left as it is.
 */
function tickBatcher(client: RedisClient, runner: ScriptRunner): () => void {
  if (client.isCluster) return () => {};
  let corked: CorkableStream | undefined;
  const uncork = () => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  return () => {
    if (corked !== undefined || client.status !== 'ready') return;
    const stream = runner.stream;
    if (stream === undefined) return;
    stream.cork();
    corked = stream;
    process.nextTick(uncork);
  };
}

function clientOf(options: RedisConnectionOptions, part: string, onError: (error: Error) => void): { client: RedisClient; url: string | undefined } {
  const { client, url } = options;
  if (client !== undefined) {
    if (typeof client !== 'object' || client === null || typeof (client as Partial<ScriptRunner>).evalshaBuffer !== 'function') {
      throw new TypeError(`${part}: client must be an ioredis Redis or Cluster`);
    }
    // ioredis prefixes command keys but not SCAN patterns or replies, so `list` would find nothing.
    if (client.options?.keyPrefix) {
      throw new TypeError(`${part}: the client has keyPrefix "${client.options.keyPrefix}"; use the part's prefix option instead`);
    }
    return { client, url: undefined };
  }
  if (url === undefined) throw new TypeError(`${part} needs a client (an ioredis Redis or Cluster) or a url`);
  if (typeof url !== 'string' || !/^rediss?:$/.test(parsedProtocol(url))) {
    throw new TypeError(`${part}: url must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  }
  const made = new Redis(url, { lazyConnect: true });
  // A client tied makes is tied's to watch: its errors surface through the commands that fail.
  made.on('error', onError);
  return { client: made as unknown as RedisClient, url };
}

function parsedProtocol(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}
