import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createClickhouseClient, type ClickHouseClient } from '../src/adapters/clickhouse/client.js'
import { syncFeatureColumns } from '../src/adapters/clickhouse/feature-columns.js'
import { MIGRATIONS_DIR, migrate, parseMigration } from '../src/adapters/clickhouse/migrate.js'
import { loadConfig } from '../src/config/load.js'
import { TransactionGenerator } from '../src/generator/transaction-generator.js'
import { PartitionState } from '../src/offline/partition-state.js'
import { scoreColumns, scoreValuesOf, toScoreRow, type ScoreRow } from '../src/stages/sinks/score-row.js'
import { cardFraudFeatures } from '../topology/features.js'
import { benchmarkArgs } from './args.js'
import { windowStateOptions } from './card-stream.js'

const USAGE = `Question: what does a score row cost ClickHouse to take and to keep, in the layout the migrations give \`scores\`
against the first release's (features in a Map)?

  npm run bench:clickhouse -- [--rows 100000] [--batch 2000] [--seed 1] [--json]

Embedded chDB in its host process, as the job uses it. --rows generated transactions get their card-window features
(the offline PartitionState; lookup features stay 0), then go in batches of --batch as the sink sends them: the first
release's table (migration 001: JSONCompactEachRow, features as a Map) and today's (every migration: a Float32 column
per feature), alternating batch by batch so both see the same machine load. Per layout: µs per row from building the
values to ClickHouse's acknowledgement, the longest the main thread's event loop was held, and after OPTIMIZE FINAL
the bytes per row on disk (compressed data, marks and indexes).`

const args = benchmarkArgs(USAGE, {
  rows: { type: 'string', default: '100000' },
  batch: { type: 'string', default: '2000' },
})
const rowCount = Number(args.rows)
const batchSize = Number(args.batch)

const names = cardFraudFeatures.map((f) => f.name)
const rows = scoredRows(rowCount, Number(args.seed))

const dataDir = mkdtempSync(join(tmpdir(), 'fraudstream-bench-ch-'))
const client = await createClickhouseClient(loadConfig({ overrides: { dataDir } }))
try {
  // The first release's table, under its own name, beside today's.
  for (const { query } of parseMigration(readFileSync(join(MIGRATIONS_DIR, '001_scores.sql'), 'utf8')))
    await client.command({ query: query.replace('CREATE TABLE IF NOT EXISTS scores', 'CREATE TABLE scores_first') })
  await migrate(client)
  await syncFeatureColumns(client, names)

  const firstColumns = scoreColumns([])
    .filter((c) => c !== 'source_timestamp')
    .flatMap((c) => (c === 'late' ? ['features', c] : [c]))
  const firstValues = (row: ScoreRow) => firstColumns.map((c) => row[c])
  const layouts = [
    { name: 'map (001)', table: 'scores_first', columns: firstColumns, valuesOf: firstValues, micros: 0, blockedMs: 0 },
    {
      name: 'columns (now)',
      table: 'scores',
      columns: scoreColumns(names),
      valuesOf: scoreValuesOf(names),
      micros: 0,
      blockedMs: 0,
    },
  ]
  for (let at = 0, batch = 0; at < rows.length; at += batchSize, batch++) {
    const slice = rows.slice(at, at + batchSize)
    for (const layout of batch % 2 === 0 ? layouts : [...layouts].reverse()) {
      const loop = monitorEventLoopDelay({ resolution: 1 })
      loop.enable()
      const startedAt = performance.now()
      await client.insert({
        table: layout.table,
        values: slice.map(layout.valuesOf),
        columns: layout.columns as [string, ...string[]],
        format: 'JSONCompactEachRow',
        clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: `${layout.table}:${batch}` },
      })
      layout.micros += (performance.now() - startedAt) * 1000
      loop.disable()
      layout.blockedMs = Math.max(layout.blockedMs, loop.max / 1e6)
    }
    if (!args.json) process.stderr.write(`\r${Math.min(at + batchSize, rows.length)} of ${rows.length} rows`)
  }
  if (!args.json) process.stderr.write('\n')
  const results = []
  for (const layout of layouts) {
    await client.command({ query: `OPTIMIZE TABLE ${layout.table} FINAL` })
    const [disk] = await (
      await client.query({
        query: `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(data_compressed_bytes) AS data
                FROM system.parts WHERE database = currentDatabase() AND table = {table:String} AND active`,
        query_params: { table: layout.table },
        format: 'JSONEachRow',
      })
    ).json<{ rows: string; disk: string; data: string }>()
    results.push({
      layout: layout.name,
      rows: Number(disk!.rows),
      micros_per_row: layout.micros / rows.length,
      rows_per_s: rows.length / (layout.micros / 1e6),
      loop_blocked_max_ms: layout.blockedMs,
      bytes_per_row_on_disk: Number(disk!.disk) / Number(disk!.rows),
      data_bytes_per_row: Number(disk!.data) / Number(disk!.rows),
    })
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ rows: rows.length, batch: batchSize, results })}\n`)
  else {
    console.log(
      `clickhouse-layout  node ${process.version}, ${rows.length} rows in batches of ${batchSize}, embedded chDB`,
    )
    console.log('  layout          µs/row   rows/s   loop held max   bytes/row on disk (data)')
    for (const r of results)
      console.log(
        `  ${r.layout.padEnd(14)} ${r.micros_per_row.toFixed(1).padStart(7)} ${Math.round(r.rows_per_s).toLocaleString('en').padStart(8)} ${`${r.loop_blocked_max_ms.toFixed(1)} ms`.padStart(15)}   ${r.bytes_per_row_on_disk.toFixed(1)} (${r.data_bytes_per_row.toFixed(1)})`,
      )
    const [a, b] = results
    console.log(
      `  now / 001: ${(b!.micros_per_row / a!.micros_per_row).toFixed(2)}× the time, ${(b!.bytes_per_row_on_disk / a!.bytes_per_row_on_disk).toFixed(2)}× the bytes`,
    )
  }
} finally {
  await client.close()
  rmSync(dataDir, { recursive: true, force: true })
}

/** Score rows as the sink builds them, for generated transactions with their card-window features. */
function scoredRows(count: number, seed: number): ScoreRow[] {
  const generator = new TransactionGenerator({ seed, customers: 20_000, merchants: 2_000 })
  const state = new PartitionState(windowStateOptions(cardFraudFeatures))
  const out: ScoreRow[] = []
  for (let offset = 0; out.length < count; offset++) {
    const record = generator.next()
    if (record.topic !== 'transactions') continue
    const processed = state.process(record.value)
    if (processed.kind !== 'features') continue
    const score = Math.random()
    out.push(
      toScoreRow({
        tx: processed.tx,
        decision: {
          transaction_id: processed.tx.transaction_id,
          card_id: processed.tx.card_id,
          event_time: new Date(processed.tx.eventTimeMs).toISOString(),
          decided_at: new Date(processed.tx.eventTimeMs + 15).toISOString(),
          score,
          decision: score > 0.9 ? 'decline' : score > 0.8 ? 'review' : 'approve',
          reasons: score > 0.8 ? ['velocity_24h'] : [],
          rules: [],
          model: { name: 'card-fraud-lr', version: '2' },
          explanation: [
            { feature: 'card_count_1h', contribution: 1.5 * score },
            { feature: 'amount', contribution: -0.7 * score },
            { feature: 'is_night', contribution: 0.2 },
          ],
          latency_ms: 5 + Math.random() * 10,
        },
        role: 'champion',
        featureNames: names,
        row: processed.row,
        featureContract: 'c1',
        late: processed.late,
        source: { topic: 'transactions', partition: offset % 4, offset },
        sourceTimestampMs: processed.tx.eventTimeMs + 5,
        runId: 'live',
      }),
    )
  }
  return out
}
