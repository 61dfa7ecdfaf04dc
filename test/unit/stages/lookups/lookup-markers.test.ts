import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { OutgoingRecord, RecordSink } from '../../../../src/core/ports.js'
import { WatermarkMarkers } from '../../../../src/stages/lookups/lookup-markers.js'

test('a marker goes out when its watermark, idleness or offset changed, and again after the source was assigned afresh', () => {
  const sent: OutgoingRecord[] = []
  const sink: RecordSink = {
    send: (record, onAck) => (sent.push(record), onAck()),
    flush: async () => {},
    close: async () => {},
  }
  const markers = new WatermarkMarkers(sink, 'facts', 4)
  const marker = { kind: 'marker' as const, source: 'tx:0', watermarkMs: 1_000, idle: true, throughOffset: 10 }
  markers.send(marker)
  assert.equal(sent.length, 4, 'one per facts partition')
  markers.send(marker)
  assert.equal(sent.length, 4, 'no news')
  // The offset is news: it tells how far an idle claim reaches and which facts every aggregator has applied.
  markers.send({ ...marker, throughOffset: 20 })
  assert.equal(sent.length, 8)
  // Another instance owned tx:0 meanwhile and may have told the aggregators otherwise (not idle).
  markers.forget('tx:0')
  markers.send({ ...marker, throughOffset: 20 })
  assert.equal(sent.length, 12)
})
