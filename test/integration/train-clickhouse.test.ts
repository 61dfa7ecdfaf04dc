import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { clickhouseTime } from '../../src/adapters/clickhouse/drift-queries.js'
import { syncFeatureColumns } from '../../src/adapters/clickhouse/feature-columns.js'
import { migrate } from '../../src/adapters/clickhouse/migrate.js'
import type { Config } from '../../src/config/schema.js'
import { Random } from '../../src/generator/random.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { clickhouseTrainingSet } from '../../src/training/clickhouse-training-set.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const DAY_MS = 24 * 60 * 60 * 1000
const START_MS = Date.UTC(2026, 0, 5)
const CUTOFF_MS = Date.UTC(2026, 0, 16)
const MATURITY_DAYS = 3
const CONTRACT = featureContractHash(cardFraudFeatures)
const NAMES = cardFraudFeatures.map((f) => f.name)

async function withClient<T>(config: Config, body: (client: ClickHouseClient) => Promise<T>): Promise<T> {
  const client = await createClickhouseClient(config)
  try {
    await migrate(client)
    await syncFeatureColumns(client, NAMES)
    return await body(client)
  } finally {
    await client.close()
  }
}

type Outcome = 'fraud' | 'labelled_legitimate' | 'unlabelled_legitimate' | 'unlabelled_dropped'
const targetOf = (o: Outcome | undefined) =>
  o === 'fraud' ? true : o === 'labelled_legitimate' || o === 'unlabelled_legitimate' ? false : undefined

interface Seeded {
  scores: Record<string, unknown>[]
  labels: Record<string, unknown>[]
  /** How each live transaction should be labelled at the cutoff. */
  expected: Map<string, Outcome>
  /** Each live transaction's features as inserted (Float32). */
  features: Map<string, Float32Array>
}

/**
 * Ten days of live scores on the current contract, with labels that exercise the cutoff: most frauds reported two
 * days after the event; one fraud reported only after the cutoff; one transaction labelled legitimate then fraud
 * (both by the cutoff); one labelled fraud then legitimate after the cutoff. Plus rows that must not be read: a
 * shadow model's row of the same transaction, and another run's rows.
 */
function seed(): Seeded {
  const random = new Random(3)
  const scores: Record<string, unknown>[] = []
  const labels: Record<string, unknown>[] = []
  const expected = new Map<string, Outcome>()
  const features = new Map<string, Float32Array>()
  let offset = 0
  const label = (txId: string, isFraud: boolean, reportedAtMs: number) =>
    labels.push({
      transaction_id: txId,
      card_id: 'c',
      is_fraud: isFraud,
      source: 'chargeback',
      reported_at: clickhouseTime(reportedAtMs),
      known_at: clickhouseTime(reportedAtMs),
      source_topic: 'labels',
      source_partition: 0,
      source_offset: offset++,
      run_id: 'live',
    })
  const n = 3_000
  for (let i = 0; i < n; i++) {
    const id = `tx-${String(i).padStart(5, '0')}`
    const eventTimeMs = START_MS + Math.floor((i / n) * 10 * DAY_MS)
    const fraud = random.chance(0.05)
    const amount = Math.round(random.logNormal(fraud ? 300 : 40, 0.5) * 100) / 100
    const row = Float32Array.from(NAMES, (name, k) =>
      name === 'amount' ? amount : name === 'is_abroad' ? (fraud && random.chance(0.7) ? 1 : 0) : random.next() * k,
    )
    features.set(id, row)
    const base = {
      transaction_id: id,
      card_id: `card-${random.int(1, 200)}`,
      amount,
      event_time: clickhouseTime(eventTimeMs),
      decided_at: clickhouseTime(eventTimeMs + 5),
      score: 0.5,
      decision: 'approve',
      model_name: 'card-fraud-gbdt',
      model_version: '1',
      feature_contract: CONTRACT,
      run_id: 'live',
      ...Object.fromEntries(NAMES.map((name, k) => [`f_${name}`, row[k]])),
    }
    scores.push(base)
    const mature = eventTimeMs <= CUTOFF_MS - MATURITY_DAYS * DAY_MS
    const unlabelled: Outcome = mature ? 'unlabelled_legitimate' : 'unlabelled_dropped'
    if (i === 100) {
      // A fraud reported after the cutoff: unknown then, and old, so legitimate.
      label(id, true, CUTOFF_MS + 1)
      expected.set(id, 'unlabelled_legitimate')
    } else if (i === 101) {
      label(id, false, eventTimeMs + DAY_MS)
      label(id, true, eventTimeMs + 2 * DAY_MS)
      expected.set(id, 'fraud')
    } else if (i === 102) {
      label(id, true, eventTimeMs + DAY_MS)
      label(id, false, CUTOFF_MS + DAY_MS)
      expected.set(id, 'fraud')
    } else if (fraud) {
      const reportedAtMs = eventTimeMs + 2 * DAY_MS
      label(id, true, reportedAtMs)
      expected.set(id, reportedAtMs <= CUTOFF_MS ? 'fraud' : unlabelled)
    } else if (i % 10 === 0) {
      const reportedAtMs = eventTimeMs + DAY_MS
      label(id, false, reportedAtMs)
      expected.set(id, reportedAtMs <= CUTOFF_MS ? 'labelled_legitimate' : unlabelled)
    } else expected.set(id, unlabelled)
    // A shadow's score of the same transaction (same features) and a replay's: neither adds a row.
    if (i % 7 === 0) scores.push({ ...base, model_name: 'card-fraud-shadow', score: 0.9 })
    if (i % 5 === 0) scores.push({ ...base, run_id: 'replay-1', transaction_id: `replay-${id}` })
  }
  return { scores, labels, expected, features }
}

test('train --from-clickhouse reads the logged feature rows labelled at the cutoff: later labels unused, recent unlabelled rows left out', async (t) => {
  const { config, dataDir, cleanup } = testConfig({ 'analytics.labelMaturityDays': MATURITY_DAYS })
  teardown(t, cleanup)
  const seeded = seed()
  const window = { fromMs: START_MS, toMs: START_MS + 11 * DAY_MS }
  const set = await withClient(config, async (client) => {
    await client.insert({ table: 'scores', values: seeded.scores, format: 'JSONEachRow' })
    await client.insert({ table: 'labels', values: seeded.labels, format: 'JSONEachRow' })
    return clickhouseTrainingSet({
      client,
      features: cardFraudFeatures,
      runId: 'live',
      ...window,
      labelCutoffMs: CUTOFF_MS,
      labelMaturityDays: MATURITY_DAYS,
    })
  })
  const kept = [...seeded.expected].filter(([, outcome]) => targetOf(outcome) !== undefined)
  assert.equal(set.rows.length, kept.length, 'one row per kept live transaction')
  const count = (outcome: Outcome) => [...seeded.expected.values()].filter((o) => o === outcome).length
  assert.ok(count('unlabelled_dropped') > 0 && count('unlabelled_legitimate') > 0 && count('fraud') > 50)
  assert.deepEqual(set.source.kind === 'clickhouse' && set.source.labels_used, {
    rows_read: seeded.expected.size,
    fraud: count('fraud'),
    labelled_legitimate: count('labelled_legitimate'),
    unlabelled_legitimate: count('unlabelled_legitimate'),
    unlabelled_dropped: count('unlabelled_dropped'),
  })
  // Row by row: the target and the features as logged, in event-time order.
  const ids = kept.map(([id]) => id)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!
    assert.equal(set.labels[i], targetOf(seeded.expected.get(id)), id)
    assert.deepEqual(set.rows[i], seeded.features.get(id), `${id}: features round-trip as Float32`)
  }
  assert.equal(set.labels[ids.indexOf('tx-00100')], false, 'a fraud reported after the cutoff is not used')
  assert.equal(set.labels[ids.indexOf('tx-00101')], true, 'the latest label by the cutoff wins')
  assert.equal(set.labels[ids.indexOf('tx-00102')], true, 'a correction after the cutoff is not used')
  assert.deepEqual(
    set.amounts.slice(0, 3),
    ids.slice(0, 3).map((id) => seeded.scores.find((s) => s.transaction_id === id)!.amount),
    'the raw amount is carried beside the row',
  )
  assert.ok(set.eventTimesMs.every((ms, i) => i === 0 || set.eventTimesMs[i - 1]! <= ms))

  // The CLI on the same data: a package whose manifest records the labels used and the cost-chosen thresholds.
  const modelsDir = mkdtempSync(join(tmpdir(), 'fs-models-'))
  teardown(t, () => rmSync(modelsDir, { recursive: true, force: true }))
  const { stdout } = await run(
    process.execPath,
    [
      BIN,
      'train',
      '--from-clickhouse',
      '--from',
      '2026-01-05',
      '--to',
      '2026-01-16',
      '--label-cutoff',
      '2026-01-16T00:00:00Z',
      '--maturity-days',
      String(MATURITY_DAYS),
      '--kind',
      'gbdt',
      '--rounds',
      '20',
      '--name',
      'from-ch',
      '--data-dir',
      dataDir,
      '--models-dir',
      modelsDir,
      '--json',
    ],
    { maxBuffer: 64 << 20 },
  )
  const result = JSON.parse(stdout) as {
    ok: boolean
    source: { kind: string; labels_used: unknown }
    report: { split: { train: { rows: number }; validation: { rows: number }; test: { rows: number } } }
  }
  assert.equal(result.ok, true)
  assert.deepEqual(result.source.labels_used, set.source.kind === 'clickhouse' ? set.source.labels_used : null)
  const { split } = result.report
  assert.equal(split.train.rows + split.validation.rows + split.test.rows, set.rows.length)
  const manifest = JSON.parse(readFileSync(join(modelsDir, 'from-ch', '1', 'manifest.json'), 'utf8')) as {
    training: { source: { kind: string; label_cutoff: string } }
    feature_contract: { hash: string }
  }
  assert.equal(manifest.training.source.kind, 'clickhouse')
  assert.equal(manifest.training.source.label_cutoff, '2026-01-16T00:00:00.000Z')
  assert.equal(manifest.feature_contract.hash, CONTRACT)
})

test('train --from-clickhouse refuses a window holding scores of another feature contract, and says where this one starts', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const row = (id: string, ms: number, contract: string) => ({
    transaction_id: id,
    card_id: 'card-1',
    amount: 10,
    event_time: clickhouseTime(ms),
    feature_contract: contract,
    run_id: 'live',
    ...Object.fromEntries(NAMES.map((name) => [`f_${name}`, 1])),
  })
  await withClient(config, async (client) => {
    await client.insert({
      table: 'scores',
      values: [row('old-1', START_MS - DAY_MS, 'deadbeefdeadbeef'), row('new-1', START_MS, CONTRACT)],
      format: 'JSONEachRow',
    })
    const options = {
      client,
      features: cardFraudFeatures,
      runId: 'live',
      toMs: START_MS + DAY_MS,
      labelCutoffMs: CUTOFF_MS,
      labelMaturityDays: 0,
    }
    await assert.rejects(
      clickhouseTrainingSet({ ...options, fromMs: START_MS - 2 * DAY_MS }),
      (err: { code?: string; message?: string }) =>
        err.code === 'FS_ERR_MODEL_CONTRACT' &&
        /deadbeefdeadbeef \(1 rows/.test(err.message ?? '') &&
        /run from 2026-01-05T00:00:00\.000Z .*narrow --from\/--to/.test(err.message ?? ''),
    )
    const narrowed = await clickhouseTrainingSet({ ...options, fromMs: START_MS })
    assert.equal(narrowed.rows.length, 1)
    await assert.rejects(
      clickhouseTrainingSet({ ...options, fromMs: START_MS + 2 * DAY_MS, toMs: START_MS + 3 * DAY_MS }),
      (err: { code?: string }) => err.code === 'FS_ERR_USAGE',
      'an empty window is a usage error',
    )
  })
})
