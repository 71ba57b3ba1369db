import Foundation

/// The float engine's compiled form: one `Step` per node with its weights resolved, and the code that runs it.
/// See FloatEngine.swift for the contract; the arithmetic lives in Kernels.swift.

// MARK: - Compiled steps

struct DynamicPlan: Sendable {
    var conv: ConvShape
    /// `[g, O, I/groups·kh·kw]`, flattened.
    var kernels: [Float]
    var g: Int
    var mode: CoefficientMode
    var offset: Int
    var mixedBias: [Float]?
    var bias: [Float]?
}

struct CPMPlan: Sendable {
    var c: Int, plane: Int
    var hidden: Int
    var fc1: [Float], fc1Bias: [Float]?
    var fc2: [Float]?, fc2Bias: [Float]?
    var n: Int
    var gate: Gate
}

enum StepKind: Sendable {
    case conv(ConvShape, weight: [Float], bias: [Float]?)
    case dynamic(DynamicPlan)
    case cpm(CPMPlan)
    /// `y = x · scale[c] + shift[c]` (inference batch norm, folded once in double precision).
    case batchnorm(scale: [Float], shift: [Float])
    case relu, relu6, hardswish, hardsigmoid, add, concat, flatten, globalAvgpool
    case channelShuffle(groups: Int)
    case channelSplit(sizes: [Int])
    case pool(PoolAttrs, max: Bool)
    case linear(weight: [Float], bias: [Float]?, o: Int, f: Int)
    case softmax(temperature: Float)
}

struct Step: Sendable {
    let node: Node
    let kind: StepKind
    let inputs: [Int]
    let outputs: [Int]
    let inputShapes: [[Int]]
    let outputShapes: [[Int]]
}

extension FloatEngine {
    static func compile(_ node: Node, _ shapes: [String: [Int]], _ weights: [String: Tensor]) -> StepKind {
        func w(_ name: String) -> [Float] { weights[name]!.data }
        func wOpt(_ name: String?) -> [Float]? { name.map(w) }
        let x = shapes[node.inputs[0]]!
        let y = shapes[node.outputs[0]]!
        switch node.op {
        case .conv2d(let a):
            let ws = weights[a.weight]!.shape
            let s = ConvShape(c: x[1], h: x[2], w: x[3], o: ws[0], kh: ws[2], kw: ws[3], oh: y[2], ow: y[3],
                              geometry: a.geometry)
            return .conv(s, weight: w(a.weight), bias: wOpt(a.bias))
        case .dynamicConv2d(let a):
            let ws = weights[a.weight]!.shape
            let s = ConvShape(c: x[1], h: x[2], w: x[3], o: ws[1], kh: ws[3], kw: ws[4], oh: y[2], ow: y[3],
                              geometry: a.geometry)
            return .dynamic(DynamicPlan(conv: s, kernels: w(a.weight), g: ws[0], mode: a.mode, offset: a.coeffOffset,
                                        mixedBias: wOpt(a.mixedBias), bias: wOpt(a.bias)))
        case .cpm(let a):
            let hidden = weights[a.fc1Weight]!.shape[0]
            return .cpm(CPMPlan(c: x[1], plane: x[2] * x[3], hidden: hidden, fc1: w(a.fc1Weight),
                                fc1Bias: wOpt(a.fc1Bias), fc2: wOpt(a.fc2Weight), fc2Bias: wOpt(a.fc2Bias),
                                n: y[1], gate: a.gate))
        case .batchnorm(let a):
            let gamma = w(a.weight), beta = w(a.bias), mean = w(a.runningMean), variance = w(a.runningVar)
            var scale = [Float](), shift = [Float]()
            for c in 0..<gamma.count {
                let s = Double(gamma[c]) / (Double(variance[c]) + Double(a.eps)).squareRoot()
                scale.append(Float(s))
                shift.append(Float(Double(beta[c]) - Double(mean[c]) * s))
            }
            return .batchnorm(scale: scale, shift: shift)
        case .relu: return .relu
        case .relu6: return .relu6
        case .hardswish: return .hardswish
        case .hardsigmoid: return .hardsigmoid
        case .add: return .add
        case .concat: return .concat
        case .flatten: return .flatten
        case .globalAvgpool: return .globalAvgpool
        case .channelShuffle(let g): return .channelShuffle(groups: g)
        case .channelSplit(let sizes): return .channelSplit(sizes: sizes)
        case .maxpool(let p): return .pool(p, max: true)
        case .avgpool(let p): return .pool(p, max: false)
        case .linear(let a):
            let ws = weights[a.weight]!.shape
            return .linear(weight: w(a.weight), bias: wOpt(a.bias), o: ws[0], f: ws[1])
        case .softmax(let t): return .softmax(temperature: t)
        }
    }
}

/// A new `[Float]` of `count` elements filled by `body` (which must write every element).
@inline(__always)
private func makeBuffer(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buf, n in
        if count > 0 { body(buf.baseAddress!) }
        n = count
    }
}

/// Applies `f` element-wise.
@inline(__always)
private func map(_ t: Tensor, _ f: (Float) -> Float) -> Tensor {
    let data = t.data.withUnsafeBufferPointer { src in
        makeBuffer(src.count) { dst in
            var k = 0
            while k < src.count { dst[k] = f(src[k]); k += 1 }
        }
    }
    return Tensor(shape: t.shape, data: data)
}

@inline(__always) private func relu6(_ v: Float) -> Float { v < 0 ? 0 : (v > 6 ? 6 : v) }

extension Step {
    func execute(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0]
        let yShape = outputShapes[0]
        let yCount = yShape.reduce(1, *)
        switch kind {
        case .conv(let s, let weight, let bias):
            return [Tensor(shape: yShape, data: runConv(x.data, s, weight, bias))]

        case .dynamic(let p):
            let coeffs = args[1].data
            let o = p.conv.o, g = p.g
            let perKernel = p.kernels.count / (g * o)
            // η[o][t]
            var eta = [Float](repeating: 0, count: o * g)
            for oc in 0..<o {
                for t in 0..<g {
                    eta[oc * g + t] = p.mode == .perChannel ? coeffs[p.offset + oc * g + t] : coeffs[p.offset + t]
                }
            }
            observer?(.coefficients(node: node.name,
                                    p.mode == .perChannel ? eta : Array(coeffs[p.offset..<p.offset + g])))
            var fused = [Float](repeating: 0, count: o * perKernel)
            var acc = [Double](repeating: 0, count: perKernel)
            p.kernels.withUnsafeBufferPointer { k in
                fused.withUnsafeMutableBufferPointer { f in
                    acc.withUnsafeMutableBufferPointer { a in
                        for oc in 0..<o {
                            var e = 0
                            while e < perKernel { a[e] = 0; e += 1 }
                            for t in 0..<g {
                                let c = Double(eta[oc * g + t])
                                let src = k.baseAddress! + (t * o + oc) * perKernel
                                e = 0
                                while e < perKernel { a[e] += c * Double(src[e]); e += 1 }
                            }
                            let dst = f.baseAddress! + oc * perKernel
                            e = 0
                            while e < perKernel { dst[e] = Float(a[e]); e += 1 }
                        }
                    }
                }
            }
            var bias: [Float]? = nil
            if p.mixedBias != nil || p.bias != nil {
                bias = (0..<o).map { oc in
                    var b = 0.0
                    if let mb = p.mixedBias { for t in 0..<g { b += Double(eta[oc * g + t]) * Double(mb[t * o + oc]) } }
                    if let sb = p.bias { b += Double(sb[oc]) }
                    return Float(b)
                }
            }
            if let observer {
                let s = p.conv
                observer(.fusedKernel(node: node.name,
                                      weight: Tensor(shape: [o, s.c / s.geometry.groups, s.kh, s.kw], data: fused),
                                      bias: bias.map { Tensor(shape: [o], data: $0) }))
            }
            return [Tensor(shape: yShape, data: runConv(x.data, p.conv, fused, bias))]

        case .cpm(let p):
            var pooled = [Float](repeating: 0, count: p.c)
            x.data.withUnsafeBufferPointer { xs in
                pooled.withUnsafeMutableBufferPointer { globalAvgpoolKernel(xs.baseAddress!, $0.baseAddress!, c: p.c, plane: p.plane) }
            }
            var h = dense(pooled, p.fc1, p.fc1Bias, o: p.hidden, f: p.c)
            if let fc2 = p.fc2 {
                for k in h.indices where h[k] < 0 { h[k] = 0 }
                h = dense(h, fc2, p.fc2Bias, o: p.n, f: p.hidden)
            }
            switch p.gate {
            case .sigmoid:
                for k in h.indices { h[k] = Float(1 / (1 + Foundation.exp(-Double(h[k])))) }
            case .softmax(let t, _):
                let group = p.gate.softmaxGroup(outputCount: p.n)
                h.withUnsafeMutableBufferPointer { softmaxKernel($0.baseAddress!, count: p.n, group: group, temperature: t) }
            }
            return [Tensor(shape: yShape, data: h)]

        case .batchnorm(let scale, let shift):
            let c = yShape[1], plane = yShape[2] * yShape[3]
            let data = x.data.withUnsafeBufferPointer { src in
                makeBuffer(yCount) { dst in
                    for ch in 0..<c {
                        let a = scale[ch], b = shift[ch]
                        var k = ch * plane
                        let end = k + plane
                        while k < end { dst[k] = src[k] * a + b; k += 1 }
                    }
                }
            }
            return [Tensor(shape: yShape, data: data)]

        case .relu: return [map(x) { $0 < 0 ? 0 : $0 }]
        case .relu6: return [map(x, relu6)]
        case .hardswish: return [map(x) { $0 * relu6($0 + 3) / 6 }]
        case .hardsigmoid: return [map(x) { relu6($0 + 3) / 6 }]

        case .add:
            let b = args[1]
            let data = x.data.withUnsafeBufferPointer { p in
                b.data.withUnsafeBufferPointer { q in
                    makeBuffer(yCount) { dst in
                        var k = 0
                        while k < yCount { dst[k] = p[k] + q[k]; k += 1 }
                    }
                }
            }
            return [Tensor(shape: yShape, data: data)]

        case .concat:
            var data: [Float] = []
            data.reserveCapacity(yCount)
            for a in args { data.append(contentsOf: a.data) }
            return [Tensor(shape: yShape, data: data)]

        case .flatten:
            return [x.reshaped(yShape)]

        case .globalAvgpool:
            let data = x.data.withUnsafeBufferPointer { src in
                makeBuffer(yCount) { globalAvgpoolKernel(src.baseAddress!, $0, c: yShape[1], plane: x.shape[2] * x.shape[3]) }
            }
            return [Tensor(shape: yShape, data: data)]

        case .channelShuffle(let g):
            let c = x.shape[1], spatial = x.count / c, cpg = c / g
            let data = x.data.withUnsafeBufferPointer { src in
                makeBuffer(yCount) { dst in
                    // Input channel gi·cpg + i becomes output channel i·g + gi.
                    for gi in 0..<g {
                        for i in 0..<cpg {
                            (dst + (i * g + gi) * spatial).update(from: src.baseAddress! + (gi * cpg + i) * spatial,
                                                                 count: spatial)
                        }
                    }
                }
            }
            return [Tensor(shape: yShape, data: data)]

        case .channelSplit:
            let spatial = x.count / x.shape[1]
            var start = 0
            return outputShapes.map { s in
                let n = s[1] * spatial
                defer { start += n }
                return Tensor(shape: s, data: Array(x.data[start..<start + n]))
            }

        case .pool(let p, let isMax):
            let data = x.data.withUnsafeBufferPointer { src in
                makeBuffer(yCount) {
                    pool2dKernel(src.baseAddress!, $0, c: x.shape[1], h: x.shape[2], w: x.shape[3],
                                 oh: yShape[2], ow: yShape[3], p, max: isMax)
                }
            }
            return [Tensor(shape: yShape, data: data)]

        case .linear(let weight, let bias, let o, let f):
            return [Tensor(shape: yShape, data: dense(x.data, weight, bias, o: o, f: f))]

        case .softmax(let t):
            var data = x.data
            data.withUnsafeMutableBufferPointer { softmaxKernel($0.baseAddress!, count: yCount, group: yCount, temperature: t) }
            return [Tensor(shape: yShape, data: data)]
        }
    }
}

private func runConv(_ x: [Float], _ s: ConvShape, _ weight: [Float], _ bias: [Float]?) -> [Float] {
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

private func dense(_ x: [Float], _ weight: [Float], _ bias: [Float]?, o: Int, f: Int) -> [Float] {
    x.withUnsafeBufferPointer { xs in
        weight.withUnsafeBufferPointer { ws in
            makeBuffer(o) { out in
                if let bias {
                    bias.withUnsafeBufferPointer { linearKernel(xs.baseAddress!, ws.baseAddress!, $0.baseAddress!, out, o: o, f: f) }
                } else {
                    linearKernel(xs.baseAddress!, ws.baseAddress!, nil, out, o: o, f: f)
                }
            }
        }
    }
}
