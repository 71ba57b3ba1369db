// Vector requantization of 8 int32 accumulators to int8, bit-exact with `OutputQuantization.requantize`
// (hence with the reference's `finish(apply(acc))`) for every int32 accumulator.
//
// Per lane, with n = 31 − e and s = sign(x):
//   u = min(|x|, X)  (X per channel, see below)         |x| ≤ 2^31 as unsigned
//   Y = (u · m + 2^(n−1) − [x < 0]) >> n                unsigned 64-bit: u ≤ 2^31, m < 2^31 (x86 `pmuludq`)
//   y = s · Y                                            = ⌊x·m/2^n + ½⌋ (ties toward +∞) when u = |x|
//   out = clamp(y, act_min − z, act_max − z) + z
// For x < 0, ⌊(−|x|m + 2^(n−1)) / 2^n⌋ = −⌊(|x|m + 2^(n−1) − 1) / 2^n⌋, hence the `− [x < 0]`.
// The cap: X = 2^max(0, n − 22), a power of two, so preparing a channel needs no division. Since m ≥ 2^30,
// X·m/2^n ≥ 2^8: every |x| ≥ X gives |y| ≥ 256, which the clamp to `[act_min − z, act_max − z] ⊆ [−255, 255]`
// maps to the same bound as y(X) does, so capping changes no output; and since m < 2^31 it bounds
// Y ≤ (X·m + 2^(n−1)) / 2^n < 2^9 + 1 when n ≥ 22, and Y < 2^31 / 2 + 1 when X = 1 (n < 22), so Y fits an int32
// lane and the clamp cannot overflow. The test `u > X` is `(X − u) < 0` in wrapping int32, exact for
// u ∈ [0, 2^31] when X ≤ 2^31 − 1. When X would exceed 2^30 (n ≥ 53, M < 2^−22, or M = 0) no cap is needed
// (u·m < 2^62 and Y < 2^(62−53) + 1): X = 2^31 − 1 with the replacement value 2^31, so the only lane "capped"
// (|x| = 2^31) is replaced by itself.
// Only element-wise builtins are used, so the helper inlines into the kernels without calls.

/// The prepared requantization data of one block of 8 channels, laid out back to back (offsets in bytes from the
/// block's start, each the sum of the sizes before it): bias, cap X and its replacement, each 8 lanes of 32 bits;
/// then multipliers, rounding constants and shift counts, each 8 lanes of 64 bits in lane order
/// `(0, 2), (1, 3), (4, 6), (5, 7)` (the even and odd lanes of each quad, as `pmuludq` takes them).
public enum RequantizeBlock {
    // Computed (not stored) so that they fold to constants inside the kernels.
    @inlinable @inline(__always) public static var bias: Int { 0 }
    @inlinable @inline(__always) public static var cap: Int { bias + MemoryLayout<SIMD8<Int32>>.size }
    @inlinable @inline(__always) public static var capReplacement: Int { cap + MemoryLayout<SIMD8<Int32>>.size }
    @inlinable @inline(__always) public static var multipliers: Int {
        capReplacement + MemoryLayout<SIMD8<UInt32>>.size
    }
    @inlinable @inline(__always) public static var rounding: Int { multipliers + MemoryLayout<SIMD8<UInt64>>.size }
    @inlinable @inline(__always) public static var shifts: Int { rounding + MemoryLayout<SIMD8<UInt64>>.size }
    /// Bytes of one block.
    @inlinable @inline(__always) public static var bytes: Int { shifts + MemoryLayout<SIMD8<UInt64>>.size }
}

/// Bytes of prepared requantization data per block of 8 channels (`RequantizeBlock`).
@inlinable public var requantizeBlockBytes: Int { RequantizeBlock.bytes }

/// Bytes of prepared requantization data for `channels` channels (rounded up to 8).
@inlinable
public func requantizePreparedBytes(channels: Int) -> Int {
    (channels + 7) / 8 * requantizeBlockBytes
}

/// Lays out bias and multipliers of `channels` channels for `requantize8` (missing channels: zero).
@inlinable
public func requantizePrepare(
    channels: Int, bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
    into dst: UnsafeMutableRawPointer
) {
    let blocks = (channels + 7) / 8
    for b in 0..<blocks {
        let base = dst + b * requantizeBlockBytes
        for l in 0..<8 {
            let ch = b * 8 + l
            let valid = ch < channels
            requantizePrepareLane(l, bias: valid ? (bias?[ch] ?? 0) : 0, multiplier: valid ? multipliers[ch] : .zero,
                                  into: base)
        }
    }
}

/// The magnitude cap X of multiplier `m` and the value that replaces a magnitude above it (see the header):
/// `X = 2^max(0, n − 22)` replaced by itself when `n ≤ 52`; otherwise no cap, `(2^31 − 1, 2^31)`.
@inlinable @inline(__always)
internal func requantizeCap(_ m: QuantizedMultiplier) -> (cap: Int32, replacement: UInt32) {
    let n = UInt64(31 &- Int64(m.shift))
    guard m.multiplier != 0 && n <= 52 else { return (Int32.max, UInt32(1) << 31) }
    let x = UInt32(1) << UInt32(n > 22 ? n - 22 : 0)                  // ≤ 2^30
    return (Int32(bitPattern: x), x)
}

/// Writes lane `l ∈ 0..<8` of one prepared block (`requantizeBlockBytes` at `base`) for `bias` and `m`;
/// `requantizePrepare` calls it for the lanes of consecutive channels.
@inlinable
public func requantizePrepareLane(_ l: Int, bias: Int32, multiplier m: QuantizedMultiplier,
                                  into base: UnsafeMutableRawPointer) {
    let n = UInt64(31 &- Int64(m.shift))
    let (x, xRep) = requantizeCap(m)
    base.storeBytes(of: bias, toByteOffset: RequantizeBlock.bias + 4 * l, as: Int32.self)
    base.storeBytes(of: x, toByteOffset: RequantizeBlock.cap + 4 * l, as: Int32.self)
    base.storeBytes(of: xRep, toByteOffset: RequantizeBlock.capReplacement + 4 * l, as: UInt32.self)
    // lane l → 64-bit slot: quad (l / 4), parity (l & 1), position ((l & 3) >> 1)
    let slot = (l / 4) * 4 + (l & 1) * 2 + ((l & 3) >> 1)
    base.storeBytes(of: UInt64(UInt32(bitPattern: m.multiplier)), toByteOffset: RequantizeBlock.multipliers + 8 * slot,
                    as: UInt64.self)
    base.storeBytes(of: UInt64(1) << (n - 1), toByteOffset: RequantizeBlock.rounding + 8 * slot, as: UInt64.self)
    base.storeBytes(of: n, toByteOffset: RequantizeBlock.shifts + 8 * slot, as: UInt64.self)
}

/// `|Y| = (min(|x|, X)·m + r − [x<0]) >> n` for 4 lanes (`u = |x|`, `s = x >> 31`); `q` is the quad
/// (0: lanes 0–3, 1: lanes 4–7).
@inlinable @inline(__always)
internal func requantizeMagnitude4(_ u0: SIMD4<Int32>, _ s: SIMD4<Int32>, _ prepared: UnsafeRawPointer, _ q: Int) -> SIMD4<Int32> {
    let x = prepared.loadUnaligned(fromByteOffset: RequantizeBlock.cap + 16 * q, as: SIMD4<Int32>.self)
    let xRep = prepared.loadUnaligned(fromByteOffset: RequantizeBlock.capReplacement + 16 * q, as: SIMD4<Int32>.self)
    let over = (x &- u0) &>> 31                                         // all ones iff u > X (see above)
    let u = (u0 & ~over) | (xRep & over)
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let u64 = unsafeBitCast(u, to: SIMD2<UInt64>.self)
    let s64 = unsafeBitCast(s, to: SIMD2<UInt64>.self)
    let m = prepared + RequantizeBlock.multipliers + 32 * q, r = prepared + RequantizeBlock.rounding + 32 * q
    let n = prepared + RequantizeBlock.shifts + 32 * q
    let mE = m.loadUnaligned(as: SIMD2<UInt64>.self), mO = m.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let rE = r.loadUnaligned(as: SIMD2<UInt64>.self), rO = r.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let nE = n.loadUnaligned(as: SIMD2<UInt64>.self), nO = n.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let pE = ((u64 & low) &* (mE & low) &+ rE &- (s64 & 1)) &>> nE
    let pO = ((u64 &>> 32) &* (mO & low) &+ rO &- ((s64 &>> 32) & 1)) &>> nO
    // Each result is < 2^31: the low words are the values.
    return unsafeBitCast((pE & low) | (pO &<< 32), to: SIMD4<Int32>.self)
}

/// The output stage of the vector requantizations, `clamp(y, act_min − z, act_max − z) + z` on 4 lanes (as in
/// `OutputQuantization.requantize`), with shifts and masks only; `|y| ≤ 2^30 + 257`, so no difference overflows.
@inlinable @inline(__always)
internal func outputStage(_ y: SIMD4<Int32>, _ q: OutputQuantization) -> SIMD4<Int32> {
    let low = SIMD4<Int32>(repeating: q.activationMin &- q.zeroPoint)
    let high = SIMD4<Int32>(repeating: q.activationMax &- q.zeroPoint)
    let dh = y &- high
    let a = high &+ (dh & (dh &>> 31))                       // min(y, high)
    let dl = a &- low
    return low &+ (dl & ~(dl &>> 31)) &+ SIMD4<Int32>(repeating: q.zeroPoint)   // max(a, low) + z
}

/// Two 4-lane vectors of values in [−128, 127] as 8 int8 lanes (`pand` + `packuswb` on SSE2).
@inlinable @inline(__always)
internal func narrowToInt8(_ r0: SIMD4<Int32>, _ r1: SIMD4<Int32>) -> SIMD8<Int8> {
    SIMD8<Int8>(Int8(truncatingIfNeeded: r0[0]), Int8(truncatingIfNeeded: r0[1]),
                Int8(truncatingIfNeeded: r0[2]), Int8(truncatingIfNeeded: r0[3]),
                Int8(truncatingIfNeeded: r1[0]), Int8(truncatingIfNeeded: r1[1]),
                Int8(truncatingIfNeeded: r1[2]), Int8(truncatingIfNeeded: r1[3]))
}

/// `requantize8` without the store: the 8 int8 results. Kernels that requantize several pixels of one channel block
/// compute them all before storing, so the prepared block's loads are shared.
@inlinable @inline(__always)
internal func requantized8(
    _ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ prepared: UnsafeRawPointer, _ output: OutputQuantization
) -> SIMD8<Int8> {
    let x0 = lo &+ prepared.loadUnaligned(fromByteOffset: RequantizeBlock.bias, as: SIMD4<Int32>.self)
    let x1 = hi &+ prepared.loadUnaligned(fromByteOffset: RequantizeBlock.bias + 16, as: SIMD4<Int32>.self)
    let s0 = x0 &>> 31, s1 = x1 &>> 31
    let y0m = requantizeMagnitude4((x0 ^ s0) &- s0, s0, prepared, 0)
    let y1m = requantizeMagnitude4((x1 ^ s1) &- s1, s1, prepared, 1)
    return narrowToInt8(outputStage((y0m ^ s0) &- s0, output), outputStage((y1m ^ s1) &- s1, output))
}

/// Requantizes 8 accumulators (channels `8b ..< 8b + 8`, `lo` = first four) with prepared block `prepared` and
/// stores 8 int8 at `out`. Equal to `output.requantize(acc + bias, m)` lane by lane.
@inlinable @inline(__always)
internal func requantize8(
    _ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ prepared: UnsafeRawPointer, _ output: OutputQuantization,
    _ out: UnsafeMutablePointer<Int8>
) {
    UnsafeMutableRawPointer(out).storeBytes(of: requantized8(lo, hi, prepared, output), as: SIMD8<Int8>.self)
}

/// The requantization of one output channel when all 8 lanes of a vector are pixels of that channel (the
/// pixel-lane kernels): bias, multiplier and shift are the same in every lane, so the 64-bit products shift by
/// one count and the constants stay in registers.
///
/// **Offset form** (`n ≥ 32`, i.e. `M < ½`: every conv of a trained CNN). Flipping the sign bit makes
/// `v = x + 2^31 ∈ [0, 2^32)` unsigned, and with `T = ⌈(2^31·m − 2^(n−1)) / 2^n⌉` and
/// `K = 2^(n−1) − 2^31·m + T·2^n ∈ [0, 2^n)`:
///
///     ⌊(x·m + 2^(n−1)) / 2^n⌋ = ⌊(v·m + K) / 2^n⌋ − T          (unsigned 64-bit: v·m + K < 2^63 + 2^n)
///
/// and `⌊(v·m + K) / 2^n⌋ ≤ 2^(63−n) + 1 < 2^32`, so its low word minus T (wrapping) is the exact y, with
/// `|y| ≤ 2^30 + 1`; then the usual clamp and zero point. No absolute value, no sign correction, no cap.
///
/// **General form** (`n < 32`): the arithmetic and cap of `requantize8` (top of this file).
@frozen
public struct UniformRequantization {
    public var bias: Int32
    /// Offset form: whether it applies, `K` and `T`.
    public var offsetForm: Bool
    public var offset: UInt64
    public var offsetQuotient: Int32
    /// The cap X and its replacement value (`requantizeCap`).
    public var cap: Int32
    public var capReplacement: UInt32
    /// m as an unsigned 32-bit value.
    public var multiplier: UInt32
    /// `2^(n−1)` and `n = 31 − e`.
    public var rounding: UInt64
    public var shift: UInt64

    @inlinable
    public init(bias: Int32, multiplier m: QuantizedMultiplier) {
        let n = UInt64(31 &- Int64(m.shift))
        self.bias = bias
        (self.cap, self.capReplacement) = requantizeCap(m)
        self.multiplier = UInt32(bitPattern: m.multiplier)
        self.rounding = UInt64(1) << (n - 1)
        self.shift = n
        self.offsetForm = n >= 32
        self.offset = 0
        self.offsetQuotient = 0
        if n >= 32 {
            let mm = UInt64(UInt32(bitPattern: m.multiplier)), p = UInt64(1) << n, r = UInt64(1) << (n - 1)
            let big = mm << 31                                          // 2^31·m < 2^62
            let t = big >= r ? (big - r + p - 1) >> n : 0               // T ≤ 2^(62−n) + 1 ≤ 2^30 + 1
            self.offset = r &- big &+ (t << n)                          // ∈ [0, 2^n)
            self.offsetQuotient = Int32(truncatingIfNeeded: t)
        }
    }
}

/// `⌊(x·m + 2^(n−1)) / 2^n⌋` (exact, unclamped; `|·| ≤ 2^30 + 1`) for 4 lanes of any int32 x, in the offset form
/// of `c` (requires `c.offsetForm`, i.e. n ≥ 32; `c.bias` is not added).
@inlinable @inline(__always)
internal func roundedProducts(_ x: SIMD4<Int32>, _ c: UniformRequantization) -> SIMD4<Int32> {
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let m = SIMD2<UInt64>(repeating: UInt64(c.multiplier)), n = SIMD2<UInt64>(repeating: c.shift)
    let k = SIMD2<UInt64>(repeating: c.offset)
    let v = unsafeBitCast(x ^ SIMD4<Int32>(repeating: Int32.min), to: SIMD2<UInt64>.self)   // x + 2^31, unsigned
    let pE = ((v & low) &* m &+ k) &>> n                                                     // < 2^32
    let pO = ((v &>> 32) &* m &+ k) &>> n
    return unsafeBitCast(pE | (pO &<< 32), to: SIMD4<Int32>.self) &- SIMD4<Int32>(repeating: c.offsetQuotient)
}

/// `q.requantize(acc + c.bias, m)` for the 8 lanes `lo`, `hi` (pixels of one channel), as int8.
@inlinable @inline(__always)
internal func requantizedUniform8(
    _ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ c: UniformRequantization, _ q: OutputQuantization
) -> SIMD8<Int8> {
    let bias = SIMD4<Int32>(repeating: c.bias)
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let m = SIMD2<UInt64>(repeating: UInt64(c.multiplier))
    let n = SIMD2<UInt64>(repeating: c.shift)
    if c.offsetForm {
        return narrowToInt8(outputStage(roundedProducts(lo &+ bias, c), q), outputStage(roundedProducts(hi &+ bias, c), q))
    }
    let x = SIMD4<Int32>(repeating: c.cap), xRep = SIMD4<Int32>(repeating: Int32(bitPattern: c.capReplacement))
    let r = SIMD2<UInt64>(repeating: c.rounding)
    @inline(__always) func magnitude(_ u0: SIMD4<Int32>, _ s: SIMD4<Int32>) -> SIMD4<Int32> {
        let over = (x &- u0) &>> 31                                      // all ones iff u > X
        let u = unsafeBitCast((u0 & ~over) | (xRep & over), to: SIMD2<UInt64>.self)
        let s64 = unsafeBitCast(s, to: SIMD2<UInt64>.self)
        let pE = ((u & low) &* m &+ r &- (s64 & 1)) &>> n
        let pO = ((u &>> 32) &* m &+ r &- ((s64 &>> 32) & 1)) &>> n
        return unsafeBitCast((pE & low) | (pO &<< 32), to: SIMD4<Int32>.self)
    }
    let x0 = lo &+ bias, x1 = hi &+ bias
    let s0 = x0 &>> 31, s1 = x1 &>> 31
    let y0m = magnitude((x0 ^ s0) &- s0, s0), y1m = magnitude((x1 ^ s1) &- s1, s1)
    return narrowToInt8(outputStage((y0m ^ s0) &- s0, q), outputStage((y1m ^ s1) &- s1, q))
}
