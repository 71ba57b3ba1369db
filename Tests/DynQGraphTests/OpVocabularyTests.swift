import Testing
@testable import DynQGraph

/// The op vocabulary (Op.swift): one name per op, the JSON name, used by decoding, validation and the engine.
@Suite struct OpVocabularyTests {
    @Test(arguments: GraphOpKind.allCases)
    func eachKindDecodesWithTheDefinitionOfThatKind(_ kind: GraphOpKind) {
        #expect(kind.definition.kind == kind, "\(kind) maps to the definition of \(kind.definition.kind)")
    }

    @Test func graphOpNamesListEveryKindSorted() {
        #expect(graphOpNames == GraphOpKind.allCases.map(\.rawValue).sorted())
        #expect(Set(graphOpNames).count == GraphOpKind.allCases.count)
    }

    /// Worked examples of the new activations (PyTorch values, float32).
    @Test(arguments: [
        (Op.silu, Float(1), Float(0.7310586)), (Op.silu, -2, -0.23840584),
        (Op.sigmoid, 0, 0.5), (Op.sigmoid, 2, 0.8807971),
        (Op.gelu, 1, 0.8413447), (Op.gelu, -1, -0.15865526), (Op.gelu, 3, 2.9959502),
        (Op.leakyRelu(negativeSlope: 0.01), -2, -0.02), (Op.leakyRelu(negativeSlope: 0.2), 3, 3),
        (Op.leakyRelu(negativeSlope: 0.2), -5, -1),
    ])
    func activationValues(_ op: Op, _ x: Float, _ y: Float) throws {
        let g = Graph(name: "a", input: InputSpec(name: "x", shape: [1, 1, 1, 1]), outputs: ["y"],
                      nodes: [Node(name: "a", op: op, inputs: ["x"], outputs: ["y"])])
        let out = try FloatEngine(graph: g, weights: [:]).run(Tensor(shape: [1, 1, 1, 1], data: [x]))[0].data[0]
        #expect(abs(out - y) <= 1e-6 * max(1, abs(y)), "\(op.kind)(\(x)) = \(out), PyTorch \(y)")
    }
}
