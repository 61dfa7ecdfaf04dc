import type { RecordSink, TopicPartition } from '../../core/ports.js'
import { partitionKey, type Item, type Stage, type StageContext, type StageOpenContext } from '../../core/stage.js'
import type { Featured } from '../windows/card-windows-stage.js'
import { FactBatches } from './fact-batches.js'
import { sourceId, transactionFacts } from './lookup-facts.js'
import { WatermarkMarkers } from './lookup-markers.js'
import { fillLookups, requirementOf, type LookupPlan } from './lookup-plan.js'
import type { LookupTable } from './lookup-table.js'

export interface LookupsStageOptions {
  /** Where facts and watermarks go: a producer batching for throughput, apart from the decisions' one. */
  readonly producer: RecordSink
  readonly plan: LookupPlan
  readonly table: LookupTable
  readonly factsTopic: string
  readonly factsPartitions: number
  readonly maxWaitMs: number
  /** How often each partition's watermark is sent to the aggregators. */
  readonly markerIntervalMs: number
  /** Caught up and without records for this long, a partition is idle: it stops holding the tables back. */
  readonly idleTimeoutMs: number
  /** The partition's event-time watermark (the card windows'). */
  readonly watermarkOf: (tp: TopicPartition) => number
  /** The tables' size and how far behind the wall clock they are complete, for gauges. */
  readonly onTables?: (keys: number, completeMs: number) => void
}

interface Waiting {
  readonly item: Item<Featured>
  readonly release: () => void
  waited: boolean
}

/**
 * Terminal and merchant features from the tables every instance holds (fed by the lookup task through the
 * lookup-facts and tables topics). Each on-time transaction is sent to the aggregators as a fact; then it waits, in
 * offset order per partition, until the tables cover its windows (or lookups.maxWaitMs passed: scored with the
 * tables as they are, counted `stale`). Each partition's watermark goes to every aggregator, so the tables can be
 * declared complete up to it.
 */
export function lookupsStage(name: string, options: LookupsStageOptions): Stage<Featured, Featured> {
  const { plan, table, maxWaitMs } = options
  const facts = new FactBatches(options.factsTopic, options.factsPartitions)
  const markers = new WatermarkMarkers(options.producer, options.factsTopic, options.factsPartitions)
  const waiting = new Map<string, Waiting[]>()
  let open: StageOpenContext | undefined
  let markersSentAtMs = -Infinity

  /** Moves items whose lookups the tables now cover (or that waited maxWaitMs) on, in offset order per partition. */
  function release(ctx: StageContext<Featured>): void {
    const nowMs = ctx.clock.nowMs()
    for (const queue of waiting.values()) {
      while (queue.length > 0) {
        const head = queue[0]!
        const { value } = head.item
        const complete = table.covers(requirementOf(plan, value.lookupAtMs))
        if (!complete && nowMs - head.item.receivedAtMs < maxWaitMs) {
          head.waited = true
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
        } else if (head.waited) ctx.metrics.count('waited')
        fillLookups(plan, value.rows, value.tx, value.lookupAtMs, (key) => table.get(key), value.at, table.summaries)
        ctx.emit(head.item, value)
        head.release()
      }
    }
  }

  /**
   * Each live partition's watermark to every aggregator: no later on-time transaction of it is older, and none
   * waiting is either. Idle: caught up, nothing waiting and no record for idleTimeoutMs (a shorter test would take a
   * partition whose records are still on their way for an idle one). Not sooner, not even for a partition empty at
   * its assignment: its first records may be older than others' windows (a topic filled fast, a backfill), and a
   * transaction released meanwhile would miss them.
   */
  function sendMarkers(ctx: StageContext<Featured>): void {
    const nowMs = ctx.clock.nowMs()
    for (const p of ctx.partitions()) {
      if (p.restoring) continue
      const queue = waiting.get(partitionKey(p.tp)) ?? []
      let watermarkMs = options.watermarkOf(p.tp)
      for (const w of queue) watermarkMs = Math.min(watermarkMs, w.item.value.lookupAtMs)
      const idle =
        queue.length === 0 && p.nextOffset >= p.highWatermark && nowMs - p.lastRecordAtMs >= options.idleTimeoutMs
      markers.send({
        kind: 'marker',
        source: sourceId('tx', p.tp.partition),
        watermarkMs,
        idle,
        throughOffset: p.nextOffset - 1,
      })
    }
    options.onTables?.(table.size, table.completeness.txMs)
  }

  return {
    name,
    timerIntervalMs: options.markerIntervalMs,
    open(ctx) {
      open = ctx
      table.onProgress(() => open?.wake())
    },
    restore(tp) {
      waiting.set(partitionKey(tp), [])
      // Another owner may have sent other markers for it meanwhile: the next one goes out even if unchanged.
      markers.forget(sourceId('tx', tp.partition))
    },
    release: (tp) => void waiting.delete(partitionKey(tp)),
    process(batch, ctx) {
      for (const item of batch) {
        const { tx, late } = item.value
        // An on-time transaction feeds the lookup tables; a late one entered no window and enters no table either.
        if (!late)
          for (const fact of transactionFacts(plan, tx, sourceId('tx', item.origin.partition), item.origin.offset))
            facts.add(fact, ctx.hold(item))
        // A late one waits too: its lookups are read at the watermark.
        waiting.get(partitionKey(item.origin))!.push({ item, release: ctx.hold(item), waited: false })
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
