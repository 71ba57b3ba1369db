import Foundation

/// Float32 kernels of the reference engine, on raw NCHW buffers (batch 1). Each follows PyTorch's definition;
/// sums are accumulated in `Double` so that results sit as close to the exact value as float32 allows.
///
/// Loops are `while` loops over pointers so that debug builds stay usable (tests run whole networks).

/// Geometry of one 2-D convolution: input `[C, H, W]`, kernel `[O, C/groups, kh, kw]`, output `[O, OH, OW]`.
struct ConvShape: Equatable {
    var c: Int, h: Int, w: Int
    var o: Int, kh: Int, kw: Int
    var oh: Int, ow: Int
    var geometry: ConvGeometry
}

/// `torch.nn.functional.conv2d` (cross-correlation, zero padding per side, stride, dilation, groups).
/// `acc` must hold `oh·ow` doubles.
func conv2dKernel(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                  _ out: UnsafeMutablePointer<Float>, _ s: ConvShape, acc: UnsafeMutablePointer<Double>) {
    let g = s.geometry
    let cpg = s.c / g.groups, opg = s.o / g.groups
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

/// `y = W x + b` for `W` of shape `[o, f]`.
func linearKernel(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                  _ out: UnsafeMutablePointer<Float>, o: Int, f: Int) {
    var i = 0
    while i < o {
        var sum = bias.map { Double($0[i]) } ?? 0
        let row = weight + i * f
        var k = 0
        while k < f { sum += Double(row[k]) * Double(x[k]); k += 1 }
        out[i] = Float(sum)
        i += 1
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
