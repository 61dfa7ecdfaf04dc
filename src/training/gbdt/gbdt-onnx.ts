import onnxProto from 'onnx-proto'
import { ONNX_CONTRIBUTIONS_NAME, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, valueInfo } from '../export-onnx.js'
import { expectedValues, leafContributions } from './contributions.js'
import type { GbdtModel } from './trees.js'

const { onnx } = onnxProto
const { AttributeType } = onnx.AttributeProto

const ints = (name: string, values: number[]) =>
  onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: values })
const floats = (name: string, values: number[]) =>
  onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: values })
const strings = (name: string, values: string[]) =>
  onnx.AttributeProto.create({ name, type: AttributeType.STRINGS, strings: values.map((v) => Buffer.from(v)) })
const string = (name: string, value: string) =>
  onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: Buffer.from(value) })

/**
 * The ensemble as an ONNX graph with two outputs, both from the raw features [N, F] (trees need no preprocessing,
 * so the graph computes what the TypeScript functions compute, in float32):
 *   - contributions [N, F + 1]: ai.onnx.ml TreeEnsembleRegressor (BRANCH_LT splits) with F + 1 targets, each leaf
 *     emitting its path contributions to their feature targets and E[root] to target F, the base margin as base
 *     value of target F; what `gbdtContributions` computes. A leaf's path is fixed, so its vector is too: the
 *     explanation is a table lookup.
 *   - score [N]: sigmoid of each row's sum of contributions, which is the margin; what `predictGbdt` computes. One
 *     pass over the trees serves both (onnxruntime runs every node of a graph whatever is fetched).
 */
export function gbdtToOnnx(model: GbdtModel, options: { docString: string }): Uint8Array {
  const width = model.featureNames.length
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as string[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  }
  const targets = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] }
  model.trees.forEach((tree, t) => {
    for (let node = 0; node < tree.feature.length; node++) {
      const leaf = tree.feature[node]! < 0
      nodes.treeIds.push(t)
      nodes.nodeIds.push(node)
      nodes.featureIds.push(leaf ? 0 : tree.feature[node]!)
      nodes.values.push(leaf ? 0 : tree.threshold[node]!)
      nodes.modes.push(leaf ? 'LEAF' : 'BRANCH_LT')
      nodes.trueIds.push(leaf ? 0 : tree.left[node]!)
      nodes.falseIds.push(leaf ? 0 : tree.right[node]!)
    }
    const expected = expectedValues(tree)
    for (const { leaf, features, values } of leafContributions(tree, expected)) {
      const add = (target: number, weight: number) => {
        targets.treeIds.push(t)
        targets.nodeIds.push(leaf)
        targets.ids.push(target)
        targets.weights.push(weight)
      }
      features.forEach((feature, k) => values[k] !== 0 && add(feature, values[k]!))
      // Every leaf carries a weight, E[root] on the bias target.
      add(width, expected[0]!)
    }
  })
  const structure = [
    ints('nodes_treeids', nodes.treeIds),
    ints('nodes_nodeids', nodes.nodeIds),
    ints('nodes_featureids', nodes.featureIds),
    floats('nodes_values', nodes.values),
    strings('nodes_modes', nodes.modes),
    ints('nodes_truenodeids', nodes.trueIds),
    ints('nodes_falsenodeids', nodes.falseIds),
  ]
  const explainer = onnx.NodeProto.create({
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    name: 'path_contributions',
    input: [ONNX_INPUT_NAME],
    output: [ONNX_CONTRIBUTIONS_NAME],
    attribute: [
      ...structure,
      onnx.AttributeProto.create({ name: 'n_targets', type: AttributeType.INT, i: width + 1 }),
      ints('target_treeids', targets.treeIds),
      ints('target_nodeids', targets.nodeIds),
      ints('target_ids', targets.ids),
      floats('target_weights', targets.weights),
      floats(
        'base_values',
        Array.from({ length: width + 1 }, (_, j) => (j === width ? model.baseMargin : 0)),
      ),
      string('aggregate_function', 'SUM'),
      string('post_transform', 'NONE'),
    ],
  })
  const int64s = (name: string, values: number[]) =>
    onnx.TensorProto.create({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: values,
    })
  const graph = onnx.GraphProto.create({
    name: 'gradient_boosted_trees',
    docString: `inputs in order: ${model.featureNames.join(', ')}; ${ONNX_CONTRIBUTIONS_NAME}: path contributions in log-odds, one column a feature, then the bias`,
    input: [valueInfo(ONNX_INPUT_NAME, ['N', width])],
    output: [valueInfo(ONNX_OUTPUT_NAME, ['N']), valueInfo(ONNX_CONTRIBUTIONS_NAME, ['N', width + 1])],
    initializer: [int64s('rows', [1])],
    node: [
      explainer,
      onnx.NodeProto.create({
        opType: 'ReduceSum',
        name: 'margin',
        input: [ONNX_CONTRIBUTIONS_NAME, 'rows'],
        output: ['margin'],
        attribute: [onnx.AttributeProto.create({ name: 'keepdims', type: AttributeType.INT, i: 0 })],
      }),
      onnx.NodeProto.create({ opType: 'Sigmoid', name: 'probability', input: ['margin'], output: [ONNX_OUTPUT_NAME] }),
    ],
  })
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'fraudstream',
    producerVersion: '0.1.0',
    docString: options.docString,
    opsetImport: [
      { domain: '', version: 13 },
      { domain: 'ai.onnx.ml', version: 3 },
    ],
    graph,
  })
  return onnx.ModelProto.encode(proto).finish()
}
