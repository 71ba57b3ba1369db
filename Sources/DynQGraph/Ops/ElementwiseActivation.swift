/// An element-wise activation `y = f(x)` (relu, relu6, hardswish, hardsigmoid, leaky_relu, silu, sigmoid, gelu):
/// one input `[1, C, H, W]` or `[1, F]`, one output of the same shape. Each is one small file `Ops/<Op>.swift`
/// holding its function twice: in float32 as PyTorch computes it (the float engine) and in double precision
/// (the quantizer's 256-entry tables).
public protocol ElementwiseActivation: Sendable {
    /// `f(x)` in double precision (the quantizer's lookup tables).
    func value(_ x: Double) -> Double
    /// `f(x)` in float32 with PyTorch's semantics (the float engine). Default: `value(Double(x))` rounded once.
    func value(_ x: Float) -> Float
}

extension ElementwiseActivation {
    public func value(_ x: Float) -> Float { Float(value(Double(x))) }
}

/// The op side of every activation: no attributes unless the op declares some, shape unchanged, the float step
/// applies `value(_: Float)` element-wise.
protocol ActivationOp: OpDefinition, ElementwiseActivation {}

extension ActivationOp {
    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        try c.rank2or4(ins[0])
        return [ins[0]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { ActivationStep(activation: self) }
}

private struct ActivationStep<A: ActivationOp>: FloatStep {
    let activation: A
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        [mapElements(args[0]) { activation.value($0) }]
    }
}
