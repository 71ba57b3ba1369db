import DynQCore

/// `conv2d`: `torch.nn.functional.conv2d` (cross-correlation, zero padding per side, stride, dilation, groups).
/// Inputs x `[1, C, H, W]` → y `[1, O, OH, OW]`; weight `[O, C/groups, kh, kw]`, bias `[O]`.
public struct Conv2DAttrs: Equatable, Sendable, ConvolutionWindow {
    /// Tensor name of the `[O, I/groups, kh, kw]` weight.
    public var weight: String
    /// Tensor name of the `[O]` bias, if any.
    public var bias: String?
    public var stride: Pair
    public var padding: Padding
    public var dilation: Pair
    public var groups: Int
    public init(weight: String, bias: String? = nil, stride: Pair = .one, padding: Padding = .zero,
                dilation: Pair = .one, groups: Int = 1) {
        self.weight = weight; self.bias = bias
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }
}

/// The window attributes of `conv2d` and `dynamic_conv2d`: stride, zero padding per side, dilation and groups
/// (DynQCore's `Pair` and `Padding`). The kernel size is the weight's, so the `Window` is made with it.
public protocol ConvolutionWindow {
    var stride: Pair { get }
    var padding: Padding { get }
    var dilation: Pair { get }
    var groups: Int { get }
}

extension ConvolutionWindow {
    /// The window of a `kernel.h × kernel.w` kernel with these attributes (the `.dynq` model's and the kernels'
    /// type).
    public func window(kernel: Pair) -> Window {
        Window(kernel: kernel, stride: stride, dilation: dilation, padding: padding)
    }
}

/// Reading and writing the window fields (`stride`, `padding`, `dilation`, `groups`) of a convolution node.
enum ConvolutionFields {
    static let names = ["stride", "padding", "dilation", "groups"]

    static func decode(_ r: inout FieldReader) throws -> (stride: Pair, padding: Padding, dilation: Pair, groups: Int) {
        (try r.pair("stride") ?? .one, try r.padding("padding") ?? .zero, try r.pair("dilation") ?? .one,
         try r.int("groups", range: 1...graphMaxAttributeValue) ?? 1)
    }

    static func encode(_ c: some ConvolutionWindow, into o: inout JSONObject) {
        o["stride"] = .ints([c.stride.h, c.stride.w])
        o["padding"] = .ints([c.padding.top, c.padding.left, c.padding.bottom, c.padding.right])
        o["dilation"] = .ints([c.dilation.h, c.dilation.w])
        o["groups"] = .int(c.groups)
    }
}

extension Conv2DAttrs: OpDefinition {
    static let kind = GraphOpKind.conv2d
    static let fields = ["weight", "bias"] + ConvolutionFields.names

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        let weight = try r.requiredName("weight"), bias = try r.name("bias")
        let w = try ConvolutionFields.decode(&r)
        return .conv2d(Conv2DAttrs(weight: weight, bias: bias, stride: w.stride, padding: w.padding,
                                   dilation: w.dilation, groups: w.groups))
    }

    func encode(into o: inout JSONObject) {
        o["weight"] = .string(weight); o.setOptional("bias", bias); ConvolutionFields.encode(self, into: &o)
    }

    var weightNames: [String] { [weight] + [bias].compactMap { $0 } }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let ws = try c.weight(weight, "weight")
        let (o, kh, kw) = try c.checkKernel(weight, ws, prefix: 0, x: ins[0], groups: groups)
        try c.expectWeight(bias, "bias", [o])
        return [try c.convOutput(ins[0], channels: o, window(kernel: Pair(kh, kw)))]
    }

    func floatStep(_ c: StepContext) -> any FloatStep {
        let ws = c.weightShape(weight)
        return Conv2DStep(shape: ConvShape(c.x, c.y, o: ws[0], window(kernel: Pair(ws[2], ws[3])), groups: groups),
                          weight: c.weight(weight), bias: c.weight(bias))
    }

    /// `O · (I/groups) · kh · kw · H_out · W_out`.
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]]) {
        let y = counts.outputShapes[0]
        counts.convMACs = weightShapes[weight]!.reduce(1, *) * y[2] * y[3]
    }
}

extension ShapeContext {
    /// The `[1, O, OH, OW]` output of a convolution with window `win` on input `x` (floor mode).
    func convOutput(_ x: [Int], channels o: Int, _ win: Window) throws -> [Int] {
        let (_, h, w) = try rank4(x)
        let oh = win.outputHeight(h), ow = win.outputWidth(w)
        guard oh > 0, ow > 0 else {
            throw fail("kernel \(win.kernel.h)×\(win.kernel.w) (dilation \(win.dilation.h)×\(win.dilation.w)) does not fit the padded input \(h)×\(w): output size would be non-positive")
        }
        return [1, o, oh, ow]
    }

    /// Checks a `[O, C/groups, kh, kw]` kernel (`prefix` = leading dims, e.g. `[g]` for dynamic kernels) against
    /// input `x`; returns (O, kh, kw).
    func checkKernel(_ name: String, _ s: [Int], prefix: Int, x: [Int], groups: Int) throws -> (Int, Int, Int) {
        let (c, _, _) = try rank4(x)
        guard s.count == 4 + prefix, s.allSatisfy({ $0 > 0 }) else {
            throw fail("weight '\(name)' has shape \(s), expected \(prefix == 1 ? "[g, O, C/groups, kh, kw]" : "[O, C/groups, kh, kw]") with positive sizes")
        }
        let o = s[prefix], ipg = s[prefix + 1]
        guard c % groups == 0 else { throw fail("groups \(groups) does not divide the \(c) input channels") }
        guard o % groups == 0 else { throw fail("groups \(groups) does not divide the \(o) output channels of '\(name)'") }
        guard ipg == c / groups else {
            throw fail("weight '\(name)' expects \(ipg * groups) input channels (\(ipg) per group × \(groups) groups), the input has \(c)")
        }
        return (o, s[prefix + 2], s[prefix + 3])
    }
}

// MARK: - Float engine

/// One 2-D convolution: input `[C, H, W]`, kernel `[O, C/groups, kh, kw]` with its window, output `[O, OH, OW]`.
struct ConvShape: Equatable, Sendable {
    var c: Int, h: Int, w: Int
    var o: Int, kh: Int, kw: Int
    var oh: Int, ow: Int
    var window: Window
    var groups: Int

    /// From the validated input and output shapes `[1, C, H, W]`, `[1, O, OH, OW]`.
    init(_ x: [Int], _ y: [Int], o: Int, _ window: Window, groups: Int) {
        c = x[1]; h = x[2]; w = x[3]
        self.o = o; kh = window.kernel.h; kw = window.kernel.w
        oh = y[2]; ow = y[3]
        self.window = window; self.groups = groups
    }
}

private struct Conv2DStep: FloatStep {
    let shape: ConvShape
    let weight: [Float]
    let bias: [Float]?

    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        [Tensor(shape: [1, shape.o, shape.oh, shape.ow], data: runConv2d(args[0].data, shape, weight, bias))]
    }
}

/// The float convolution on whole buffers (also the fused convolution of `dynamic_conv2d`).
func runConv2d(_ x: [Float], _ s: ConvShape, _ weight: [Float], _ bias: [Float]?) -> [Float] {
    var acc = [Double](repeating: 0, count: s.oh * s.ow)
    return x.withUnsafeBufferPointer { xs in
        weight.withUnsafeBufferPointer { ws in
            acc.withUnsafeMutableBufferPointer { a in
                makeBuffer(s.o * s.oh * s.ow) { out in
                    if let bias {
                        bias.withUnsafeBufferPointer { b in
                            conv2dKernel(xs.baseAddress!, ws.baseAddress!, b.baseAddress!, out, s, acc: a.baseAddress!)
                        }
                    } else {
                        conv2dKernel(xs.baseAddress!, ws.baseAddress!, nil, out, s, acc: a.baseAddress!)
                    }
                }
            }
        }
    }
}

/// `torch.nn.functional.conv2d` (cross-correlation, zero padding per side, stride, dilation, groups).
/// `acc` must hold `oh·ow` doubles.
func conv2dKernel(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                  _ out: UnsafeMutablePointer<Float>, _ s: ConvShape, acc: UnsafeMutablePointer<Double>) {
    let g = s.window
    let cpg = s.c / s.groups, opg = s.o / s.groups
    let sh = g.stride.h, sw = g.stride.w, dh = g.dilation.h, dw = g.dilation.w
    let pt = g.padding.top, pl = g.padding.left
    let plane = s.oh * s.ow, inPlane = s.h * s.w
    let kSize = cpg * s.kh * s.kw
    var o = 0
    while o < s.o {
        let b = bias.map { Double($0[o]) } ?? 0
        var k = 0
        while k < plane { acc[k] = b; k += 1 }
        let group = o / opg
        var ci = 0
        while ci < cpg {
            let xPlane = x + (group * cpg + ci) * inPlane
            var ky = 0
            while ky < s.kh {
                // Output rows whose input row is inside the image.
                let offY = ky * dh - pt
                let oy0 = offY >= 0 ? 0 : (-offY + sh - 1) / sh
                let oy1 = s.h - 1 - offY < 0 ? 0 : min(s.oh, (s.h - 1 - offY) / sh + 1)
                var kx = 0
                while kx < s.kw {
                    let wv = Double(weight[o * kSize + (ci * s.kh + ky) * s.kw + kx])
                    let offX = kx * dw - pl
                    let ox0 = offX >= 0 ? 0 : (-offX + sw - 1) / sw
                    let ox1 = s.w - 1 - offX < 0 ? 0 : min(s.ow, (s.w - 1 - offX) / sw + 1)
                    if ox0 < ox1 {
                        var oy = oy0
                        while oy < oy1 {
                            let inRow = xPlane + (oy * sh + offY) * s.w + offX
                            let accRow = acc + oy * s.ow
                            var ox = ox0
                            if sw == 1 {
                                // Unrolled by 4: debug builds pay per loop iteration.
                                while ox + 4 <= ox1 {
                                    let a = accRow + ox, b = inRow + ox
                                    a[0] += wv * Double(b[0]); a[1] += wv * Double(b[1])
                                    a[2] += wv * Double(b[2]); a[3] += wv * Double(b[3])
                                    ox += 4
                                }
                                while ox < ox1 { accRow[ox] += wv * Double(inRow[ox]); ox += 1 }
                            } else {
                                while ox < ox1 { accRow[ox] += wv * Double(inRow[ox * sw]); ox += 1 }
                            }
                            oy += 1
                        }
                    }
                    kx += 1
                }
                ky += 1
            }
            ci += 1
        }
        let outPlane = out + o * plane
        k = 0
        while k < plane { outPlane[k] = Float(acc[k]); k += 1 }
        o += 1
    }
}
