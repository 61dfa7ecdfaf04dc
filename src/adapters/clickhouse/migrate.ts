import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { ClickHouseClient } from './client.js'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../clickhouse/migrations/', import.meta.url))

export interface MigrationResult {
  readonly applied: string[]
  readonly alreadyApplied: string[]
}

/** One statement of a migration file, and the query that must answer a number above 0 for it to run (`-- when:`). */
export interface MigrationStatement {
  readonly query: string
  readonly when?: string
}

/**
 * The statements of a migration file: separated by `;` at the end of a line, `--` comment lines dropped. A comment
 * line `-- when: <query>` makes the statement after it conditional: a step that cannot be written re-runnable with
 * IF [NOT] EXISTS (a copy, a rename) runs only while the state it repairs is there.
 */
export function parseMigration(text: string): MigrationStatement[] {
  return text
    .split(/;\s*$/m)
    .map((chunk) => {
      const when = /^\s*--\s*when:\s*(.+?)\s*$/m.exec(chunk)?.[1]
      const query = chunk.replace(/^\s*--.*$/gm, '').trim()
      return when ? { query, when } : { query }
    })
    .filter((s) => s.query.length > 0)
}

/**
 * Applies `clickhouse/migrations/NNN_name.sql` in order, each once, recording it in `schema_migrations`. Every
 * migration is written to be re-runnable (IF NOT EXISTS, or guarded by `-- when:`), so a crash between a statement
 * and its record is harmless.
 */
export async function migrate(client: ClickHouseClient, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY name`,
  })
  const done = new Set(
    (
      await (await client.query({ query: 'SELECT name FROM schema_migrations', format: 'JSONEachRow' })).json<{
        name: string
      }>()
    ).map((r) => r.name),
  )
  const files = readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
  const result: MigrationResult = { applied: [], alreadyApplied: [] }
  for (const file of files) {
    if (done.has(file)) {
      result.alreadyApplied.push(file)
      continue
    }
    for (const { query, when } of parseMigration(readFileSync(`${dir}/${file}`, 'utf8'))) {
      try {
        if (when !== undefined && !(await answersAboveZero(client, when))) continue
        await client.command({ query })
      } catch (err) {
        throw new FraudstreamError(
          ErrorCode.sinkClickhouse,
          `migration ${file} failed: ${errorMessageOf(err)}`,
          'external',
          false,
          { cause: err },
        )
      }
    }
    await client.insert({ table: 'schema_migrations', values: [{ name: file }], format: 'JSONEachRow' })
    result.applied.push(file)
  }
  return result
}

async function answersAboveZero(client: ClickHouseClient, query: string): Promise<boolean> {
  const rows = await (await client.query({ query, format: 'JSONCompactEachRow' })).json<unknown[]>()
  return Number(rows[0]?.[0] ?? 0) > 0
}

/** Refuses to run when ClickHouse would forget a batch token before the sink can retry it (RELIABILITY.md §4). */
export async function checkDedupWindow(client: ClickHouseClient, table: string, minimum: number): Promise<number> {
  const rows = await (await client.query({ query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}', query_params: { table }, format: 'JSONEachRow' })).json<{ engine_full: string }>()
  const engine = rows[0]?.engine_full ?? ''
  const window = Number(/non_replicated_deduplication_window\s*=\s*(\d+)/.exec(engine)?.[1] ?? (/Replicated/.test(engine) ? Infinity : 0))
  if (window < minimum) {
    throw new FraudstreamError(ErrorCode.sinkClickhouse, `table ${table} has non_replicated_deduplication_window=${window}, below the ${minimum} the sink needs to make retries idempotent; ALTER TABLE ${table} MODIFY SETTING non_replicated_deduplication_window = ${minimum}`, 'external')
  }
  return window
}
