// Window geometry: the one description of a convolution or pooling window, shared by the graph (DynQGraph), the
// int8 model (`ModelDescription`, the `.dynq` file) and the kernels' parameter structs.

/// Zero padding of a window, per side, in pixels, in ONNX order (top, left, bottom, right). Padded positions
/// hold the input zero point, i.e. the real value 0.
@frozen
public struct Padding: Equatable, Hashable, Sendable {
    public var top: Int, left: Int, bottom: Int, right: Int
    @inlinable
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    /// The same padding `p` on every side (PyTorch's `padding=p`).
    @inlinable
    public init(all p: Int) { self.init(top: p, left: p, bottom: p, right: p) }
    public static let zero = Padding(all: 0)
}

/// A `(height, width)` pair: a kernel size, a stride or a dilation.
@frozen
public struct Pair: Equatable, Hashable, Sendable {
    public var h: Int, w: Int
    @inlinable
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public static let one = Pair(1, 1)
}

/// Output extent of a window along one axis, floor mode:
/// `⌊(input + padBefore + padAfter − dilation·(kernel − 1) − 1) / stride⌋ + 1`, or 0 when the padded input is
/// shorter than the dilated kernel. Callers bound every argument (the `.dynq` validator: ≤ 2^28 and ≤ 4096), so
/// nothing here overflows even with a 32-bit `Int`.
@inlinable
public func windowOutputExtent(input: Int, kernel: Int, stride: Int, dilation: Int, padBefore: Int, padAfter: Int) -> Int {
    let span = dilation * (kernel - 1) + 1
    let padded = input + padBefore + padAfter
    return padded < span ? 0 : (padded - span) / stride + 1
}

/// A 2-D convolution or pooling window: kernel size, stride, dilation and zero padding.
@frozen
public struct Window: Equatable, Hashable, Sendable {
    public var kernel: Pair
    public var stride: Pair
    public var dilation: Pair
    public var padding: Padding

    @inlinable
    public init(kernel: Pair, stride: Pair = .one, dilation: Pair = .one, padding: Padding = .zero) {
        self.kernel = kernel; self.stride = stride; self.dilation = dilation; self.padding = padding
    }

    /// Field-by-field form (the `.dynq` file's order of words: kh, kw, sh, sw, dh, dw, top, left, bottom, right).
    @inlinable
    public init(kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1,
                dilationW: Int = 1, padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0) {
        self.init(kernel: Pair(kernelH, kernelW), stride: Pair(strideH, strideW),
                  dilation: Pair(dilationH, dilationW),
                  padding: Padding(top: padTop, left: padLeft, bottom: padBottom, right: padRight))
    }

    @inlinable public var kernelH: Int { kernel.h }
    @inlinable public var kernelW: Int { kernel.w }
    @inlinable public var strideH: Int { stride.h }
    @inlinable public var strideW: Int { stride.w }
    @inlinable public var dilationH: Int { dilation.h }
    @inlinable public var dilationW: Int { dilation.w }
    @inlinable public var padTop: Int { padding.top }
    @inlinable public var padLeft: Int { padding.left }
    @inlinable public var padBottom: Int { padding.bottom }
    @inlinable public var padRight: Int { padding.right }
    /// Taps of the window, `kernel.h · kernel.w`.
    @inlinable public var taps: Int { kernel.h * kernel.w }

    /// Output height for an input of height `h` (`windowOutputExtent`).
    @inlinable public func outputHeight(_ h: Int) -> Int {
        windowOutputExtent(input: h, kernel: kernel.h, stride: stride.h, dilation: dilation.h,
                           padBefore: padding.top, padAfter: padding.bottom)
    }
    /// Output width for an input of width `w` (`windowOutputExtent`).
    @inlinable public func outputWidth(_ w: Int) -> Int {
        windowOutputExtent(input: w, kernel: kernel.w, stride: stride.w, dilation: dilation.w,
                           padBefore: padding.left, padAfter: padding.right)
    }

    /// Output size along one axis (floor mode); the same as `windowOutputExtent`.
    @inlinable
    public static func outputSize(input: Int, kernel: Int, stride: Int, dilation: Int, padA: Int, padB: Int) -> Int {
        windowOutputExtent(input: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: padA,
                           padAfter: padB)
    }
}
