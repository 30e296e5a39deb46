/**
 * Context keys: `task|bucket|tags`, where bucket is the prompt length rounded up to a power of 4
 * ('<=64', '<=256', '<=1024', ...; '*' when unknown) and tags are the request's context tags, sorted
 * and de-duplicated, joined by ','. Posteriors are kept per key, so a model that wins short prompts
 * and one that wins long ones are both learned.
 */

/** The bucket label of a prompt length: '<=64' up to 64 tokens, then each power of 4; '*' unknown. */
export function promptBucket(promptTokens: number | undefined): string {
  if (promptTokens === undefined) return '*';
  let limit = 64;
  while (limit < promptTokens) limit *= 4;
  return `<=${limit}`;
}

/** The context key of a task, prompt length and tags. */
export function contextKey(task: string, promptTokens: number | undefined, tags: readonly string[] | undefined): string {
  const bucket = promptBucket(promptTokens);
  if (tags === undefined || tags.length === 0) return `${task}|${bucket}|`;
  if (tags.length === 1) return `${task}|${bucket}|${tags[0]}`;
  const sorted = [...new Set(tags)].sort();
  return `${task}|${bucket}|${sorted.join(',')}`;
}

/** Interns context keys as small integers (arms index their contexts by them). */
export class ContextKeys {
  readonly #ids = new Map<string, number>();
  readonly #keys: string[] = [];

  id(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#keys.length;
      this.#ids.set(key, id);
      this.#keys.push(key);
    }
    return id;
  }

  key(id: number): string {
    return this.#keys[id]!;
  }
}
