import type { Stage } from './stage.js'
import type { SourceRecord } from './ports.js'
import type { DeadLetterFailure } from './stage.js'
import type { DeadLetterReason } from './records.js'

/** What a node does, for `describe()`; the runtime treats every kind alike except `infer`-style batching. */
export const NodeKind = {
  map: 'map',
  filter: 'filter',
  window: 'window',
  lookup: 'lookup',
  infer: 'infer',
  sink: 'sink',
} as const
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind]

/**
 * Items collected across polls before `process` runs: up to maxRecords, or lingerMs after the first one; lingerMs 0
 * runs what one push brought (a poll's items, or a buffering stage's release) at once, without waiting for the next.
 */
export interface BatchPolicy {
  readonly maxRecords: number
  readonly lingerMs: number
}

export interface TopologyNode {
  readonly name: string
  readonly kind: NodeKind
  /** One line for `describe()`: what the node does. */
  readonly what: string
  // The graph is heterogeneous: each node's input is the previous node's output, checked by the builder's types.
  readonly stage: Stage<any, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly batch?: BatchPolicy
}

/** Where dead letters go: the runtime hands each one over with the node name it failed in. */
export interface DeadLetterPort {
  readonly name: string
  readonly what: string
  send(
    letter: {
      readonly origin: SourceRecord
      readonly stage: string
      readonly reason: DeadLetterReason
      readonly failure: DeadLetterFailure
    },
    onAck: () => void,
  ): void
}

export interface SourceNode {
  readonly name: string
  readonly topic: string
  readonly what: string
}

/** Another part of the application that runs beside the graph (a second keyed stage with its own consumer group). */
export interface SideNode {
  readonly name: string
  readonly kind: string
  readonly what: string
}

/** A built, immutable topology: a source, a chain of nodes, a dead-letter port, and the commit that closes it. */
export interface Topology {
  readonly name: string
  readonly source: SourceNode
  readonly nodes: readonly TopologyNode[]
  readonly deadLetters: DeadLetterPort
  readonly sideNodes: readonly SideNode[]
  readonly notes: readonly string[]
}

/**
 * An immutable builder: every call returns a new frozen builder, so a partial topology can be shared and extended
 * (Kysely's builders). `T` is the type the last node emits; each node's stage must accept it.
 *
 * @example
 *   const graph = topology('card-fraud').source('transactions', 'transactions', 'key = card_id')
 *     .map('decode', decode, 'bytes → Transaction v1').filter('dedupe', dedupe, 'seen ids dropped')
 *     .sink('decisions', decisions, 'Decision v1').deadLetters(dlq)
 */
export class TopologyBuilder<T> {
  private constructor(
    readonly name: string,
    readonly sourceNode: SourceNode | undefined,
    readonly nodes: readonly TopologyNode[],
    readonly sideNodes: readonly SideNode[],
    readonly notes: readonly string[],
  ) {
    Object.freeze(this)
  }

  static create(name: string): TopologyBuilder<SourceRecord> {
    return new TopologyBuilder<SourceRecord>(name, undefined, [], [], [])
  }

  source(name: string, topic: string, what: string): TopologyBuilder<SourceRecord> {
    if (this.sourceNode) throw new TypeError(`topology ${this.name} already has the source ${this.sourceNode.name}`)
    this.#checkName(name)
    return new TopologyBuilder<SourceRecord>(
      this.name,
      Object.freeze({ name, topic, what }),
      this.nodes,
      this.sideNodes,
      this.notes,
    )
  }

  map<Out>(name: string, stage: Stage<T, Out>, what: string): TopologyBuilder<Out> {
    return this.#add<Out>({ name, kind: NodeKind.map, what, stage })
  }

  filter(name: string, stage: Stage<T, T>, what: string): TopologyBuilder<T> {
    return this.#add<T>({ name, kind: NodeKind.filter, what, stage })
  }

  window<Out>(name: string, stage: Stage<T, Out>, what: string): TopologyBuilder<Out> {
    return this.#add<Out>({ name, kind: NodeKind.window, what, stage })
  }

  lookup<Out>(name: string, stage: Stage<T, Out>, what: string): TopologyBuilder<Out> {
    return this.#add<Out>({ name, kind: NodeKind.lookup, what, stage })
  }

  /** An asynchronous stage fed micro-batches collected across polls (inference on worker threads). */
  infer<Out>(name: string, stage: Stage<T, Out>, what: string, batch: BatchPolicy): TopologyBuilder<Out> {
    if (!(batch.maxRecords >= 1) || !(batch.lingerMs >= 0))
      throw new TypeError(`${name}: batch.maxRecords must be ≥ 1 and batch.lingerMs ≥ 0`)
    return this.#add<Out>({ name, kind: NodeKind.infer, what, stage, batch: Object.freeze({ ...batch }) })
  }

  /** A sink passes every item on after sending it, so sinks chain: decisions → alerts → scores. */
  sink(name: string, stage: Stage<T, T>, what: string): TopologyBuilder<T> {
    return this.#add<T>({ name, kind: NodeKind.sink, what, stage })
  }

  /** A part of the application that runs beside this graph, listed by `describe()`. */
  beside(name: string, kind: string, what: string): TopologyBuilder<T> {
    this.#checkName(name)
    return new TopologyBuilder<T>(
      this.name,
      this.sourceNode,
      this.nodes,
      [...this.sideNodes, Object.freeze({ name, kind, what })],
      this.notes,
    )
  }

  note(text: string): TopologyBuilder<T> {
    return new TopologyBuilder<T>(this.name, this.sourceNode, this.nodes, this.sideNodes, [...this.notes, text])
  }

  /** Closes the graph: dead letters of every node go to `port`; offsets are committed once every sink acknowledged. */
  deadLetters(port: DeadLetterPort): Topology {
    if (!this.sourceNode) throw new TypeError(`topology ${this.name} has no source`)
    if (this.nodes.length === 0) throw new TypeError(`topology ${this.name} has no nodes`)
    this.#checkName(port.name)
    return Object.freeze({
      name: this.name,
      source: this.sourceNode,
      nodes: Object.freeze([...this.nodes]),
      deadLetters: port,
      sideNodes: Object.freeze([...this.sideNodes]),
      notes: Object.freeze([...this.notes]),
    })
  }

  #add<Out>(node: TopologyNode): TopologyBuilder<Out> {
    if (!this.sourceNode) throw new TypeError(`topology ${this.name}: add a source before ${node.name}`)
    this.#checkName(node.name)
    if (node.stage.name !== node.name)
      throw new TypeError(`node ${node.name} holds the stage ${node.stage.name}: a stage is named after its node`)
    return new TopologyBuilder<Out>(
      this.name,
      this.sourceNode,
      [...this.nodes, Object.freeze(node)],
      this.sideNodes,
      this.notes,
    )
  }

  #checkName(name: string): void {
    if (!/^[a-z][a-z0-9-]*$/.test(name))
      throw new TypeError(
        `node name ${JSON.stringify(name)}: lower-case letters, digits and dashes, as it appears in metrics and dead letters`,
      )
    const taken = [this.sourceNode?.name, ...this.nodes.map((n) => n.name), ...this.sideNodes.map((n) => n.name)]
    if (taken.includes(name)) throw new TypeError(`node name ${name} is used twice in topology ${this.name}`)
  }
}

export function topology(name: string): TopologyBuilder<SourceRecord> {
  return TopologyBuilder.create(name)
}

/** A stable text picture of the graph: what `run --describe` prints and a snapshot test pins. */
export function describeTopology(graph: Topology, header = ''): string {
  const rows: [string, string, string][] = [
    [graph.source.name, 'source', `${graph.source.what} (topic ${graph.source.topic})`],
    ...graph.nodes.map((n): [string, string, string] => [
      n.name,
      n.kind,
      n.batch
        ? `${n.what} (batches of ≤ ${n.batch.maxRecords}, ${n.batch.lingerMs > 0 ? `${n.batch.lingerMs} ms` : 'one per poll'})`
        : n.what,
    ]),
    [graph.deadLetters.name, 'dlq', graph.deadLetters.what],
    ['commit', 'commit', 'per partition, up to the highest offset every sink acknowledged'],
  ]
  const width = Math.max(...rows.map(([name]) => name.length), ...graph.sideNodes.map((n) => n.name.length)) + 1
  const line = ([name, kind, what]: [string, string, string], i: number) =>
    `${String(i + 1).padStart(2)}. ${name.padEnd(width)} ${kind.padEnd(7)} ${what}`
  const out = [`topology ${graph.name}${header}`, ...rows.map(line)]
  if (graph.sideNodes.length > 0) {
    out.push('beside it:')
    graph.sideNodes.forEach((n, i) => out.push(line([n.name, n.kind, n.what], i)))
  }
  for (const note of graph.notes) out.push(`note: ${note}`)
  return out.join('\n')
}
