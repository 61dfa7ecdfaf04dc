import { basename, join } from 'node:path'
import type { Partitioner } from '../adapters/kafka/partitioner.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { topicsOf } from '../../topology/card-fraud.js'
import type { ReplayOptions, ReplayProgress } from './replay.js'
import { TopicReader, type OffsetLookup, type PartitionRange } from './topic-range.js'
import { warmUpHorizonMs } from './warm-up.js'

/** What the feature pass of a replay reads, and which of its records are scored. */
export interface ReplayInput {
  readonly transactions: string
  readonly labels: string | undefined
  readonly partitions: number
  readonly labelPartitions: number
  readonly partitioner: Partitioner
  readonly topic: string
  readonly totalLines: number | undefined
  /** Whether the record at (partition, offset, timestamp) is scored, or only warms the state. */
  readonly scores: (partition: number, offset: number, timestampMs: number) => boolean
  readonly lookups: OffsetLookup[]
  readonly ranges: PartitionRange[]
}

/**
 * A replay's input: its files as they are, or, from the topics, each partition's records from the warm-up start to
 * --to (labels to the log end) copied into `scratch` as `kcat -C -J` dumps.
 */
export async function inputOf(
  options: ReplayOptions,
  scratch: string,
  report: (phase: ReplayProgress['phase'], done: number, total: number | undefined) => void,
): Promise<ReplayInput> {
  const { source, fromMs = -Infinity, toMs = Infinity } = options
  if (source.kind === 'files') {
    return {
      transactions: source.transactions,
      labels: source.labels,
      partitions: source.partitions,
      labelPartitions: source.labelPartitions,
      partitioner: source.partitioner,
      topic: `file:${basename(source.transactions)}`,
      totalLines: undefined,
      scores: (_p, _o, timestampMs) => timestampMs >= fromMs && timestampMs <= toMs,
      lookups: [],
      ranges: [],
    }
  }
  if (options.fromMs === undefined)
    throw new FraudstreamError(ErrorCode.usage, 'a replay of the topics needs --from (or --input files)', 'input')
  const topics = topicsOf(options.config)
  const reader = await TopicReader.connect(source.clientConfig, options.runId)
  try {
    const warmFromMs = options.fromMs - warmUpHorizonMs(options.config, options.features)
    const rangesOf = async (topic: string, startMs: number, scoreFromMs: number, untilMs: number | undefined) => {
      const partitions = await reader.partitionsOf(topic)
      const ranges: PartitionRange[] = []
      for (let partition = 0; partition < partitions; partition++) {
        const start = await reader.offsetForTime(topic, partition, startMs)
        const from = Math.max(start, await reader.offsetForTime(topic, partition, scoreFromMs))
        const end =
          untilMs === undefined
            ? (await reader.watermarks(topic, partition)).high
            : Math.max(from, await reader.offsetForTime(topic, partition, untilMs + 1))
        ranges.push({ partition, start, from, end })
      }
      return ranges
    }
    const txRanges = await rangesOf(topics.transactions, warmFromMs, options.fromMs, options.toMs)
    // Labels from the same warm-up start up to the log end: a label counts by its report time, so one that arrived
    // after --to cannot change a transaction in range, and one reported in time is wherever it is in the log.
    const labelRanges = await rangesOf(topics.labels, warmFromMs, warmFromMs, undefined)
    const transactions = join(scratch, 'transactions.ndjson')
    const labels = join(scratch, 'labels.ndjson')
    const total = txRanges.reduce((n, r) => n + r.end - r.start, 0)
    const stop = options.shouldStop ? { shouldStop: options.shouldStop } : {}
    await reader.dump(topics.transactions, txRanges, transactions, {
      onProgress: (n) => report('reading', n, total),
      ...stop,
    })
    await reader.dump(topics.labels, labelRanges, labels, stop)
    const fromOf = new Map(txRanges.map((r) => [r.partition, r.from]))
    return {
      transactions,
      labels,
      partitions: txRanges.length,
      labelPartitions: labelRanges.length,
      partitioner: 'murmur2',
      topic: topics.transactions,
      totalLines: total,
      scores: (partition, offset) => offset >= fromOf.get(partition)!,
      lookups: reader.lookups,
      ranges: txRanges,
    }
  } finally {
    await reader.close()
  }
}
