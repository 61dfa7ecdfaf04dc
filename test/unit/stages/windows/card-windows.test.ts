import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../../../src/core/transaction-v1.js'
import type { FeatureDefinition } from '../../../../src/stages/features/feature-definition.js'
import { cardFraudFeatures } from '../../../../topology/features.js'
import { CardWindows, countAtOrBefore, LOG_HEADER } from '../../../../src/stages/windows/card-windows.js'
import { compileWindows } from '../../../../src/stages/windows/compile-windows.js'
import { DistinctCodes } from '../../../../src/stages/windows/distinct-set.js'
import { hash52 } from '../../../../src/stages/windows/window-groups.js'

const MINUTE = 60_000

test('distinct counts stay exact past the small-array fast path (a card seen at hundreds of merchants)', () => {
  const spans = [MINUTE, 10 * MINUTE, 30 * MINUTE, 60 * MINUTE]
  const definitions = spans.map((spanMs): FeatureDefinition => ({
    kind: 'window',
    name: `merchants_${spanMs}`,
    key: 'card',
    aggregation: 'distinct_count',
    field: 'merchant_id',
    spanMs,
    description: '',
  }))
  const { columns, layout } = compileWindows(definitions)
  assert.equal(layout.valuesPerEvent, 2, 'amount and the merchant hash')
  const windows = new CardWindows({
    horizonMs: 60 * MINUTE,
    allowedLatenessMs: 0,
    valuesPerEvent: layout.valuesPerEvent,
  })
  const values: number[] = []
  for (let i = 0; i < 300; i++) {
    // 150 distinct values, each twice, 10 s apart.
    const value = i % 150
    values.push(value)
    windows.add('card', i * 10_000, [1, value])
  }
  const atMs = 299 * 10_000
  const row = new Float64Array(spans.length)
  columns(windows, { card_id: 'card', eventTimeMs: atMs, amount: 1 } as Transaction, Float64Array.of(1, 1_000), row)
  const expected = spans.map((span) => new Set([1_000, ...values.filter((_, i) => atMs - i * 10_000 < span)]).size)
  assert.deepEqual(Array.from(row), expected)
  assert.ok(expected.at(-1)! > 64, 'the case crosses the fast-path bound')
  columns(windows, { card_id: 'unknown', eventTimeMs: atMs, amount: 1 } as Transaction, Float64Array.of(1, NaN), row)
  assert.deepEqual(Array.from(row), [0, 0, 0, 0], 'a transaction without the field does not count itself')
})

test('the codes column keeps country, mcc and channel exactly, and the abroad and card-not-present flags', () => {
  const fields = ['country', 'mcc', 'currency', 'channel'] as const
  const definitions = fields.map((field): FeatureDefinition => ({
    kind: 'window',
    name: field,
    key: 'card',
    aggregation: 'distinct_count',
    field,
    spanMs: MINUTE,
    description: '',
  }))
  const { columns, layout } = compileWindows(definitions)
  assert.equal(layout.valuesPerEvent, 3, 'the amount, a currency hash and one codes column for three fields')
  const base = {
    card_id: 'c',
    amount: 1,
    country: 'ZW',
    card_country: 'ZW',
    mcc: '9999',
    currency: 'ZWL',
    channel: 'moto',
    eventTimeMs: 0,
  } as Transaction
  const windows = new CardWindows({ horizonMs: MINUTE, allowedLatenessMs: 0, valuesPerEvent: layout.valuesPerEvent })
  const values = new Float64Array(layout.valuesPerEvent)
  // Each field once at its largest value, then a second event differing in every field: each count must be 2.
  windows.add('c', 0, layout.fill(base, values))
  windows.add(
    'c',
    1,
    layout.fill(
      { ...base, country: 'AA', card_country: 'AA', mcc: '0000', currency: 'AAA', channel: 'pos' } as Transaction,
      values,
    ),
  )
  const row = new Float64Array(fields.length)
  columns(windows, { ...base, eventTimeMs: 2 } as Transaction, layout.fill(base, values), row)
  assert.deepEqual(Array.from(row), [2, 2, 2, 2])
  // The flags live in the same column: a filter reads them without a column of its own.
  const abroad: FeatureDefinition[] = [
    {
      kind: 'window',
      name: 'abroad',
      key: 'card',
      filter: 'abroad',
      aggregation: 'count',
      spanMs: MINUTE,
      description: '',
    },
    {
      kind: 'window',
      name: 'cnp',
      key: 'card',
      filter: 'card_not_present',
      aggregation: 'count',
      spanMs: MINUTE,
      description: '',
    },
  ]
  const flagsCompiled = compileWindows(abroad)
  const flagsLayout = flagsCompiled.layout
  const flagged = new CardWindows({
    horizonMs: MINUTE,
    allowedLatenessMs: 0,
    valuesPerEvent: flagsLayout.valuesPerEvent,
  })
  const flagValues = new Float64Array(flagsLayout.valuesPerEvent)
  flagged.add(
    'c',
    0,
    flagsLayout.fill({ ...base, country: 'FR', card_country: 'DE', channel: 'pos' } as Transaction, flagValues),
  )
  flagged.add('c', 1, flagsLayout.fill({ ...base, channel: 'ecom' } as Transaction, flagValues))
  const flagRow = new Float64Array(2)
  flagsCompiled.columns(
    flagged,
    { ...base, eventTimeMs: 2 } as Transaction,
    flagsLayout.fill(base, flagValues),
    flagRow,
  )
  assert.deepEqual(Array.from(flagRow), [1, 2], 'one event abroad; ecom and the current moto are card-not-present')
})

test('a codes word of up to 13 bits shares the column of a required hashed field, and both read back exactly', () => {
  // The default features: the flags and country (12 bits) under a 41-bit merchant hash, one column for both.
  const { layout } = compileWindows(cardFraudFeatures)
  assert.equal(layout.valuesPerEvent, 2, 'the amount and the merchant column')
  assert.equal(layout.signature, 'merchant_id/41+codes(flags+country)')
  const tx = {
    card_id: 'c',
    amount: 1,
    merchant_id: 'merchant-with-a-long-id',
    country: 'ZZ',
    card_country: 'FR',
    channel: 'moto',
    mcc: '5411',
    eventTimeMs: 0,
  } as Transaction
  const column = layout.fill(tx, new Float64Array(layout.valuesPerEvent))[1]!
  const country = layout.reader('country')
  assert.equal((column >>> country.shift) & country.mask, 25 * 26 + 25, 'ZZ, the largest country code')
  assert.equal(column & 3, 3, 'abroad and card-not-present')
  const merchant = layout.reader('merchant_id')
  assert.equal(merchant.codeBits, 12)
  assert.equal(
    column - (column & 4095),
    Math.floor(hash52(tx.merchant_id) / 2 ** 11) * 2 ** 12,
    'the top 41 bits of the hash, exact',
  )
  assert.ok(column < 2 ** 53)
  // An optional field cannot carry the codes (an absent one is NaN): a device count with a filter keeps a codes column.
  const devices: FeatureDefinition = {
    kind: 'window',
    name: 'd',
    key: 'card',
    filter: 'abroad',
    aggregation: 'distinct_count',
    field: 'device_id',
    spanMs: MINUTE,
    description: '',
  }
  assert.equal(compileWindows([devices]).layout.signature, 'device_id,codes(flags)')
  const merchants: FeatureDefinition = {
    kind: 'window',
    name: 'm',
    key: 'card+merchant',
    aggregation: 'count',
    spanMs: MINUTE,
    description: '',
  }
  assert.equal(
    compileWindows([devices, merchants]).layout.signature,
    'device_id,merchant_id/51+codes(flags)',
    'the flags alone (2 bits) leave a 51-bit hash',
  )
})

test('the generated feature-row code embeds numbers and fixed identifiers, never a name or string of the definitions', () => {
  const injected: FeatureDefinition = {
    kind: 'window',
    name: "x'); process.exit(1); ('",
    key: 'card',
    aggregation: 'count',
    spanMs: MINUTE,
    description: '`${process.exit(1)}`',
  }
  const definitions = [...cardFraudFeatures, injected]
  const { source } = compileWindows(definitions)
  assert.ok(!source.includes(injected.name) && !source.includes(injected.description))
  assert.doesNotMatch(source, /['"`]/, 'no string literal at all')
})

test('distinct codes: a value seen before the stamps wrap around is unseen after it', () => {
  const codes = new DistinctCodes(8, 3)
  const seenIn = (stamp: number, value: number) => codes.seen[value] === stamp
  let stamp = codes.nextStamp()
  codes.seen[5] = stamp
  for (let pass = 0; pass < 3; pass++) {
    stamp = codes.nextStamp()
    assert.equal(seenIn(stamp, 5), false, `pass ${pass + 2} (stamp ${stamp})`)
  }
})

test('cards found by a warm call are still found after idle eviction and table growth moved table entries', () => {
  const options = { horizonMs: MINUTE, allowedLatenessMs: 2 * MINUTE, tableBits: 2 }
  const warmed = new CardWindows(options)
  const plain = new CardWindows(options)
  const ids = Array.from({ length: 60 }, (_, i) => `card-${i}`)
  // Odd cards are idle once the clock card moves the watermark; even cards stay active.
  for (const windows of [warmed, plain]) ids.forEach((id, i) => windows.add(id, i % 2 === 1 ? 0 : 2 * MINUTE, [i]))
  for (const windows of [warmed, plain]) windows.add('clock', 3.5 * MINUTE, [0])
  const records = ids.filter((_, i) => i % 2 === 0).map((card_id) => ({ card_id }))
  warmed.warm(records)
  // Backward-shift deletion of 30 idle cards moves the entries after them in their probe runs.
  assert.equal(warmed.evictIdle(), 30)
  assert.equal(plain.evictIdle(), 30)
  records.forEach(({ card_id }, i) =>
    assert.deepEqual(warmed.logOf(card_id), plain.logOf(card_id), `${card_id} (${i}) after eviction`),
  )
  // New cards grow the table: every entry gets a new slot.
  warmed.warm(records)
  for (let i = 0; i < 200; i++) for (const windows of [warmed, plain]) windows.add(`new-${i}`, 3.5 * MINUTE, [i])
  records.forEach(({ card_id }) =>
    assert.deepEqual(warmed.logOf(card_id), plain.logOf(card_id), `${card_id} after growth`),
  )
})

test('after mass eviction the card table shrinks, and the cards left are found with their logs, warmed or not', () => {
  const windows = new CardWindows({ horizonMs: MINUTE, allowedLatenessMs: 0, tableBits: 4 })
  for (let i = 0; i < 5_000; i++) windows.add(`peak-${i}`, 0, [i])
  for (let i = 0; i < 20; i++) windows.add(`steady-${i}`, 2 * MINUTE, [i])
  assert.equal(windows.tableSlots, 16_384)
  windows.warm(Array.from({ length: 20 }, (_, i) => ({ card_id: `steady-${i}` })))
  assert.equal(windows.evictIdle(), 5_000)
  assert.ok(windows.tableSlots <= 256, `${windows.tableSlots} table slots for 20 cards`)
  for (let i = 0; i < 20; i++) assert.deepEqual(windows.logOf(`steady-${i}`)?.slice(-2), [2 * MINUTE, i])
  assert.equal(windows.logOf('peak-0'), undefined)
  windows.add('after', 2 * MINUTE, [7])
  assert.equal(windows.cardCount, 21)
})

test('a warmed card with a long log (only its first lines are loaded) is found and read like any other', () => {
  const warmed = new CardWindows({ horizonMs: 60 * MINUTE, allowedLatenessMs: 0 })
  const plain = new CardWindows({ horizonMs: 60 * MINUTE, allowedLatenessMs: 0 })
  for (const windows of [warmed, plain]) {
    // 600 events: a block of over 1,200 slots, far past the lines warm loads of one block.
    for (let i = 0; i < 600; i++) windows.add(i % 3 === 0 ? 'hot' : `card-${i % 7}`, i * 1_000, [i])
  }
  const records = ['card-1', 'hot', 'card-2', 'hot'].map((card_id) => ({ card_id }))
  warmed.warm(records)
  for (const { card_id } of records) assert.deepEqual(warmed.logOf(card_id), plain.logOf(card_id))
  assert.equal(warmed.logOf('hot')!.length, 2 + 2 * 200)
})

test('warm finds cards whose 32-bit id hash another card shares, and knows an absent card from a present one with its hash', () => {
  // Found by search: each pair has one CardKey hash.
  const [first, second] = ['c1095', 'c8060']
  const [present, absent] = ['c1094', 'c8061']
  const warmed = new CardWindows({ horizonMs: 60 * MINUTE, allowedLatenessMs: 0, tableBits: 2 })
  const plain = new CardWindows({ horizonMs: 60 * MINUTE, allowedLatenessMs: 0, tableBits: 2 })
  for (const windows of [warmed, plain])
    [first, second, present].forEach((id, i) => windows.add(id, i * 1_000, [i + 1]))
  const records = [second, absent, first, present].map((card_id) => ({ card_id }))
  warmed.warm(records)
  for (const { card_id } of records) assert.deepEqual(warmed.logOf(card_id), plain.logOf(card_id), card_id)
  assert.equal(warmed.logOf(absent), undefined)
  assert.deepEqual(warmed.logOf(second)!.slice(-2), [1_000, 2])
  // The absent card arrives after the warm call: it is found, not mistaken for its hash's other card.
  warmed.warm(records)
  for (const windows of [warmed, plain]) windows.add(absent, 5_000, [9])
  for (const { card_id } of records)
    assert.deepEqual(warmed.logOf(card_id), plain.logOf(card_id), `${card_id} after the add`)
})

test('after a compaction that moves more blocks than one batch of table updates, every card is found with its log', () => {
  const options = { horizonMs: MINUTE, allowedLatenessMs: 2 * MINUTE }
  // 1,024-slot pages hold ~80 one-event logs: evacuating four half-empty pages moves ~160 blocks in one call.
  const small = new CardWindows({ ...options, pageBits: 10 })
  const plain = new CardWindows(options)
  const ids = Array.from({ length: 2_000 }, (_, i) => `card-${i}`)
  for (const windows of [small, plain]) {
    ids.forEach((id, i) => windows.add(id, i % 2 === 1 ? 0 : 2 * MINUTE, [i]))
    windows.add('clock', 3.5 * MINUTE, [0])
  }
  assert.equal(small.evictIdle(), 1_000)
  assert.equal(plain.evictIdle(), 1_000)
  // More calls evacuate more pages; the table must follow every move.
  for (let i = 0; i < 5; i++) small.evictIdle()
  ids.forEach((id) => assert.deepEqual(small.logOf(id), plain.logOf(id), id))
  assert.equal(small.cardCount, plain.cardCount)
})

test('countAtOrBefore equals a count of every event time, wherever the bound falls among time-only and full events', () => {
  const stride = 3
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }),
      fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 12 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: -2, max: 85 }),
      (timeOnly, full, offset, timeMs) => {
        const times = [...timeOnly].sort((a, b) => a - b)
        // Time-only events are the oldest: full events are at or after the newest of them.
        const fullTimes = full.map((t) => t + (times.at(-1) ?? 0)).sort((a, b) => a - b)
        // A log at `offset` of its page: [used, n, times…, then full events of `stride` numbers].
        const log = [
          LOG_HEADER + times.length + stride * fullTimes.length,
          times.length,
          ...times,
          ...fullTimes.flatMap((t) => [t, -1, -1]),
        ]
        const page = Float64Array.from([...Array.from({ length: offset }, () => -7), ...log, 99, 99])
        const expected = [...times, ...fullTimes].filter((t) => t <= timeMs).length
        assert.equal(countAtOrBefore(page, offset, stride, timeMs), expected)
      },
    ),
    { numRuns: 3_000 },
  )
})
