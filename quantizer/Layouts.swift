/// Weight and activation layouts of the int8 runtime (docs/numerics.md, "Tensors"). The float graph is NCHW with
/// OIHW weights; the runtime is NHWC with OHWI weights.
enum Layouts {
    /// `[O, I, kh, kw]` → OHWI `[O][kh][kw][I]`.
    static func ohwi<T>(_ w: [T], o: Int, i: Int, kh: Int, kw: Int) -> [T] {
        var out = w
        for a in 0..<o { for c in 0..<i { for y in 0..<kh { for x in 0..<kw {
            out[((a * kh + y) * kw + x) * i + c] = w[((a * i + c) * kh + y) * kw + x]
        } } } }
        return out
    }

    /// Depthwise `[O, 1, kh, kw]` → `[kh][kw][O]`.
    static func depthwise<T>(_ w: [T], o: Int, kh: Int, kw: Int) -> [T] {
        var out = w
        for a in 0..<o { for y in 0..<kh { for x in 0..<kw {
            out[(y * kw + x) * o + a] = w[(a * kh + y) * kw + x]
        } } }
        return out
    }

    /// Dynamic `[g, O, I, kh, kw]` → `[g][O][kh][kw][I]`.
    static func dynamic<T>(_ w: [T], g: Int, o: Int, i: Int, kh: Int, kw: Int) -> [T] {
        let per = o * i * kh * kw
        var out: [T] = []
        out.reserveCapacity(w.count)
        for t in 0..<g { out += ohwi(Array(w[(t * per)..<((t + 1) * per)]), o: o, i: i, kh: kh, kw: kw) }
        return out
    }

    /// NCHW `[1, C, H, W]` → NHWC `[1, H, W, C]`; `[1, F]` unchanged.
    static func nhwcShape(_ s: [Int]) -> [Int] { s.count == 4 ? [s[0], s[2], s[3], s[1]] : s }

    /// NCHW data → NHWC data.
    static func nhwc<T>(_ d: [T], shape s: [Int]) -> [T] {
        guard s.count == 4 else { return d }
        let c = s[1], h = s[2], w = s[3]
        var out = d
        for ch in 0..<c { for y in 0..<h { for x in 0..<w { out[(y * w + x) * c + ch] = d[(ch * h + y) * w + x] } } }
        return out
    }
}
