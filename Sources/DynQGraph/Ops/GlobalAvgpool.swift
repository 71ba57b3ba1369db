/// `global_avgpool`: x `[1, C, H, W]` → y `[1, C, 1, 1]`, `adaptive_avg_pool2d(x, 1)`.
public struct GlobalAvgpool: OpDefinition {
    public init() {}
    static let kind = GraphOpKind.globalAvgpool
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .globalAvgpool }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let (channels, _, _) = try c.rank4(ins[0])
        return [[1, channels, 1, 1]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { GlobalAvgpoolStep(y: c.y) }
}

private struct GlobalAvgpoolStep: FloatStep {
    let y: [Int]
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0]
        let data = x.data.withUnsafeBufferPointer { src in
            makeBuffer(y[1]) { globalAvgpoolKernel(src.baseAddress!, $0, c: y[1], plane: x.shape[2] * x.shape[3]) }
        }
        return [Tensor(shape: y, data: data)]
    }
}

/// `adaptive_avg_pool2d(x, 1)`: the mean of each of `c` planes of `plane` elements.
func globalAvgpoolKernel(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, c: Int, plane: Int) {
    var ch = 0
    while ch < c {
        var sum = 0.0
        let p = x + ch * plane
        var k = 0
        while k < plane { sum += Double(p[k]); k += 1 }
        out[ch] = Float(sum / Double(plane))
        ch += 1
    }
}
