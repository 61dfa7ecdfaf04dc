import { parentPort, workerData } from 'node:worker_threads'
import type { Transaction } from '../core/transaction-v1.js'
import type { KeyedFact } from '../stages/lookups/lookup-facts.js'
import { LOOKUP_KEY_FIELD } from '../stages/lookups/lookup-plan.js'
import {
  LABEL_NUMBERS,
  NUMBERS,
  type FilledMessage,
  type LabelsMessage,
  type LookupsWorkerData,
  type ToWorker,
} from './lookups-thread.js'
import { RollingLookups } from './rolling-lookups.js'

/**
 * The lookup tables of an offline pass on a thread of their own (LookupsThread's worker): the same RollingLookups,
 * fed by batches of the facts the tables need (a transaction's times, amount and ids, not the transaction) and
 * completing rows after each one as the single-thread path does, answering each batch with the columns of the rows it
 * completed.
 */
function serve({ plan, fields, answers, posted }: LookupsWorkerData): void {
  const port = parentPort!
  const width = plan.columns.length
  let rolling: RollingLookups<{ tx: Transaction; row: Float32Array }> | undefined
  // fill writes a row's columns here as next() returns it, and they are copied out at once.
  const scratch = new Float32Array(width)
  let values = new Float32Array(4096 * width)
  let rows = 0
  const complete = (completeBelowMs: number): void => {
    while (rolling!.next(completeBelowMs)) {
      if ((rows + 1) * width > values.length) {
        const grown = new Float32Array(values.length * 2)
        grown.set(values)
        values = grown
      }
      values.set(scratch, rows * width)
      rows++
    }
  }
  const reply = (done: boolean): void => {
    const message: FilledMessage = { kind: 'filled', rows, values: values.slice(0, rows * width), done }
    answers.postMessage(message, [message.values.buffer as ArrayBuffer])
    Atomics.add(posted, 0, 1)
    Atomics.notify(posted, 0)
    rows = 0
  }
  // The four key fields in a fixed order, so that every fact object has one shape; distinct-count fields are added.
  const { terminal, merchant, customer, device } = LOOKUP_KEY_FIELD
  const keyColumns = [terminal, merchant, customer, device].map((field) => fields.indexOf(field))
  const keyFields: readonly string[] = Object.values(LOOKUP_KEY_FIELD)
  const otherColumns = fields.flatMap((field, f) => (keyFields.includes(field) ? [] : [f]))
  port.on('message', (message: ToWorker) => {
    if (message.kind === 'labels') {
      rolling = new RollingLookups(plan, labelFactsOf(message))
      return reply(false)
    }
    if (message.kind === 'end') {
      complete(Infinity)
      return reply(true)
    }
    const { numbers, strings } = message
    const [terminals, merchants, customers, devices] = keyColumns.map((f) => (f < 0 ? [] : strings[f]!))
    for (let i = 0, at = 0; at < numbers.length; i++, at += NUMBERS) {
      const tx: Record<string, unknown> = {
        eventTimeMs: numbers[at]!,
        amount: numbers[at + 1]!,
        terminal_id: terminals![i],
        merchant_id: merchants![i],
        customer_id: customers![i],
        device_id: devices![i],
      }
      for (const f of otherColumns) tx[fields[f]!] = strings[f]![i]
      rolling!.add({ tx: tx as unknown as Transaction, row: scratch }, numbers[at + 3] === 1, numbers[at + 2]!)
      // As the single-thread path: a row's lookups are mostly read right after its transaction went in.
      complete(numbers[at + 4]!)
    }
    reply(false)
  })
}

function labelFactsOf({ keys, transactionIds, numbers }: LabelsMessage): KeyedFact[] {
  return keys.map((key, i) => ({
    kind: 'label',
    key,
    source: 'labels',
    transactionId: transactionIds[i]!,
    eventTimeMs: numbers[i * LABEL_NUMBERS]!,
    reportedAtMs: numbers[i * LABEL_NUMBERS + 1]!,
    isFraud: numbers[i * LABEL_NUMBERS + 2] === 1,
    offset: numbers[i * LABEL_NUMBERS + 3]!,
  }))
}

serve(workerData as LookupsWorkerData)
