import { fork, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { parseError } from '@clickhouse/client'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'

const HOST_URL = new URL('./chdb-host.ts', import.meta.url)

type Op = 'query' | 'exec' | 'insert' | 'command' | 'ping'

export interface ChdbHostRequest {
  readonly id: number
  readonly op: Op
  readonly params: Record<string, unknown>
  /** An insert's rows, already encoded by the client in the insert's format. */
  readonly values?: string
}

export type ChdbHostResponse =
  | { readonly id: number; readonly result: Record<string, unknown>; readonly bytes?: Uint8Array }
  | { readonly id: number; readonly error: string }

interface Pending {
  readonly resolve: (response: { result: Record<string, unknown>; bytes?: Uint8Array }) => void
  readonly reject: (err: Error) => void
}

/**
 * @clickhouse/client's Connection contract served by embedded chDB in a child process (chdb-host.ts). chDB parses an
 * insert on the thread that calls it (a 2,000-row insert held the job's event loop for tens of milliseconds), and in
 * a worker thread it crashes the process when the thread ends; a process of its own keeps the job's loop free and
 * runs the parsing on the other core. Calls and results cross the IPC channel; errors come back as chDB's messages
 * and are parsed into the client's ClickHouseError as the in-process connection does. If the process dies, the calls
 * in flight fail (the sink retries them with their tokens) and the next call starts a new one on the same data.
 */
export class ChdbProcessConnection {
  readonly #host: ChdbHost
  #closed = false

  readonly path: string

  constructor(path: string) {
    // Clients of one directory share its host: embedded ClickHouse locks it, so two processes could not open it.
    this.path = resolve(path)
    let shared = hosts.get(this.path)
    if (!shared) hosts.set(this.path, (shared = { host: new ChdbHost(this.path), clients: 0 }))
    shared.clients++
    this.#host = shared.host
  }

  async query(params: { abort_signal?: AbortSignal }): Promise<Record<string, unknown> & { stream: Readable }> {
    const { result, bytes } = await this.#call('query', params)
    return { ...result, stream: Readable.from([Buffer.from(bytes ?? [])], { objectMode: false }) } as never
  }

  async exec(params: { abort_signal?: AbortSignal; values?: unknown }): Promise<Record<string, unknown>> {
    const values = params.values === undefined ? undefined : await textOf(params.values)
    const { result, bytes } = await this.#call('exec', { ...params, values: undefined }, values)
    return { ...result, stream: Readable.from([Buffer.from(bytes ?? [])], { objectMode: false }) }
  }

  async insert(params: { abort_signal?: AbortSignal; values: unknown }): Promise<Record<string, unknown>> {
    return (await this.#call('insert', { ...params, values: undefined }, await textOf(params.values))).result
  }

  async command(params: { abort_signal?: AbortSignal }): Promise<Record<string, unknown>> {
    return (await this.#call('command', params)).result
  }

  async ping(params: object): Promise<{ success: true } | { success: false; error: Error }> {
    try {
      await this.#call('ping', params)
      return { success: true }
    } catch (err) {
      return { success: false, error: err as Error }
    }
  }

  /** The last client of a path closes its host. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const shared = hosts.get(this.path)
    if (!shared || shared.host !== this.#host || --shared.clients > 0) return
    hosts.delete(this.path)
    await this.#host.close()
  }

  #call(op: Op, params: { abort_signal?: AbortSignal; values?: unknown }, values?: string) {
    if (this.#closed) throw new FraudstreamError(ErrorCode.sinkClickhouse, 'the ClickHouse client is closed', 'external')
    return this.#host.call(op, params, values)
  }
}

const hosts = new Map<string, { readonly host: ChdbHost; clients: number }>()

/** One chdb-host.ts process and the calls in flight to it. */
class ChdbHost {
  #child: ChildProcess | undefined
  #ready: Promise<void> | undefined
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false

  constructor(readonly path: string) {}

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const child = this.#child
    if (!child || child.exitCode !== null || !child.connected) return
    await this.#ready?.catch(() => undefined)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.ref()
    child.channel?.ref()
    child.send({ op: 'close' })
    await exited
  }

  async call(
    op: Op,
    params: { abort_signal?: AbortSignal; values?: unknown },
    values?: string,
  ): Promise<{ result: Record<string, unknown>; bytes?: Uint8Array }> {
    if (this.#closed) throw new FraudstreamError(ErrorCode.sinkClickhouse, 'the ClickHouse client is closed', 'external')
    const child = this.#start()
    await this.#ready
    // A host that could not open the database (another process holds its directory: chDB locks it) has exited:
    // a call sent to it would never be answered.
    if (child.exitCode !== null || child.signalCode !== null || !child.connected)
      throw new FraudstreamError(
        ErrorCode.sinkClickhouse,
        `the embedded ClickHouse at ${this.path} did not start (${child.signalCode ?? `code ${child.exitCode}`}): is another fraudstream process using the same --data-dir? Embedded chDB serves one process per directory; give each its own, or set clickhouse.url to a ClickHouse server`,
        'external',
        true,
      )
    const { abort_signal: signal, ...rest } = params
    signal?.throwIfAborted()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#settled(id)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        resolve: (response) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(response)
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      })
      child.channel?.ref()
      child.send({ id, op, params: rest, values } satisfies ChdbHostRequest)
    })
  }

  /** The running host, or a new one: also after the last one died. */
  #start(): ChildProcess {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return this.#child
    const child = fork(HOST_URL, [this.path], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.#child = child
    let started: () => void = () => undefined
    this.#ready = new Promise<void>((resolve) => (started = resolve)).then(() => {
      // Only calls in flight keep this process alive: an idle client must not hold a finished job open. Until the host
      // is ready (or has died), the child itself is held: a host that dies at start is then heard of ('exit').
      child.unref()
      if (this.#pending.size === 0) child.channel?.unref()
    })
    child.on('message', (response: ChdbHostResponse) => {
      if (response.id === 0) return started()
      const pending = this.#pending.get(response.id)
      if (!pending) return
      this.#settled(response.id)
      if ('error' in response) pending.reject(parseError(response.error))
      else pending.resolve(response)
    })
    child.on('exit', (code, signal) => {
      started()
      const err = new FraudstreamError(
        ErrorCode.sinkClickhouse,
        `the embedded ClickHouse process ended (${signal ?? `code ${code}`}) with ${this.#pending.size} calls in flight`,
        'external',
        true,
      )
      for (const pending of this.#pending.values()) pending.reject(err)
      this.#pending.clear()
    })
    return child
  }

  #settled(id: number): void {
    this.#pending.delete(id)
    if (this.#pending.size === 0) this.#child?.channel?.unref()
  }
}

async function textOf(values: unknown): Promise<string> {
  if (typeof values === 'string') return values
  if (!(values instanceof Readable)) throw new TypeError('insert values must be a string or a readable stream')
  let text = ''
  for await (const chunk of values) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString()
  return text
}
