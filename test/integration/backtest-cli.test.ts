import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { clickhouseTime } from '../../src/adapters/clickhouse/drift-queries.js'
import { migrate } from '../../src/adapters/clickhouse/migrate.js'
import type { Config } from '../../src/config/schema.js'
import { backtestMarkdown, backtestReport, type BacktestReport } from '../../src/replay/backtest-report.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const DAY_MS = 24 * 60 * 60 * 1000
const day = (d: number, hour = 12) => Date.UTC(2026, 1, d, hour)
const CUTOFF_MS = Date.UTC(2026, 1, 15)
/** With the cutoff on 15 February, transactions up to 5 February are matured: days 1–3 count, day 10 does not. */
const MATURITY_DAYS = 10

const CHAMPION = { name: 'model-b', version: '1' }
/** Named to sort first: the baseline must be the model that decided, not the first by name. */
const SHADOW = { name: 'model-a', version: '2' }

/**
 * Transactions of run r1, each scored by both models: [id, card, amount, day, champion score, champion decision,
 * shadow score, shadow decision]. Labels below: t1, t4, t7 and t8 fraud; t2 and t6 legitimate (t6 was reported fraud,
 * then legitimate); t5's fraud label comes after the cutoff; t3 and t9 have none.
 */
const TRANSACTIONS: readonly [string, string, number, number, number, string, number, string][] = [
  ['t1', 'c1', 100, 1, 0.9, 'decline', 0.5, 'review'],
  ['t2', 'c2', 50, 1, 0.2, 'approve', 0.8, 'decline'],
  ['t3', 'c3', 30, 1, 0.1, 'approve', 0.1, 'approve'],
  ['t4', 'c1', 70, 2, 0.95, 'decline', 0.3, 'approve'],
  ['t5', 'c4', 20, 2, 0.6, 'review', 0.7, 'decline'],
  ['t6', 'c2', 40, 2, 0.3, 'approve', 0.2, 'approve'],
  ['t7', 'c5', 200, 3, 0.4, 'review', 0.9, 'decline'],
  ['t8', 'c6', 500, 10, 0.9, 'decline', 0.9, 'decline'],
  ['t9', 'c7', 10, 10, 0.1, 'approve', 0.5, 'review'],
]

/** [transaction, is_fraud, reported on day, labels run]. */
const LABELS: readonly [string, boolean, number, string][] = [
  ['t1', true, 2, 'live'],
  ['t2', false, 3, 'live'],
  ['t4', true, 4, 'live'],
  ['t5', true, 16, 'live'],
  ['t6', true, 5, 'live'],
  ['t6', false, 8, 'live'],
  ['t7', true, 10, 'live'],
  ['t8', true, 11, 'live'],
  // Another run's label: not the labels the report reads.
  ['t3', true, 2, 'elsewhere'],
]

function scoreRow(
  [id, card, amount, d]: (typeof TRANSACTIONS)[number],
  model: { name: string; version: string },
  role: string,
  score: number,
  decision: string,
  runId = 'r1',
): Record<string, unknown> {
  return {
    transaction_id: id,
    card_id: card,
    amount,
    event_time: clickhouseTime(day(d)),
    decided_at: clickhouseTime(day(d) + 5),
    score,
    decision,
    model_name: model.name,
    model_version: model.version,
    model_role: role,
    feature_contract: 'test',
    run_id: runId,
  }
}

async function seed(config: Config): Promise<void> {
  const client = await createClickhouseClient(config)
  try {
    await migrate(client)
    const t1 = TRANSACTIONS[0]!
    await client.insert({
      table: 'scores',
      format: 'JSONEachRow',
      values: [
        ...TRANSACTIONS.flatMap((t) => [
          scoreRow(t, CHAMPION, 'champion', t[4], t[5]),
          scoreRow(t, SHADOW, 'shadow', t[6], t[7]),
        ]),
        // No model scored it: the rules decided, so it is no model's figure.
        { ...scoreRow(t1, CHAMPION, 'fallback', 0, 'review'), transaction_id: 't10' },
        // Another run of the same models.
        scoreRow(t1, CHAMPION, 'champion', 0.9, 'decline', 'r0'),
        scoreRow(t1, CHAMPION, 'champion', 0.9, 'decline', 'r0'),
      ],
    })
    await client.insert({
      table: 'labels',
      format: 'JSONEachRow',
      values: LABELS.map(([id, fraud, d, runId], offset) => ({
        transaction_id: id,
        card_id: '',
        is_fraud: fraud,
        source: 'chargeback',
        reported_at: clickhouseTime(day(d)),
        known_at: clickhouseTime(day(d)),
        source_offset: offset,
        run_id: runId,
      })),
    })
  } finally {
    await client.close()
  }
}

async function withClient<T>(config: Config, body: (client: ClickHouseClient) => Promise<T>): Promise<T> {
  const client = await createClickhouseClient(config)
  try {
    return await body(client)
  } finally {
    await client.close()
  }
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      maxBuffer: 16 << 20,
      env: { ...process.env, FRAUDSTREAM_LOG_LEVEL: 'warn' },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

const close = (actual: number | null, expected: number, what: string) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`)

test('the backtest compares each model with the one that decided, over matured transactions with the labels known at the cutoff', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  await seed(config)
  const report = await withClient(config, (client) =>
    backtestReport(client, {
      runId: 'r1',
      labelCutoffMs: CUTOFF_MS,
      maturityDays: MATURITY_DAYS,
      nowMs: Date.UTC(2026, 2, 1),
    }),
  )
  assert.equal(report.labels_run_id, 'live', 'the run has no labels of its own')
  assert.equal(report.matured_before, new Date(CUTOFF_MS - MATURITY_DAYS * DAY_MS).toISOString())
  assert.deepEqual(
    report.models.map((m) => [m.model, m.is_baseline]),
    [
      ['model-b@1', true],
      ['model-a@2', false],
    ],
  )
  const [champion, shadow] = report.models as [BacktestReport['models'][number], BacktestReport['models'][number]]

  // Every row of the model, the fallback row and the other run excluded: 9 transactions over 4 days.
  for (const m of report.models) {
    assert.equal(m.transactions, 9, m.model)
    assert.equal(m.matured, 7, m.model)
    assert.equal(m.left_out_immature, 2, `${m.model}: t8 and t9 are younger than the maturity`)
    // t1, t4, t7; t5's label came after the cutoff and t6's latest says legitimate.
    assert.equal(m.frauds, 3, m.model)
    assert.equal(m.fraud_amount, 370, m.model)
  }
  close(champion.review_rate, 2 / 9, 'champion review rate')
  close(champion.decline_rate, 3 / 9, 'champion decline rate')
  close(shadow.review_rate, 2 / 9, 'shadow review rate')
  close(shadow.decline_rate, 4 / 9, 'shadow decline rate')
  // Reviewed or declined frauds: the champion t1 + t4 + t7; the shadow approved t4. t8 (500) is immature.
  assert.equal(champion.fraud_amount_caught, 370)
  assert.equal(shadow.fraud_amount_caught, 300)
  assert.deepEqual(champion.alerts_by_day, [
    { day: '2026-02-01', alerts: 1 },
    { day: '2026-02-02', alerts: 1 },
    { day: '2026-02-03', alerts: 0 },
    { day: '2026-02-10', alerts: 1 },
  ])
  close(champion.alerts_per_day, 0.75, 'champion alerts per day')
  close(shadow.alerts_per_day, 1, 'shadow alerts per day')

  // Ranked: champion t4 F, t1 F, t5, t7 F … → (1 + 1 + 3/4) / 3; shadow t7 F, t2, t5, t1 F, t4 F … → (1 + 2/4 + 3/5) / 3.
  close(champion.auc_pr, 2.75 / 3, 'champion AUC-PR')
  close(shadow.auc_pr, 0.7, 'shadow AUC-PR')
  // 1 % of 4 negatives flags none: frauds above the highest negative (0.6; 0.8).
  close(champion.recall_at_1pct_fpr, 2 / 3, 'champion recall')
  close(shadow.recall_at_1pct_fpr, 1 / 3, 'shadow recall')

  // The champion declined c1's fraud on day 1, so c1 is dropped on day 2; the shadow only reviewed it.
  assert.deepEqual(
    champion.card_precision.days.map((d) => [d.day, d.hits, d.dropped]),
    [
      ['2026-02-01', 1, 0],
      ['2026-02-02', 0, 1],
      ['2026-02-03', 1, 0],
    ],
  )
  assert.deepEqual(
    shadow.card_precision.days.map((d) => [d.day, d.hits, d.dropped]),
    [
      ['2026-02-01', 1, 0],
      ['2026-02-02', 1, 0],
      ['2026-02-03', 1, 0],
    ],
  )
  close(champion.card_precision.mean, 0.02 / 3, 'champion card precision')
  close(shadow.card_precision.mean, 0.01, 'shadow card precision')

  assert.deepEqual(champion.diff, {
    auc_pr: 0,
    recall_at_1pct_fpr: 0,
    card_precision: 0,
    review_rate: 0,
    decline_rate: 0,
    fraud_amount_caught: 0,
    alerts_per_day: 0,
  })
  close(shadow.diff.auc_pr, 0.7 - 2.75 / 3, 'diff AUC-PR')
  close(shadow.diff.recall_at_1pct_fpr, -1 / 3, 'diff recall')
  close(shadow.diff.card_precision, 0.01 - 0.02 / 3, 'diff card precision')
  close(shadow.diff.review_rate, 0, 'diff review rate')
  close(shadow.diff.decline_rate, 1 / 9, 'diff decline rate')
  assert.equal(shadow.diff.fraud_amount_caught, -70)
  close(shadow.diff.alerts_per_day, 0.25, 'diff alerts per day')

  const markdown = backtestMarkdown(report)
  assert.match(markdown, /^# Backtest of run `r1`\n/)
  assert.ok(
    markdown.includes(
      '| model-a@2 | 0.7000 (-0.2167) | 0.3333 (-0.3333) | 0.0100 (+0.0033) | 22.22 % (±0.00 %) | 44.44 % (+11.11 %) | 300 of 370 (-70) | 1.00 (+0.25) |',
    ),
    markdown,
  )
  assert.ok(
    markdown.includes('| model-b@1 (baseline) | 0.9167 | 0.6667 | 0.0067 | 22.22 % | 33.33 % | 370 of 370 | 0.75 |'),
    markdown,
  )
  assert.ok(markdown.includes('| 2026-02-02 | 0.0000 | 1 | 0.0100 | 1 |'), markdown)
  assert.ok(markdown.includes("7 of model-b@1's 9, 2 younger left out, 3 frauds"), markdown)

  // Saved: one row per model, queryable by run id.
  const saved = await withClient(config, async (client) =>
    (
      await client.query({
        query: `SELECT position, model_name, model_version, is_baseline, transactions, left_out_immature, frauds,
                       auc_pr, fraud_amount_caught, alerts_per_day, alerts_by_day, card_precision_by_day,
                       diff_fraud_amount_caught, diff_decline_rate, maturity_days, labels_run_id,
                       toString(label_cutoff) AS label_cutoff, toString(created_at) AS created_at
                FROM backtest_reports WHERE run_id = 'r1' ORDER BY position`,
        format: 'JSONEachRow',
      })
    ).json<Record<string, unknown>>(),
  )
  assert.equal(saved.length, 2)
  assert.deepEqual(
    saved.map((r) => [
      r.position,
      r.model_name,
      r.model_version,
      r.is_baseline,
      Number(r.transactions),
      Number(r.left_out_immature),
      Number(r.frauds),
    ]),
    [
      [0, 'model-b', '1', true, 9, 2, 3],
      [1, 'model-a', '2', false, 9, 2, 3],
    ],
  )
  close(Number(saved[1]!.auc_pr), 0.7, 'saved AUC-PR')
  assert.equal(saved[1]!.fraud_amount_caught, 300)
  assert.equal(saved[1]!.diff_fraud_amount_caught, -70)
  close(Number(saved[1]!.diff_decline_rate), 1 / 9, 'saved diff decline rate')
  assert.equal(saved[0]!.alerts_per_day, 0.75)
  assert.deepEqual(
    Object.entries(saved[0]!.alerts_by_day as Record<string, unknown>).map(([d, n]) => [d, Number(n)]),
    [
      ['2026-02-01', 1],
      ['2026-02-02', 1],
      ['2026-02-03', 0],
      ['2026-02-10', 1],
    ],
  )
  assert.deepEqual(saved[0]!.card_precision_by_day, { '2026-02-01': 0.01, '2026-02-02': 0, '2026-02-03': 0.01 })
  assert.equal(saved[0]!.maturity_days, MATURITY_DAYS)
  assert.equal(saved[0]!.labels_run_id, 'live')
  assert.equal(saved[0]!.label_cutoff, '2026-02-15 00:00:00.000')
  assert.equal(saved[0]!.created_at, '2026-03-01 00:00:00.000')
})

test('without a maturity every transaction counts; given models come in the order given', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  await seed(config)
  const report = await withClient(config, (client) =>
    backtestReport(client, {
      runId: 'r1',
      labelCutoffMs: CUTOFF_MS,
      maturityDays: 0,
      models: ['model-a@2', 'model-b@1'],
      save: false,
    }),
  )
  assert.deepEqual(
    report.models.map((m) => [m.model, m.is_baseline, m.left_out_immature, m.frauds, m.fraud_amount_caught]),
    [
      ['model-a@2', true, 0, 4, 800],
      ['model-b@1', false, 0, 4, 870],
    ],
  )
  assert.equal(report.models[1]!.diff.fraud_amount_caught, 70)
  const rows = await withClient(config, async (client) =>
    (await client.query({ query: 'SELECT count() AS n FROM backtest_reports', format: 'JSONEachRow' })).json<{
      n: string
    }>(),
  )
  assert.equal(Number(rows[0]!.n), 0, 'save: false writes nothing')
  await assert.rejects(
    withClient(config, (client) =>
      backtestReport(client, {
        runId: 'r1',
        labelCutoffMs: CUTOFF_MS,
        maturityDays: 0,
        models: ['model-c@1'],
        save: false,
      }),
    ),
    (err: { code?: string; message?: string }) =>
      err.code === 'FS_ERR_USAGE' &&
      /model-c@1 has no scores in this run; models that scored it: model-b@1, model-a@2/.test(err.message ?? ''),
  )
})

test('fraudstream backtest prints the table, writes Markdown and JSON, and names the runs when the run id is unknown', async (t) => {
  const { config, dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  await seed(config)
  const args = ['--run-id', 'r1', '--label-cutoff', '2026-02-15', '--maturity-days', '10', '--data-dir', dataDir]
  const out = join(dataDir, 'report.md')

  const json = await cli('backtest', ...args, '--json', '--out', out)
  assert.equal(json.code, 0, json.stderr)
  const report = JSON.parse(json.stdout) as BacktestReport & { ok: boolean }
  assert.equal(report.ok, true)
  assert.equal(report.label_cutoff, '2026-02-15T00:00:00.000Z')
  assert.deepEqual(
    report.models.map((m) => [m.model, m.fraud_amount_caught]),
    [
      ['model-b@1', 370],
      ['model-a@2', 300],
    ],
  )
  const markdown = readFileSync(out, 'utf8')
  assert.ok(markdown.includes('| model-a@2 | 0.7000 (-0.2167) |'), markdown)
  const saved = JSON.parse(readFileSync(join(dataDir, 'report.json'), 'utf8')) as BacktestReport
  assert.deepEqual(saved.models, report.models)

  const human = await cli('backtest', ...args)
  assert.equal(human.code, 0, human.stderr)
  const lines = human.stdout.split('\n')
  assert.match(lines[0]!, /^backtest of run r1: 2 model\(s\), 2026-02-01T12:00:00\.000Z → 2026-02-10T12:00:00\.000Z$/)
  assert.match(
    lines[3]!,
    /^model\s+AUC-PR\s+recall@1%FPR\s+card P@100\/day\s+review\s+decline\s+fraud caught\s+alerts\/day$/,
  )
  assert.match(lines[5]!, /^model-b@1 \(baseline\)\s+0\.9167\s+0\.6667/)
  assert.match(
    lines[6]!,
    /^model-a@2\s+0\.7000 \(-0\.2167\)\s+0\.3333 \(-0\.3333\).*300 of 370 \(-70\)\s+1\.00 \(\+0\.25\)$/,
  )

  const unknown = await cli('backtest', '--run-id', 'nope', '--data-dir', dataDir)
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /no scores of run "nope": .*runs with scores: r1, r0\) \[FS_ERR_USAGE\]/)

  // Three reports were asked with saving on: two models each, in ClickHouse.
  const counts = await withClient(config, async (client) =>
    (
      await client.query({
        query: "SELECT count() AS n, uniqExact(created_at) AS reports FROM backtest_reports WHERE run_id = 'r1'",
        format: 'JSONEachRow',
      })
    ).json<{ n: string; reports: string }>(),
  )
  assert.deepEqual([Number(counts[0]!.n), Number(counts[0]!.reports)], [4, 2])
})
