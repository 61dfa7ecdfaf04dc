// One open-loop run: the generator in a child process sends at a fixed rate whatever the consumer does, each record
// stamped with the time the rate says it is due, so a consumer that falls behind shows as latency rather than as a
// slower generator (no coordinated omission).
import { ErrorCode, errorMessageOf, FraudstreamError } from '../src/core/errors.js'
import type { PublishResult } from '../src/generator/publish.js'
import { publishInChild } from '../src/generator/publish-process.js'
import type { Logger } from 'pino'
import type { MockCluster } from '../src/adapters/kafka/mock-cluster.js'
import { benchTopics, sleep, startBenchPipeline, type BenchPipeline } from './harness.js'

/**
 * The generator's bound on records sent and not yet consumed: the mock broker keeps ~5 MiB a partition and drops
 * older data silently, and 20,000 records of ~400 B over 4 partitions stay well inside it. A consumer that falls
 * this far behind holds the generator back; the schedule's timestamps keep counting meanwhile.
 */
export const MAX_LEAD_RECORDS = 20_000

/**
 * Simulated event time runs ahead of the wall clock (about a day per 12,000 transactions with the default world), and
 * decode dead-letters events more than a day ahead of their Kafka timestamp, which is the wall clock here. So the
 * runs' event times are laid out back from now, each run's after the one before (a later one is never late), with a
 * day per 5,000 transactions of room, and 31 days more: a run ends by sending its outstanding labels, reported up to
 * 30 days after their transactions, and the next run's labels must not come before them (the lookups drop those).
 */
export function eventTimeStarts(counts: readonly number[], customers: number, nowMs = Date.now()): number[] {
  const DAY_MS = 24 * 60 * 60 * 1000
  // A simulated customer makes about 2.4 transactions a day: 2 per day keeps the estimate of a run's span generous.
  const spans = counts.map((n) => Math.ceil(n / (2 * customers) + 31) * DAY_MS)
  return spans.map((_, i) => nowMs - spans.slice(i).reduce((a, b) => a + b, 0))
}

/**
 * The simulated world the open-loop benchmarks generate from. Event time runs about rate / (2.4 × customers) days a
 * second: with the generator's default 5,000 customers, 5,000 tx/s pass a simulated day in 2.5 s and the lookup
 * features' one-hour label lag in 0.1 s, shorter than the round trip the tables take, so transactions wait for them
 * as live traffic never would. 40 times the customers and merchants (the same shops per customer) keep an hour above
 * four seconds at 5,000 tx/s.
 */
export const BENCH_WORLD = { customers: 200_000, merchants: 32_000 } as const

export const transactionsOf = (rate: number, warmupSeconds: number, seconds: number) =>
  Math.round(rate * (warmupSeconds + seconds))

export interface OpenLoopTarget {
  readonly bootstrapServers: string
  readonly topic: string
  /** Records of the transactions topic consumed so far, over every run. */
  consumed(): number
  failure(): Error | undefined
  /** Resolves once what was consumed has been handled through (the job: decided and acknowledged by every sink). */
  settle(timeoutMs: number): Promise<boolean>
}

export interface RateRun {
  readonly offeredPerSecond: number
  /** Consumed during the measured window, per second. */
  readonly achievedPerSecond: number
  /** Achieved ≥ 95 % of offered, less than a second's records left unconsumed at the end, sent on schedule. */
  readonly sustained: boolean
  readonly sent: number
  /** How far behind its schedule the generator fell at the most (ms): above ~100 ms, the consumer held it back. */
  readonly maxBehindScheduleMs: number
  /** Records sent and not yet consumed when the window ended. */
  readonly backlogAtEnd: number
  /** Whether the consumer handled everything sent within the catch-up time after the window. */
  readonly caughtUp: boolean
}

export interface RateOptions {
  readonly rate: number
  readonly warmupSeconds: number
  readonly seconds: number
  /** The generator's seed: a run's transaction ids must not repeat an earlier run's, or dedupe drops them. */
  readonly seed: number
  /** The first event time: after the previous run's last (eventTimeStarts). */
  readonly startTimeMs: number
  /**
   * The simulated world: event time runs (rate / 2.4 customers) times faster than the wall clock, and a lookup
   * feature's delay or label lag shrinks by as much against the pipeline's round trips.
   */
  readonly world: { readonly customers: number; readonly merchants: number }
  /** The measured window begins: reset what is measured. */
  readonly onMeasureStart: () => void
  /** Every second of the measured window, with the seconds since it began. */
  readonly onTick?: (elapsedSeconds: number) => void
  /** The measured window ends (before the catch-up): read what is measured over the window itself. */
  readonly onMeasureEnd: () => Promise<void> | void
  readonly catchUpTimeoutMs?: number
  readonly onProgress?: (line: string) => void
}

/**
 * Offers `rate` tx/s for a warm-up and a measured window, then lets the consumer catch up (bounded), so latencies
 * read after this resolves include the records sent in the window and decided after it.
 */
export async function runAtRate(target: OpenLoopTarget, options: RateOptions): Promise<RateRun> {
  const { rate, warmupSeconds, seconds } = options
  const base = target.consumed()
  const consumed = () => target.consumed() - base
  let sent = 0
  let result: PublishResult | undefined
  let publishFailure: unknown
  const stop = new AbortController()
  const publishing = publishInChild({
    bootstrapServers: target.bootstrapServers,
    generator: { seed: options.seed, startTimeMs: options.startTimeMs, ...options.world },
    topics: { transactions: target.topic, labels: `${target.topic}.labels` },
    count: transactionsOf(rate, warmupSeconds, seconds),
    rate,
    maxLeadRecords: MAX_LEAD_RECORDS,
    consumed,
    recordTimestamp: 'scheduled',
    signal: stop.signal,
    onProgress: (n) => (sent = n),
  }).then(
    (r) => (result = r),
    (err: unknown) => (publishFailure = err),
  )
  const check = () => {
    const failure = target.failure() ?? publishFailure
    if (failure === undefined) return
    stop.abort()
    throw new FraudstreamError(
      ErrorCode.internal,
      `the open-loop run at ${rate} tx/s failed: ${errorMessageOf(failure)}`,
      'internal',
      false,
      { cause: failure },
    )
  }
  const waitUntil = async (done: () => boolean, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs
    while (!done() && performance.now() < deadline) {
      check()
      await sleep(20)
    }
    check()
    return done()
  }

  // The schedule starts with the child's first record: the fork, tsx and the producer's connect come before it.
  if (!(await waitUntil(() => sent > 0 || result !== undefined, 60_000)))
    throw new FraudstreamError(ErrorCode.kafkaProduce, 'the generator sent nothing in 60 s', 'external')
  const startedMs = performance.now()
  await waitUntil(() => false, warmupSeconds * 1000)
  options.onMeasureStart()
  const measureBase = consumed()
  const measureStartMs = performance.now()
  for (let second = 1; second <= seconds; second++) {
    await waitUntil(() => false, measureStartMs + second * 1000 - performance.now())
    options.onTick?.(second)
    if (second % 10 === 0 && second < seconds)
      options.onProgress?.(
        `  ${rate} tx/s: ${second}/${seconds} s, ${sent - consumed()} behind, generator ${((performance.now() - startedMs) / 1000).toFixed(0)} s in`,
      )
  }
  const windowSeconds = (performance.now() - measureStartMs) / 1000
  const achievedPerSecond = (consumed() - measureBase) / windowSeconds
  const backlogAtEnd = Math.max(0, sent - consumed())
  await options.onMeasureEnd()

  // On schedule the generator is done now; one held back by the lead bound is stopped, and reports what it sent.
  const catchUpTimeoutMs = options.catchUpTimeoutMs ?? 60_000
  if (!(await waitUntil(() => result !== undefined, 2_000))) {
    stop.abort()
    await waitUntil(() => result !== undefined, 30_000)
  }
  await publishing
  if (result === undefined)
    throw new FraudstreamError(ErrorCode.kafkaProduce, 'the generator did not stop within 30 s', 'external')
  const sentAll = result.transactions
  const caughtUp =
    (await waitUntil(() => consumed() >= sentAll, catchUpTimeoutMs)) && (await target.settle(catchUpTimeoutMs))
  check()
  const maxBehindScheduleMs = result.maxBehindScheduleMs ?? 0
  return {
    offeredPerSecond: rate,
    achievedPerSecond,
    sustained:
      achievedPerSecond >= 0.95 * rate && backlogAtEnd <= rate && maxBehindScheduleMs < 1_000 && !stop.signal.aborted,
    sent: sentAll,
    maxBehindScheduleMs,
    backlogAtEnd,
    caughtUp,
  }
}

/** The job (startBenchPipeline) on a topic of its own, joined to its group and ready for runAtRate. */
export async function startOpenLoopJob(options: {
  readonly cluster: MockCluster
  readonly log: Logger
}): Promise<{ readonly bench: BenchPipeline; readonly target: OpenLoopTarget }> {
  const topic = `bench-open-loop-${Date.now()}`
  // Created first: a group that subscribes before its topic exists only finds it at a metadata refresh, seconds later.
  await options.cluster.ensureTopics(Object.values(benchTopics(topic)))
  const bootstrapServers = options.cluster.bootstrapServers
  const bench = await startBenchPipeline({ bootstrapServers, topic, log: options.log })
  const { job } = bench.pipeline
  while (!job.ready && job.failure === undefined) await sleep(20)
  return {
    bench,
    target: {
      bootstrapServers,
      topic,
      consumed: () => job.stats.consumed,
      failure: () => job.failure,
      settle: (timeoutMs) => job.drain(timeoutMs),
    },
  }
}
