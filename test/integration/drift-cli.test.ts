import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { startDriftMonitor } from '../../src/adapters/clickhouse/drift-monitor.js'
import { queryLabelMetrics } from '../../src/adapters/clickhouse/drift-queries.js'
import { syncFeatureColumns } from '../../src/adapters/clickhouse/feature-columns.js'
import { migrate } from '../../src/adapters/clickhouse/migrate.js'
import { paramDefaultsOf } from '../../src/cli/sql.js'
import type { Config } from '../../src/config/schema.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { CHAMPION, DRIFTED_FEATURES, driftScoreRows } from '../helpers/drift-scores.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const LABEL_METRICS = fileURLToPath(new URL('../../clickhouse/queries/label-metrics.sql', import.meta.url))
const START_MS = Date.UTC(2026, 0, 5)

/** Runs the CLI, resolving with its exit code instead of rejecting on a non-zero one. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [BIN, ...args], {
      maxBuffer: 64 << 20,
      env: { ...process.env, FRAUDSTREAM_LOG_LEVEL: 'warn' },
    })
    return { code: 0, stdout }
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout ?? '' }
  }
}

async function withClient<T>(config: Config, body: (client: ClickHouseClient) => Promise<T>): Promise<T> {
  const client = await createClickhouseClient(config)
  try {
    await migrate(client)
    await syncFeatureColumns(
      client,
      cardFraudFeatures.map((f) => f.name),
    )
    return await body(client)
  } finally {
    await client.close()
  }
}

interface DriftJson {
  ok: boolean
  level: number
  reference: { from: string; to: string }
  current: { from: string; to: string }
  features: { feature: string; psi: number; ks: number; status: string; current_rows: number }[]
  retrain: { kind: string }
}

/**
 * Rows of other models and of the fallback rules beside the champion's, as the job writes them: a shadow's score of
 * every transaction, the next version of the champion shadowing the current window, and transactions no model could
 * score (score 0). Drift of the champion must read none of them.
 */
function othersOf(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const current = rows.filter((r) => String(r.transaction_id).startsWith('tx-c-'))
  const shadow = (r: Record<string, unknown>, name: string, version: string, score: number) => ({
    ...r,
    model_name: name,
    model_version: version,
    model_role: 'shadow',
    score,
    decision: score >= 0.7 ? 'decline' : score >= 0.4 ? 'review' : 'approve',
  })
  return [
    ...rows.map((r) => shadow(r, 'card-fraud-shadow', '1', 1 - (r.score as number))),
    ...current.map((r) => shadow(r, CHAMPION.name, `${CHAMPION.version}-next`, (r.score as number) / 2)),
    ...current.slice(0, 40).map((r) => ({
      ...r,
      transaction_id: `${String(r.transaction_id)}-fallback`,
      model_role: 'fallback',
      score: 0,
      decision: 'review',
    })),
  ]
}

test('amounts ×3 and a new country mix drive their features past 0.20 and drift exits 2; the others stay under 0.15', async (t) => {
  const { config, dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const rows = driftScoreRows({
    seed: 11,
    startMs: START_MS,
    referenceDays: 7,
    currentDays: 1,
    referenceRows: 7_000,
    currentRows: 3_000,
    drift: true,
  })
  await withClient(config, (client) =>
    client.insert({ table: 'scores', values: [...rows, ...othersOf(rows)], format: 'JSONEachRow' }),
  )

  const { code, stdout } = await cli(
    'drift',
    '--reference',
    '2026-01-05..2026-01-12',
    '--current',
    '2026-01-12T00:00:00Z..2026-01-13',
    '--data-dir',
    dataDir,
    '--json',
  )
  assert.equal(code, 2, stdout)
  const report = JSON.parse(stdout) as DriftJson
  assert.equal(report.level, 2)
  assert.deepEqual(report.current, { from: '2026-01-12T00:00:00.000Z', to: '2026-01-13T00:00:00.000Z' })
  const features = report.features.map((f) => f.feature)
  assert.equal(features.length, cardFraudFeatures.length + 1, 'every feature and the score')
  for (const f of report.features) {
    // The champion's own rows only: no shadow's, no other version's, no fallback's.
    assert.equal(f.current_rows, 3_000, f.feature)
    if ((DRIFTED_FEATURES as readonly string[]).includes(f.feature)) {
      assert.ok(f.psi > 0.2 && f.ks > 0.2, `${f.feature} drifted: ${JSON.stringify(f)}`)
      assert.equal(f.status, 'alert')
    } else if (f.feature !== 'score') {
      assert.ok(f.psi < 0.15 && f.ks < 0.15, `${f.feature} untouched: ${JSON.stringify(f)}`)
      assert.equal(f.status, 'ok')
    }
  }
  // Worst first: the drifted features and the score (it reads amount and is_abroad) lead the table.
  assert.deepEqual(features.slice(0, 4).sort(), [...DRIFTED_FEATURES, 'score'].sort())
  // No labels: retraining cannot be judged, and drift still decides the exit code.
  assert.equal(report.retrain.kind, 'unknown')

  // The person's view: a ranked table and a five-second summary line.
  const human = await cli('drift', '--data-dir', dataDir)
  assert.equal(human.code, 2)
  // Default windows: the day up to the newest event, the 7 days before it.
  assert.ok(
    human.stdout.startsWith(`drift of ${CHAMPION.name}@${CHAMPION.version} (run live): reference `),
    human.stdout.split('\n')[0],
  )
  assert.match(human.stdout.split('\n')[0]!, /: reference \S+ → \S+ \(7,000 scores\), current /)
  assert.match(human.stdout, /\n4 alert, 0 warn, 24 ok \(warn ≥ 0\.15, alert ≥ 0\.2 on PSI or KS\): exit 2\n/)

  // The job's gauges: the same query, the same values; given the model's name only, the version that decided most.
  const metrics = createMetrics({ defaultMetrics: false })
  await withClient(config, async (client) => {
    const monitor = startDriftMonitor({
      client,
      config,
      model: CHAMPION.name,
      runId: 'live',
      metrics,
      log: testLogger().log,
    })
    await monitor.refresh()
    await monitor.stop()
  })
  const exported = await metrics.registry.getMetricsAsJSON()
  const valueOf = (name: string, feature?: string) =>
    exported.find((m) => m.name === name)?.values.find((v) => feature === undefined || v.labels.feature === feature)
      ?.value
  assert.equal(valueOf('fraudstream_drift_level'), 2)
  assert.equal(valueOf('fraudstream_drift_psi', 'amount'), report.features.find((f) => f.feature === 'amount')?.psi)
  assert.equal(valueOf('fraudstream_drift_ks', 'is_night'), report.features.find((f) => f.feature === 'is_night')?.ks)
})

test('drift exits 0 when both windows come from the same distribution, and 3 on a malformed window', async (t) => {
  const { config, dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const rows = driftScoreRows({
    seed: 12,
    startMs: START_MS,
    referenceDays: 7,
    currentDays: 1,
    referenceRows: 3_500,
    currentRows: 1_500,
    drift: false,
  })
  await withClient(config, (client) => client.insert({ table: 'scores', values: rows, format: 'JSONEachRow' }))
  const { code, stdout } = await cli('drift', '--data-dir', dataDir, '--json')
  assert.equal(code, 0, stdout)
  const report = JSON.parse(stdout) as DriftJson
  assert.ok(
    report.features.every((f) => f.status === 'ok'),
    stdout,
  )
  const bad = await cli('drift', '--current', '2026-01-13..2026-01-12', '--data-dir', dataDir, '--json')
  assert.equal(bad.code, 3)
  assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'FS_ERR_USAGE')
})

test('label-metrics.sql equals a hand computation per model: precision, recall, F1, AUC-PR, card precision@k, maturity; a shadow and a fallback change no line of m', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const day = '2026-02-01'
  // tx, card, score, decision, label (latest wins: b was first reported as fraud, then cleared).
  const fixture: [string, string, number, string][] = [
    ['a', 'c1', 0.9, 'decline'],
    ['b', 'c1', 0.8, 'decline'],
    ['c', 'c2', 0.6, 'review'],
    ['d', 'c3', 0.5, 'review'],
    ['e', 'c3', 0.3, 'approve'],
    ['f', 'c4', 0.2, 'approve'],
    ['g', 'c5', 0.1, 'approve'],
    ['h', 'c6', 0.1, 'approve'],
  ]
  const base = Date.parse(`${day}T10:00:00Z`)
  const score = (id: string, card: string, s: number, decision: string, eventTimeMs: number) => ({
    transaction_id: id,
    card_id: card,
    merchant_id: 'm',
    terminal_id: 't',
    amount: 10,
    event_time: eventTimeMs,
    decided_at: eventTimeMs,
    score: s,
    decision,
    model_name: 'm',
    model_version: '1',
    run_id: 'live',
  })
  const rows = fixture.map(([id, card, s, decision], i) => score(id, card, s, decision, base + i * 60_000))
  // 40 days later: the newest event, which makes 2026-02-01 39.4 days old.
  rows.push(score('later', 'c7', 0.5, 'review', base + 40 * 86_400_000))
  // Another model's scores of the same transactions are its own line; the fallback rules' decision of one more
  // transaction is no model's: m's figures below are unchanged by both.
  const others = [
    ...rows.map((r) => ({
      ...r,
      model_name: 'shadow',
      model_role: 'shadow',
      score: 1 - r.score,
      decision: 1 - r.score >= 0.5 ? 'review' : 'approve',
    })),
    { ...score('i', 'c1', 0, 'decline', base + 9 * 60_000), model_role: 'fallback' },
  ]
  const label = (id: string, isFraud: boolean, reportedMs: number, offset: number) => ({
    transaction_id: id,
    is_fraud: isFraud,
    source: 'chargeback',
    reported_at: reportedMs,
    known_at: reportedMs,
    source_offset: offset,
    run_id: 'live',
  })
  const labels = [
    label('a', true, base + 86_400_000, 0),
    label('b', true, base + 86_400_000, 1),
    label('b', false, base + 2 * 86_400_000, 2),
    label('c', true, base + 86_400_000, 3),
    label('e', true, base + 86_400_000, 4),
    label('f', false, base + 86_400_000, 5),
    label('i', true, base + 86_400_000, 6),
  ]
  const sql = readFileSync(LABEL_METRICS, 'utf8')
  const results = await withClient(config, async (client) => {
    await client.insert({ table: 'scores', values: [...rows, ...others], format: 'JSONEachRow' })
    await client.insert({ table: 'labels', values: labels, format: 'JSONEachRow' })
    const query = async (params: Record<string, string>) =>
      (
        await client.query({ query: sql, query_params: { ...paramDefaultsOf(sql), ...params }, format: 'JSONEachRow' })
      ).json<Record<string, unknown>>()
    const dayWindow = { fromMs: Date.parse(`${day}T00:00:00Z`), toMs: Date.parse(`${day}T00:00:00Z`) + 86_400_000 }
    return {
      defaults: await query({}),
      k4: await query({ k: '4', maturity_days: '40' }),
      drift: await queryLabelMetrics(client, { runId: 'live', model: 'm', version: '1', window: dayWindow }),
    }
  })
  assert.deepEqual(
    [...new Set(results.defaults.filter((r) => r.day === day).map((r) => r.model_name))],
    ['m', 'shadow'],
    'a line per model',
  )
  const row = results.defaults.find((r) => r.day === day && r.model_name === 'm')
  // 8 transactions, 5 labelled (a, b, c, e, f), frauds a, c, e; alerts a, b, c, d; caught a, c.
  // AUC-PR: positives at ranks 1, 3, 5 (distinct scores, highest first): (1/1 + 2/3 + 3/5) / 3 = 34/45.
  // Card precision@100: 6 cards that day, all taken; compromised c1 (a), c2 (c), c3 (e): 3/6.
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(row ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' && /^\d/.test(v) && k !== 'day' && k !== 'model_version' ? Number(v) : v,
      ]),
    ),
    {
      day,
      model_name: 'm',
      model_version: '1',
      transactions: 8,
      labelled: 5,
      frauds: 3,
      alerts: 4,
      true_positives: 2,
      precision: 0.5,
      recall: 0.6667,
      f1: 0.5714,
      auc_pr: 0.7556,
      card_precision_at_k: 0.5,
      label_age_days: 39.4,
      mature: true,
    },
  )
  // The 4 highest-scored cards: c1, c2, c3, c4, three compromised; 39.4 days is short of a 40-day maturity.
  const k4 = results.k4.find((r) => r.day === day && r.model_name === 'm')
  assert.equal(k4?.card_precision_at_k, 0.75)
  assert.equal(k4?.mature, false)
  // The retraining check counts the same rows as the query.
  assert.deepEqual(
    [results.drift.transactions, results.drift.labelled, results.drift.frauds, results.drift.alerts],
    [8, 5, 3, 4],
  )
  assert.equal(results.drift.true_positives, 2)
})
