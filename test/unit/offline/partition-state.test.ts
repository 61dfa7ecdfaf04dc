import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pack, unpack } from 'msgpackr'
import { TransactionGenerator } from '../../../src/generator/transaction-generator.js'
import { PartitionState, type PartitionSnapshot } from '../../../src/offline/partition-state.js'
import { cardFraudFeatures } from '../../../topology/features.js'

const options = {
  features: cardFraudFeatures,
  maxRecordBytes: 65_536,
  dedupeHorizonMs: 86_400_000,
  dedupeMaxEntries: 1_000_000,
  allowedLatenessMs: 60_000,
}

test('a state restored from its msgpack snapshot computes the same vectors as the state that never stopped', () => {
  const records = Array.from(
    { length: 12_000 },
    (
      (g) => () =>
        g.next()
    )(new TransactionGenerator({ seed: 31, duplicateRate: 0.02, invalidRate: 0.01 })),
  ).filter((r) => r.topic === 'transactions')
  const uninterrupted = new PartitionState(options)
  const before = new PartitionState(options)
  const cut = 7_000
  for (const r of records.slice(0, cut)) {
    uninterrupted.process(r.value)
    before.process(r.value)
  }
  const restored = new PartitionState(options, unpack(pack(before.toSnapshot(cut))) as PartitionSnapshot)
  for (const r of records.slice(cut)) {
    const a = uninterrupted.process(r.value)
    const b = restored.process(r.value)
    assert.equal(b.kind, a.kind)
    if (a.kind === 'features' && b.kind === 'features') assert.deepEqual(Array.from(b.row), Array.from(a.row))
  }
  assert.equal(restored.windows.estimatedBytes, uninterrupted.windows.estimatedBytes)
})

test("rows written into a caller's array, side by side, equal rows of their own and touch nothing around them", () => {
  const records = Array.from(
    { length: 6_000 },
    (
      (g) => () =>
        g.next()
    )(new TransactionGenerator({ seed: 32, duplicateRate: 0.02, invalidRate: 0.01 })),
  ).filter((r) => r.topic === 'transactions')
  const own = new PartitionState(options)
  const shared = new PartitionState(options)
  const width = cardFraudFeatures.length
  // Polls of 100 records: a sentinel everywhere first, so a write outside a record's own row shows.
  for (let from = 0; from < records.length; from += 100) {
    const poll = records.slice(from, from + 100)
    const rows = new Float32Array(poll.length * width).fill(-7)
    const written = new Set<number>()
    poll.forEach((r, i) => {
      const a = own.process(r.value)
      const b = shared.process(r.value, rows, i * width)
      assert.equal(b.kind, a.kind)
      if (a.kind !== 'features' || b.kind !== 'features') return
      assert.equal(b.row, rows)
      assert.deepEqual(Array.from(rows.subarray(i * width, (i + 1) * width)), Array.from(a.row))
      written.add(i)
    })
    poll.forEach((_, i) => {
      if (!written.has(i))
        assert.ok(
          rows.subarray(i * width, (i + 1) * width).every((v) => v === -7),
          `record ${from + i}, without features, wrote into its slot`,
        )
    })
  }
})

test('the snapshot fingerprint changes with anything that changes state', () => {
  const base = PartitionState.fingerprint(options)
  assert.notEqual(PartitionState.fingerprint({ ...options, allowedLatenessMs: 1 }), base)
  assert.notEqual(PartitionState.fingerprint({ ...options, features: cardFraudFeatures.slice(1) }), base)
  assert.equal(new PartitionState(options).toSnapshot(0).fingerprint, base)
})

test("an event_time further ahead of the record's timestamp than maxEventTimeAheadMs is invalid; without a timestamp it is not checked", () => {
  const state = new PartitionState({ ...options, maxEventTimeAheadMs: 3_600_000 })
  const generator = new TransactionGenerator({ seed: 4 })
  let record = generator.next()
  while (record.topic !== 'transactions' || record.intent.kind !== 'valid') record = generator.next()
  const timeMs = record.eventTimeMs
  assert.equal(state.decode(record.value, timeMs - 3_600_000).kind, 'ok', 'exactly the bound ahead')
  const ahead = state.decode(record.value, timeMs - 3_600_001)
  assert.equal(ahead.kind === 'invalid' && ahead.reason, 'event_time_ahead')
  assert.equal(state.decode(record.value).kind, 'ok')
  assert.equal(state.decode(record.value, 0).kind, 'ok', 'no timestamp recorded')
})
