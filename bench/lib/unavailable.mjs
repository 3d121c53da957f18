/**
 * Thrown by a target that cannot run here — its tied flavor is not built yet, or its server is not
 * reachable. The harness reports the target as "not available" and goes on with the others.
 */
export class NotAvailable extends Error {}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT']);

/** Runs `connect`, turning "the server is not there" into NotAvailable. */
export async function reachable(service, connect) {
  try {
    return await connect();
  } catch (error) {
    const codes = [error.code, ...(error.errors ?? []).map((e) => e.code)];
    if (codes.some((code) => UNREACHABLE.has(code))) {
      throw new NotAvailable(`${service} unreachable (${error.code ?? error.errors?.[0]?.code})`);
    }
    throw error;
  }
}

/** The named export of a built tied module, or NotAvailable while that flavor does not exist yet. */
export async function tiedExport(specifier, name) {
  let module;
  try {
    module = await import(specifier);
  } catch (error) {
    if (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new NotAvailable(`${specifier} is not built (${error.code})`);
    }
    throw error;
  }
  if (module[name] === undefined) throw new NotAvailable(`${specifier} does not export ${name} yet`);
  return module[name];
}
