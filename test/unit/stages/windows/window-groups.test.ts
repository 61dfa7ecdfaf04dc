import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DERIVE } from '../../../../src/stages/features/to-feature-row.js'
import { utcHour } from '../../../../src/stages/windows/window-groups.js'
import type { Transaction } from '../../../../src/core/transaction-v1.js'

const DAY_MS = 86_400_000
const DATE_MAX_MS = 8.64e15

function checkAgainstDate(timeMs: number): void {
  const date = new Date(timeMs)
  assert.equal(utcHour(timeMs), date.getUTCHours(), `hour of ${timeMs}`)
  const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1 : 0
  assert.equal(DERIVE.is_weekend({ eventTimeMs: timeMs } as Transaction), weekend, `weekend of ${timeMs}`)
}

test('UTC hour and weekend equal the Date API over the whole Date range, at day boundaries and before 1970', () => {
  const edges = [0, -1, 1, DAY_MS - 1, DAY_MS, -DAY_MS, -DAY_MS - 1, DATE_MAX_MS, -DATE_MAX_MS, DATE_MAX_MS - 1, -DATE_MAX_MS + 1, Date.UTC(2026, 11, 5, 23, 59, 59, 999)]
  for (const edge of edges) checkAgainstDate(edge)
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ min: -DATE_MAX_MS, max: DATE_MAX_MS, noNaN: true }).map((timeMs) => Math.round(timeMs) + 0),
        // A millisecond either side of a midnight anywhere in the range.
        fc.tuple(fc.integer({ min: -100_000_000, max: 100_000_000 }), fc.constantFrom(-1, 0, 1)).map(([day, ms]) => day * DAY_MS + ms),
      ).filter((timeMs) => Math.abs(timeMs) <= DATE_MAX_MS),
      (timeMs) => checkAgainstDate(timeMs),
    ),
    { numRuns: 2_000 },
  )
})
