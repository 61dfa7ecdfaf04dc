import type { RecordSink } from '../../core/ports.js'
import { AlertSeverity, type AlertV1 } from '../../core/records.js'
import { partitionKey, type Stage, type StageMetrics } from '../../core/stage.js'
import { DigestBuffer, type CutDigest, type DigestLimits } from './alert-digest.js'
import { TokenBucket } from './token-bucket.js'

export interface AlertsSinkOptions<T> {
  readonly producer: RecordSink
  /** Immediate alerts, key = card_id. */
  readonly topic: string
  /** Digests, key = `<topic>:<partition>` of their source. */
  readonly digestTopic: string
  readonly digest: DigestLimits
  /** Immediate alerts a second (a token bucket with a second's worth of burst); 0: no bound. */
  readonly maxImmediatePerSecond: number
  readonly alertOf: (value: T) => AlertV1 | undefined
}

/**
 * What the node counts (`fraudstream_stage_records_total{stage="alerts"}`), and how fraudstream_alerts_total reads
 * them: an alert is counted once, where it went (`immediate` or `digest`), with its severity.
 */
export const AlertOutcome = {
  immediateCritical: 'immediate_critical',
  immediateHigh: 'immediate_high',
  /** A high alert over the rate bound. */
  digestHigh: 'digest_high',
  digestLow: 'digest_low',
  /** Digest records sent (not alerts). */
  digests: 'digests',
} as const

/** `{ kind, severity }` of an alerts-node outcome that counts alerts; undefined for the others. */
export function alertKindOf(outcome: string): { kind: 'immediate' | 'digest'; severity: AlertSeverity } | undefined {
  const [kind, severity] = outcome.split('_')
  if ((kind === 'immediate' || kind === 'digest') && severity && Object.hasOwn(AlertSeverity, severity))
    return { kind, severity: severity as AlertSeverity }
  return undefined
}

/**
 * Alerts to the analysts: critical ones at once, high ones at once while immediate alerts stay within
 * `maxImmediatePerSecond` and into the digest beyond it (marked `degraded`), low ones (reviews) into the digest
 * (DigestBuffer: per source partition, cut by interval, size or offset span).
 *
 * Exactly once per run without crashes, at least once across them: an alert's source offset is held until its own
 * delivery report, or its digest's, arrives, so a crash before that replays the record and alerts again; a digest
 * re-sent so may be cut differently (see AlertDigestV1 for how consumers dedupe). Every item passes on.
 */
export function alertsSink<T>(name: string, options: AlertsSinkOptions<T>): Stage<T, T> {
  const buffer = new DigestBuffer(options.digest)
  let bucket: TokenBucket | undefined
  let metrics: StageMetrics | undefined
  const send = (cut: readonly CutDigest[]) => {
    for (const { digest, acks } of cut) {
      options.producer.send(
        {
          topic: options.digestTopic,
          key: `${digest.source.topic}:${digest.source.partition}`,
          value: Buffer.from(JSON.stringify(digest)),
        },
        () => {
          for (const ack of acks) ack()
        },
      )
    }
    if (cut.length > 0) metrics?.count(AlertOutcome.digests, cut.length)
  }
  return {
    name,
    // A quarter of the interval: a digest goes out at most a quarter late, and a long interval costs no busy timer.
    timerIntervalMs: Math.max(10, Math.min(1_000, Math.floor(options.digest.intervalMs / 4))),
    open(ctx) {
      metrics = ctx.metrics
      if (options.maxImmediatePerSecond > 0)
        bucket = new TokenBucket(options.maxImmediatePerSecond, options.maxImmediatePerSecond, ctx.clock.nowMs())
    },
    process(batch, ctx) {
      const counts = new Map<string, number>()
      const nowMs = ctx.clock.nowMs()
      const cut: CutDigest[] = []
      for (const item of batch) {
        const alert = options.alertOf(item.value)
        if (alert) {
          const { severity } = alert
          // Critical alerts spend tokens too (they are immediate alerts), but go out without one.
          const withinBound = severity !== AlertSeverity.low && (bucket === undefined || bucket.take(nowMs))
          let outcome: string
          if (severity === AlertSeverity.critical || withinBound) {
            options.producer.send(
              { topic: options.topic, key: alert.card_id, value: Buffer.from(JSON.stringify(alert)) },
              ctx.hold(item, 'ack'),
            )
            outcome = severity === AlertSeverity.critical ? AlertOutcome.immediateCritical : AlertOutcome.immediateHigh
          } else {
            const full = buffer.add(item.origin, item.origin.offset, alert, {
              degraded: severity !== AlertSeverity.low,
              nowMs,
              ack: ctx.hold(item, 'digest'),
            })
            if (full) cut.push(full)
            outcome = severity === AlertSeverity.low ? AlertOutcome.digestLow : AlertOutcome.digestHigh
          }
          counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
        }
        ctx.emit(item, item.value)
      }
      // The last offset of each partition in the batch: open digests holding too many offsets back are cut.
      const last = new Map<string, (typeof batch)[number]>()
      for (const item of batch) last.set(partitionKey(item.origin), item)
      for (const item of last.values()) {
        for (const c of buffer.seen(item.origin, item.origin.offset)) cut.push(c)
      }
      send(cut)
      for (const [outcome, n] of counts) ctx.metrics.count(outcome, n)
    },
    onTimer(ctx) {
      send(buffer.due(ctx.clock.nowMs()))
    },
    // Sends what is open now: a revocation or a stop waits for these acknowledgements before it commits.
    flush(tp) {
      send(buffer.cutAll(tp))
    },
    release(tp) {
      buffer.drop(tp)
    },
  }
}
