// Lane helpers of the SIMD kernels. Only element-wise builtins and lane-by-lane initialisers on ≤ 16 lanes, in
// `@inline(__always)` functions, so that LLVM sees `sext` + `mul` + even/odd `shufflevector` + `add` and selects
// one `pmaddwd` (x86 SSE2), `smlal`/`sdot` patterns (AArch64) or `smlad`-style code (Cortex-M). The standard
// library's generic conversions (`init(truncatingIfNeeded:)`, `evenHalf`, `wrappedSum()`) are deliberately not
// used here: inside a large kernel they are outlined as calls (/work/shared/notes/swift-simd-facts.md).

/// Sign-extends 8 int16 lanes to int32.
@inlinable @inline(__always)
internal func widen(_ a: SIMD8<Int16>) -> SIMD8<Int32> {
    SIMD8<Int32>(Int32(a[0]), Int32(a[1]), Int32(a[2]), Int32(a[3]),
                 Int32(a[4]), Int32(a[5]), Int32(a[6]), Int32(a[7]))
}

/// Multiply-add of adjacent pairs: `r[i] = a[2i]·b[2i] + a[2i+1]·b[2i+1]` (x86 `pmaddwd`). Exact for every
/// operand pair except `a = b = (−32768, −32768)`, which the kernels never produce (|operands| ≤ 32767).
@inlinable @inline(__always)
internal func multiplyAddPairs(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
    let m = widen(a) &* widen(b)
    return SIMD4<Int32>(m[0], m[2], m[4], m[6]) &+ SIMD4<Int32>(m[1], m[3], m[5], m[7])
}

/// Sign-extends 8 int8 lanes to int16.
@inlinable @inline(__always)
internal func widen(_ a: SIMD8<Int8>) -> SIMD8<Int16> {
    SIMD8<Int16>(Int16(a[0]), Int16(a[1]), Int16(a[2]), Int16(a[3]),
                 Int16(a[4]), Int16(a[5]), Int16(a[6]), Int16(a[7]))
}

/// Interleaves two int16 vectors lane by lane: `(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])` (`punpcklwd`).
@inlinable @inline(__always)
internal func interleaveLow(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD8<Int16> {
    SIMD8<Int16>(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
}

/// `(a[4], b[4], …, a[7], b[7])` (`punpckhwd`).
@inlinable @inline(__always)
internal func interleaveHigh(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD8<Int16> {
    SIMD8<Int16>(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
}

/// Interleaves two int8 vectors byte by byte and sign-extends: `(a[0], b[0], …, a[3], b[3])` and
/// `(a[4], b[4], …, a[7], b[7])` as int16 (`punpcklbw` + `punpck{l,h}wd` + `psraw`). Written at the byte level so
/// that LLVM keeps the int16 pairs intact for `multiplyAddPairs` (interleaving already-widened vectors lets it fold
/// the shuffles into the multiply and lose `pmaddwd`).
@inlinable @inline(__always)
internal func interleaveWiden(_ a: SIMD8<Int8>, _ b: SIMD8<Int8>) -> (low: SIMD8<Int16>, high: SIMD8<Int16>) {
    let lo = SIMD8<Int8>(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
    let hi = SIMD8<Int8>(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
    return (widen(lo), widen(hi))
}

/// The int16 pair at `p` (4 bytes, any alignment) repeated in all four pair slots.
@inlinable @inline(__always)
internal func broadcastPair(_ p: UnsafeRawPointer) -> SIMD8<Int16> {
    unsafeBitCast(SIMD4<Int32>(repeating: p.loadUnaligned(as: Int32.self)), to: SIMD8<Int16>.self)
}

/// 8 int8 lanes at `p`, any alignment.
@inlinable @inline(__always)
internal func load8(_ p: UnsafeRawPointer) -> SIMD8<Int8> {
    p.loadUnaligned(as: SIMD8<Int8>.self)
}

/// 8 int16 lanes at `p`, any alignment.
@inlinable @inline(__always)
internal func load8x16(_ p: UnsafeRawPointer) -> SIMD8<Int16> {
    p.loadUnaligned(as: SIMD8<Int16>.self)
}
