/**
 * Drives a tied flavor as an application does: `open(id)` as its users call it, read and write the
 * session like a plain object, release it (save + unlock). `reset` / `drop` empty and remove the
 * flavor's table, key prefix or directory; `close` ends its connections.
 */
export function tiedTarget({ open, reset, drop, close = async () => {} }) {
  const release = (session) => session[Symbol.asyncDispose]();
  return {
    reset,
    drop,
    close,
    async seed(data) {
      const session = await open(undefined);
      Object.assign(session, data);
      const id = session._session_id;
      await release(session);
      return id;
    },
    async cycle(id, i) {
      const session = await open(id);
      session.count++;
      session.last = i;
      await release(session);
    },
    async count(id) {
      const session = await open(id, { readonly: true });
      const count = session.count;
      await release(session);
      return count;
    },
  };
}
