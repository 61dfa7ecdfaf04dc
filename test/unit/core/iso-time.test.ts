import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isoTimeMs } from '../../../src/core/iso-time.js'
import { isTimeValue } from '../../../src/core/transaction-v1.js'

/** The last millisecond a four-digit year can write (the first, 0000-01-01, is set below: Date.UTC maps 0 to 1900). */
const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

test('isoTimeMs reads every toISOString time of a four-digit year as Date.parse does', () => {
  const first = new Date(0)
  first.setUTCFullYear(0, 0, 1)
  assert.equal(first.toISOString(), '0000-01-01T00:00:00.000Z')
  fc.assert(
    fc.property(fc.integer({ min: first.getTime(), max: LAST_MS }), (ms) => {
      const time = new Date(ms).toISOString()
      assert.ok(isTimeValue(time), time)
      assert.equal(isoTimeMs(time), Date.parse(time), time)
      assert.equal(isoTimeMs(time), ms, time)
    }),
    { numRuns: 20_000 },
  )
})

/** Checked times (isTimeValue), each read as Date.parse reads it. */
function assertReadAsDateParse(times: readonly string[]): void {
  for (const time of times) {
    assert.ok(isTimeValue(time), time)
    assert.equal(isoTimeMs(time), Date.parse(time), time)
    assert.ok(Number.isFinite(isoTimeMs(time)), time)
  }
}

test('isoTimeMs at the edges of days, months, leap years and centuries', () => {
  assertReadAsDateParse([
    '1970-01-01T00:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
    '2000-02-29T12:00:00.500Z',
    '2024-02-29T23:59:59.999Z',
    '2100-02-28T23:59:59.999Z',
    '2100-03-01T00:00:00.000Z',
    '1600-02-29T00:00:00.001Z',
    '0000-03-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
  ])
})

test('isoTimeMs leaves other layouts of a checked time to Date.parse', () => {
  assertReadAsDateParse([
    '2026-01-05T00:00:18Z',
    '2026-01-05T00:00:18.5Z',
    '2026-01-05T00:00:18.57Z',
    '2026-01-05T00:00:18.574123Z',
    '2026-01-05T01:00:18.574+01:00',
    '2026-01-05T00:00:18.574-05:30',
  ])
})
