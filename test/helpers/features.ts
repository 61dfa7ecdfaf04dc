import type { ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import type { Config } from '../../src/config/schema.js'
import type { GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { partitionOf } from '../../src/adapters/kafka/partitioner.js'
import { partitionStateOptions } from '../../src/offline/partition-state.js'
import { PartitionedStates } from '../../src/offline/partitioned-states.js'
import { cardFraudFeatures } from '../../topology/features.js'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { decodeLabel } from '../../src/stages/decode/decode-transaction.js'
import { OfflineLookups } from '../../src/stages/lookups/offline-lookups.js'
import { lookupPlanOf } from '../../src/stages/lookups/lookup-plan.js'

export interface RunComparison {
  readonly expected: number
  readonly rows: number
  /** Transactions an uninterrupted run scores that have no row. */
  readonly missing: string[]
  /** Transactions with more than one row. */
  readonly doubled: string[]
  /** Rows whose feature vector differs from the uninterrupted run's. */
  readonly differing: string[]
  /** For the first differing rows: each differing feature as `name: got vs expected`. */
  readonly differences: string[]
}

/**
 * What the job logged to `scores` for a topic, against one uninterrupted pass of the same records, in send order,
 * through the same PartitionState per partition, with lookups read from complete tables: the oracle for restarts, handovers and
 * rebalances. `sent` holds everything published, transactions and labels.
 */
export async function compareWithUninterruptedRun(input: {
  client: ClickHouseClient
  config: Config
  topic: string
  sent: readonly GeneratedRecord[]
}): Promise<RunComparison> {
  // The test topics' 4 partitions (the mock's), filled by fraudstream's producer (murmur2), each with its own state.
  const reference = new PartitionedStates(partitionStateOptions(input.config, cardFraudFeatures), 4, 'murmur2')
  const lateness = input.config.windows.allowedLatenessMs
  const lookups = new OfflineLookups(lookupPlanOf(cardFraudFeatures, lateness), lateness, {
    labelPartitionOf: (label) => partitionOf(label.transaction_id, 4, 'murmur2'),
  })
  const scored: { tx: Transaction; row: Float32Array; lookupAtMs: number }[] = []
  for (const record of input.sent) {
    if (record.topic === 'labels') {
      const decoded = decodeLabel(record.value, { maxRecordBytes: input.config.decode.maxRecordBytes })
      if (decoded.kind === 'ok') lookups.addLabel(decoded.label)
      continue
    }
    const processed = reference.process(record.value)
    if (processed.kind !== 'features') continue
    lookups.addTransaction(processed.tx, processed.late)
    scored.push(processed)
  }
  const expected = new Map<string, string>()
  for (const { tx, row, lookupAtMs } of scored) {
    lookups.fill(row, tx, lookupAtMs)
    expected.set(tx.transaction_id, JSON.stringify(Array.from(row)))
  }
  const names = cardFraudFeatures.map((f) => f.name)
  const rows = await (
    await input.client.query({
      query: 'SELECT transaction_id, features FROM scores WHERE source_topic = {topic:String}',
      query_params: { topic: input.topic },
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; features: Record<string, number> }>()
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row.transaction_id, (counts.get(row.transaction_id) ?? 0) + 1)
  const differingRows = rows.filter(
    (r) => JSON.stringify(names.map((n) => r.features[n])) !== expected.get(r.transaction_id),
  )
  const differences = differingRows.slice(0, 5).map((r) => {
    const want = JSON.parse(expected.get(r.transaction_id) ?? '[]') as number[]
    const features = names.flatMap((n, i) =>
      r.features[n] === want[i] ? [] : [`${n}: ${r.features[n]} vs ${want[i]}`],
    )
    return `${r.transaction_id} (${features.join(', ')})`
  })
  return {
    expected: expected.size,
    rows: rows.length,
    missing: [...expected.keys()].filter((id) => !counts.has(id)),
    doubled: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    differing: differingRows.map((r) => r.transaction_id),
    differences,
  }
}
