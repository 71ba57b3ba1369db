import Foundation

/// `softmax`: x `[1, F]` → y, `softmax(x / temperature)` over the features.
public struct Softmax: OpDefinition {
    public var temperature: Float
    public init(temperature: Float = 1) { self.temperature = temperature }

    static let kind = GraphOpKind.softmax
    static let fields = ["temperature"]

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        .softmax(temperature: try r.positiveFloat("temperature") ?? 1)
    }
    func encode(into o: inout JSONObject) { o["temperature"] = .float(temperature) }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        guard ins[0].count == 2 else { throw c.fail("input must be [1, F], not \(ins[0])") }
        return [ins[0]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { self }
}

extension Softmax: FloatStep {
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        var data = args[0].data
        let n = data.count
        data.withUnsafeMutableBufferPointer { softmaxKernel($0.baseAddress!, count: n, group: n, temperature: temperature) }
        return [Tensor(shape: args[0].shape, data: data)]
    }
}

/// `softmax(x / temperature)` in place over each consecutive chunk of `group` entries.
func softmaxKernel(_ x: UnsafeMutablePointer<Float>, count: Int, group: Int, temperature: Float) {
    var start = 0
    while start < count {
        let end = Swift.min(start + group, count)
        var m = -Float.infinity
        var k = start
        while k < end { m = Swift.max(m, x[k] / temperature); k += 1 }
        var sum = 0.0
        k = start
        while k < end {
            let e = Double(Float.exp(x[k] / temperature - m))
            x[k] = Float(e)
            sum += e
            k += 1
        }
        k = start
        while k < end { x[k] = Float(Double(x[k]) / sum); k += 1 }
        start = end
    }
}
extension Float {
    /// e^v, computed in double precision and rounded once.
    @inline(__always) static func exp(_ v: Float) -> Float { Float(Foundation.exp(Double(v))) }
}
