import type { TestContext } from 'node:test'

const stacks = new WeakMap<TestContext, (() => unknown)[]>()

/**
 * Registers a step to run after the test, last in first out: what was opened last is closed first, so a data
 * directory is removed only once the pipeline and embedded ClickHouse using it are closed. (node:test runs
 * `t.after` hooks first in first out.) Every step runs even if one fails; the first failure is thrown at the end.
 */
export function teardown(t: TestContext, step: () => unknown): void {
  let stack = stacks.get(t)
  if (!stack) {
    const steps: (() => unknown)[] = []
    stacks.set(t, (stack = steps))
    t.after(async () => {
      const failures: unknown[] = []
      for (const next of steps.splice(0).reverse()) {
        try {
          await next()
        } catch (err) {
          failures.push(err)
        }
      }
      if (failures.length > 0) throw failures[0]
    })
  }
  stack.push(step)
}
