import type { Logger } from 'pino'

/** libuv's pool size when UV_THREADPOOL_SIZE is unset. */
const LIBUV_DEFAULT = 4
/** Pool threads left for everything else (log-end queries, commits, file reads) besides the consumers' waits. */
const SPARE = 4

/** The libuv pool size this process started with: read once by libuv, before any JavaScript ran. */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE)
  return Number.isInteger(size) && size > 0 ? size : LIBUV_DEFAULT
}

/**
 * Warns when the pool is too small for the consumers this process runs. node-rdkafka's consume() waits for records on
 * a pool thread, so with one consumer per thread every other pool task queues behind their waits: a log-end query the
 * lookups wait for, a commit, a snapshot file. `bin/fraudstream.js` and the npm scripts set 16; a process embedding the
 * pipeline sets it in its environment (it cannot be changed once the process runs).
 */
export function warnIfThreadPoolSmall(consumers: number, log: Pick<Logger, 'warn'>): void {
  const size = threadPoolSize()
  if (size >= consumers + SPARE) return
  log.warn(
    { threadPoolSize: size, consumers, recommended: consumers + SPARE },
    'UV_THREADPOOL_SIZE is too small for the Kafka consumers of this process: other I/O will wait for their polls; set it in the environment',
  )
}
