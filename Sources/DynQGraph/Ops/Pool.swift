import DynQCore

/// `maxpool` and `avgpool` (one file: the same window, attributes, validation and loop; they differ in the
/// reduction): `max_pool2d` / `avg_pool2d` in floor mode on x `[1, C, H, W]`.
public struct PoolAttrs: Equatable, Sendable {
    /// Kernel, stride (default: the kernel) and zero padding; dilation 1 (DynQCore's `Window`, the model's type).
    public var window: Window
    /// avgpool only: whether padded zeros count in the divisor (PyTorch default: true).
    public var countIncludePad: Bool
    public init(kernel: Pair, stride: Pair? = nil, padding: Padding = .zero, countIncludePad: Bool = true) {
        window = Window(kernel: kernel, stride: stride ?? kernel, padding: padding)
        self.countIncludePad = countIncludePad
    }

    public var kernel: Pair { window.kernel }
    public var stride: Pair { window.stride }
    public var padding: Padding { window.padding }

    static func decode(_ r: inout FieldReader) throws -> PoolAttrs {
        guard let kernel = try r.pair("kernel") else { throw r.error("missing field 'kernel'") }
        let stride = try r.pair("stride")
        let padding = try r.padding("padding") ?? .zero
        let include = try r.bool("count_include_pad") ?? true
        return PoolAttrs(kernel: kernel, stride: stride, padding: padding, countIncludePad: include)
    }

    func encodeWindow(into o: inout JSONObject) {
        o["kernel"] = .ints([kernel.h, kernel.w])
        o["stride"] = .ints([stride.h, stride.w])
        o["padding"] = .ints([padding.top, padding.left, padding.bottom, padding.right])
    }

    /// Padding at most half the kernel (PyTorch's rule, so every window holds a real pixel); floor-mode output.
    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let (channels, h, w) = try c.rank4(ins[0])
        let pad = padding
        guard pad.top <= kernel.h / 2, pad.bottom <= kernel.h / 2,
              pad.left <= kernel.w / 2, pad.right <= kernel.w / 2 else {
            throw c.fail("padding [\(pad.top), \(pad.left), \(pad.bottom), \(pad.right)] exceeds half the kernel \(kernel.h)×\(kernel.w)")
        }
        let oh = window.outputHeight(h), ow = window.outputWidth(w)
        guard oh > 0, ow > 0 else {
            throw c.fail("kernel \(kernel.h)×\(kernel.w) does not fit the padded input \(h)×\(w): output size would be non-positive")
        }
        return [[1, channels, oh, ow]]
    }
}

/// `maxpool`: padding never wins; NaN propagates.
public struct Maxpool: OpDefinition {
    public var attrs: PoolAttrs
    public init(attrs: PoolAttrs) { self.attrs = attrs }
    static let kind = GraphOpKind.maxpool
    static let fields = ["kernel", "stride", "padding"]
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .maxpool(try PoolAttrs.decode(&r)) }
    func encode(into o: inout JSONObject) { attrs.encodeWindow(into: &o) }
    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] { try attrs.inferShapes(ins, c) }
    func floatStep(_ c: StepContext) -> any FloatStep { PoolStep(attrs: attrs, max: true, y: c.y) }
}

/// `avgpool`: divisor `kh·kw` with `count_include_pad`, else the number of real pixels in the window.
public struct Avgpool: OpDefinition {
    public var attrs: PoolAttrs
    public init(attrs: PoolAttrs) { self.attrs = attrs }
    static let kind = GraphOpKind.avgpool
    static let fields = ["kernel", "stride", "padding", "count_include_pad"]
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .avgpool(try PoolAttrs.decode(&r)) }
    func encode(into o: inout JSONObject) {
        attrs.encodeWindow(into: &o)
        o["count_include_pad"] = .bool(attrs.countIncludePad)
    }
    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] { try attrs.inferShapes(ins, c) }
    func floatStep(_ c: StepContext) -> any FloatStep { PoolStep(attrs: attrs, max: false, y: c.y) }
}

private struct PoolStep: FloatStep {
    let attrs: PoolAttrs
    let max: Bool
    let y: [Int]
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0]
        let data = x.data.withUnsafeBufferPointer { src in
            makeBuffer(y.reduce(1, *)) {
                pool2dKernel(src.baseAddress!, $0, c: x.shape[1], h: x.shape[2], w: x.shape[3],
                             oh: y[2], ow: y[3], attrs, max: max)
            }
        }
        return [Tensor(shape: y, data: data)]
    }
}

/// `max_pool2d` / `avg_pool2d` in floor mode over `[C, H, W]`. Max: padding never wins (windows hold at least
/// one real pixel because padding ≤ kernel/2); NaN propagates. Avg: divisor `kh·kw` with `countIncludePad`,
/// else the number of real pixels in the window.
func pool2dKernel(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
                  oh: Int, ow: Int, _ p: PoolAttrs, max isMax: Bool) {
    var ch = 0
    while ch < c {
        let xp = x + ch * h * w
        let op = out + ch * oh * ow
        var oy = 0
        while oy < oh {
            let y0 = oy * p.stride.h - p.padding.top
            let ya = Swift.max(y0, 0), yb = Swift.min(y0 + p.kernel.h, h)
            var ox = 0
            while ox < ow {
                let x0 = ox * p.stride.w - p.padding.left
                let xa = Swift.max(x0, 0), xb = Swift.min(x0 + p.kernel.w, w)
                if isMax {
                    var m = -Float.infinity
                    var yy = ya
                    while yy < yb {
                        var xx = xa
                        while xx < xb {
                            let v = xp[yy * w + xx]
                            if v > m || v.isNaN { m = v }
                            xx += 1
                        }
                        yy += 1
                    }
                    op[oy * ow + ox] = m
                } else {
                    var sum = 0.0
                    var yy = ya
                    while yy < yb {
                        var xx = xa
                        while xx < xb { sum += Double(xp[yy * w + xx]); xx += 1 }
                        yy += 1
                    }
                    let divisor = p.countIncludePad ? p.kernel.h * p.kernel.w : (yb - ya) * (xb - xa)
                    op[oy * ow + ox] = Float(sum / Double(divisor))
                }
                ox += 1
            }
            oy += 1
        }
        ch += 1
    }
}
