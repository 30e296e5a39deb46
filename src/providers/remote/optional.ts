/**
 * The vendors' SDKs are optional peer dependencies: a user who runs only local models installs none of
 * them (together they are ~50 MB). Each is imported when a provider first needs it; a missing one is
 * LOAD_FAILED saying what to install.
 */
import { ModelpoolError } from '../../errors.js';

export async function importOptional<T>(name: string, provider: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ModelpoolError('LOAD_FAILED', `The ${provider} provider needs the package '${name}': npm install ${name}`, { cause: error, details: { package: name } });
    }
    throw error;
  }
}
