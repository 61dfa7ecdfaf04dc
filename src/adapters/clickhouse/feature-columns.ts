import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { ClickHouseClient } from './client.js'

/** The `scores` column a feature is stored in: a prefix keeps `amount` the feature apart from `amount` the column. */
export function featureColumn(name: string): string {
  return `f_${name}`
}

/** A ClickHouse identifier in backquotes, whatever characters the name holds. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``
}

/** A ClickHouse string literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * Gives `scores` a Float32 column for every feature in `names` that lacks one, then points the `features` alias map at
 * every feature column the table has (this feature set's and earlier ones'). A new column reads, for rows written
 * before it existed, the value kept in `features_001` by migration 002, or nan for a row scored without that
 * feature. Idempotent; run at every start, after the migrations.
 *
 * | column                 | holds                                                                    |
 * | ---------------------- | ------------------------------------------------------------------------ |
 * | f_card_count_24h       | the feature as the model saw it (Float32, as in the row scored)           |
 * | features (ALIAS)       | map('card_count_24h', f_card_count_24h, …) without nan, as Float64       |
 * | features_001           | rows scored before migration 002; empty for later ones                   |
 */
export async function syncFeatureColumns(client: ClickHouseClient, names: readonly string[]): Promise<string[]> {
  const existing = await featureColumnsOf(client)
  const added: string[] = []
  try {
    for (const name of names) {
      const column = featureColumn(name)
      if (existing.includes(column)) continue
      const legacy = `features_001[${quoteString(name)}]`
      await client.command({
        query: `ALTER TABLE scores ADD COLUMN IF NOT EXISTS ${quoteIdentifier(column)} Float32
                DEFAULT if(mapContains(features_001, ${quoteString(name)}), toFloat32(${legacy}), nan) CODEC(ZSTD(1))`,
      })
      added.push(column)
    }
    const all = added.length > 0 ? await featureColumnsOf(client) : existing
    const entries = all.map((c) => `${quoteString(c.slice(2))}, toFloat64(${quoteIdentifier(c)})`).join(', ')
    const alias = all.length > 0 ? `mapFilter((k, v) -> NOT isNaN(v), map(${entries}))` : 'map()'
    const aliasType = 'Map(String, Float64)'
    const current = await aliasOf(client)
    if (current === undefined)
      await client.command({ query: `ALTER TABLE scores ADD COLUMN IF NOT EXISTS features ${aliasType} ALIAS ${alias}` })
    else if (added.length > 0)
      await client.command({ query: `ALTER TABLE scores MODIFY COLUMN features ${aliasType} ALIAS ${alias}` })
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.sinkClickhouse,
      `could not add the feature columns to scores: ${errorMessageOf(err)}`,
      'external',
      false,
      { cause: err },
    )
  }
  return added
}

async function featureColumnsOf(client: ClickHouseClient): Promise<string[]> {
  const result = await client.query({
    query: `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'scores' AND startsWith(name, 'f_')
            ORDER BY position`,
    format: 'JSONCompactEachRow',
  })
  return (await result.json<[string]>()).map(([name]) => name)
}

/** The `features` alias's expression; '' if the column is not an alias, undefined if there is none. */
async function aliasOf(client: ClickHouseClient): Promise<string | undefined> {
  const result = await client.query({
    query: `SELECT default_kind, default_expression FROM system.columns
            WHERE database = currentDatabase() AND table = 'scores' AND name = 'features'`,
    format: 'JSONCompactEachRow',
  })
  const row = (await result.json<[string, string]>())[0]
  return row === undefined ? undefined : row[0] === 'ALIAS' ? row[1] : ''
}
