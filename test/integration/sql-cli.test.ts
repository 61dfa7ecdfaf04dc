import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient } from '../../src/adapters/clickhouse/client.js'
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
  'champion-vs-shadow.sql': [
    'model_name',
    'model_version',
    'role',
    'transactions',
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
  'duplicates-check.sql': ['run_id', 'model_name', 'model_version', 'duplicate_rows'],
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

/**
 * A generated stream of the 8 days before now (drift in the last one) with labels for every 7th transaction, under
 * the seeded rows: no declines and no reason codes, so the seeded rows alone answer reason-codes and top-declines.
 */
async function insertGenerated(config: ReturnType<typeof testConfig>['config']): Promise<void> {
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
  const client = await createClickhouseClient(config)
  try {
    await client.insert({ table: 'scores', values: rows, format: 'JSONEachRow' })
    await client.insert({ table: 'labels', values: labels, format: 'JSONEachRow' })
  } finally {
    await client.close()
  }
}

test('every query in clickhouse/queries/ runs through `fraudstream sql --file` on a generated stream with its columns', async (t) => {
  const { config, dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const migrated = JSON.parse((await cli('migrate', '--data-dir', dataDir, '--json')).stdout) as {
    ok: boolean
    applied: string[]
  }
  assert.equal(migrated.ok, true)
  await insertGenerated(config)
  assert.deepEqual(JSON.parse((await cli('sql', SEED, '--data-dir', dataDir, '--json')).stdout), { ok: true })

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
    rows.get('duplicates-check.sql')!.map((r) => Number(r.duplicate_rows)),
    [0],
  )
  // The default windows: the day up to the newest event against the 7 days before it.
  const drift = new Map(rows.get('drift.sql')!.map((r) => [r.feature, r]))
  assert.equal(drift.get('amount')?.status, 'alert')
  assert.equal(drift.get('is_night')?.status, 'ok')
  // The generated current day starts an hour before the default window: 600 × 23/24 of it, and the 3 seeded rows.
  const current = Number(drift.get('score')?.current_rows)
  assert.ok(current >= 576 && current <= 579, `current rows ${current}`)
  assert.ok(rows.get('review-queue.sql')!.some((r) => r.transaction_id === 'tx-2'))
  // Ties on n come in any order.
  assert.deepEqual(
    rows
      .get('reason-codes.sql')!
      .map((r) => `${r.decision} ${r.reason} ${r.n}`)
      .sort(),
    ['decline abroad 1', 'decline velocity_24h 1', 'review abroad 1', 'review card_not_present 1'],
  )
  assert.deepEqual(
    rows.get('top-declines.sql')!.map((r) => r.transaction_id),
    ['tx-3'],
  )

  // The human form of the README's example: a table under the file's header comment.
  const { stdout: table } = await cli('sql', '--file', join(QUERIES_DIR, 'reason-codes.sql'), '--data-dir', dataDir)
  assert.match(table, /^decision\s+reason\s+n\n─+/)
  assert.match(table, /\(4 rows\)\n$/)
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
