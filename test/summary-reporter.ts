// Prints one plain closing line, "N passed, N failed", that CI systems read whatever the runner.
// With coverage on it waits for the coverage report, so the line stays the last one.
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  private coverage = false;
  private line: string | undefined;

  onInit(vitest: Vitest): void {
    this.coverage = Boolean(vitest.config.coverage?.enabled);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    this.line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    if (!this.coverage) this.print();
  }

  onCoverage(): void {
    // Runs before the coverage text is written; defer to the end of this turn of the event loop.
    setImmediate(() => this.print());
  }

  private print(): void {
    if (this.line) process.stdout.write(`\n${this.line}\n`);
    this.line = undefined;
  }
}
