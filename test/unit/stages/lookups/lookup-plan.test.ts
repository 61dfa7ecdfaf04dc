import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode, FraudstreamError } from '../../../../src/core/errors.js'
import type { LookupFeature } from '../../../../src/stages/features/feature-definition.js'
import { lookupPlanOf } from '../../../../src/stages/lookups/lookup-plan.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const LATENESS_MS = 60_000

const lookup = (
  times: Partial<Pick<LookupFeature, 'resolutionMs' | 'spanMs' | 'delayMs' | 'labelLagMs'>>,
): LookupFeature => ({
  kind: 'lookup',
  name: 'l',
  key: 'terminal',
  aggregation: 'count',
  resolutionMs: HOUR_MS,
  spanMs: 7 * DAY_MS,
  delayMs: DAY_MS,
  labelLagMs: HOUR_MS,
  description: '',
  ...times,
})

test('lookup spans, resolutions, delays and label lags outside whole milliseconds up to 30 days are refused with the feature named', () => {
  const refused: Partial<LookupFeature>[] = [
    { spanMs: 31 * DAY_MS },
    { spanMs: 1e21, resolutionMs: 1e20 },
    { spanMs: 0 },
    { spanMs: 90_000.5, resolutionMs: 0.5 },
    { resolutionMs: 0 },
    { resolutionMs: Number.NaN },
    { delayMs: 31 * DAY_MS },
    { delayMs: 90_000.5 },
    { labelLagMs: 31 * DAY_MS },
    { labelLagMs: Number.POSITIVE_INFINITY },
  ]
  for (const times of refused) {
    assert.throws(
      () => lookupPlanOf([lookup(times)], LATENESS_MS),
      (err: Error) =>
        err instanceof FraudstreamError &&
        err.code === ErrorCode.configInvalid &&
        /^lookup feature l: (span|resolution|delay|labelLag)Ms .* whole number of milliseconds from [01] to 2592000000 \(30 days\)$/.test(
          err.message,
        ),
      JSON.stringify(times),
    )
  }
  // The bounds themselves pass; a span that is not a multiple of its resolution is refused as before.
  assert.equal(
    lookupPlanOf([lookup({ spanMs: 30 * DAY_MS, delayMs: 30 * DAY_MS, labelLagMs: 30 * DAY_MS })], LATENESS_MS).columns
      .length,
    1,
  )
  assert.equal(lookupPlanOf([lookup({ resolutionMs: 1, spanMs: 1 })], LATENESS_MS).columns.length, 1)
  assert.throws(
    () => lookupPlanOf([lookup({ spanMs: 7 * DAY_MS + 1 })], LATENESS_MS),
    /lookup feature l: spanMs \(604800001\) must be a multiple of resolutionMs \(3600000\)/,
  )
})

test('a lookup distinct_count needs a field, and only it takes one; the plan lists the fields per key kind once each', () => {
  assert.throws(
    () => lookupPlanOf([{ ...lookup({}), aggregation: 'distinct_count' }], LATENESS_MS),
    /lookup feature l: distinct_count needs a field/,
  )
  assert.throws(
    () => lookupPlanOf([{ ...lookup({}), field: 'card_id' }], LATENESS_MS),
    /lookup feature l: field is only for distinct_count/,
  )
  const cards = { ...lookup({}), aggregation: 'distinct_count', field: 'card_id' } as const
  const plan = lookupPlanOf(
    [
      cards,
      { ...cards, name: 'cards_1d', spanMs: DAY_MS },
      { ...cards, name: 'devices', field: 'device_id' },
      { ...lookup({}), key: 'merchant' },
    ],
    LATENESS_MS,
  )
  assert.deepEqual([...plan.distinctFields], [['terminal', ['card_id', 'device_id']]])
})
