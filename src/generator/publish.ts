import type { RecordSink } from '../core/ports.js'
import type { GeneratedRecord, TransactionGenerator } from './transaction-generator.js'

export interface PublishOptions {
  readonly generator: TransactionGenerator
  readonly sink: RecordSink
  readonly topics: { readonly transactions: string; readonly labels: string }
  /** Records on the transactions topic to send (valid, invalid and duplicates); Infinity = until aborted. */
  readonly count: number
  /** Records per second on the transactions topic; 'max' = as fast as the consumer keeps up. */
  readonly rate: number | 'max'
  /**
   * Bound on records sent but not yet consumed, when a consumer's progress is known: the mock cluster keeps only
   * ~5 MiB per partition and drops older batches silently, so a generator must not outrun its consumer by more.
   */
  readonly maxLead?: { readonly records: number; readonly consumed: () => number }
  /**
   * The Kafka timestamp of each record: its event time (replaying history; `decode.maxEventTimeAheadMs` reads it), or
   * the time it is sent (a live feed: event → decision latency is measured from it).
   */
  readonly recordTimestamp?: 'event-time' | 'send-time'
  readonly signal?: AbortSignal
  readonly onRecord?: (record: GeneratedRecord) => void
}

export interface PublishResult {
  transactions: number
  labels: number
  acked: number
  byIntent: Record<string, number>
}

/** Sends generated records at a rate, acks counted from delivery reports; resolves when every record is acked. */
export async function publishGenerated(options: PublishOptions): Promise<PublishResult> {
  const result: PublishResult = { transactions: 0, labels: 0, acked: 0, byIntent: {} }
  const startedMs = performance.now()
  const ack = () => result.acked++
  while (result.transactions < options.count && !options.signal?.aborted) {
    let allowed = options.count - result.transactions
    if (options.rate !== 'max')
      allowed = Math.min(
        allowed,
        Math.floor(((performance.now() - startedMs) / 1000) * options.rate) - result.transactions,
      )
    if (options.maxLead)
      allowed = Math.min(allowed, options.maxLead.records - (result.transactions - options.maxLead.consumed()))
    if (allowed <= 0) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      continue
    }
    for (let i = 0; i < Math.min(allowed, 2_000); i++) {
      const record = options.generator.next()
      send(options, record, ack, result)
      if (record.topic === 'labels') i--
    }
    // Yield so delivery reports and the consumer run between chunks.
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (const label of options.generator.drainLabels()) send(options, label, ack, result)
  await options.sink.flush()
  return result
}

function send(options: PublishOptions, record: GeneratedRecord, ack: () => void, result: PublishResult): void {
  const topic = record.topic === 'labels' ? options.topics.labels : options.topics.transactions
  const timestampMs = options.recordTimestamp === 'send-time' ? Date.now() : Math.floor(record.eventTimeMs)
  options.sink.send({ topic, key: record.key, value: record.value, timestampMs }, ack)
  if (record.topic === 'labels') result.labels++
  else result.transactions++
  result.byIntent[record.intent.kind] = (result.byIntent[record.intent.kind] ?? 0) + 1
  options.onRecord?.(record)
}
