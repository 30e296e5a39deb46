// The key scan: every line the suite logs (console output of every test file) and every error it reports
// is searched for key material — the API keys the tests give providers (all shaped like vendors' keys,
// `sk-...`) and modelpool caller keys (`mp_` + 43 characters). A find fails the run, naming where it was.
import type { Reporter, TestModule, UserConsoleLog } from 'vitest/node';

/** Vendor-shaped API keys (OpenAI `sk-...`, Anthropic `sk-ant-...`) and modelpool caller keys. */
const KEY_PATTERNS = [/\bsk-[A-Za-z0-9_-]{16,}/, /\bmp_[A-Za-z0-9_-]{43}\b/];

export default class KeyScanReporter implements Reporter {
  readonly #finds: string[] = [];
  #lines = 0;

  #scan(text: string, where: string): void {
    this.#lines++;
    for (const pattern of KEY_PATTERNS) {
      const match = pattern.exec(text);
      if (match !== null) this.#finds.push(`${where}: ${match[0].slice(0, 8)}… in "${text.slice(Math.max(0, match.index - 60), match.index).replace(/\s+/g, ' ')}"`);
    }
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    this.#scan(log.content, `console (${log.type}) of ${log.taskId ?? 'a test file'}`);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        for (const error of test.result().errors ?? []) this.#scan(`${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error)}`, `error of "${test.fullName}"`);
      }
      for (const error of module.errors()) this.#scan(`${error.message}\n${error.stack ?? ''}`, `error of ${module.moduleId}`);
    }
    for (const error of unhandledErrors) this.#scan(String((error as Error)?.stack ?? error), 'an unhandled error');
    if (this.#finds.length > 0) {
      process.stderr.write(`\nkey scan: key material in ${this.#finds.length} log line(s) or error(s):\n${this.#finds.map((f) => `  ${f}`).join('\n')}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`\nkey scan: no key material in ${this.#lines} log lines and errors\n`);
    }
  }
}
