import { pack } from 'msgpackr'
import type { RecordSink } from '../core/ports.js'
import type { LookupFact } from '../stages/lookups/lookup-facts.js'

/**
 * A source's watermark goes to every lookup-facts partition, after the facts it covers: each aggregator learns
 * from it that no older fact of that source will follow. Markers carry no offsets to commit, so their acks only
 * matter for the producer's accounting.
 */
export function sendMarker(producer: RecordSink, topic: string, partitions: number, marker: Extract<LookupFact, { kind: 'marker' }>): void {
  const value = pack(marker)
  for (let partition = 0; partition < partitions; partition++) producer.send({ topic, partition, key: marker.source, value }, () => {})
}
