import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { syncFeatureColumns } from '../../src/adapters/clickhouse/feature-columns.js'
import { MIGRATIONS_DIR, migrate } from '../../src/adapters/clickhouse/migrate.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const rows = async <T>(client: ClickHouseClient, query: string) =>
  (await (await client.query({ query, format: 'JSONEachRow' })).json<T>()) as T[]
const tables = async (client: ClickHouseClient) =>
  (await rows<{ name: string }>(client, 'SELECT name FROM system.tables WHERE database = currentDatabase()'))
    .map((r) => r.name)
    .sort()

/** A directory with the first `files` of clickhouse/migrations/ only. */
function migrationsUpTo(files: readonly string[], t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-migrations-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const file of files) copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file))
  return dir
}

/** A ClickHouse as the first release left it: migration 001 only, and two scores with features in the Map. */
async function firstRelease(client: ClickHouseClient, t: { after(fn: () => void): void }): Promise<void> {
  await migrate(client, migrationsUpTo(['001_scores.sql'], t))
  await client.insert({
    table: 'scores',
    format: 'JSONEachRow',
    values: ['old-1', 'old-2'].map((transaction_id, i) => ({
      transaction_id,
      card_id: 'card-1',
      event_time: `2026-01-0${5 + i} 10:00:00.000`,
      decided_at: `2026-01-0${5 + i} 10:00:00.010`,
      run_id: 'live',
      model_name: 'card-fraud-lr',
      features: { amount: 12.5 + i, card_count_1h: 2 },
    })),
  })
}

test('a fresh install gets scores partitioned by day and ordered by hour then card, and nothing left over', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  const result = await migrate(client)
  assert.deepEqual(result.applied, [
    '001_scores.sql',
    '002_scores_by_day.sql',
    '003_labels.sql',
    '004_scores_minutely.sql',
    '005_model_roles.sql',
    '006_backtest_reports.sql',
    '007_rules_version.sql',
    '008_decision_tier.sql',
  ])
  assert.deepEqual(await tables(client), [
    'backtest_reports',
    'labels',
    'latest_labels',
    'schema_migrations',
    'scores',
    'scores_minutely',
    'scores_minutely_mv',
  ])
  const [table] = await rows<{ partition_key: string; sorting_key: string }>(
    client,
    "SELECT partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'scores'",
  )
  assert.equal(table!.partition_key, 'toDate(event_time)')
  assert.equal(table!.sorting_key, 'run_id, model_name, toStartOfHour(event_time), card_id, event_time')
  assert.deepEqual((await migrate(client)).applied, [], 'applied once')
})

test('upgrading keeps the rows scored before: each feature reads from its own column, and `features` still works', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  await firstRelease(client, t)
  assert.deepEqual((await migrate(client)).applied, [
    '002_scores_by_day.sql',
    '003_labels.sql',
    '004_scores_minutely.sql',
    '005_model_roles.sql',
    '006_backtest_reports.sql',
    '007_rules_version.sql',
    '008_decision_tier.sql',
  ])
  assert.deepEqual(await syncFeatureColumns(client, ['amount', 'card_count_1h', 'is_abroad']), [
    'f_amount',
    'f_card_count_1h',
    'f_is_abroad',
  ])
  assert.deepEqual(await syncFeatureColumns(client, ['amount', 'card_count_1h', 'is_abroad']), [], 'added once')
  await client.insert({
    table: 'scores',
    format: 'JSONCompactEachRow',
    columns: [
      'transaction_id',
      'card_id',
      'event_time',
      'run_id',
      'model_name',
      'f_amount',
      'f_card_count_1h',
      'f_is_abroad',
    ],
    values: [['new-1', 'card-1', '2026-02-01 00:00:00.000', 'live', 'card-fraud-lr', 99, 1, 1]],
  })
  const read = await rows<{ transaction_id: string; f_amount: number; f_is_abroad: number | null; features: object }>(
    client,
    'SELECT transaction_id, f_amount, f_is_abroad, features, toString(_partition_id) AS day FROM scores ORDER BY transaction_id',
  )
  assert.deepEqual(
    read.map((r) => [r.transaction_id, r.f_amount, r.f_is_abroad, r.features]),
    [
      ['new-1', 99, 1, { amount: 99, card_count_1h: 1, is_abroad: 1 }],
      // Scored before is_abroad existed: nan (null in JSON), and absent from the map.
      ['old-1', 12.5, null, { amount: 12.5, card_count_1h: 2 }],
      ['old-2', 13.5, null, { amount: 13.5, card_count_1h: 2 }],
    ],
  )
  assert.ok((await tables(client)).includes('scores_001'), 'the old table is kept while it has rows')
})

test('a crash inside migration 002 is repaired by running it again: no row twice, none lost', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  await firstRelease(client, t)
  // Crashed after the copy, before the rename: scores_next holds a copy the re-run must not add to.
  const upTo002 = migrationsUpTo(['001_scores.sql', '002_scores_by_day.sql'], t)
  await migrate(client, upTo002)
  await client.command({
    query: "ALTER TABLE schema_migrations DELETE WHERE name = '002_scores_by_day.sql' SETTINGS mutations_sync = 1",
  })
  await client.command({ query: 'RENAME TABLE scores TO scores_next, scores_001 TO scores' })
  assert.deepEqual((await migrate(client, upTo002)).applied, ['002_scores_by_day.sql'])
  const count = async () => (await rows<{ n: string }>(client, 'SELECT count() AS n FROM scores'))[0]!.n
  assert.equal(Number(await count()), 2)
  // Crashed after the rename, before the record: the re-run changes nothing.
  await client.command({
    query: "ALTER TABLE schema_migrations DELETE WHERE name = '002_scores_by_day.sql' SETTINGS mutations_sync = 1",
  })
  assert.deepEqual((await migrate(client, upTo002)).applied, ['002_scores_by_day.sql'])
  assert.equal(Number(await count()), 2)
  await migrate(client)
  assert.deepEqual(
    (await tables(client)).filter((t) => t.startsWith('scores')),
    ['scores', 'scores_001', 'scores_minutely', 'scores_minutely_mv'],
  )
})

test('the per-minute rollup counts the rows scored before it existed once, and every insert after it', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  await firstRelease(client, t)
  await migrate(client)
  await client.insert({
    table: 'scores',
    format: 'JSONEachRow',
    values: [0.02, 0.97, 1].map((score, i) => ({
      transaction_id: `new-${i}`,
      card_id: 'card-2',
      event_time: '2026-01-05 10:00:30.000',
      source_timestamp: '2026-01-05 10:00:30.000',
      decided_at: '2026-01-05 10:00:30.020',
      run_id: 'live',
      model_name: 'card-fraud-lr',
      score,
      decision: score > 0.9 ? 'decline' : 'approve',
      latency_ms: 5,
    })),
  })
  const [minute] = await rows<{ n: string; declined: string; bins: string[]; event: number[] }>(
    client,
    `SELECT sum(transactions) AS n, sum(declined) AS declined, sumForEachMerge(score_bins) AS bins,
            quantilesTDigestMerge(0.5, 0.99, 0.999)(event_latency_ms) AS event
     FROM scores_minutely WHERE minute = '2026-01-05 10:00:00'`,
  )
  // old-1 (score 0, before the migration) and the three new ones fall in the 10:00 minute.
  assert.equal(Number(minute!.n), 4)
  assert.equal(Number(minute!.declined), 2)
  assert.deepEqual(
    minute!.bins.map(Number),
    [2, ...Array(18).fill(0), 2],
    'two in [0, 0.05), 0.97 and 1 in the last bin',
  )
  assert.equal(Math.round(minute!.event[0]!), 20, 'decided 20 ms after the records reached Kafka')

  // A shadow's score of the same transaction is a row of its own: the rollup keeps it apart from the deciding rows.
  await client.insert({
    table: 'scores',
    format: 'JSONEachRow',
    values: [
      {
        transaction_id: 'new-0',
        card_id: 'card-2',
        event_time: '2026-01-05 10:00:30.000',
        decided_at: '2026-01-05 10:00:30.020',
        run_id: 'live',
        model_name: 'card-fraud-gbdt',
        model_role: 'shadow',
        score: 0.5,
        decision: 'review',
      },
    ],
  })
  const byRole = await rows<{ model_role: string; n: string }>(
    client,
    `SELECT model_role, sum(transactions) AS n FROM scores_minutely WHERE minute = '2026-01-05 10:00:00'
     GROUP BY model_role ORDER BY model_role`,
  )
  assert.deepEqual(
    byRole.map((r) => [r.model_role, Number(r.n)]),
    [
      ['', 1],
      ['champion', 3],
      ['shadow', 1],
    ],
    'rolled up before 005: role empty; after it, each role on its own',
  )
})
