import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DERIVE } from '../../../../src/stages/features/derived-features.js'
import { utcHour, windowGroupsOf } from '../../../../src/stages/windows/window-groups.js'
import { compileWindows } from '../../../../src/stages/windows/compile-windows.js'
import { CardWindows } from '../../../../src/stages/windows/card-windows.js'
import { ErrorCode, FraudstreamError } from '../../../../src/core/errors.js'
import type { FeatureDefinition } from '../../../../src/stages/features/feature-definition.js'
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
  const edges = [
    0,
    -1,
    1,
    DAY_MS - 1,
    DAY_MS,
    -DAY_MS,
    -DAY_MS - 1,
    DATE_MAX_MS,
    -DATE_MAX_MS,
    DATE_MAX_MS - 1,
    -DATE_MAX_MS + 1,
    Date.UTC(2026, 11, 5, 23, 59, 59, 999),
  ]
  for (const edge of edges) checkAgainstDate(edge)
  fc.assert(
    fc.property(
      fc
        .oneof(
          fc.double({ min: -DATE_MAX_MS, max: DATE_MAX_MS, noNaN: true }).map((timeMs) => Math.round(timeMs) + 0),
          // A millisecond either side of a midnight anywhere in the range.
          fc
            .tuple(fc.integer({ min: -100_000_000, max: 100_000_000 }), fc.constantFrom(-1, 0, 1))
            .map(([day, ms]) => day * DAY_MS + ms),
        )
        .filter((timeMs) => Math.abs(timeMs) <= DATE_MAX_MS),
      (timeMs) => checkAgainstDate(timeMs),
    ),
    { numRuns: 2_000 },
  )
})

test('window spans and delays outside whole milliseconds up to 30 days are refused with the feature named', () => {
  const window = (spanMs: number, delayMs?: number): FeatureDefinition => ({
    kind: 'window',
    name: 'w',
    key: 'card',
    aggregation: 'count',
    spanMs,
    ...(delayMs === undefined ? {} : { delayMs }),
    description: '',
  })
  for (const [spanMs, delayMs] of [
    [90_000.5],
    [0],
    [-60_000],
    [1e21],
    [31 * DAY_MS],
    [Number.NaN],
    [60_000, -1],
    [60_000, 0.5],
    [60_000, 31 * DAY_MS],
  ] as const) {
    assert.throws(
      () => windowGroupsOf([window(spanMs, delayMs)]),
      (err: Error) =>
        err instanceof FraudstreamError &&
        err.code === ErrorCode.configInvalid &&
        /window feature w: (span|delay)Ms/.test(err.message),
      `span ${spanMs}, delay ${delayMs}`,
    )
  }
  assert.equal(windowGroupsOf([window(30 * DAY_MS, 30 * DAY_MS), window(1)]).length, 2)
})

test('a night filter compiles and counts without any codes column in the event layout', () => {
  const nightCount: FeatureDefinition = {
    kind: 'window',
    name: 'night_count',
    key: 'card',
    filter: 'night',
    aggregation: 'count',
    spanMs: DAY_MS,
    description: '',
  }
  const compiled = compileWindows([nightCount])
  assert.equal(compiled.layout.codesOffset, -1)
  const windows = new CardWindows({
    horizonMs: DAY_MS,
    allowedLatenessMs: 0,
    valuesPerEvent: compiled.layout.valuesPerEvent,
  })
  const night = Date.UTC(2026, 0, 1, 23, 0)
  const values = new Float64Array(compiled.layout.valuesPerEvent)
  const row = new Float64Array(1)
  for (const [i, eventTimeMs] of [night, night + 30 * 60_000, night + 8 * 3_600_000].entries()) {
    const tx = { card_id: 'c', amount: 1, eventTimeMs } as Transaction
    compiled.columns(windows, tx, compiled.layout.fill(tx, values), row)
    // 07:00 is not night: the two night events of the last day, without the current one.
    assert.equal(row[0], [1, 2, 2][i], `night count at ${new Date(eventTimeMs).toISOString()}`)
    windows.add('c', eventTimeMs, values)
  }
})

test('a z-score sees a spread of a cent at 100 and of 100 at a million, and is 0 over equal amounts', () => {
  const zscore7d: FeatureDefinition = {
    kind: 'window',
    name: 'z',
    key: 'card',
    aggregation: 'zscore',
    spanMs: 7 * DAY_MS,
    description: '',
  }
  const delayed: FeatureDefinition = { ...zscore7d, name: 'z_delayed', delayMs: DAY_MS }
  const compiled = compileWindows([zscore7d, delayed])
  const zscoresAfter = (history: readonly number[], amount: number): number[] => {
    const windows = new CardWindows({
      horizonMs: 8 * DAY_MS,
      allowedLatenessMs: 0,
      valuesPerEvent: compiled.layout.valuesPerEvent,
    })
    const values = new Float64Array(compiled.layout.valuesPerEvent)
    const start = Date.UTC(2026, 0, 1)
    history.forEach((a, i) =>
      windows.add(
        'c',
        start + i * 60_000,
        compiled.layout.fill({ card_id: 'c', amount: a, eventTimeMs: start + i * 60_000 } as Transaction, values),
      ),
    )
    const tx = { card_id: 'c', amount, eventTimeMs: start + 2 * DAY_MS } as Transaction
    const row = new Float64Array(2)
    compiled.columns(windows, tx, compiled.layout.fill(tx, values), row)
    return Array.from(row)
  }
  // Ten payments of 100, then 100.01: the window holds all eleven, and the new one is √10 standard deviations out.
  assert.ok(Math.abs(zscoresAfter(Array(10).fill(100), 100.01)[0]! - Math.sqrt(10)) < 1e-6)
  assert.ok(Math.abs(zscoresAfter(Array(10).fill(1e6), 1_000_100)[0]! - Math.sqrt(10)) < 1e-6)
  // Equal amounts: exactly 0, not a rounding residue divided into astronomy; a delayed window of equal amounts too,
  // whatever the current amount.
  assert.deepEqual(zscoresAfter(Array(200).fill(0.1), 0.1), [0, 0])
  assert.deepEqual(zscoresAfter(Array(200).fill(12.34), 98_765.43)[1], 0)
})
