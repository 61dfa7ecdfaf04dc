import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeadLetterReason } from '../../src/core/records.js'
import {
  TransactionGenerator,
  type GeneratedRecord,
  type InvalidKind,
} from '../../src/generator/transaction-generator.js'
import { describeTopology } from '../../src/core/topology.js'
import { partitionOf } from '../../src/adapters/kafka/partitioner.js'
import { SIMPLE_FEATURES, cardFraudDriver, transactionRecord, type ScoreFn } from '../helpers/card-fraud-driver.js'

function transactions(
  seed: number,
  count: number,
  rates: { invalidRate?: number; duplicateRate?: number } = {},
): GeneratedRecord[] {
  const generator = new TransactionGenerator({ seed, ...rates })
  const records: GeneratedRecord[] = []
  while (records.length < count) {
    const record = generator.next()
    if (record.topic === 'transactions') records.push(record)
  }
  return records
}

/** Until the lookup tables have caught up with every partition's watermark and everything piped is decided. */
async function untilDecided(
  driver: Awaited<ReturnType<typeof cardFraudDriver>>['driver'],
  expected: number,
): Promise<void> {
  for (let step = 0; step < 100 && driver.stats.scored < expected; step++) await driver.advance(100)
}

const INVALID_REASON: Record<InvalidKind, DeadLetterReason> = {
  malformed: DeadLetterReason.malformed,
  missing_field: DeadLetterReason.missingField,
  wrong_type: DeadLetterReason.wrongType,
  unknown_enum: DeadLetterReason.unknownEnum,
  pan_in_card_id: DeadLetterReason.panInCardId,
  empty: DeadLetterReason.empty,
}

test('one decision per valid unique transaction, every invalid one dead-lettered with its reason, duplicates dropped, offsets committed to the end', async () => {
  const { driver, pipe, decisions, deadLetters, scores, graph } = await cardFraudDriver()
  const records = transactions(7, 3_000, { invalidRate: 0.03, duplicateRate: 0.03 })
  await pipe(records)
  const valid = records.filter((r) => r.intent.kind === 'valid')
  await untilDecided(driver, valid.length)
  await driver.close()

  const decided = decisions()
  assert.equal(decided.length, valid.length)
  assert.deepEqual(
    new Set(decided.map((d) => d.transaction_id)),
    new Set(valid.map((r) => (r.intent as { transactionId: string }).transactionId)),
  )
  assert.equal(scores.rows.length, valid.length)

  const invalid = records.filter((r) => r.intent.kind === 'invalid')
  assert.ok(invalid.length > 30)
  assert.deepEqual(
    deadLetters()
      .map((l) => `${l.stage}:${l.reason}`)
      .sort(),
    invalid.map((r) => `decode:${INVALID_REASON[(r.intent as { invalid: InvalidKind }).invalid]}`).sort(),
  )
  assert.equal(driver.stats.invalid, invalid.length)
  assert.equal(driver.stats.duplicates, records.filter((r) => r.intent.kind === 'duplicate').length)
  for (let p = 0; p < 2; p++)
    assert.equal(
      driver.source.committedOffset(p),
      records.filter((r) => partitionOf(r.key ?? '', 2, 'murmur2') === p && r.key !== null).length +
        (p === 0 ? records.filter((r) => r.key === null).length : 0),
      `partition ${p} committed to its end`,
    )
  assert.match(describeTopology(graph.topology), /lookups/)
})

test("each decision's score is the model run on the feature row logged for it", async () => {
  const { driver, pipe, decisions, scores, graph, model } = await cardFraudDriver()
  const records = transactions(11, 2_000)
  await pipe(records)
  await untilDecided(driver, 2_000)
  await driver.close()
  const names = graph.features.map((f) => f.name)
  const scoreOf = new Map(decisions().map((d) => [d.transaction_id, d.score]))
  assert.equal(scores.rows.length, 2_000)
  let distinctScores = new Set<number>()
  for (const { row } of scores.rows) {
    const features = row.features as Record<string, number>
    const logged = Float32Array.from(names, (name) => features[name]!)
    const expected = Math.fround(model(logged))
    assert.equal(
      scoreOf.get(row.transaction_id as string),
      expected,
      `${row.transaction_id as string}: the decision's score is the model on its logged row`,
    )
    assert.equal(row.score, expected)
    distinctScores.add(expected)
  }
  // Scores swapped between transactions would fail above only if rows differ: they do, nearly all.
  assert.ok(distinctScores.size > 1_500, `${distinctScores.size} distinct scores`)
  distinctScores = new Set()
})

const tx = transactionRecord

test('thresholds decide at their boundaries: review from exactly review, decline (with an alert) from exactly decline', async () => {
  const amountModel: ScoreFn = (row) => row[0]! / 1_000
  const { driver, decisions, alerts } = await cardFraudDriver({
    features: SIMPLE_FEATURES,
    model: amountModel,
    overrides: { 'thresholds.review': 0.5, 'thresholds.decline': 0.75 },
  })
  const t0 = Date.UTC(2026, 0, 5)
  const amounts = [0, 499.99, 500, 749.99, 750, 1_000]
  await driver.pipe(amounts.map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: t0 + i * 1_000 })))
  await driver.advance(10)
  await driver.close()
  assert.deepEqual(
    decisions().map((d) => d.decision),
    ['approve', 'approve', 'review', 'review', 'decline', 'decline'],
  )
  assert.deepEqual(
    alerts().map((a) => a.transaction_id),
    ['tx-4', 'tx-5'],
  )
})

test('late transactions are scored with the state as it is, counted, and change no later result', async () => {
  const { driver, decisions, scores } = await cardFraudDriver({
    features: SIMPLE_FEATURES,
    overrides: { 'windows.allowedLatenessMs': 60_000 },
  })
  const t0 = Date.UTC(2026, 0, 5, 12)
  // Three on time, one late (before the watermark: it counts itself only), then one on time that must not count it.
  await driver.pipe([
    tx('a', { eventTimeMs: t0 }),
    tx('b', { eventTimeMs: t0 + 60_000 }),
    tx('c', { eventTimeMs: t0 + 7_200_000 }),
    tx('late', { eventTimeMs: t0 + 3_000_000 }),
    tx('d', { eventTimeMs: t0 + 7_260_000 }),
  ])
  await driver.advance(10)
  await driver.close()
  assert.equal(driver.stats.late, 1)
  const count = new Map(
    scores.rows.map(({ row }) => [row.transaction_id, (row.features as Record<string, number>).card_count_1h]),
  )
  assert.deepEqual(Object.fromEntries(count), { a: 1, b: 2, c: 1, late: 1, d: 2 })
  assert.equal(scores.rows.find(({ row }) => row.transaction_id === 'late')!.row.late, true)
  assert.equal(decisions().length, 5)
})

test('a user feature set runs without editing the package: no lookup node when no feature reads a table', async () => {
  const { driver, graph, scores } = await cardFraudDriver({ features: SIMPLE_FEATURES })
  assert.deepEqual(
    graph.topology.nodes.map((n) => n.name),
    ['decode', 'dedupe', 'card-windows', 'pre-rules', 'score', 'decide', 'decisions', 'alerts', 'scores'],
  )
  await driver.pipe([tx('a', { amount: 5, eventTimeMs: Date.UTC(2026, 0, 5) })])
  await driver.advance(10)
  await driver.close()
  assert.deepEqual(scores.rows[0]!.row.features, { amount: 5, card_count_1h: 1 })
})
