import type { RecordSink, TopicPartition } from '../../core/ports.js'
import {
  partitionKey,
  type Item,
  type PartitionProgress,
  type Stage,
  type StageContext,
  type StageOpenContext,
} from '../../core/stage.js'
import type { Featured } from '../windows/card-windows-stage.js'
import { FactBatches } from './fact-batches.js'
import { sourceId, sourceKindOf, transactionFacts } from './lookup-facts.js'
import { WatermarkMarkers } from './lookup-markers.js'
import { WaitQueue } from './wait-queue.js'
import { fillLookups, requirementOf, type LookupPlan } from './lookup-plan.js'
import type { LookupTable } from './lookup-table.js'
import { SentFacts } from './sent-facts.js'
import type { OwnedSource, SourceKnowledge } from './table-coverage.js'

export interface LookupsStageOptions {
  /** Where facts and watermarks go: a producer batching for throughput, apart from the decisions' one. */
  readonly producer: RecordSink
  readonly plan: LookupPlan
  readonly table: LookupTable
  readonly factsTopic: string
  readonly factsPartitions: number
  /** The topics behind the aggregators' sources (`tx/<p>`, `labels/<p>`), whose log ends confirm idle claims. */
  readonly sourceTopics: { readonly tx: string; readonly labels: string }
  readonly maxWaitMs: number
  /** How often each partition's watermark is sent to the aggregators. */
  readonly markerIntervalMs: number
  /** The partition's event-time watermark (the card windows'). */
  readonly watermarkOf: (tp: TopicPartition) => number
  /** The tables' size and how far behind the wall clock they are complete, for gauges. */
  readonly onTables?: (keys: number, completeMs: number) => void
  /** A transaction released after waiting for the tables (not called for one released at once). */
  readonly onWaited?: (waitedMs: number) => void
}

/** Transactions released in one call: the rest go in the next turn of the event loop (onTimer, woken). */
const MAX_RELEASES_PER_TURN = 1_000

interface Waiting {
  readonly item: Item<Featured>
  readonly release: () => void
  /** Clock.nowMs when it reached this stage. */
  readonly sinceMs: number
  waited: boolean
}

/**
 * Terminal and merchant features from the tables every instance holds (fed by the lookup task through the
 * lookup-facts and tables topics). Each on-time transaction is sent to the aggregators as a fact; then it waits, in
 * offset order per partition, until the tables cover its windows (or lookups.maxWaitMs passed: scored with the
 * tables as they are, counted `stale`). Each partition's watermark goes to every aggregator, so the tables can be
 * declared complete up to it.
 *
 * Whether the tables cover a transaction is judged with what this instance knows (aggregatorCovers): its own
 * partitions by the facts it sent and its watermarks, idle claims by a log end asked after the transaction
 * arrived. So a live transaction waits only while its window really is incomplete, never for a quiet topic, an idle
 * partition or a fresh start (beyond the first progress of every aggregator and one log-end query).
 */
export function lookupsStage(name: string, options: LookupsStageOptions): Stage<Featured, Featured> {
  const { plan, table, maxWaitMs } = options
  const facts = new FactBatches(options.factsTopic, options.factsPartitions)
  const markers = new WatermarkMarkers(options.producer, options.factsTopic, options.factsPartitions)
  const waiting = new Map<string, WaitQueue<Waiting>>()
  /** Per owned partition (by number: one source topic), the facts sent that not every aggregator confirmed. */
  const sent = new Map<number, SentFacts>()
  let open: StageOpenContext | undefined
  let markersSentAtMs = -Infinity

  /** This instance's own partitions, as the coverage check sees them now (restoring ones are not known yet). */
  function ownedSources(ctx: StageContext<Featured>): Map<string, OwnedSource> {
    const owned = new Map<string, OwnedSource>()
    for (const p of ctx.partitions()) {
      const facts = sent.get(p.tp.partition)
      if (p.restoring || !facts) continue
      owned.set(sourceId('tx', p.tp.partition), {
        liveFromOffset: p.liveFromOffset,
        nextOffset: p.nextOffset,
        watermarkMs: options.watermarkOf(p.tp),
        sentOlderAfter: (offset, txMs) => facts.hasOlderAfter(offset, txMs),
      })
    }
    return owned
  }

  /** What the check of one transaction may use; log ends it lacks are collected in `wanted` (by source). */
  function knowledgeFor(owned: Map<string, OwnedSource>, sinceMs: number, wanted: Set<string>): SourceKnowledge {
    return {
      owned: (source) => owned.get(source),
      freshLogEnd: (source) => {
        const { topic, partition } = topicPartitionOf(source)
        const end = open?.logEnds.get(topic, partition)
        if (end && end.askedAtMs >= sinceMs) return end.offset
        wanted.add(source)
        return undefined
      },
    }
  }

  function topicPartitionOf(source: string): { topic: string; partition: number } {
    const partition = Number(source.slice(source.indexOf('/') + 1))
    return { topic: options.sourceTopics[sourceKindOf(source)], partition }
  }

  /** Asks for the log ends `wanted` names, per topic, from queries sent at or after `sinceMs`. */
  function refreshLogEnds(wanted: ReadonlySet<string>, sinceMs: number): void {
    const byTopic = new Map<string, number[]>()
    for (const source of wanted) {
      const { topic, partition } = topicPartitionOf(source)
      let partitions = byTopic.get(topic)
      if (!partitions) byTopic.set(topic, (partitions = []))
      partitions.push(partition)
    }
    for (const [topic, partitions] of byTopic) open?.logEnds.refresh(topic, partitions, sinceMs)
  }

  /** Moves items whose lookups the tables now cover (or that waited maxWaitMs) on, in offset order per partition. */
  function release(ctx: StageContext<Featured>): void {
    const nowMs = ctx.clock.nowMs()
    const owned = ownedSources(ctx)
    const wanted = new Set<string>()
    // The newest arrival among those that want a log end: a query sent after it serves them all.
    let wantedSinceMs = -Infinity
    let released = 0
    for (const queue of waiting.values()) {
      while (queue.length > 0) {
        // A long wait ends with many releases, each going through the rest of the graph in this turn: the rest waits
        // for the next one, so the event loop is not held for all of them at once.
        if (released++ >= MAX_RELEASES_PER_TURN) {
          open?.wake()
          break
        }
        const head = queue.peek()!
        const { value } = head.item
        const sinceMs = head.item.receivedAtMs
        const complete = table.covers(requirementOf(plan, value.lookupAtMs), knowledgeFor(owned, sinceMs, wanted))
        if (!complete && nowMs - sinceMs < maxWaitMs) {
          head.waited = true
          if (wanted.size > 0) wantedSinceMs = Math.max(wantedSinceMs, sinceMs)
          break
        }
        queue.shift()
        if (!complete) {
          ctx.metrics.count('stale')
          ctx.log.warn(
            {
              partition: head.item.origin.partition,
              offset: head.item.origin.offset,
              completeness: table.completeness,
            },
            'lookup tables incomplete after lookups.maxWaitMs; scoring with the tables as they are',
          )
        } else if (head.waited && nowMs > head.sinceMs) {
          // Released later than it arrived; one held only within the same instant (a log-end query answered
          // before any time passed, as on a manual clock) did not wait.
          ctx.metrics.count('waited')
          options.onWaited?.(nowMs - head.sinceMs)
        }
        fillLookups(plan, value.rows, value.tx, value.lookupAtMs, (key) => table.get(key), value.at, table.summaries)
        ctx.emit(head.item, value)
        head.release()
      }
    }
    // Answered, the runtime calls onTimer: the transactions that waited for them are checked again.
    if (wanted.size > 0) refreshLogEnds(wanted, wantedSinceMs)
  }

  /**
   * Each live partition's watermark to every aggregator: no later on-time transaction of it is older, and none
   * waiting is either. Idle as soon as it is caught up (as of the log end last seen) with nothing waiting: a reader
   * trusts the claim only when a log end asked after its transaction arrived confirms it (aggregatorCovers), so an
   * eager claim cannot release a transaction before a backfill's older records on another partition.
   */
  function sendMarkers(ctx: StageContext<Featured>): void {
    for (const p of ctx.partitions()) {
      if (p.restoring) continue
      const queue = waiting.get(partitionKey(p.tp)) ?? new WaitQueue<Waiting>()
      let watermarkMs = options.watermarkOf(p.tp)
      for (const w of queue) watermarkMs = Math.min(watermarkMs, w.item.value.lookupAtMs)
      markers.send({
        kind: 'marker',
        source: sourceId('tx', p.tp.partition),
        watermarkMs,
        idle: queue.length === 0 && p.nextOffset >= p.highWatermark,
        throughOffset: p.nextOffset - 1,
      })
      confirmSent(p)
    }
    options.onTables?.(table.size, table.completeness.txMs)
  }

  /** Forgets the facts every aggregator has applied: those through the oldest of their markers' offsets. */
  function confirmSent(p: PartitionProgress): void {
    const facts = sent.get(p.tp.partition)
    if (!facts || facts.size === 0) return
    const source = sourceId('tx', p.tp.partition)
    let through = Infinity
    for (let a = 0; a < table.partitions; a++) {
      const marker = table.progressOf(a)?.markers.find(([id]) => id === source)
      through = Math.min(through, marker ? marker[3] : -Infinity)
    }
    if (through > -Infinity) facts.confirm(through)
  }

  return {
    name,
    timerIntervalMs: options.markerIntervalMs,
    open(ctx) {
      open = ctx
      table.onProgress(() => open?.wake())
    },
    restore(tp) {
      waiting.set(partitionKey(tp), new WaitQueue())
      sent.set(tp.partition, new SentFacts())
      // Another owner may have sent other markers for it meanwhile: the next one goes out even if unchanged.
      markers.forget(sourceId('tx', tp.partition))
    },
    release: (tp) => {
      waiting.delete(partitionKey(tp))
      sent.delete(tp.partition)
    },
    process(batch, ctx) {
      for (const item of batch) {
        const { tx, late } = item.value
        // An on-time transaction feeds the lookup tables; a late one entered no window and enters no table either.
        if (!late) {
          const { partition, offset } = item.origin
          const txFacts = transactionFacts(plan, tx, sourceId('tx', partition), offset)
          for (const fact of txFacts) facts.add(fact, ctx.hold(item))
          if (txFacts.length > 0) sent.get(partition)!.add(offset, tx.eventTimeMs)
        }
        // A late one waits too: its lookups are read at the watermark.
        waiting
          .get(partitionKey(item.origin))!
          .push({ item, release: ctx.hold(item), sinceMs: ctx.clock.nowMs(), waited: false })
      }
      facts.send(options.producer)
      release(ctx)
    },
    // Also called when the tables made progress (wake): markers still go out at most every markerIntervalMs.
    onTimer(ctx) {
      const nowMs = ctx.clock.nowMs()
      if (nowMs - markersSentAtMs >= options.markerIntervalMs * 0.9) {
        markersSentAtMs = nowMs
        sendMarkers(ctx)
      }
      release(ctx)
    },
  }
}
