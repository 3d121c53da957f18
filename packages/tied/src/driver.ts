/** Loads a module that needs an optional driver (mysql2, pg, ioredis); a missing one is named. */
export async function withDriver<T>(driver: string, importing: Promise<T>): Promise<T> {
  try {
    return await importing;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${driver}'`)) {
      throw new Error(`This part of tied needs the ${driver} package: npm install ${driver}`, { cause: error });
    }
    throw error;
  }
}
