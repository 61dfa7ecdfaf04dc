import type { RecordSink } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'

/**
 * A sink node for a topic: the record `recordOf` makes of each item (none: nothing sent) goes to the topic as JSON,
 * the item's offset waits for its delivery report (timed as `<name>:ack`), and every item passes on. Sent records are
 * counted as `sent`.
 */
export function topicSink<T>(
  name: string,
  options: {
    readonly producer: RecordSink
    readonly topic: string
    readonly recordOf: (value: T) => { readonly key: string; readonly value: object } | undefined
  },
): Stage<T, T> {
  return {
    name,
    process(batch, ctx) {
      let sent = 0
      for (const item of batch) {
        const record = options.recordOf(item.value)
        if (record) {
          options.producer.send(
            { topic: options.topic, key: record.key, value: Buffer.from(JSON.stringify(record.value)) },
            ctx.hold(item, 'ack'),
          )
          sent++
        }
        ctx.emit(item, item.value)
      }
      if (sent > 0) ctx.metrics.count('sent', sent)
    },
  }
}
