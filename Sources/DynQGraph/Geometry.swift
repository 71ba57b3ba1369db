/// Window geometry of the graph format (`padding`, `kernel`, `stride`, `dilation` attributes).

/// `[top, left, bottom, right]` zero padding, in pixels (ONNX order).
public struct Padding: Equatable, Hashable, Sendable {
    public var top: Int, left: Int, bottom: Int, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    /// The same padding `p` on every side (PyTorch's `padding=p`).
    public init(all p: Int) { self.init(top: p, left: p, bottom: p, right: p) }
    public static let zero = Padding(all: 0)
}

/// A `[height, width]` pair (kernel size, stride, dilation).
public struct Pair: Equatable, Hashable, Sendable {
    public var h: Int, w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public static let one = Pair(1, 1)
}

/// The output size of a convolution or pooling window along one axis (floor mode), or `nil` if not positive.
public func windowOutputSize(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int,
                             dilation: Int = 1) -> Int? {
    let span = dilation * (kernel - 1) + 1
    let room = input + padBefore + padAfter - span
    guard room >= 0 else { return nil }
    return room / stride + 1
}
