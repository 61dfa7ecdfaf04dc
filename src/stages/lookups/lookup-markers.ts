import { pack } from 'msgpackr'
import type { RecordSink } from '../../core/ports.js'
import type { LookupFact } from './lookup-facts.js'

type Marker = Extract<LookupFact, { kind: 'marker' }>

/**
 * Sources' watermarks to every lookup-facts partition, after the facts they cover: each aggregator learns from them
 * that no older fact of a source will follow. A marker goes out when its watermark, idleness or offset changed: the
 * offset is news too, since it tells the sender which of its facts every aggregator has applied (the lookups stage
 * judges its own partitions by the facts not confirmed yet) and how far an idle claim reaches. At most one per
 * source and flush interval, to each facts partition. Markers carry no offsets to commit, so their acks only matter
 * for the producer's accounting.
 */
export class WatermarkMarkers {
  readonly #sent = new Map<string, string>()

  constructor(
    readonly producer: RecordSink,
    readonly topic: string,
    readonly partitions: number,
  ) {}

  /**
   * A source (partition) assigned afresh: another owner may have sent other markers for it meanwhile, so the next
   * marker goes out even if it equals the last one this instance sent.
   */
  forget(source: string): void {
    this.#sent.delete(source)
  }

  send(marker: Marker): void {
    const state = `${marker.watermarkMs}:${marker.idle}:${marker.throughOffset}:${marker.heldFromMs}:${marker.readThroughOffset}`
    if (this.#sent.get(marker.source) === state) return
    this.#sent.set(marker.source, state)
    const value = pack(marker)
    for (let partition = 0; partition < this.partitions; partition++)
      this.producer.send({ topic: this.topic, partition, key: marker.source, value }, () => {})
  }
}
