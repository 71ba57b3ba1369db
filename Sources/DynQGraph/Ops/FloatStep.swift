/// The float engine's view of one op: `OpDefinition.floatStep` compiles a node into a `FloatStep` (weights
/// resolved, shapes known) that `FloatEngine.run` calls once per input. Each op's step and arithmetic live in its
/// `Ops/<Op>.swift`; the arithmetic follows PyTorch's definition, with sums accumulated in `Double` so results sit
/// as close to the exact value as float32 allows.
///
/// Loops are `while` loops over pointers so that debug builds stay usable (tests run whole networks).
protocol FloatStep: Sendable {
    /// The node's outputs for `args` (one tensor per node input, of the validated shapes).
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor]
}

/// What `OpDefinition.floatStep` sees when compiling a node.
struct StepContext {
    let node: Node
    /// One shape per node input / output (validated by `inferShapes`).
    let inputShapes: [[Int]]
    let outputShapes: [[Int]]
    let weights: [String: Tensor]

    /// A validated weight's data.
    func weight(_ name: String) -> [Float] { weights[name]!.data }
    func weight(_ name: String?) -> [Float]? { name.map { weights[$0]!.data } }
    func weightShape(_ name: String) -> [Int] { weights[name]!.shape }
    /// The first input's and first output's shapes.
    var x: [Int] { inputShapes[0] }
    var y: [Int] { outputShapes[0] }
}

/// A new `[Float]` of `count` elements filled by `body` (which must write every element).
@inline(__always)
func makeBuffer(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buf, n in
        if count > 0 { body(buf.baseAddress!) }
        n = count
    }
}

/// Applies `f` element-wise.
@inline(__always)
func mapElements(_ t: Tensor, _ f: (Float) -> Float) -> Tensor {
    let data = t.data.withUnsafeBufferPointer { src in
        makeBuffer(src.count) { dst in
            var k = 0
            while k < src.count { dst[k] = f(src[k]); k += 1 }
        }
    }
    return Tensor(shape: t.shape, data: data)
}
