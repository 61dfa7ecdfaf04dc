import { fork } from 'node:child_process'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { PublishResult, RecordTimestamp } from './publish.js'
import type { GeneratorOptions } from './transaction-generator.js'

export interface PublishHostStart {
  readonly kind: 'start'
  readonly bootstrapServers: string
  readonly topics: { readonly transactions: string; readonly labels: string }
  readonly generator: Partial<GeneratorOptions>
  readonly count: number
  readonly rate: number | 'max'
  readonly recordTimestamp: RecordTimestamp
  readonly maxLeadRecords?: number
}

export type PublishHostMessage =
  | { readonly kind: 'progress'; readonly generated: number }
  | { readonly kind: 'done'; readonly result: PublishResult }
  | { readonly kind: 'failed'; readonly message: string }

const HOST_URL = new URL('./publish-host.ts', import.meta.url)

/**
 * publishGenerated in a child process: what a load generator must be when the job it measures runs in this one
 * (generating a chunk of records would otherwise hold the job's event loop, and its figures would be the
 * generator's). `consumed` is sent to the child every 20 ms for the bounded lead; `onProgress` gets the count of
 * transactions sent so far.
 */
export function publishInChild(
  options: Omit<PublishHostStart, 'kind'> & {
    readonly consumed?: () => number
    readonly onProgress?: (generated: number) => void
    readonly signal?: AbortSignal
  },
): Promise<PublishResult> {
  const child = fork(HOST_URL, [], {
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const { consumed, onProgress, signal, ...start } = options
  child.send({ kind: 'start', ...start } satisfies PublishHostStart)
  const lead =
    consumed && setInterval(() => child.connected && child.send({ kind: 'consumed', consumed: consumed() }), 20)
  // The channel closes when the child finishes: a lead update racing that close is moot, not an error.
  child.on('disconnect', () => lead && clearInterval(lead))
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_IPC_CHANNEL_CLOSED') throw err
  })
  const abort = () => child.kill('SIGTERM')
  signal?.addEventListener('abort', abort, { once: true })
  return new Promise<PublishResult>((resolve, reject) => {
    let result: PublishResult | undefined
    let failure: string | undefined
    child.on('message', (message: PublishHostMessage) => {
      if (message.kind === 'progress') onProgress?.(message.generated)
      else if (message.kind === 'done') result = message.result
      else failure = message.message
    })
    child.on('exit', (code, exitSignal) => {
      if (lead) clearInterval(lead)
      signal?.removeEventListener('abort', abort)
      if (result) {
        onProgress?.(result.transactions)
        resolve(result)
      } else
        reject(
          new FraudstreamError(
            ErrorCode.kafkaProduce,
            `the generator process ended without a result (${failure ?? exitSignal ?? `code ${code}`})`,
            'external',
          ),
        )
    })
  })
}
