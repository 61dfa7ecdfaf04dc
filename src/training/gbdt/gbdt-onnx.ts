import onnxProto from 'onnx-proto'
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, valueInfo } from '../export-onnx.js'
import type { GbdtModel } from './trees.js'

const { onnx } = onnxProto
const { AttributeType } = onnx.AttributeProto

/**
 * The ensemble as an ONNX graph: features [N, F] → ai.onnx.ml TreeEnsembleClassifier (BRANCH_LT splits, leaf
 * weights on class 0 of the binary case, base value = the base margin, LOGISTIC post-transform) → probabilities
 * [N, 2] → Slice (the fraud column) → Reshape → score [N]. Trees read the raw features: no preprocessing to
 * reproduce, so the graph computes what `predictGbdt` computes, in float32.
 */
export function gbdtToOnnx(model: GbdtModel, options: { docString: string }): Uint8Array {
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as string[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  }
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], weights: [] as number[] }
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
      if (leaf) {
        leaves.treeIds.push(t)
        leaves.nodeIds.push(node)
        leaves.weights.push(tree.value[node]!)
      }
    }
  })
  const ints = (name: string, values: number[]) =>
    onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: values })
  const floats = (name: string, values: number[]) =>
    onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: values })
  const strings = (name: string, values: string[]) =>
    onnx.AttributeProto.create({ name, type: AttributeType.STRINGS, strings: values.map((v) => Buffer.from(v)) })
  const ensemble = onnx.NodeProto.create({
    opType: 'TreeEnsembleClassifier',
    domain: 'ai.onnx.ml',
    name: 'trees',
    input: [ONNX_INPUT_NAME],
    output: ['label', 'probabilities'],
    attribute: [
      ints('nodes_treeids', nodes.treeIds),
      ints('nodes_nodeids', nodes.nodeIds),
      ints('nodes_featureids', nodes.featureIds),
      floats('nodes_values', nodes.values),
      strings('nodes_modes', nodes.modes),
      ints('nodes_truenodeids', nodes.trueIds),
      ints('nodes_falsenodeids', nodes.falseIds),
      ints('class_treeids', leaves.treeIds),
      ints('class_nodeids', leaves.nodeIds),
      ints(
        'class_ids',
        leaves.treeIds.map(() => 0),
      ),
      floats('class_weights', leaves.weights),
      ints('classlabels_int64s', [0, 1]),
      floats('base_values', [model.baseMargin]),
      onnx.AttributeProto.create({ name: 'post_transform', type: AttributeType.STRING, s: Buffer.from('LOGISTIC') }),
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
    docString: `inputs in order: ${model.featureNames.join(', ')}`,
    input: [valueInfo(ONNX_INPUT_NAME, ['N', model.featureNames.length])],
    output: [valueInfo(ONNX_OUTPUT_NAME, ['N'])],
    initializer: [int64s('one', [1]), int64s('two', [2]), int64s('flat', [-1])],
    node: [
      ensemble,
      onnx.NodeProto.create({
        opType: 'Slice',
        name: 'fraud_column',
        input: ['probabilities', 'one', 'two', 'one'],
        output: ['fraud_probability'],
      }),
      onnx.NodeProto.create({
        opType: 'Reshape',
        name: 'flatten',
        input: ['fraud_probability', 'flat'],
        output: [ONNX_OUTPUT_NAME],
      }),
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
