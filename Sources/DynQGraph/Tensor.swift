/// A dense float32 tensor: `shape` and row-major `data` (activations are NCHW).
///
/// Contract: every dimension is ≥ 0 and `data.count == shape.reduce(1, *)` (a scalar has shape `[]` and one
/// element). The memberwise initializer traps on a violation (a programming error); use
/// `Tensor(checkedShape:data:)` for data coming from a file or a user.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(Tensor.elementCount(shape) == data.count,
                     "Tensor: shape \(shape) holds \(Tensor.elementCount(shape).map(String.init) ?? "too many") elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        guard let n = Tensor.elementCount(shape) else { preconditionFailure("Tensor: invalid shape \(shape)") }
        self.init(shape: shape, data: [Float](repeating: 0, count: n))
    }

    /// Throws instead of trapping when `data` does not fit `shape`.
    public init(checkedShape shape: [Int], data: [Float], file: String? = nil) throws {
        guard let n = Tensor.elementCount(shape) else {
            throw DynQError(file: file, "invalid tensor shape \(shape)")
        }
        guard n == data.count else {
            throw DynQError(file: file, "tensor shape \(shape) holds \(n) elements but \(data.count) were given")
        }
        self.shape = shape
        self.data = data
    }

    /// The number of elements, `shape.reduce(1, *)`.
    public var count: Int { data.count }

    /// The product of `shape`, or `nil` if a dimension is negative or the product overflows `Int`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// The same data under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = data.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(data.count > 8 ? ", …" : "")])"
    }
}
