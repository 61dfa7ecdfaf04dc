import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { syncFeatureColumns } from '../../src/adapters/clickhouse/feature-columns.js'
import { migrate } from '../../src/adapters/clickhouse/migrate.js'
import { paramDefaultsOf } from '../../src/cli/sql.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { CHAMPION, driftScoreRows } from '../helpers/drift-scores.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const QUERIES_DIR = fileURLToPath(new URL('../../clickhouse/queries/', import.meta.url))
const cli = (...args: string[]) =>
  run(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, env: { ...process.env, FRAUDSTREAM_LOG_LEVEL: 'warn' } })

interface SqlResult {
  columns: { name: string; type: string }[]
  rows: Record<string, unknown>[]
}

/** The columns each analyst query answers with. A new file in clickhouse/queries/ needs its line here. */
const EXPECTED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'alert-volume.sql': [
    'day',
    'model_name',
    'model_version',
    'transactions',
    'alerts',
    'immediate',
    'digest',
    'alert_rate',
    'cards_alerted',
    'alerted_amount',
  ],
  'ab-test.sql': [
    'arm',
    'model_name',
    'model_version',
    'role',
    'transactions',
    'cards',
    'approved',
    'reviewed',
    'declined',
    'alert_rate',
    'avg_score',
    'frauds',
    'caught',
    'recall',
    'precision',
  ],
  'champion-vs-shadow.sql': [
    'model_name',
    'model_version',
    'role',
    'transactions',
    'decided',
    'approved',
    'reviewed',
    'declined',
    'avg_score',
    'agreement',
    'frauds',
    'caught',
    'recall',
    'precision',
  ],
  'decision-mix.sql': ['hour', 'transactions', 'approved', 'reviewed', 'declined', 'declined_amount'],
  'drift.sql': [
    'feature',
    'reference_rows',
    'current_rows',
    'psi',
    'ks',
    'status',
    'reference_median',
    'current_median',
  ],
  'event-latency.sql': ['minute', 'model_name', 'model_version', 'transactions', 'p50_ms', 'p99_ms', 'p999_ms'],
  'label-metrics.sql': [
    'day',
    'model_name',
    'model_version',
    'transactions',
    'labelled',
    'frauds',
    'alerts',
    'true_positives',
    'precision',
    'recall',
    'f1',
    'auc_pr',
    'card_precision_at_k',
    'label_age_days',
    'mature',
  ],
  'duplicates-check.sql': ['run_id', 'scope', 'model_name', 'model_version', 'duplicate_rows', 'undecided'],
  'feature-drift.sql': [
    'day',
    'n',
    'amount_mean',
    'amount_p95',
    'card_count_24h_mean',
    'abroad_share',
    'cnp_share',
    'score_mean',
  ],
  'latency.sql': ['model_name', 'model_version', 'hour', 'scored', 'p50_ms', 'p99_ms', 'max_ms'],
  'reason-codes.sql': ['decision', 'reason', 'n'],
  'review-queue.sql': [
    'transaction_id',
    'card_id',
    'event_time',
    'waiting_hours',
    'amount',
    'currency',
    'country',
    'channel',
    'score',
    'reasons',
    'model_name',
    'model_version',
  ],
  'risky-merchants.sql': [
    'merchant_id',
    'transactions',
    'flagged',
    'declined',
    'avg_score',
    'frauds',
    'fraud_rate',
    'fraud_amount',
  ],
  'risky-terminals.sql': [
    'terminal_id',
    'transactions',
    'flagged',
    'declined',
    'avg_score',
    'frauds',
    'fraud_rate',
    'fraud_amount',
  ],
  'top-declines.sql': [
    'transaction_id',
    'event_time',
    'amount',
    'currency',
    'country',
    'card_country',
    'channel',
    'score',
    'reasons',
  ],
}

/** Three scores of the live run by the shipped champion, one per decision, with the features the drift query reads. */
const SEED = `INSERT INTO scores (transaction_id, card_id, customer_id, merchant_id, terminal_id, amount, currency, mcc, country,
  card_country, channel, event_time, decided_at, score, decision, reasons, rules, model_name, model_version, feature_contract,
  f_amount, f_card_count_24h, f_is_abroad, f_is_card_not_present, late, latency_ms, source_topic, source_partition,
  source_offset, run_id) VALUES
  ('tx-1', 'card-1', 'cu-1', 'm-1', 't-1', 12.5, 'EUR', '5411', 'FR', 'FR', 'pos', now64(3) - 120, now64(3) - 119, 0.05, 'approve',
   [], [], '${CHAMPION.name}', '${CHAMPION.version}', 'c1', 12.5, 1, 0, 0, false, 3.5, 'transactions', 0, 0, 'live'),
  ('tx-2', 'card-2', 'cu-2', 'm-2', 't-2', 420, 'EUR', '5732', 'DE', 'FR', 'ecom', now64(3) - 60, now64(3) - 59, 0.55, 'review',
   ['abroad', 'card_not_present'], [], '${CHAMPION.name}', '${CHAMPION.version}', 'c1', 420, 3, 1, 1, false, 4.5, 'transactions', 0, 1, 'live'),
  ('tx-3', 'card-3', 'cu-3', 'm-3', 't-3', 1999.99, 'USD', '5944', 'US', 'FR', 'ecom', now64(3) - 30, now64(3) - 29, 0.93, 'decline',
   ['velocity_24h', 'abroad'], ['blocklist'], '${CHAMPION.name}', '${CHAMPION.version}', 'c1', 1999.99, 12, 1, 1, false, 6.25, 'transactions', 1, 0, 'live')`

/** The champion's next version, in an A/B test against it: same model name, its own version. */
const CHALLENGER = { name: CHAMPION.name, version: `${CHAMPION.version}-ab` }
/** A shadow model scoring every transaction beside the deciding one. */
const SHADOW = { name: 'card-fraud-shadow', version: '2' }

const decisionOf = (score: number) => (score >= 0.7 ? 'decline' : score >= 0.4 ? 'review' : 'approve')

/**
 * Four transactions of an A/B test a minute before the seeded ones, as the job writes them: in the champion's arm
 * the champion decides and the challenger only scores, in the challenger's arm the other way round.
 */
function abTestRows(nowMs: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = []
  for (let i = 0; i < 4; i++) {
    const arm = i < 2 ? 'champion' : 'challenger'
    const eventTimeMs = nowMs - 90_000 + i * 1000
    const base = {
      transaction_id: `tx-ab-${i}`,
      card_id: `card-ab-${arm}`,
      merchant_id: 'm-ab',
      terminal_id: 't-ab',
      amount: 50,
      event_time: eventTimeMs,
      decided_at: eventTimeMs + 5,
      source_timestamp: eventTimeMs + 1,
      feature_contract: 'c1',
      f_amount: 50,
      latency_ms: 2,
      source_topic: 'transactions',
      source_partition: 2,
      source_offset: i,
      run_id: 'live',
      ab_arm: arm,
    }
    const champion = 0.2 + 0.2 * i
    const challenger = 0.9 - 0.2 * i
    const row = (model: { name: string; version: string }, role: string, score: number) => ({
      ...base,
      model_name: model.name,
      model_version: model.version,
      model_role: role,
      score,
      decision: decisionOf(score),
    })
    rows.push(
      row(CHAMPION, arm === 'champion' ? 'champion' : 'shadow', champion),
      row(CHALLENGER, arm === 'challenger' ? 'challenger' : 'shadow', challenger),
    )
  }
  return rows
}

/**
 * A shadow's row for every deciding row, as the job writes it: the same transaction, the shadow's own score, the
 * decision its thresholds make, no reasons. Columns are named: an INSERT … SELECT * REPLACE (…) inserts nothing on chDB.
 */
async function insertShadows(client: ClickHouseClient): Promise<void> {
  const columns = (
    await (
      await client.query({
        query: `SELECT name FROM system.columns
                WHERE database = currentDatabase() AND table = 'scores' AND default_kind != 'ALIAS' ORDER BY position`,
        format: 'JSONEachRow',
      })
    ).json<{ name: string }>()
  ).map((c) => c.name)
  const replaced: Record<string, string> = {
    model_name: `'${SHADOW.name}'`,
    model_version: `'${SHADOW.version}'`,
    model_role: `'shadow'`,
    score: 'toFloat32(1 - d.score)',
    decision: `multiIf(1 - d.score >= 0.7, 'decline', 1 - d.score >= 0.4, 'review', 'approve')`,
    reasons: '[]',
    rules: '[]',
    explanation_features: '[]',
    explanation_values: '[]',
  }
  const values = columns.map((c) => (replaced[c] ? `${replaced[c]} AS ${c}` : `d.${c}`))
  await client.command({
    query: `INSERT INTO scores (${columns.join(', ')})
            SELECT ${values.join(', ')} FROM scores AS d WHERE d.model_role != 'shadow'`,
  })
}

/** A transaction no model could score in time: the fallback rules sent it to review, under the champion's name. */
function fallbackRow(nowMs: number): Record<string, unknown> {
  const eventTimeMs = nowMs - 45_000
  return {
    transaction_id: 'tx-4',
    card_id: 'card-4',
    merchant_id: 'm-4',
    terminal_id: 't-4',
    amount: 80,
    event_time: eventTimeMs,
    decided_at: eventTimeMs + 60,
    source_timestamp: eventTimeMs + 1,
    score: 0,
    decision: 'review',
    reasons: ['fallback', 'fallback_deadline'],
    rules: ['fallback:card_count_1h>=4'],
    model_name: CHAMPION.name,
    model_version: CHAMPION.version,
    model_role: 'fallback',
    feature_contract: 'c1',
    f_amount: 80,
    f_card_count_24h: 40,
    latency_ms: 60,
    source_topic: 'transactions',
    source_partition: 1,
    source_offset: 1,
    run_id: 'live',
  }
}

/** Every query of the pack, bound as `sql --file` binds a file's declared defaults: file → rows. */
async function runPack(client: ClickHouseClient): Promise<Map<string, Record<string, unknown>[]>> {
  const results = new Map<string, Record<string, unknown>[]>()
  for (const file of readdirSync(QUERIES_DIR).filter((f) => f.endsWith('.sql'))) {
    const sql = readFileSync(join(QUERIES_DIR, file), 'utf8')
    const result = await client.query({ query: sql, query_params: paramDefaultsOf(sql), format: 'JSONEachRow' })
    results.set(file, await result.json<Record<string, unknown>>())
  }
  return results
}

/** The queries of what was decided: a shadow's rows, which decide nothing, must not change them. */
const DECISION_QUERIES = [
  'alert-volume.sql',
  'decision-mix.sql',
  'event-latency.sql',
  'latency.sql',
  'reason-codes.sql',
  'review-queue.sql',
  'risky-merchants.sql',
  'risky-terminals.sql',
  'top-declines.sql',
]
/** The queries of one model's own scores: neither another model's rows nor fallback rows may change them. */
const MODEL_QUERIES = ['drift.sql', 'feature-drift.sql']

/**
 * A generated stream of the 8 days before now (drift in the last one) with labels for every 7th transaction, under
 * the seeded rows: no declines and no reason codes, so the seeded rows alone answer reason-codes and top-declines.
 */
async function insertGenerated(client: ClickHouseClient): Promise<void> {
  const dayMs = 24 * 60 * 60 * 1000
  const rows = driftScoreRows({
    seed: 3,
    startMs: Date.now() - 8 * dayMs - 60 * 60 * 1000,
    referenceDays: 7,
    currentDays: 1,
    referenceRows: 1_400,
    currentRows: 600,
    drift: true,
  }).map((r) => (r.decision === 'decline' ? { ...r, decision: 'review' } : r))
  const labels = rows
    .filter((_, i) => i % 7 === 0)
    .map((r, i) => ({
      transaction_id: r.transaction_id,
      card_id: r.card_id,
      is_fraud: (r.score as number) > 0.2 || i % 4 === 0,
      source: 'chargeback',
      reported_at: (r.event_time as number) + 60_000,
      transaction_time: null,
      terminal_id: r.terminal_id,
      merchant_id: r.merchant_id,
      known_at: (r.event_time as number) + 60_000,
      source_topic: 'labels',
      source_partition: 0,
      source_offset: i,
      run_id: 'live',
    }))
  await client.insert({ table: 'scores', values: rows, format: 'JSONEachRow' })
  await client.insert({ table: 'labels', values: labels, format: 'JSONEachRow' })
}

test('every query in clickhouse/queries/ runs through `fraudstream sql --file` on a generated stream with its columns', async (t) => {
  const { config, dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const migrated = JSON.parse((await cli('migrate', '--data-dir', dataDir, '--json')).stdout) as {
    ok: boolean
    applied: string[]
  }
  assert.equal(migrated.ok, true)
  assert.deepEqual(JSON.parse((await cli('sql', SEED, '--data-dir', dataDir, '--json')).stdout), { ok: true })
  const nowMs = Date.now()
  const client = await createClickhouseClient(config)
  let decided: Map<string, Record<string, unknown>[]>
  let shadowed: Map<string, Record<string, unknown>[]>
  let fallback: Map<string, Record<string, unknown>[]>
  try {
    await insertGenerated(client)
    await client.insert({ table: 'scores', values: abTestRows(nowMs), format: 'JSONEachRow' })
    decided = await runPack(client)
    await insertShadows(client)
    shadowed = await runPack(client)
    await client.insert({ table: 'scores', values: [fallbackRow(nowMs)], format: 'JSONEachRow' })
    fallback = await runPack(client)
  } finally {
    await client.close()
  }

  // A shadow's row beside every decision: what was decided reads the same, and so does the champion's quality.
  for (const file of [...DECISION_QUERIES, ...MODEL_QUERIES])
    assert.deepEqual(shadowed.get(file), decided.get(file), `${file} is unchanged by shadow rows`)
  const linesOf = (rows: Record<string, unknown>[] | undefined, model: { name: string; version: string }) =>
    (rows ?? []).filter((r) => r.model_name === model.name && r.model_version === model.version)
  for (const model of [CHAMPION, CHALLENGER]) {
    assert.ok(linesOf(decided.get('label-metrics.sql'), model).length > 0)
    assert.deepEqual(
      linesOf(shadowed.get('label-metrics.sql'), model),
      linesOf(decided.get('label-metrics.sql'), model),
      `label-metrics of ${model.name}@${model.version} is unchanged by another model's rows`,
    )
  }
  assert.ok(linesOf(shadowed.get('label-metrics.sql'), SHADOW).length > 0, "the shadow's quality: lines of its own")
  // The check of one deciding row per transaction reads the same; the shadow's rows get a line of their own.
  assert.deepEqual(
    shadowed.get('duplicates-check.sql')!.filter((r) => r.model_name !== SHADOW.name),
    decided.get('duplicates-check.sql'),
  )
  // Each model against what was decided: the champion only scored the challenger's arm, and the other way round.
  const versus = shadowed.get('champion-vs-shadow.sql')!.map((r) => ({
    line: [r.role, `${r.model_name}@${r.model_version}`],
    transactions: Number(r.transactions),
    decided: Number(r.decided),
  }))
  assert.deepEqual(
    versus.map((v) => v.line),
    [
      ['champion', `${CHAMPION.name}@${CHAMPION.version}`],
      ['challenger', `${CHALLENGER.name}@${CHALLENGER.version}`],
      ['shadow', `${SHADOW.name}@${SHADOW.version}`],
    ],
  )
  const [champion, challenger, shadow] = versus as [(typeof versus)[0], (typeof versus)[0], (typeof versus)[0]]
  assert.deepEqual([champion.transactions - champion.decided, challenger.transactions, challenger.decided], [2, 4, 2])
  assert.deepEqual([shadow.transactions, shadow.decided], [champion.decided + challenger.decided, 0])

  // A fallback decision is one more decision, and no model's score.
  for (const file of MODEL_QUERIES)
    assert.deepEqual(fallback.get(file), shadowed.get(file), `${file} is unchanged by a fallback row`)
  assert.deepEqual(fallback.get('label-metrics.sql'), shadowed.get('label-metrics.sql'))
  const hourOf = (ms: number) => new Date(ms - (ms % 3_600_000)).toISOString().replace('T', ' ').slice(0, 19)
  const fallbackHour = hourOf(nowMs - 45_000)
  assert.deepEqual(
    fallback.get('decision-mix.sql'),
    shadowed
      .get('decision-mix.sql')!
      .map((r) =>
        r.hour === fallbackHour
          ? { ...r, transactions: Number(r.transactions) + 1, reviewed: Number(r.reviewed) + 1 }
          : r,
      ),
    'decision-mix counts the fallback review',
  )
  assert.ok(fallback.get('review-queue.sql')!.some((r) => r.transaction_id === 'tx-4'))
  assert.deepEqual(
    fallback.get('champion-vs-shadow.sql')!.map((r) => [r.role, Number(r.transactions), r.avg_score]),
    [
      ...shadowed.get('champion-vs-shadow.sql')!.map((r) => [r.role, Number(r.transactions), r.avg_score]),
      ['fallback', 1, null],
    ],
  )

  const files = readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
  assert.ok(files.length > 0, `queries in ${QUERIES_DIR}`)
  assert.deepEqual(
    Object.keys(EXPECTED_COLUMNS).filter((f) => !files.includes(f)),
    [],
    'every expected query still exists',
  )
  const rows = new Map<string, Record<string, unknown>[]>()
  for (const file of files) {
    const expected = EXPECTED_COLUMNS[file]
    assert.ok(expected, `add the columns ${file} answers with to EXPECTED_COLUMNS`)
    const { stdout } = await cli('sql', '--file', join(QUERIES_DIR, file), '--data-dir', dataDir, '--json')
    const result = JSON.parse(stdout) as SqlResult
    assert.deepEqual(
      result.columns.map((c) => c.name),
      expected,
      `${file} columns`,
    )
    assert.ok(result.rows.length > 0, `${file} answers with rows on the seeded scores: ${stdout}`)
    rows.set(file, result.rows)
  }
  assert.deepEqual(
    rows
      .get('duplicates-check.sql')!
      .map((r) => [r.scope, r.model_name, r.model_version, Number(r.duplicate_rows), Number(r.undecided)]),
    [
      ['decisions', '', '', 0, 0],
      ['model', CHAMPION.name, CHAMPION.version, 0, 0],
      ['model', CHALLENGER.name, CHALLENGER.version, 0, 0],
      ['model', SHADOW.name, SHADOW.version, 0, 0],
    ],
  )
  // The default windows: the day up to the newest event against the 7 days before it.
  const drift = new Map(rows.get('drift.sql')!.map((r) => [r.feature, r]))
  assert.equal(drift.get('amount')?.status, 'alert')
  assert.equal(drift.get('is_night')?.status, 'ok')
  // The generated current day starts an hour before the default window: 600 × 23/24 of it, the 3 seeded rows and the
  // champion's 4 rows of the A/B test (2 decided, 2 only scored), not the challenger's, the shadow's or the fallback's.
  const current = Number(drift.get('score')?.current_rows)
  assert.ok(current >= 580 && current <= 583, `current rows ${current}`)
  assert.ok(rows.get('review-queue.sql')!.some((r) => r.transaction_id === 'tx-2'))
  // The seeded decisions' reasons and the fallback review's; shadows give none. Ties on n come in any order.
  assert.deepEqual(
    rows
      .get('reason-codes.sql')!
      .map((r) => `${r.decision} ${r.reason} ${r.n}`)
      .sort(),
    [
      'decline abroad 1',
      'decline velocity_24h 1',
      'review abroad 1',
      'review card_not_present 1',
      'review fallback 1',
      'review fallback_deadline 1',
    ],
  )
  assert.deepEqual(
    rows.get('top-declines.sql')!.map((r) => r.transaction_id),
    ['tx-3'],
  )

  // The human form of the README's example: a table under the file's header comment.
  const { stdout: table } = await cli('sql', '--file', join(QUERIES_DIR, 'reason-codes.sql'), '--data-dir', dataDir)
  assert.match(table, /^decision\s+reason\s+n\n─+/)
  assert.match(table, /\(6 rows\)\n$/)
})

test('on an A/B test with a shadow and a fallback, each query reads its population: decisions, a model, an arm', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  teardown(t, () => client.close())
  await migrate(client)
  await syncFeatureColumns(
    client,
    cardFraudFeatures.map((f) => f.name),
  )
  // m@1 is the champion, m@2 the challenger for cards c3 and c4, s@1 a shadow. Per transaction: card, arm, and each
  // model's score; the decisions follow the 0.4 / 0.7 thresholds. t9 is decided by the fallback rules alone.
  const scores: [string, string, string, number, number, number][] = [
    ['t1', 'c1', 'champion', 0.9, 0.8, 0.2],
    ['t2', 'c1', 'champion', 0.5, 0.1, 0.6],
    ['t3', 'c2', 'champion', 0.1, 0.45, 0.1],
    ['t4', 'c2', 'champion', 0.2, 0.2, 0.3],
    ['t5', 'c3', 'challenger', 0.3, 0.95, 0.9],
    ['t6', 'c3', 'challenger', 0.7, 0.6, 0.2],
    ['t7', 'c4', 'challenger', 0.1, 0.1, 0.1],
    ['t8', 'c4', 'challenger', 0.5, 0.3, 0.5],
  ]
  const base = Date.parse('2026-02-01T10:00:00Z')
  const row = (i: number, tx: string, card: string, arm: string, model: string, role: string, score: number) => ({
    transaction_id: tx,
    card_id: card,
    merchant_id: 'm',
    terminal_id: 't',
    amount: 10,
    event_time: base + i * 60_000,
    decided_at: base + i * 60_000 + 5,
    score,
    decision: decisionOf(score),
    model_name: model.split('@')[0],
    model_version: model.split('@')[1],
    model_role: role,
    ab_arm: arm,
    run_id: 'live',
  })
  const rows = scores.flatMap(([tx, card, arm, champion, challenger, shadow], i) => [
    row(i, tx, card, arm, 'm@1', arm === 'champion' ? 'champion' : 'shadow', champion),
    row(i, tx, card, arm, 'm@2', arm === 'challenger' ? 'challenger' : 'shadow', challenger),
    row(i, tx, card, arm, 's@1', 'shadow', shadow),
  ])
  rows.push({ ...row(8, 't9', 'c1', 'champion', 'm@1', 'fallback', 0), decision: 'review' })
  const label = (tx: string, isFraud: boolean, offset: number) => ({
    transaction_id: tx,
    is_fraud: isFraud,
    source: 'chargeback',
    reported_at: base + 86_400_000,
    known_at: base + 86_400_000,
    source_offset: offset,
    run_id: 'live',
  })
  await client.insert({ table: 'scores', values: rows, format: 'JSONEachRow' })
  await client.insert({
    table: 'labels',
    values: [
      label('t1', true, 0),
      label('t3', false, 1),
      label('t5', true, 2),
      label('t8', true, 3),
      label('t9', true, 4),
    ],
    format: 'JSONEachRow',
  })
  const numbers = (r: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) && !k.startsWith('model_') ? Number(v) : v,
      ]),
    )
  let pack = await runPack(client)
  const lines = (file: string) => pack.get(file)!.map(numbers)

  // What was decided: one row per transaction, the arm's model or the fallback rules.
  assert.deepEqual(
    lines('decision-mix.sql').map((r) => [r.transactions, r.approved, r.reviewed, r.declined]),
    [[9, 4, 3, 2]],
  )
  assert.deepEqual(
    lines('alert-volume.sql').map((r) => [`${r.model_name}@${r.model_version}`, r.transactions, r.alerts]),
    [
      ['m@1', 5, 3],
      ['m@2', 4, 2],
    ],
  )
  assert.deepEqual(
    lines('top-declines.sql').map((r) => r.transaction_id),
    ['t5', 't1'],
  )
  // Reviews sent and unlabelled: the champion's t2 and the challenger's t6; t9 (fallback) has a label.
  assert.deepEqual(
    lines('review-queue.sql').map((r) => r.transaction_id),
    ['t2', 't6'],
  )

  // Every model's rows against the deciding row of the same transaction (worked out by hand from the table above).
  const head = ['transactions', 'decided', 'approved', 'reviewed', 'declined', 'avg_score', 'agreement']
  const tail = ['frauds', 'caught', 'recall', 'precision']
  assert.deepEqual(
    lines('champion-vs-shadow.sql').map((r) => [
      r.role,
      `${r.model_name}@${r.model_version}`,
      ...head.map((k) => r[k]),
      ...tail.map((k) => r[k]),
    ]),
    [
      ['champion', 'm@1', 8, 4, 4, 2, 2, 0.4125, 0.625, 3, 2, 0.6667, 0.5],
      ['challenger', 'm@2', 8, 4, 4, 2, 2, 0.4375, 0.75, 3, 2, 0.6667, 0.5],
      ['shadow', 's@1', 8, 0, 5, 2, 1, 0.3625, 0.625, 3, 2, 0.6667, 0.6667],
      ['fallback', 'm@1', 1, 1, 0, 1, 0, null, 1, 1, 1, 1, 1],
    ],
  )
  // Per arm: the arm's decisions (role != shadow) and what the other models would have decided for the same cards.
  const arm = ['transactions', 'cards', 'approved', 'reviewed', 'declined', 'alert_rate', 'avg_score', ...tail]
  assert.deepEqual(
    lines('ab-test.sql').map((r) => [r.arm, `${r.model_name}@${r.model_version}`, r.role, ...arm.map((k) => r[k])]),
    [
      ['challenger', 'm@2', 'challenger', 4, 2, 2, 1, 1, 0.5, 0.4875, 2, 1, 0.5, 0.5],
      ['challenger', 'm@1', 'shadow', 4, 2, 2, 1, 1, 0.5, 0.4, 2, 1, 0.5, 0.5],
      ['challenger', 's@1', 'shadow', 4, 2, 2, 1, 1, 0.5, 0.425, 2, 2, 1, 1],
      ['champion', 'm@1', 'champion', 4, 2, 2, 1, 1, 0.5, 0.425, 1, 1, 1, 0.5],
      ['champion', 'm@1', 'fallback', 1, 1, 0, 1, 0, 1, null, 1, 1, 1, 1],
      ['champion', 'm@2', 'shadow', 4, 2, 2, 1, 1, 0.5, 0.3875, 1, 1, 1, 0.5],
      ['champion', 's@1', 'shadow', 4, 2, 3, 1, 0, 0.25, 0.3, 1, 0, 0, 0],
    ],
  )
  // One model's quality: m@1 on all 8 transactions it scored, in either role, not the fallback's t9.
  const m1 = lines('label-metrics.sql').find((r) => r.model_name === 'm' && r.model_version === '1')
  assert.deepEqual([m1?.transactions, m1?.frauds, m1?.alerts, m1?.true_positives], [8, 3, 4, 2])
  // Drift is about the version that decided most as champion (m@1, though m@2 scored as many), without t9.
  const score = lines('drift.sql').find((r) => r.feature === 'score')
  assert.equal(score?.current_rows, 8)
  assert.deepEqual(
    lines('feature-drift.sql').map((r) => [r.n, r.score_mean]),
    [[8, 0.4125]],
  )
  assert.deepEqual(
    lines('duplicates-check.sql').map((r) => [r.scope, r.model_name, r.model_version, r.duplicate_rows, r.undecided]),
    [
      ['decisions', '', '', 0, 0],
      ['model', 'm', '1', 0, 0],
      ['model', 'm', '2', 0, 0],
      ['model', 's', '1', 0, 0],
    ],
  )

  // A transaction decided twice (t3 also by the challenger) and one only a shadow scored (t10): both found.
  await client.insert({
    table: 'scores',
    values: [row(2, 't3', 'c2', 'champion', 'm@2', 'challenger', 0.45), row(10, 't10', 'c5', '', 's@1', 'shadow', 0.1)],
    format: 'JSONEachRow',
  })
  pack = await runPack(client)
  assert.deepEqual(
    lines('duplicates-check.sql').map((r) => [r.scope, r.model_name, r.model_version, r.duplicate_rows, r.undecided]),
    [
      ['decisions', '', '', 1, 1],
      ['model', 'm', '1', 0, 0],
      ['model', 'm', '2', 1, 0],
      ['model', 's', '1', 0, 0],
    ],
  )
})

test('sql --param binds values as ClickHouse query parameters, from the argument or a file', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  await cli('migrate', '--data-dir', dataDir, '--json')
  await cli('sql', SEED, '--data-dir', dataDir, '--json')
  const query =
    'SELECT transaction_id FROM scores WHERE decision = {decision:String} AND score >= {min:Float32} ORDER BY transaction_id'
  const rows = async (...args: string[]) =>
    (JSON.parse((await cli('sql', ...args, '--data-dir', dataDir, '--json')).stdout) as SqlResult).rows
  assert.deepEqual(await rows(query, '--param', 'decision=decline', '--param', 'min=0.9'), [{ transaction_id: 'tx-3' }])
  assert.deepEqual(await rows(query, '-p', 'decision=review', '-p', 'min=0.9'), [])
  // A value is bound, never pasted into the SQL: quotes and `=` arrive as they were typed.
  assert.deepEqual(
    await rows(
      'SELECT {v:String} AS v, {d:Date} + 1 AS d, {a:Array(String)} AS a -- {ignored:String} in a comment needs no value',
      '--param',
      "v=it's a=b",
      '--param',
      'd=2024-02-28',
      '--param',
      "a=['x','y']",
    ),
    [{ v: "it's a=b", d: '2024-02-29', a: ['x', 'y'] }],
  )
  const file = join(dataDir, 'by-decision.sql')
  writeFileSync(file, `-- Question: which transactions got this decision?\n${query};\n`)
  assert.deepEqual(await rows('--file', file, '--param', 'decision=review', '--param', 'min=0'), [
    { transaction_id: 'tx-2' },
  ])
})

test('sql refuses, as FS_ERR_USAGE, both or neither of a query and --file, and a malformed, missing or unused --param', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const usage = (pattern: RegExp) => (err: { code: number; stdout: string }) => {
    const { error } = JSON.parse(err.stdout) as { error: { code: string; message: string } }
    assert.equal(err.code, 1)
    assert.equal(error.code, 'FS_ERR_USAGE')
    assert.match(error.message, pattern)
    return true
  }
  const reasonCodes = join(QUERIES_DIR, 'reason-codes.sql')
  await assert.rejects(
    cli('sql', 'SELECT 1', '--file', reasonCodes, '--data-dir', dataDir, '--json'),
    usage(/either as the query argument or with --file, not both/),
  )
  await assert.rejects(cli('sql', '--data-dir', dataDir, '--json'), usage(/give the SQL to run/))
  await assert.rejects(
    cli('sql', '--file', join(dataDir, 'missing.sql'), '--data-dir', dataDir, '--json'),
    usage(/^--file .*missing\.sql cannot be read/),
  )
  await assert.rejects(
    cli('sql', 'SELECT {a:String}', '--param', 'a', '--data-dir', dataDir, '--json'),
    usage(/--param must be name=value .*got "a"/),
  )
  await assert.rejects(
    cli('sql', 'SELECT {a:String}', '--param', '1a=x', '--data-dir', dataDir, '--json'),
    usage(/--param must be name=value/),
  )
  await assert.rejects(
    cli('sql', 'SELECT {a:String}', '--param', 'a=1', '--param', 'a=2', '--data-dir', dataDir, '--json'),
    usage(/--param a is given twice/),
  )
  await assert.rejects(
    cli('sql', 'SELECT {a:String}, {b:UInt8}', '--param', 'a=1', '--data-dir', dataDir, '--json'),
    usage(/needs --param b=…/),
  )
  await assert.rejects(
    cli('sql', 'SELECT {a:String}', '--param', 'a=1', '--param', 'typo=2', '--data-dir', dataDir, '--json'),
    usage(/--param typo not used by the SQL \(it takes a\)/),
  )
  // Without --json the same error goes to stderr with its code.
  await assert.rejects(
    cli('sql', '--data-dir', dataDir),
    (err: { code: number; stderr: string }) => err.code === 1 && /\[FS_ERR_USAGE\]\n$/.test(err.stderr),
  )
})
