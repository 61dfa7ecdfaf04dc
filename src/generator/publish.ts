import type { RecordSink } from '../core/ports.js'
import type { GeneratedRecord, TransactionGenerator } from './transaction-generator.js'

export type RecordTimestamp = 'event-time' | 'send-time' | 'scheduled'

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
   * The Kafka timestamp of each record: its event time (replaying history; `decode.maxEventTimeAheadMs` reads it), the
   * time it is sent (a live feed: event → decision latency is measured from it), or the time a fixed `rate` says it
   * is due (an open-loop benchmark: when the generator falls behind, or waits for the bounded lead, latency still
   * counts from when the record should have gone out, so a stall is not hidden by sending later; the send time
   * when `rate` is 'max', which has no schedule).
   */
  readonly recordTimestamp?: RecordTimestamp
  readonly signal?: AbortSignal
  readonly onRecord?: (record: GeneratedRecord) => void
}

export interface PublishResult {
  transactions: number
  labels: number
  acked: number
  byIntent: Record<string, number>
  /** At a fixed rate: how far, at the most, a record went out after the time the rate said it was due (ms). */
  maxBehindScheduleMs?: number
}

/** A fixed rate's timetable: the n-th transaction (from 0) is due at startedWallMs + n × msPerRecord. */
interface Schedule {
  readonly startedWallMs: number
  readonly msPerRecord: number
}

/** Sends generated records at a rate, acks counted from delivery reports; resolves when every record is acked. */
export async function publishGenerated(options: PublishOptions): Promise<PublishResult> {
  const result: PublishResult = { transactions: 0, labels: 0, acked: 0, byIntent: {} }
  const startedMs = performance.now()
  const schedule: Schedule | undefined =
    options.rate === 'max' ? undefined : { startedWallMs: Date.now(), msPerRecord: 1000 / options.rate }
  if (schedule) result.maxBehindScheduleMs = 0
  const ack = () => result.acked++
  while (result.transactions < options.count && !options.signal?.aborted) {
    let allowed = options.count - result.transactions
    let dueInMs = 5
    if (options.rate !== 'max') {
      // Transactions 0 … floor(due) are due: the n-th at n / rate seconds.
      const due = ((performance.now() - startedMs) / 1000) * options.rate
      allowed = Math.min(allowed, Math.floor(due) + 1 - result.transactions)
      // Wake when the next record is due rather than on a fixed tick, so a slow rate is not sent in 5 ms bursts.
      dueInMs = Math.min(5, Math.max(1, ((result.transactions - due) * 1000) / options.rate))
    }
    let leadAllowed = Infinity
    if (options.maxLead) leadAllowed = options.maxLead.records - (result.transactions - options.maxLead.consumed())
    if (allowed <= 0 || leadAllowed <= 0) {
      await new Promise((resolve) => setTimeout(resolve, leadAllowed <= 0 ? 5 : dueInMs))
      continue
    }
    allowed = Math.min(allowed, leadAllowed, 2_000)
    if (schedule) {
      // The chunk's first record is its most overdue one: the others were due later and go out at the same time.
      const behindMs = Date.now() - (schedule.startedWallMs + result.transactions * schedule.msPerRecord)
      result.maxBehindScheduleMs = Math.max(result.maxBehindScheduleMs ?? 0, behindMs)
    }
    for (let i = 0; i < allowed; i++) {
      const record = options.generator.next()
      send(options, record, ack, result, schedule)
      if (record.topic === 'labels') i--
    }
    // Yield so delivery reports and the consumer run between chunks.
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (const label of options.generator.drainLabels()) send(options, label, ack, result, schedule)
  await options.sink.flush()
  return result
}

function send(
  options: PublishOptions,
  record: GeneratedRecord,
  ack: () => void,
  result: PublishResult,
  schedule: Schedule | undefined,
): void {
  const topic = record.topic === 'labels' ? options.topics.labels : options.topics.transactions
  const timestampMs = timestampOf(options.recordTimestamp, record, result.transactions, schedule)
  options.sink.send({ topic, key: record.key, value: record.value, timestampMs }, ack)
  if (record.topic === 'labels') result.labels++
  else result.transactions++
  result.byIntent[record.intent.kind] = (result.byIntent[record.intent.kind] ?? 0) + 1
  options.onRecord?.(record)
}

function timestampOf(
  kind: RecordTimestamp | undefined,
  record: GeneratedRecord,
  transactionsSent: number,
  schedule: Schedule | undefined,
): number {
  if (kind === 'scheduled' && schedule)
    return Math.floor(schedule.startedWallMs + transactionsSent * schedule.msPerRecord)
  if (kind === 'scheduled' || kind === 'send-time') return Date.now()
  return Math.floor(record.eventTimeMs)
}
