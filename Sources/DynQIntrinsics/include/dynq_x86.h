// x86 intrinsics for DynQCore's HostWide kernel set (Sources/DynQCore/Kernels/HostWide), as `static inline`
// wrappers over 512-bit logical vectors (clang `ext_vector_type`, which Swift imports as SIMD16<Int32>,
// SIMD64<UInt8>, ...). Each wrapper has three forms, chosen by the compiler's ISA feature macros, i.e. by the
// build's `-Xcc -march=...` (Package.swift, DYNQ_HOST_ISA):
//   - AVX-512 (F, BW, VL, VNNI): the instruction itself (`vpdpbusd`, `vpdpwssd`, `vpmuldq` on zmm);
//   - otherwise a portable C model written with clang vector extensions, bit-exact with the instruction for the
//     operand ranges stated at each function, which the compiler lowers to whatever the target has (two ymm ops
//     with AVX2, four xmm ops with SSE2, NEON on Arm). Slow but exact: it lets the HostWide kernels and their tests
//     run in the default SSE2 build and on any host.
// All integer arithmetic here wraps modulo 2^32 (unsigned vector types) exactly as the instructions do.
#ifndef DYNQ_X86_H
#define DYNQ_X86_H

#include <stdint.h>

// ---- Feature flags, imported into Swift as Int32 constants (0 or 1) --------------------------------------------

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) \
    && defined(__AVX512VNNI__)
/// 1 when the build targets AVX-512 with VNNI (`vpdpbusd` / `vpdpwssd` on zmm): the HostWide set's fast paths.
#define DYNQ_X86_AVX512VNNI 1
#else
#define DYNQ_X86_AVX512VNNI 0
#endif

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/// 1 when the build targets AVX-512 F/BW/VL (x86-64-v4).
#define DYNQ_X86_AVX512BW 1
#else
#define DYNQ_X86_AVX512BW 0
#endif

#if defined(__x86_64__) && defined(__AVX2__)
/// 1 when the build targets AVX2 (x86-64-v3 or later).
#define DYNQ_X86_AVX2 1
#else
#define DYNQ_X86_AVX2 0
#endif

/// Vector registers the build can use: 32 with AVX-512, 16 otherwise (tile sizes follow it).
#if DYNQ_X86_AVX512BW
#define DYNQ_X86_VECTOR_REGISTERS 32
#else
#define DYNQ_X86_VECTOR_REGISTERS 16
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define DYNQ_X86_INLINE static inline __attribute__((always_inline))

// ---- Vector types -----------------------------------------------------------------------------------------------

typedef int8_t   dynq_x86_i8x16  __attribute__((ext_vector_type(16)));
typedef int8_t   dynq_x86_i8x32  __attribute__((ext_vector_type(32)));
typedef int8_t   dynq_x86_i8x64  __attribute__((ext_vector_type(64)));
typedef uint8_t  dynq_x86_u8x16  __attribute__((ext_vector_type(16)));
typedef uint8_t  dynq_x86_u8x64  __attribute__((ext_vector_type(64)));
typedef int16_t  dynq_x86_i16x16 __attribute__((ext_vector_type(16)));
typedef int16_t  dynq_x86_i16x32 __attribute__((ext_vector_type(32)));
typedef int32_t  dynq_x86_i32x8  __attribute__((ext_vector_type(8)));
typedef int32_t  dynq_x86_i32x16 __attribute__((ext_vector_type(16)));
typedef uint32_t dynq_x86_u32x16 __attribute__((ext_vector_type(16)));
typedef int32_t  dynq_x86_i32x32 __attribute__((ext_vector_type(32)));
typedef uint32_t dynq_x86_u32x32 __attribute__((ext_vector_type(32)));
typedef int32_t  dynq_x86_i32x64 __attribute__((ext_vector_type(64)));
typedef uint32_t dynq_x86_u32x64 __attribute__((ext_vector_type(64)));
typedef int64_t  dynq_x86_i64x8  __attribute__((ext_vector_type(8)));

// ---- Dot products ----------------------------------------------------------------------------------------------

/// `vpdpbusd`: `acc[i] + Σ_{j<4} a[4i+j] · b[4i+j]` for 16 int32 lanes, `a` unsigned bytes, `b` signed bytes.
/// Each product is in [−32640, 32385] and the four-term sum in [−130560, 129540], both exact; the add to `acc`
/// wraps modulo 2^32 (the instruction does not saturate), so a chain of calls computes the exact int32 sum
/// whenever the mathematical total fits in int32, whatever the intermediate values.
DYNQ_X86_INLINE dynq_x86_i32x16 dynq_x86_dpbusd(dynq_x86_i32x16 acc, dynq_x86_u8x64 a, dynq_x86_i8x64 b) {
#if DYNQ_X86_AVX512VNNI
    return (dynq_x86_i32x16)_mm512_dpbusd_epi32((__m512i)acc, (__m512i)a, (__m512i)b);
#else
    dynq_x86_i32x64 p = __builtin_convertvector(a, dynq_x86_i32x64) * __builtin_convertvector(b, dynq_x86_i32x64);
    dynq_x86_u32x64 u = (dynq_x86_u32x64)p;
    dynq_x86_u32x16 s0 = __builtin_shufflevector(u, u, 0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
    dynq_x86_u32x16 s1 = __builtin_shufflevector(u, u, 1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61);
    dynq_x86_u32x16 s2 = __builtin_shufflevector(u, u, 2, 6, 10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62);
    dynq_x86_u32x16 s3 = __builtin_shufflevector(u, u, 3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63);
    return (dynq_x86_i32x16)((dynq_x86_u32x16)acc + ((s0 + s1) + (s2 + s3)));
#endif
}

/// `vpdpwssd` (AVX-512 VNNI; `vpmaddwd` + `vpaddd` with AVX-512 BW): `acc[i] + a[2i]·b[2i] + a[2i+1]·b[2i+1]` for
/// 16 int32 lanes of int16 pairs. Exact for every operand pair except `a = b = (−32768, −32768)` (the pair sum
/// 2^31 wraps), which the kernels never produce (their operands are below 2^15 in magnitude); the add to `acc`
/// wraps modulo 2^32.
DYNQ_X86_INLINE dynq_x86_i32x16 dynq_x86_dpwssd(dynq_x86_i32x16 acc, dynq_x86_i16x32 a, dynq_x86_i16x32 b) {
#if DYNQ_X86_AVX512VNNI
    return (dynq_x86_i32x16)_mm512_dpwssd_epi32((__m512i)acc, (__m512i)a, (__m512i)b);
#elif DYNQ_X86_AVX512BW
    return (dynq_x86_i32x16)_mm512_add_epi32((__m512i)acc, _mm512_madd_epi16((__m512i)a, (__m512i)b));
#else
    dynq_x86_u32x32 p = (dynq_x86_u32x32)(__builtin_convertvector(a, dynq_x86_i32x32)
                                          * __builtin_convertvector(b, dynq_x86_i32x32));
    dynq_x86_u32x16 e = __builtin_shufflevector(p, p, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    dynq_x86_u32x16 o = __builtin_shufflevector(p, p, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return (dynq_x86_i32x16)((dynq_x86_u32x16)acc + (e + o));
#endif
}

/// `vpmuldq`: the signed 64-bit products `a[2i] · b[2i]` of the even int32 lanes (8 int64 lanes). Exact.
DYNQ_X86_INLINE dynq_x86_i64x8 dynq_x86_mul_even(dynq_x86_i32x16 a, dynq_x86_i32x16 b) {
#if DYNQ_X86_AVX512BW
    return (dynq_x86_i64x8)_mm512_mul_epi32((__m512i)a, (__m512i)b);
#else
    dynq_x86_i64x8 x = __builtin_convertvector(__builtin_shufflevector(a, a, 0, 2, 4, 6, 8, 10, 12, 14), dynq_x86_i64x8);
    dynq_x86_i64x8 y = __builtin_convertvector(__builtin_shufflevector(b, b, 0, 2, 4, 6, 8, 10, 12, 14), dynq_x86_i64x8);
    return x * y;                                   // |x·y| ≤ 2^62: no overflow
#endif
}

// ---- 128-bit helpers of the SSE2 kernels (SSE2 is part of every x86-64 CPU) ---------------------------------------

typedef int16_t  dynq_x86_i16x8  __attribute__((ext_vector_type(8)));
typedef int32_t  dynq_x86_i32x4  __attribute__((ext_vector_type(4)));
typedef uint64_t dynq_x86_u64x2  __attribute__((ext_vector_type(2)));

/// `a[i] >> n[i]` for two uint64 lanes, counts in [0, 63] (`vpsrlvq` with AVX2; two `psrlq` and a blend on SSE2).
DYNQ_X86_INLINE dynq_x86_u64x2 dynq_x86_srlv_u64x2(dynq_x86_u64x2 a, dynq_x86_u64x2 n) {
#if DYNQ_X86_AVX2
    return (dynq_x86_u64x2)_mm_srlv_epi64((__m128i)a, (__m128i)n);
#else
    return a >> n;
#endif
}

/// `packssdw`: the 8 lanes of `a` then `b` saturated to int16.
DYNQ_X86_INLINE dynq_x86_i16x8 dynq_x86_packs_i32x4(dynq_x86_i32x4 a, dynq_x86_i32x4 b) {
#if defined(__x86_64__) && defined(__SSE2__)
    return (dynq_x86_i16x8)_mm_packs_epi32((__m128i)a, (__m128i)b);
#else
    dynq_x86_i32x4 lo = (dynq_x86_i32x4)-32768, hi = (dynq_x86_i32x4)32767;
    a = __builtin_elementwise_min(__builtin_elementwise_max(a, lo), hi);
    b = __builtin_elementwise_min(__builtin_elementwise_max(b, lo), hi);
    return __builtin_convertvector(__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7), dynq_x86_i16x8);
#endif
}

/// `packsswb` of `a` with itself, low half: the 8 lanes of `a` saturated to int8.
DYNQ_X86_INLINE int64_t dynq_x86_packs_i16x8_low(dynq_x86_i16x8 a) {
#if defined(__x86_64__) && defined(__SSE2__)
    return _mm_cvtsi128_si64(_mm_packs_epi16((__m128i)a, (__m128i)a));
#else
    dynq_x86_i16x8 c = __builtin_elementwise_min(__builtin_elementwise_max(a, (dynq_x86_i16x8)-128), (dynq_x86_i16x8)127);
    typedef int8_t i8x8 __attribute__((ext_vector_type(8)));
    i8x8 r = __builtin_convertvector(c, i8x8);
    int64_t out;
    __builtin_memcpy(&out, &r, 8);
    return out;
#endif
}

/// Lane-wise signed int16 maximum / minimum (`pmaxsw` / `pminsw`).
DYNQ_X86_INLINE dynq_x86_i16x8 dynq_x86_max_i16x8(dynq_x86_i16x8 a, dynq_x86_i16x8 b) {
    return __builtin_elementwise_max(a, b);
}
DYNQ_X86_INLINE dynq_x86_i16x8 dynq_x86_min_i16x8(dynq_x86_i16x8 a, dynq_x86_i16x8 b) {
    return __builtin_elementwise_min(a, b);
}

// ---- Gathers ---------------------------------------------------------------------------------------------------

/// `vpgatherdd`: the 16 unaligned 32-bit words at `base + offsets[i]` (byte offsets). Every address must be readable.
DYNQ_X86_INLINE dynq_x86_u32x16 dynq_x86_gather_u32(const void *base, dynq_x86_i32x16 offsets) {
#if DYNQ_X86_AVX512BW
    return (dynq_x86_u32x16)_mm512_i32gather_epi32((__m512i)offsets, base, 1);
#else
    dynq_x86_u32x16 r;
    for (int i = 0; i < 16; i++) {
        uint32_t w;
        __builtin_memcpy(&w, (const char *)base + offsets[i], 4);
        r[i] = w;
    }
    return r;
#endif
}

// ---- Element-wise ----------------------------------------------------------------------------------------------

/// Lane-wise signed maximum / minimum (`vpmaxsb`, `vpminsd`, ...; SSE2 without `pmaxsb` gets a compare and blend).
DYNQ_X86_INLINE dynq_x86_i8x64 dynq_x86_max_i8x64(dynq_x86_i8x64 a, dynq_x86_i8x64 b) {
    return __builtin_elementwise_max(a, b);
}
DYNQ_X86_INLINE dynq_x86_i8x64 dynq_x86_min_i8x64(dynq_x86_i8x64 a, dynq_x86_i8x64 b) {
    return __builtin_elementwise_min(a, b);
}
DYNQ_X86_INLINE dynq_x86_i8x16 dynq_x86_max_i8x16(dynq_x86_i8x16 a, dynq_x86_i8x16 b) {
    return __builtin_elementwise_max(a, b);
}
DYNQ_X86_INLINE dynq_x86_i32x16 dynq_x86_max_i32x16(dynq_x86_i32x16 a, dynq_x86_i32x16 b) {
    return __builtin_elementwise_max(a, b);
}
DYNQ_X86_INLINE dynq_x86_i32x16 dynq_x86_min_i32x16(dynq_x86_i32x16 a, dynq_x86_i32x16 b) {
    return __builtin_elementwise_min(a, b);
}

/// Stores the first `n` (0...16) bytes of `v` at `p` (AVX-512 BW/VL: one masked `vmovdqu8`; otherwise byte by byte).
DYNQ_X86_INLINE void dynq_x86_store_first_i8x16(void *p, dynq_x86_i8x16 v, int n) {
#if DYNQ_X86_AVX512BW
    _mm_mask_storeu_epi8(p, (__mmask16)((1u << n) - 1u), (__m128i)v);
#else
    for (int i = 0; i < n; i++) ((int8_t *)p)[i] = v[i];
#endif
}

/// A read prefetch of the cache line at `p` into every cache level (`prefetcht0`; no effect on results).
DYNQ_X86_INLINE void dynq_x86_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// The largest of 16 signed int32 lanes (a shuffle-and-max tree).
DYNQ_X86_INLINE int32_t dynq_x86_reduce_max_i32x16(dynq_x86_i32x16 a) {
    return __builtin_reduce_max(a);
}

/// The low byte of each int32 lane (`vpmovdb`): exact for lanes in [−128, 127].
DYNQ_X86_INLINE dynq_x86_i8x16 dynq_x86_narrow_i32x16(dynq_x86_i32x16 a) {
    return __builtin_convertvector(a, dynq_x86_i8x16);
}

/// Signed bytes to int16 minus `z` (`vpmovsxbw` + `vpsubw`): `a[i] − z`, exact for z in [−128, 127].
DYNQ_X86_INLINE dynq_x86_i16x32 dynq_x86_widen_sub_i8x32(dynq_x86_i8x32 a, int16_t z) {
    return __builtin_convertvector(a, dynq_x86_i16x32) - (dynq_x86_i16x32)z;
}

/// Signed bytes to int32 (`vpmovsxbd`).
DYNQ_X86_INLINE dynq_x86_i32x16 dynq_x86_widen_i8x16_i32(dynq_x86_i8x16 a) {
    return __builtin_convertvector(a, dynq_x86_i32x16);
}

/// `vpunpcklwd` / `vpunpckhwd` on zmm: within each 128-bit lane L (int16 elements 8L ..< 8L + 8), the low (high)
/// four elements of `a` and `b` interleaved: `(a[8L], b[8L], a[8L+1], b[8L+1], ...)` (from `8L + 4` for high).
DYNQ_X86_INLINE dynq_x86_i16x32 dynq_x86_unpacklo_i16(dynq_x86_i16x32 a, dynq_x86_i16x32 b) {
    return __builtin_shufflevector(a, b, 0, 32, 1, 33, 2, 34, 3, 35, 8, 40, 9, 41, 10, 42, 11, 43,
                                   16, 48, 17, 49, 18, 50, 19, 51, 24, 56, 25, 57, 26, 58, 27, 59);
}
DYNQ_X86_INLINE dynq_x86_i16x32 dynq_x86_unpackhi_i16(dynq_x86_i16x32 a, dynq_x86_i16x32 b) {
    return __builtin_shufflevector(a, b, 4, 36, 5, 37, 6, 38, 7, 39, 12, 44, 13, 45, 14, 46, 15, 47,
                                   20, 52, 21, 53, 22, 54, 23, 55, 28, 60, 29, 61, 30, 62, 31, 63);
}

/// Inverse of the unpack order for bytes: given the 16 bytes `lo` of lanes in `dynq_x86_unpacklo_i16` order
/// (channels 0–3, 8–11, 16–19, 24–27 of a 32-channel block) and `hi` (4–7, 12–15, 20–23, 28–31), the 32 bytes in
/// channel order (`vpunpckldq` / `vpunpckhdq` on the byte groups).
DYNQ_X86_INLINE dynq_x86_i8x32 dynq_x86_merge_unpacked_bytes(dynq_x86_i8x16 lo, dynq_x86_i8x16 hi) {
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23,
                                   8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
}

#endif  // DYNQ_X86_H
