// Run-time dispatched x86 kernels: the hot loops of DynQCore's HostWide VNNI kernels written in C, each function
// compiled for AVX-512 VNNI with `__attribute__((target(...)))` whatever the build's -march, and a CPUID query
// (checked once per module, cached) that says whether the running CPU can execute them. Swift has no per-function
// target attribute, so this is how the default (baseline x86-64) build reaches `vpdpbusd` on CPUs that have it
// while still running on every x86-64 CPU: the HostWide choosers pick these kernels only when
// `dynq_x86_cpu_level() >= DYNQ_X86_LEVEL_AVX512VNNI` (docs/host-isa.md "Run-time dispatch").
//
// Every function here is a translation of a Swift kernel in Sources/DynQCore/Kernels/HostWide with the same packed
// layouts and the same integer arithmetic (the proofs are in those files), so the outputs are bit-identical to the
// Swift kernels and to the reference oracles. A call runs a whole loop (a conv pass over every output pixel, an
// output row, one channel's fusion, a whole add), never one instruction, and takes a parameter struct or a few
// pointers and counts. The Swift kernels call them only when `HostWideKernels.dispatchesVNNI` (or a test says so).
//
// A CPU with AVX2 but without AVX-512 VNNI (Haswell to Comet Lake, Alder Lake E-cores, Atom/N100, Zen 2/3) gets
// the AVX2 translations of the same loops instead (dynq_x86_avx2.h, `DYNQ_X86_LEVEL_AVX2`).
//
// Non-x86 targets (Arm, Embedded Swift) compile this header to the level constants and a
// `dynq_x86_cpu_level()` that returns the baseline.
#ifndef DYNQ_X86_DISPATCH_H
#define DYNQ_X86_DISPATCH_H

#include <stdint.h>

/// Instruction-set levels of `dynq_x86_cpu_level`: baseline x86-64 (SSE2), no dispatched kernel runs.
#define DYNQ_X86_LEVEL_BASELINE 0
/// AVX2 with the YMM state enabled by the OS: the dispatched AVX2 kernels (dynq_x86_avx2.h) run.
#define DYNQ_X86_LEVEL_AVX2 1
/// AVX-512 F/BW/VL + VNNI with the ZMM state enabled by the OS: the dispatched VNNI kernels run.
#define DYNQ_X86_LEVEL_AVX512VNNI 2

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <stdlib.h>

#define DYNQ_X86K_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define DYNQ_X86K_INLINE static inline __attribute__((always_inline)) DYNQ_X86K_TARGET

/// The CPU's level from CPUID and XGETBV (no environment): AVX-512 VNNI needs AVX-512 F, BW, VL and VNNI (leaf 7)
/// and the OS saving the XMM, YMM, opmask and both ZMM states (XCR0 bits 1, 2, 5, 6, 7); AVX2 needs AVX2 (leaf 7
/// EBX bit 5) and the XMM and YMM states (XCR0 bits 1, 2). The AVX2 kernels use no FMA, BMI or F16C.
static inline int dynq_x86_detect_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return DYNQ_X86_LEVEL_BASELINE;  // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6u) != 0x6u || __get_cpuid_max(0, 0) < 7) return DYNQ_X86_LEVEL_BASELINE;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & (1u << 5))) return DYNQ_X86_LEVEL_BASELINE;                                           // AVX2
    int avx512 = (lo & 0xE6u) == 0xE6u && (b & (1u << 16)) && (b & (1u << 30)) && (b & (1u << 31))
                 && (c & (1u << 11));                                                     // F, BW, VL, VNNI
    return avx512 ? DYNQ_X86_LEVEL_AVX512VNNI : DYNQ_X86_LEVEL_AVX2;
}

/// `level` capped by the value `env` of `DYNQ_HOST_DISPATCH`: `off` gives the baseline (no dispatched kernel),
/// `avx2` at most `DYNQ_X86_LEVEL_AVX2` (the AVX2 kernels on an AVX-512 VNNI CPU); anything else (or NULL) leaves it.
static inline int dynq_x86_cap_level(int level, const char *env) {
    if (!env) return level;
    if (env[0] == 'o' && env[1] == 'f' && env[2] == 'f' && env[3] == 0) return DYNQ_X86_LEVEL_BASELINE;
    if (env[0] == 'a' && env[1] == 'v' && env[2] == 'x' && env[3] == '2' && env[4] == 0)
        return level < DYNQ_X86_LEVEL_AVX2 ? level : DYNQ_X86_LEVEL_AVX2;
    return level;
}

/// The level the dispatched kernels may use: the CPU's (`dynq_x86_detect_level`) capped by the environment
/// variable `DYNQ_HOST_DISPATCH` (`dynq_x86_cap_level`: `off`, `avx2`; the way to run the fallback or the AVX2
/// kernels on a CPU that has more). Computed once per module that calls it and cached (every copy reads the same
/// CPU and environment).
static inline int dynq_x86_cpu_level(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = dynq_x86_cap_level(dynq_x86_detect_level(), getenv("DYNQ_HOST_DISPATCH"));
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

// ---- Requantization (HostWideRequantize.swift: `hostWideRequantize16`, same prepared 512-byte block) -----------

/// 16 raw accumulators requantized with prepared block `pb` (bias, cap, m even, m odd, rounding even/odd, shift
/// even/odd at byte offsets 0, 64, 128, 192, 256/320, 384/448): clamp to ±cap, signed 64-bit products of the even
/// and odd lanes, + rounding, arithmetic shift, + z, clamp to [low, high]. The 16 results are in [−128, 127].
DYNQ_X86K_INLINE __m512i dynq_x86k_requantize16(__m512i acc, const uint8_t *pb, __m512i z, __m512i low,
                                                 __m512i high) {
    __m512i x = _mm512_add_epi32(acc, _mm512_loadu_si512(pb));
    __m512i cap = _mm512_loadu_si512(pb + 64);
    __m512i xc = _mm512_min_epi32(_mm512_max_epi32(x, _mm512_sub_epi32(_mm512_setzero_si512(), cap)), cap);
    __m512i pe = _mm512_mul_epi32(xc, _mm512_loadu_si512(pb + 128));
    __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(xc, 32), _mm512_loadu_si512(pb + 192));
    __m512i ye = _mm512_srav_epi64(_mm512_add_epi64(pe, _mm512_loadu_si512(pb + 256)), _mm512_loadu_si512(pb + 384));
    __m512i yo = _mm512_srav_epi64(_mm512_add_epi64(po, _mm512_loadu_si512(pb + 320)), _mm512_loadu_si512(pb + 448));
    __m512i y = _mm512_mask_blend_epi32((__mmask16)0xAAAA, ye, _mm512_slli_epi64(yo, 32));
    return _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(y, z), low), high);
}

/// Stores the first `n` (may be ≤ 0 or ≥ 16) of the 16 int8 values of `r` (int32 lanes in [−128, 127]) at `out`.
DYNQ_X86K_INLINE void dynq_x86k_store16(int8_t *out, __m512i r, intptr_t n) {
    __m128i b = _mm512_cvtepi32_epi8(r);
    if (n >= 16) _mm_storeu_si128((__m128i *)out, b);
    else if (n > 0) _mm_mask_storeu_epi8(out, (__mmask16)((1u << n) - 1u), b);
}

// ---- Channel-lane conv (HostWideConvVNNI.swift) -----------------------------------------------------------------

/// One pass of the channel-lane VNNI conv over every output pixel (HostWideConvVNNI.swift: the same tile of 6 pixels
/// × `nv` blocks of 16 channels, the same packing and offset trick). Pointers are already at the group and pass.
typedef struct dynq_x86_vnni_conv_pass {
    /// Padded uint8 image (`q XOR 0x80`, borders `z_in + 128`) plus the group's first input channel.
    const uint8_t *image;
    /// The pass's packed weights `[tap][quad][block in pass][16][4]`.
    const int8_t *weights;
    /// The pass's prepared requantization blocks (512 bytes each, consecutive).
    const uint8_t *prepared;
    /// Byte offsets of the taps from a pixel's origin in the padded image.
    const intptr_t *taps;
    /// The pass's first output of pixel 0 (the group's first channel plus 16 · first block).
    int8_t *output;
    intptr_t tapCount, quads;
    /// Output channels of the whole layer (the output pixel stride).
    intptr_t outputChannels;
    /// Channels this pass stores (≤ 16 · blocks).
    intptr_t channels;
    /// Output width and pixel count; image bytes per output row (stride_y · padded row) and per column (stride_x · C).
    intptr_t outputWidth, pixels, rowStep, colStep;
    int32_t activationMin, activationMax, zeroPoint;
} dynq_x86_vnni_conv_pass;

/// The pass for `NV` (1...4, a constant at every use) channel blocks. Written out with macros rather than loops
/// over pixels and blocks: the accumulators must be named values for the compiler to keep them in registers (the
/// Swift compiler's pipeline does not unroll such loops in imported C).
DYNQ_X86K_INLINE void dynq_x86k_conv_pass(const int NV, const dynq_x86_vnni_conv_pass *a) {
    const __m512i z = _mm512_set1_epi32(a->zeroPoint), low = _mm512_set1_epi32(a->activationMin),
                  high = _mm512_set1_epi32(a->activationMax);
    const intptr_t tapCount = a->tapCount, quadBytes = 4 * a->quads, outC = a->outputChannels;
    const intptr_t channels = a->channels, outW = a->outputWidth, pixels = a->pixels;
    const uint8_t *const pb = a->prepared;
    intptr_t oy = 0, ox = 0;
    for (intptr_t px = 0; px < pixels; px += 6) {
        const intptr_t n = pixels - px < 6 ? pixels - px : 6;
        // Origins and outputs of the tile's pixels; past the end pixel 0's again (read, never stored).
        const uint8_t *x0 = a->image + oy * a->rowStep + ox * a->colStep, *x1 = x0, *x2 = x0, *x3 = x0, *x4 = x0,
                      *x5 = x0;
        int8_t *o0 = a->output + px * outC, *o1 = o0, *o2 = o0, *o3 = o0, *o4 = o0, *o5 = o0;
        if (++ox == outW) { ox = 0; oy++; }
#define DYNQ_X86K_TAKE(J)                                                                                       \
        if (J < n) {                                                                                            \
            x##J = a->image + oy * a->rowStep + ox * a->colStep;                                                \
            o##J = a->output + (px + J) * outC;                                                                 \
            if (++ox == outW) { ox = 0; oy++; }                                                                 \
        }
        DYNQ_X86K_TAKE(1) DYNQ_X86K_TAKE(2) DYNQ_X86K_TAKE(3) DYNQ_X86K_TAKE(4) DYNQ_X86K_TAKE(5)
#undef DYNQ_X86K_TAKE
#define DYNQ_X86K_ZERO(J) __m512i a##J##0 = _mm512_setzero_si512(), a##J##1 = a##J##0, a##J##2 = a##J##0,     \
                                  a##J##3 = a##J##0;
        DYNQ_X86K_ZERO(0) DYNQ_X86K_ZERO(1) DYNQ_X86K_ZERO(2) DYNQ_X86K_ZERO(3) DYNQ_X86K_ZERO(4) DYNQ_X86K_ZERO(5)
#undef DYNQ_X86K_ZERO
        const int8_t *w = a->weights;
        for (intptr_t t = 0; t < tapCount; t++) {
            const intptr_t o = a->taps[t];
            const uint8_t *p0 = x0 + o, *p1 = x1 + o, *p2 = x2 + o, *p3 = x3 + o, *p4 = x4 + o, *p5 = x5 + o;
            for (intptr_t k = 0; k < quadBytes; k += 4) {
                const __m512i w0 = _mm512_loadu_si512(w);
                const __m512i w1 = NV > 1 ? _mm512_loadu_si512(w + 64) : w0;
                const __m512i w2 = NV > 2 ? _mm512_loadu_si512(w + 128) : w0;
                const __m512i w3 = NV > 3 ? _mm512_loadu_si512(w + 192) : w0;
#define DYNQ_X86K_DOT(J)                                                                                        \
                {                                                                                               \
                    int32_t word;                                                                               \
                    __builtin_memcpy(&word, p##J + k, 4);                                                       \
                    const __m512i b = _mm512_set1_epi32(word);                                                  \
                    a##J##0 = _mm512_dpbusd_epi32(a##J##0, b, w0);                                              \
                    if (NV > 1) a##J##1 = _mm512_dpbusd_epi32(a##J##1, b, w1);                                  \
                    if (NV > 2) a##J##2 = _mm512_dpbusd_epi32(a##J##2, b, w2);                                  \
                    if (NV > 3) a##J##3 = _mm512_dpbusd_epi32(a##J##3, b, w3);                                  \
                }
                DYNQ_X86K_DOT(0) DYNQ_X86K_DOT(1) DYNQ_X86K_DOT(2) DYNQ_X86K_DOT(3) DYNQ_X86K_DOT(4) DYNQ_X86K_DOT(5)
#undef DYNQ_X86K_DOT
                w += 64 * NV;
            }
        }
        // Every pixel is requantized before any store (an int8 store could alias the prepared constants).
#define DYNQ_X86K_REQ(J)                                                                                        \
        const __m512i r##J##0 = dynq_x86k_requantize16(a##J##0, pb, z, low, high);                              \
        const __m512i r##J##1 = NV > 1 ? dynq_x86k_requantize16(a##J##1, pb + 512, z, low, high) : r##J##0;     \
        const __m512i r##J##2 = NV > 2 ? dynq_x86k_requantize16(a##J##2, pb + 1024, z, low, high) : r##J##0;    \
        const __m512i r##J##3 = NV > 3 ? dynq_x86k_requantize16(a##J##3, pb + 1536, z, low, high) : r##J##0;
        DYNQ_X86K_REQ(0) DYNQ_X86K_REQ(1) DYNQ_X86K_REQ(2) DYNQ_X86K_REQ(3) DYNQ_X86K_REQ(4) DYNQ_X86K_REQ(5)
#undef DYNQ_X86K_REQ
#define DYNQ_X86K_STORE(J)                                                                                      \
        if (J < n) {                                                                                            \
            dynq_x86k_store16(o##J, r##J##0, channels);                                                         \
            if (NV > 1) dynq_x86k_store16(o##J + 16, r##J##1, channels - 16);                                   \
            if (NV > 2) dynq_x86k_store16(o##J + 32, r##J##2, channels - 32);                                   \
            if (NV > 3) dynq_x86k_store16(o##J + 48, r##J##3, channels - 48);                                   \
        }
        DYNQ_X86K_STORE(0) DYNQ_X86K_STORE(1) DYNQ_X86K_STORE(2) DYNQ_X86K_STORE(3) DYNQ_X86K_STORE(4)
        DYNQ_X86K_STORE(5)
#undef DYNQ_X86K_STORE
    }
}

__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_conv_pass1(const dynq_x86_vnni_conv_pass *a) {
    dynq_x86k_conv_pass(1, a);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_conv_pass2(const dynq_x86_vnni_conv_pass *a) {
    dynq_x86k_conv_pass(2, a);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_conv_pass3(const dynq_x86_vnni_conv_pass *a) {
    dynq_x86k_conv_pass(3, a);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_conv_pass4(const dynq_x86_vnni_conv_pass *a) {
    dynq_x86k_conv_pass(4, a);
}

/// Runs one pass of `blocks` (1...4) channel blocks. Only call when `dynq_x86_cpu_level() >= DYNQ_X86_LEVEL_AVX512VNNI`.
static inline void dynq_x86_vnni_conv_pass_run(const dynq_x86_vnni_conv_pass *a, intptr_t blocks) {
    switch (blocks) {
    case 1: dynq_x86k_conv_pass1(a); break;
    case 2: dynq_x86k_conv_pass2(a); break;
    case 3: dynq_x86k_conv_pass3(a); break;
    default: dynq_x86k_conv_pass4(a); break;
    }
}

// ---- Pixel-lane conv (HostWideConvPixels.swift) ------------------------------------------------------------------

/// One output row of the pixel-lane VNNI conv (HostWideConvPixels.swift: strips of 16 output pixels in the lanes,
/// the same quad-planar row cache, packing `[group][pass][tap][quad][channel in pass][4]`, and one prepared block
/// per output channel with the channel's constants in all 16 lanes).
typedef struct dynq_x86_vnni_pixel_row {
    /// The row cache; `taps[t]` is tap t's byte offset from it for this output row (row slot and phase included).
    const uint8_t *cache;
    const intptr_t *taps;
    /// All groups' packed weights.
    const int8_t *weights;
    /// Prepared requantization blocks, one per output channel (512 bytes each).
    const uint8_t *prepared;
    /// The row's first output (pixel (oy, 0), channel 0).
    int8_t *output;
    intptr_t tapCount, quads, planeBytes, groups, groupOutputChannels, groupWeightBytes, outputChannels, outputWidth;
    int32_t activationMin, activationMax, zeroPoint;
} dynq_x86_vnni_pixel_row;

/// The pixel tile: `N` (1...16, a constant) output channels × 16 pixels; stores the first `pixels` pixels.
/// Channels written out with macros (named accumulators stay in registers).
DYNQ_X86K_INLINE void dynq_x86k_pixel_tile(const int N, const uint8_t *x, const intptr_t *taps, intptr_t tapCount,
                                           intptr_t quads, intptr_t planeBytes, const int8_t *w,
                                           const uint8_t *prepared, __m512i z, __m512i low, __m512i high,
                                           int8_t *out, intptr_t outStride, intptr_t pixels) {
#define DYNQ_X86K_REP16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define DYNQ_X86K_ZERO(C) __m512i a##C = _mm512_setzero_si512();
    DYNQ_X86K_REP16(DYNQ_X86K_ZERO)
#undef DYNQ_X86K_ZERO
    for (intptr_t t = 0; t < tapCount; t++) {
        const uint8_t *xp = x + taps[t];
        for (intptr_t q = 0; q < quads; q++) {
            const __m512i v = _mm512_loadu_si512(xp);
#define DYNQ_X86K_DOT(C)                                                                                        \
            if (C < N) {                                                                                        \
                int32_t word;                                                                                   \
                __builtin_memcpy(&word, w + 4 * C, 4);                                                          \
                a##C = _mm512_dpbusd_epi32(a##C, v, _mm512_set1_epi32(word));                                   \
            }
            DYNQ_X86K_REP16(DYNQ_X86K_DOT)
#undef DYNQ_X86K_DOT
            w += 4 * N;
            xp += planeBytes;
        }
    }
    // A whole strip's 16 bytes go out with one `vpextrb` each (a loop over a stack copy costs a store-forwarding
    // round trip per byte).
#define DYNQ_X86K_BYTE(K) out[K * outStride] = (int8_t)_mm_extract_epi8(b, K);
#define DYNQ_X86K_STORE(C)                                                                                      \
    if (C < N) {                                                                                                \
        const __m128i b = _mm512_cvtepi32_epi8(dynq_x86k_requantize16(a##C, prepared + 512 * C, z, low, high)); \
        if (pixels == 16) {                                                                                     \
            int8_t *const o = out + C;                                                                          \
            { int8_t *out = o; DYNQ_X86K_REP16(DYNQ_X86K_BYTE) }                                                \
        } else {                                                                                                \
            int8_t r[16];                                                                                       \
            _mm_storeu_si128((__m128i *)r, b);                                                                  \
            for (intptr_t k = 0; k < pixels; k++) out[C + k * outStride] = r[k];                                \
        }                                                                                                       \
    }
    DYNQ_X86K_STORE(0) DYNQ_X86K_STORE(1) DYNQ_X86K_STORE(2) DYNQ_X86K_STORE(3) DYNQ_X86K_STORE(4)
    DYNQ_X86K_STORE(5) DYNQ_X86K_STORE(6) DYNQ_X86K_STORE(7) DYNQ_X86K_STORE(8) DYNQ_X86K_STORE(9)
    DYNQ_X86K_STORE(10) DYNQ_X86K_STORE(11) DYNQ_X86K_STORE(12) DYNQ_X86K_STORE(13) DYNQ_X86K_STORE(14)
    DYNQ_X86K_STORE(15)
#undef DYNQ_X86K_STORE
#undef DYNQ_X86K_BYTE
#undef DYNQ_X86K_REP16
}

#define DYNQ_X86K_PIXEL_TILE(N)                                                                                     \
    __attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_pixel_tile##N(                                \
        const uint8_t *x, const intptr_t *taps, intptr_t tapCount, intptr_t quads, intptr_t planeBytes,            \
        const int8_t *w, const uint8_t *prepared, __m512i z, __m512i low, __m512i high, int8_t *out,               \
        intptr_t outStride, intptr_t pixels) {                                                                      \
        dynq_x86k_pixel_tile(N, x, taps, tapCount, quads, planeBytes, w, prepared, z, low, high, out, outStride,   \
                             pixels);                                                                               \
    }
DYNQ_X86K_PIXEL_TILE(1) DYNQ_X86K_PIXEL_TILE(2) DYNQ_X86K_PIXEL_TILE(3) DYNQ_X86K_PIXEL_TILE(4)
DYNQ_X86K_PIXEL_TILE(5) DYNQ_X86K_PIXEL_TILE(6) DYNQ_X86K_PIXEL_TILE(7) DYNQ_X86K_PIXEL_TILE(8)
DYNQ_X86K_PIXEL_TILE(9) DYNQ_X86K_PIXEL_TILE(10) DYNQ_X86K_PIXEL_TILE(11) DYNQ_X86K_PIXEL_TILE(12)
DYNQ_X86K_PIXEL_TILE(13) DYNQ_X86K_PIXEL_TILE(14) DYNQ_X86K_PIXEL_TILE(15) DYNQ_X86K_PIXEL_TILE(16)
#undef DYNQ_X86K_PIXEL_TILE

/// Runs one output row: every strip of 16 pixels, group and pass (`⌈gOut/16⌉` passes of as equal sizes as possible,
/// the larger first). Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline void dynq_x86_vnni_pixel_row_run(const dynq_x86_vnni_pixel_row *a) {
    typedef void (*tile_fn)(const uint8_t *, const intptr_t *, intptr_t, intptr_t, intptr_t, const int8_t *,
                            const uint8_t *, __m512i, __m512i, __m512i, int8_t *, intptr_t, intptr_t);
    static tile_fn const tiles[16] = {
        dynq_x86k_pixel_tile1, dynq_x86k_pixel_tile2, dynq_x86k_pixel_tile3, dynq_x86k_pixel_tile4,
        dynq_x86k_pixel_tile5, dynq_x86k_pixel_tile6, dynq_x86k_pixel_tile7, dynq_x86k_pixel_tile8,
        dynq_x86k_pixel_tile9, dynq_x86k_pixel_tile10, dynq_x86k_pixel_tile11, dynq_x86k_pixel_tile12,
        dynq_x86k_pixel_tile13, dynq_x86k_pixel_tile14, dynq_x86k_pixel_tile15, dynq_x86k_pixel_tile16,
    };
    const __m512i z = _mm512_set1_epi32(a->zeroPoint), low = _mm512_set1_epi32(a->activationMin),
                  high = _mm512_set1_epi32(a->activationMax);
    const intptr_t gOut = a->groupOutputChannels, qg = a->quads, outC = a->outputChannels;
    const intptr_t passes = (gOut + 15) / 16, base = gOut / passes, extra = gOut % passes;
    for (intptr_t ox0 = 0; ox0 < a->outputWidth; ox0 += 16) {
        const intptr_t pixels = a->outputWidth - ox0 < 16 ? a->outputWidth - ox0 : 16;
        int8_t *out = a->output + ox0 * outC;
        for (intptr_t g = 0; g < a->groups; g++) {
            const uint8_t *x = a->cache + g * qg * a->planeBytes + ox0 * 4;
            for (intptr_t i = 0; i < passes; i++) {
                const intptr_t start = i * base + (i < extra ? i : extra), size = base + (i < extra ? 1 : 0);
                const intptr_t o = g * gOut + start;
                tiles[size - 1](x, a->taps, a->tapCount, qg, a->planeBytes,
                                a->weights + g * a->groupWeightBytes + a->tapCount * qg * start * 4,
                                a->prepared + 512 * o, z, low, high, out + o, outC, pixels);
            }
        }
    }
}

// ---- Depthwise (HostWideDepthwise.swift) ------------------------------------------------------------------------

/// One output row of the 32-channel depthwise kernel (HostWideDepthwise.swift: the same int16 row cache of
/// `q − z_in`, tap pairs interleaved by `vpunpck{l,h}wd` into `vpdpwssd`, weights packed `[block][pair][low, high]
/// [16][2]`, two prepared blocks per 32 channels in the unpacks' lane order, bytes merged back into channel order).
typedef struct dynq_x86_depthwise_row {
    /// The row cache (int16); `taps[t]` is tap t's byte offset from it for this output row (`2·⌈taps/2⌉` entries, an
    /// odd count's last one repeating tap 0).
    const uint8_t *cache;
    const intptr_t *taps;
    /// Packed weights of every block.
    const int16_t *weights;
    /// Prepared requantization blocks, low and high per 32 channels (512 bytes each).
    const uint8_t *prepared;
    /// The row's first output (pixel (oy, 0), channel 0).
    int8_t *output;
    intptr_t channels, blocks, pairs, outputWidth;
    /// Bytes between consecutive output pixels in a cached row (stride_x · C₃₂ · 2).
    intptr_t pixelStep;
    int32_t activationMin, activationMax, zeroPoint;
} dynq_x86_depthwise_row;

/// Runs one output row, every 32-channel block and pixel. Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline void dynq_x86_depthwise_row_run(const dynq_x86_depthwise_row *a) {
    const __m512i z = _mm512_set1_epi32(a->zeroPoint), low = _mm512_set1_epi32(a->activationMin),
                  high = _mm512_set1_epi32(a->activationMax);
    const intptr_t c = a->channels, pairs = a->pairs;
    for (intptr_t b = 0; b < a->blocks; b++) {
        const int16_t *w0 = a->weights + b * pairs * 64;
        const uint8_t *pLo = a->prepared + 2 * b * 512, *pHi = pLo + 512;
        const uint8_t *at = a->cache + 64 * b;
        int8_t *o = a->output + 32 * b;
        const intptr_t n = c - 32 * b;
        const __mmask32 keep = n >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << n) - 1u);
        for (intptr_t x = 0; x < a->outputWidth; x++, at += a->pixelStep, o += c) {
            __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
            const int16_t *w = w0;
            for (intptr_t j = 0; j < pairs; j++, w += 64) {
                const __m512i x0 = _mm512_loadu_si512(at + a->taps[2 * j]);
                const __m512i x1 = _mm512_loadu_si512(at + a->taps[2 * j + 1]);
                lo = _mm512_dpwssd_epi32(lo, _mm512_unpacklo_epi16(x0, x1), _mm512_loadu_si512(w));
                hi = _mm512_dpwssd_epi32(hi, _mm512_unpackhi_epi16(x0, x1), _mm512_loadu_si512(w + 32));
            }
            const __m128i rl = _mm512_cvtepi32_epi8(dynq_x86k_requantize16(lo, pLo, z, low, high));
            const __m128i rh = _mm512_cvtepi32_epi8(dynq_x86k_requantize16(hi, pHi, z, low, high));
            const __m256i r = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi32(rl, rh)),
                                                      _mm_unpackhi_epi32(rl, rh), 1);
            _mm256_mask_storeu_epi8(o, keep, r);
        }
    }
}

// ---- Add (HostWideAdd.swift: `hostWideAdd16`'s 16-lane loop) ------------------------------------------------------

/// The 16-lane residual add of `count` (a multiple of 16) elements: per lane `t_k = (x_k·m_k + 2^(n_k−1)) >> n_k`
/// with `x_k = (q_k − z_k) << 20` (signed 64-bit products of the even and odd lanes, one shift count per input;
/// the caller has checked n_1, n_2 ≥ 29 so every t_k and t_1 + t_2 fit in int32), then the prepared output block's
/// requantization of t_1 + t_2 (HostWideAdd.swift proves it equal to `addReference`).
typedef struct dynq_x86_add16 {
    const int8_t *a, *b;
    int8_t *output;
    intptr_t count;
    /// The output multiplier prepared in all 16 lanes, no bias (512 bytes).
    const uint8_t *prepared;
    int32_t input1ZeroPoint, input1Multiplier, input2ZeroPoint, input2Multiplier;
    /// Shift counts n_1, n_2 ∈ [29, 62].
    int64_t input1Shift, input2Shift;
    int32_t activationMin, activationMax, zeroPoint;
} dynq_x86_add16;

/// `(x·m + 2^(n−1)) >> n` for 16 lanes with one multiplier and shift (the result fits in int32).
DYNQ_X86K_INLINE __m512i dynq_x86k_apply_uniform16(__m512i x, __m512i m, __m512i r, __m512i n) {
    const __m512i ye = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), r), n);
    const __m512i yo = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), r), n);
    return _mm512_mask_blend_epi32((__mmask16)0xAAAA, ye, _mm512_slli_epi64(yo, 32));
}

/// Runs the add. Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline void dynq_x86_add16_run(const dynq_x86_add16 *p) {
    const __m512i z = _mm512_set1_epi32(p->zeroPoint), low = _mm512_set1_epi32(p->activationMin),
                  high = _mm512_set1_epi32(p->activationMax);
    const __m512i z1 = _mm512_set1_epi32(p->input1ZeroPoint), z2 = _mm512_set1_epi32(p->input2ZeroPoint);
    const __m512i m1 = _mm512_set1_epi32(p->input1Multiplier), m2 = _mm512_set1_epi32(p->input2Multiplier);
    const __m512i n1 = _mm512_set1_epi64(p->input1Shift), n2 = _mm512_set1_epi64(p->input2Shift);
    const __m512i r1 = _mm512_set1_epi64((int64_t)1 << (p->input1Shift - 1));
    const __m512i r2 = _mm512_set1_epi64((int64_t)1 << (p->input2Shift - 1));
    for (intptr_t i = 0; i < p->count; i += 16) {
        const __m512i x1 = _mm512_slli_epi32(
            _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p->a + i))), z1), 20);
        const __m512i x2 = _mm512_slli_epi32(
            _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p->b + i))), z2), 20);
        const __m512i s = _mm512_add_epi32(dynq_x86k_apply_uniform16(x1, m1, r1, n1),
                                           dynq_x86k_apply_uniform16(x2, m2, r2, n2));
        _mm_storeu_si128((__m128i *)(p->output + i),
                         _mm512_cvtepi32_epi8(dynq_x86k_requantize16(s, p->prepared, z, low, high)));
    }
}

// ---- Pixel-lane row cache (HostWideConvPixels.swift: the 16-pixel gathers of one plane and phase) ---------------

/// `blocks` runs of 16 input quads into the row cache: quad l of block b is the 4 bytes at
/// `src + (16·b + l)·step`, flipped to `q XOR 0x80`, its bytes outside `keep` replaced by `fill`'s, stored at
/// `dst + 64·b + 4·l` (`vpgatherdd`). Every gathered word must be inside the input. Only call at
/// `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline void dynq_x86_gather_quads_run(const int8_t *src, uint8_t *dst, intptr_t step,
                                                               intptr_t blocks, uint32_t keep, uint32_t fill) {
    const __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32((int32_t)step));
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u), k = _mm512_set1_epi32((int32_t)keep),
                  f = _mm512_set1_epi32((int32_t)fill);
    for (intptr_t b = 0; b < blocks; b++) {
        const __m512i v = _mm512_xor_si512(_mm512_i32gather_epi32(offsets, src + 16 * b * step, 1), flip);
        _mm512_storeu_si512(dst + 64 * b, _mm512_or_si512(_mm512_and_si512(v, k), f));
    }
}

// ---- Linear (HostWideLinear.swift: `hostWideLinearPass`) --------------------------------------------------------

/// One pass of the VNNI linear layer over `NV` blocks: the 16·NV raw sums `Σ u·w` into `sums` (two accumulator sets
/// for even and odd quads, summed at the end, as the Swift kernel). `u`: uint8 input padded to whole quads.
DYNQ_X86K_INLINE void dynq_x86k_linear_pass(const int NV, const uint8_t *u, intptr_t quads, const int8_t *w,
                                            int32_t *sums) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    const intptr_t step = 64 * NV;
    intptr_t q = 0, k = 0;
    for (; q + 2 <= quads; q += 2, k += 8, w += 2 * step) {
        int32_t x0, x1;
        __builtin_memcpy(&x0, u + k, 4);
        __builtin_memcpy(&x1, u + k + 4, 4);
        const __m512i bx = _mm512_set1_epi32(x0), by = _mm512_set1_epi32(x1);
        a0 = _mm512_dpbusd_epi32(a0, bx, _mm512_loadu_si512(w));
        b0 = _mm512_dpbusd_epi32(b0, by, _mm512_loadu_si512(w + step));
        if (NV > 1) {
            a1 = _mm512_dpbusd_epi32(a1, bx, _mm512_loadu_si512(w + 64));
            b1 = _mm512_dpbusd_epi32(b1, by, _mm512_loadu_si512(w + step + 64));
        }
        if (NV > 2) {
            a2 = _mm512_dpbusd_epi32(a2, bx, _mm512_loadu_si512(w + 128));
            b2 = _mm512_dpbusd_epi32(b2, by, _mm512_loadu_si512(w + step + 128));
        }
        if (NV > 3) {
            a3 = _mm512_dpbusd_epi32(a3, bx, _mm512_loadu_si512(w + 192));
            b3 = _mm512_dpbusd_epi32(b3, by, _mm512_loadu_si512(w + step + 192));
        }
    }
    if (q < quads) {
        int32_t x0;
        __builtin_memcpy(&x0, u + k, 4);
        const __m512i bx = _mm512_set1_epi32(x0);
        a0 = _mm512_dpbusd_epi32(a0, bx, _mm512_loadu_si512(w));
        if (NV > 1) a1 = _mm512_dpbusd_epi32(a1, bx, _mm512_loadu_si512(w + 64));
        if (NV > 2) a2 = _mm512_dpbusd_epi32(a2, bx, _mm512_loadu_si512(w + 128));
        if (NV > 3) a3 = _mm512_dpbusd_epi32(a3, bx, _mm512_loadu_si512(w + 192));
    }
    _mm512_storeu_si512(sums, _mm512_add_epi32(a0, b0));
    if (NV > 1) _mm512_storeu_si512(sums + 16, _mm512_add_epi32(a1, b1));
    if (NV > 2) _mm512_storeu_si512(sums + 32, _mm512_add_epi32(a2, b2));
    if (NV > 3) _mm512_storeu_si512(sums + 48, _mm512_add_epi32(a3, b3));
}

__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_linear_pass1(const uint8_t *u, intptr_t q,
                                                                             const int8_t *w, int32_t *s) {
    dynq_x86k_linear_pass(1, u, q, w, s);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_linear_pass2(const uint8_t *u, intptr_t q,
                                                                             const int8_t *w, int32_t *s) {
    dynq_x86k_linear_pass(2, u, q, w, s);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_linear_pass3(const uint8_t *u, intptr_t q,
                                                                             const int8_t *w, int32_t *s) {
    dynq_x86k_linear_pass(3, u, q, w, s);
}
__attribute__((noinline)) DYNQ_X86K_TARGET static void dynq_x86k_linear_pass4(const uint8_t *u, intptr_t q,
                                                                             const int8_t *w, int32_t *s) {
    dynq_x86k_linear_pass(4, u, q, w, s);
}

/// The raw sums of one linear pass of `blocks` (1...4) blocks. Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
static inline void dynq_x86_vnni_linear_pass_run(const uint8_t *u, intptr_t quads, const int8_t *w, int32_t *sums,
                                                 intptr_t blocks) {
    switch (blocks) {
    case 1: dynq_x86k_linear_pass1(u, quads, w, sums); break;
    case 2: dynq_x86k_linear_pass2(u, quads, w, sums); break;
    case 3: dynq_x86k_linear_pass3(u, quads, w, sums); break;
    default: dynq_x86k_linear_pass4(u, quads, w, sums); break;
    }
}

// ---- Fusion (HostWideFusion.swift: steps 1 and 4 of `hostWideFuseConv`) ----------------------------------------

/// Step 1 for one output channel with K = `k` ≥ 16 elements: `row[e] = Σ_{t<g} eta[t] · src[t·kernelSize + e]`
/// (int32, wrapping like the Swift kernel; exact within the fusion's bounds) for e < k, 64 then 16 elements at a
/// time in the order t = 0, 1, …, g−1, the last k mod 16 by recomputing the row's last 16; returns max |row[e]|
/// (wrapping absolute value, signed max, as the Swift kernel). Each kernel's stream is prefetched 512 bytes ahead.
/// Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline int32_t dynq_x86_fuse_row(const int8_t *src, const int32_t *eta, intptr_t g,
                                                          intptr_t kernelSize, intptr_t k, int32_t *row) {
    __m512i maxAbs = _mm512_setzero_si512();
#define DYNQ_X86K_LOAD16(P) _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(P)))
    intptr_t e = 0;
    for (; e + 64 <= k; e += 64) {
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        const int8_t *kp = src + e;
        for (intptr_t t = 0; t < g; t++) {
            const __m512i h = _mm512_set1_epi32(eta[t]);
            _mm_prefetch((const char *)(kp + 512), _MM_HINT_T0);
            a0 = _mm512_add_epi32(a0, _mm512_mullo_epi32(DYNQ_X86K_LOAD16(kp), h));
            a1 = _mm512_add_epi32(a1, _mm512_mullo_epi32(DYNQ_X86K_LOAD16(kp + 16), h));
            a2 = _mm512_add_epi32(a2, _mm512_mullo_epi32(DYNQ_X86K_LOAD16(kp + 32), h));
            a3 = _mm512_add_epi32(a3, _mm512_mullo_epi32(DYNQ_X86K_LOAD16(kp + 48), h));
            kp += kernelSize;
        }
        _mm512_storeu_si512(row + e, a0);
        _mm512_storeu_si512(row + e + 16, a1);
        _mm512_storeu_si512(row + e + 32, a2);
        _mm512_storeu_si512(row + e + 48, a3);
        maxAbs = _mm512_max_epi32(maxAbs, _mm512_max_epi32(_mm512_max_epi32(_mm512_abs_epi32(a0), _mm512_abs_epi32(a1)),
                                                           _mm512_max_epi32(_mm512_abs_epi32(a2), _mm512_abs_epi32(a3))));
    }
    for (;;) {
        intptr_t at;
        if (e + 16 <= k) at = e;
        else if (e < k) at = k - 16;
        else break;
        __m512i a = _mm512_setzero_si512();
        const int8_t *kp = src + at;
        for (intptr_t t = 0; t < g; t++) {
            _mm_prefetch((const char *)(kp + 512), _MM_HINT_T0);
            a = _mm512_add_epi32(a, _mm512_mullo_epi32(DYNQ_X86K_LOAD16(kp), _mm512_set1_epi32(eta[t])));
            kp += kernelSize;
        }
        _mm512_storeu_si512(row + at, a);
        maxAbs = _mm512_max_epi32(maxAbs, _mm512_abs_epi32(a));
        e = at + 16;
    }
#undef DYNQ_X86K_LOAD16
    return _mm512_reduce_max_epi32(maxAbs);
}

/// Step 4 for one output channel: for the `padded` (a multiple of 4) int32 values F of `quadRow` (zero-padded to a
/// multiple of 16), q = sign(F) · ((|F| · r + 2^31) >> 32) (32×32→64-bit unsigned products of the even and odd
/// lanes), narrowed to int8, quad j's 4 bytes stored as one word at `base + j · rowStride`; returns Σ q (wrapping).
/// Only call at `DYNQ_X86_LEVEL_AVX512VNNI`.
DYNQ_X86K_TARGET static inline int32_t dynq_x86_fuse_store(const int32_t *quadRow, intptr_t padded, uint32_t r,
                                                            uint8_t *base, intptr_t rowStride) {
    const __m512i rr = _mm512_set1_epi64((int64_t)r), half = _mm512_set1_epi64((int64_t)1 << 31);
    __m512i sum = _mm512_setzero_si512();
    for (intptr_t i = 0; i < padded; i += 16) {
        const __m512i f = _mm512_loadu_si512(quadRow + i);
        const __m512i sign = _mm512_srai_epi32(f, 31);
        const __m512i u = _mm512_sub_epi32(_mm512_xor_si512(f, sign), sign);
        const __m512i even = _mm512_add_epi64(_mm512_mul_epu32(u, rr), half);
        const __m512i odd = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(u, 32), rr), half);
        const __m512i q = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(even, 32), odd);
        const __m512i v = _mm512_sub_epi32(_mm512_xor_si512(q, sign), sign);
        sum = _mm512_add_epi32(sum, v);
        // Four word stores written out (a loop here is vectorized into a slow `vpscatterqd`).
        const __m128i b = _mm512_cvtepi32_epi8(v);
        uint8_t *d = base + (i >> 2) * rowStride;
        const intptr_t n = padded - i >= 16 ? 4 : (padded - i) >> 2;
        const uint32_t w0 = (uint32_t)_mm_cvtsi128_si32(b), w1 = (uint32_t)_mm_extract_epi32(b, 1),
                       w2 = (uint32_t)_mm_extract_epi32(b, 2), w3 = (uint32_t)_mm_extract_epi32(b, 3);
        __builtin_memcpy(d, &w0, 4);
        if (n > 1) __builtin_memcpy(d + rowStride, &w1, 4);
        if (n > 2) __builtin_memcpy(d + 2 * rowStride, &w2, 4);
        if (n > 3) __builtin_memcpy(d + 3 * rowStride, &w3, 4);
    }
    return _mm512_reduce_add_epi32(sum);
}

#else

static inline int dynq_x86_cpu_level(void) { return DYNQ_X86_LEVEL_BASELINE; }

#endif  // __x86_64__

#endif  // DYNQ_X86_DISPATCH_H
