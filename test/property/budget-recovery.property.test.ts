import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { pack, unpack } from 'msgpackr'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { Random } from '../../src/generator/random.js'
import { PartitionState, type PartitionSnapshot, type ProcessedRecord } from '../../src/offline/partition-state.js'
import { cardFraudFeatures } from '../../topology/features.js'

const MINUTE = 60_000
/** PartitionState checks the budget every 5,000 windowed records: this passes five checks. */
const RECORDS = 26_000
const LAST_CHECK = 25_000
/** A few hundred active cards hold ~10× this: the budget bites at every check. */
const MAX_STATE_BYTES = 48 * 1024
const options = {
  features: cardFraudFeatures,
  maxRecordBytes: 65_536,
  dedupeHorizonMs: 86_400_000,
  dedupeMaxEntries: 1_000_000,
  allowedLatenessMs: 5 * MINUTE,
  maxStateBytes: MAX_STATE_BYTES,
}

interface StreamShape {
  readonly seed: number
  /** Cards active at a time; the population slides by three times this over the stream, so old cards go idle. */
  readonly cards: number
  /** Mean gap between event times: 26,000 records span 9 to 36 days, across the 14-day horizon. */
  readonly meanStepMs: number
}

/**
 * A seeded stream of transactions: a sliding population of cards (ids of several lengths, so their bytes differ)
 * plus a few hot cards with long logs, 10 % of events out of order (some past the lateness, so late), 1 % repeated
 * transaction ids (for the dedupe state, snapshotted too). Decoded already: decode keeps no state.
 */
function stream({ seed, cards, meanStepMs }: StreamShape): Transaction[] {
  const random = new Random(seed)
  const values: Transaction[] = []
  let clockMs = Date.UTC(2026, 0, 5)
  for (let i = 0; i < RECORDS; i++) {
    if (i > 0 && random.chance(0.01)) {
      values.push(values[random.int(Math.max(0, i - 500), i - 1)]!)
      continue
    }
    clockMs += Math.round(random.exponential(meanStepMs))
    const n = random.chance(0.2)
      ? -1 - random.int(0, 9)
      : Math.floor((i * 3 * cards) / RECORDS) + random.int(0, cards - 1)
    const card = n < 0 ? `hot-${-n}` : `card-${'x'.repeat(n % 5)}${n}`
    const eventTimeMs = random.chance(0.1) ? clockMs - random.int(0, 3 * options.allowedLatenessMs) : clockMs
    const tx: Transaction = {
      transaction_id: `tx${i}`,
      card_id: card,
      customer_id: 'c',
      merchant_id: `m${random.int(1, 4)}`,
      terminal_id: `t${random.int(1, 2)}`,
      amount: random.chance(0.1) ? 0 : Math.round(random.uniform(1, 5_000) * 100) / 100,
      currency: 'EUR',
      mcc: random.pick(['5411', '5999', '7995']),
      country: random.chance(0.1) ? 'DE' : 'FR',
      card_country: 'FR',
      channel: random.chance(0.3) ? 'ecom' : 'pos',
      event_time: eventTimeMs,
      eventTimeMs,
      ...(random.chance(0.5) ? { device_id: `d${random.int(1, 3)}` } : {}),
    }
    values.push(tx)
  }
  return values
}

/** Whether two records came out the same: kind, transaction, lateness and every feature bit for bit (NaN included). */
function same(a: ProcessedRecord, b: ProcessedRecord): boolean {
  if (a.kind !== b.kind) return false
  if (a.kind === 'invalid' || b.kind === 'invalid') return false
  if (a.tx.transaction_id !== b.tx.transaction_id) return false
  if (a.kind === 'duplicate' || b.kind === 'duplicate') return true
  return a.late === b.late && a.row.length === b.row.length && a.row.every((v, j) => Object.is(v, b.row[j]))
}

const describe = (r: ProcessedRecord) =>
  r.kind === 'features' ? JSON.stringify({ late: r.late, row: Array.from(r.row, String) }) : r.kind

test('under a byte budget that bites, a state snapshotted through msgpack and restored at any points gives the same rows, lateness and budget evictions as one that never stopped', () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer(),
        cards: fc.integer({ min: 200, max: 1_500 }),
        meanStepMs: fc.constantFrom(MINUTE / 2, MINUTE, 2 * MINUTE),
      }),
      // Restores after so many windowed records (PartitionState's count): anywhere before the last budget check, so a
      // restored state always meets one, and right before and after a check.
      fc.uniqueArray(
        fc.oneof(fc.integer({ min: 1, max: LAST_CHECK - 1 }), fc.constantFrom(4_999, 5_000, 5_001, 20_000, 20_001)),
        { minLength: 1, maxLength: 5 },
      ),
      (shape, restoreAt) => {
        const uninterrupted = new PartitionState(options)
        let restored = new PartitionState(options)
        let restoredEvictions = 0
        const restores = new Set(restoreAt)
        let windowed = 0
        let duplicates = 0
        for (const [i, tx] of stream(shape).entries()) {
          if (restores.delete(windowed)) {
            restoredEvictions += restored.budgetEvictions
            // As the job stores it: msgpackr bytes, loaded into a new state.
            restored = new PartitionState(options, unpack(pack(restored.toSnapshot(i))) as PartitionSnapshot)
            assert.equal(
              restored.estimatedBytes,
              uninterrupted.estimatedBytes,
              `estimate right after the restore at ${i}`,
            )
          }
          const want = uninterrupted.processDecoded({ kind: 'ok', tx })
          const got = restored.processDecoded({ kind: 'ok', tx })
          if (!same(got, want))
            assert.fail(
              `record ${i}, ${tx.transaction_id} (restores after ${restoreAt.join(', ')} windowed records): ${describe(got)} vs ${describe(want)}`,
            )
          if (want.kind === 'features') windowed++
          else if (want.kind === 'duplicate') duplicates++
        }
        restoredEvictions += restored.budgetEvictions
        assert.deepEqual([...restores], [], 'every restore happened')
        assert.ok(uninterrupted.budgetEvictions > 0, 'the budget bit')
        assert.ok(
          uninterrupted.windows.lateEvents > 0 && duplicates > 0,
          'late events and duplicates were in the stream',
        )
        assert.ok(restored.budgetEvictions > 0, 'the budget bit after the last restore too')
        assert.equal(restoredEvictions, uninterrupted.budgetEvictions, 'budget evictions over the restored states')
        assert.equal(restored.windows.lateEvents, uninterrupted.windows.lateEvents)
        assert.equal(restored.windows.cardCount, uninterrupted.windows.cardCount)
        assert.equal(restored.estimatedBytes, uninterrupted.estimatedBytes)
      },
    ),
    // The failing record and rows in the report, not only the shrunk stream shape.
    { numRuns: 10, includeErrorInReport: true },
  )
})
