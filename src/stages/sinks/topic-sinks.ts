import type { RecordSink } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import type { Decided } from '../decide/decide-stage.js'

/** Decision v1 of every scored transaction to the decisions topic, keyed by card; passes every item on. */
export function decisionsSink(
  name: string,
  options: { readonly producer: RecordSink; readonly topic: string },
): Stage<Decided, Decided> {
  return {
    name,
    process(batch, ctx) {
      for (const item of batch) {
        const { decision } = item.value
        options.producer.send(
          { topic: options.topic, key: decision.card_id, value: Buffer.from(JSON.stringify(decision)) },
          ctx.hold(item),
        )
        ctx.emit(item, item.value)
      }
    },
  }
}

/** The alert of each decline to the alerts topic, keyed by card, counted `sent`; passes every item on. */
export function alertsSink(
  name: string,
  options: { readonly producer: RecordSink; readonly topic: string },
): Stage<Decided, Decided> {
  return {
    name,
    process(batch, ctx) {
      let sent = 0
      for (const item of batch) {
        const { alert } = item.value
        if (alert) {
          options.producer.send(
            { topic: options.topic, key: alert.card_id, value: Buffer.from(JSON.stringify(alert)) },
            ctx.hold(item),
          )
          sent++
        }
        ctx.emit(item, item.value)
      }
      if (sent > 0) ctx.metrics.count('sent', sent)
    },
  }
}
