// Run-time dispatched x86 kernels for AVX2 CPUs without AVX-512 VNNI (Haswell to Comet Lake, Alder Lake E-cores,
// Atom / N100, Zen 2 and 3): the loops of dynq_x86_dispatch.h written for 256-bit AVX2, each function compiled with
// `__attribute__((target("avx2")))` whatever the build's -march, run when `dynq_x86_cpu_level()` is
// `DYNQ_X86_LEVEL_AVX2` (docs/host-isa.md "Run-time dispatch"). They read the VNNI kernels' packed layouts and
// prepared requantization blocks unchanged (the Swift packing, fusion and prepared blocks are shared), so the
// choosers pick the same variants and the outputs are the same bits.
//
// The byte dot product without VNNI. `vpmaddubsw` (u8 × s8 pairs into int16) saturates: u = 255 and w = −128 twice
// give −65280. So the quad dot product `Σ_{j<4} u_j·w_j` of a broadcast pixel quad (u_j ∈ [0, 255], the
// VNNI kernels' `q XOR 0x80`) and a channel's packed quad (w_j ∈ [−128, 127]) is computed exactly with `vpmaddwd`
// (int16 pairs into int32) on operands split by bytes within the 16-bit words, no shuffles:
//
//     pixel quad as words [u0 + 256·u1, u2 + 256·u3]:   E = word AND 0xFF = [u0, u2],  O = word >> 8 = [u1, u3]
//     channel quad as words [w0 + 256·w1, w2 + 256·w3]: We = (word << 8) >>a 8 = [w0, w2],  Wo = word >>a 8 = [w1, w3]
//     vpmaddwd(E, We) + vpmaddwd(O, Wo) = u0·w0 + u2·w2 + u1·w1 + u3·w3      in the channel's 32-bit lane
//
// Each `vpmaddwd` pair sum is exact (|u·w + u'·w'| ≤ 2·255·128 < 2^31) and the lanes add modulo 2^32, so the
// accumulator equals `vpdpbusd`'s bit for bit and the VNNI kernels' proofs (offset trick, requantization) hold
// unchanged. A channel's 32-bit lane is its lane of the packing, so 16 channels are two ymm registers.
//
// The 64-bit arithmetic shift of the requantization (`vpsravq`, AVX-512 only) is `((v XOR s) >>> n) XOR s` with
// s = v < 0 ? −1 : 0 (`vpcmpgtq`, `vpsrlvq`): for v < 0, `~v ≥ 0` and `~(~v >>> n) = v >> n` (floor).
//
// Non-x86 targets compile this header to nothing.
#ifndef DYNQ_X86_AVX2_H
#define DYNQ_X86_AVX2_H

#include "dynq_x86_dispatch.h"

#if defined(__x86_64__)

#define DYNQ_X86A_TARGET __attribute__((target("avx2")))
#define DYNQ_X86A_INLINE static inline __attribute__((always_inline)) DYNQ_X86A_TARGET

#define DYNQ_X86A_LOAD(P) _mm256_loadu_si256((const __m256i *)(const void *)(P))
#define DYNQ_X86A_STORE(P, V) _mm256_storeu_si256((__m256i *)(void *)(P), V)

// ---- Requantization (HostWideRequantize.swift: one half of `hostWideRequantize16`'s prepared block) -------------

/// 8 raw accumulators of lanes 8h…8h+7 requantized with the prepared block half `pb` (the block's address plus 32·h:
/// bias, cap, m, m of the odd lanes, rounding even/odd, shift even/odd at byte offsets 0, 64, 128, 192, 256/320,
/// 384/448 from it): the same steps as `dynq_x86k_requantize16`. The 8 results are in [act_min, act_max].
DYNQ_X86A_INLINE __m256i dynq_x86a_requantize8(__m256i acc, const uint8_t *pb, __m256i z, __m256i low,
                                                __m256i high) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i x = _mm256_add_epi32(acc, DYNQ_X86A_LOAD(pb));
    const __m256i cap = DYNQ_X86A_LOAD(pb + 64);
    const __m256i xc = _mm256_min_epi32(_mm256_max_epi32(x, _mm256_sub_epi32(zero, cap)), cap);
    const __m256i ve = _mm256_add_epi64(_mm256_mul_epi32(xc, DYNQ_X86A_LOAD(pb + 128)), DYNQ_X86A_LOAD(pb + 256));
    const __m256i vo = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(xc, 32), DYNQ_X86A_LOAD(pb + 192)),
                                        DYNQ_X86A_LOAD(pb + 320));
    const __m256i se = _mm256_cmpgt_epi64(zero, ve), so = _mm256_cmpgt_epi64(zero, vo);
    const __m256i ye = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(ve, se), DYNQ_X86A_LOAD(pb + 384)), se);
    const __m256i yo = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(vo, so), DYNQ_X86A_LOAD(pb + 448)), so);
    const __m256i y = _mm256_blend_epi32(ye, _mm256_slli_epi64(yo, 32), 0xAA);
    return _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(y, z), low), high);
}

/// The 16 int8 values of two 8-lane vectors (int32 lanes in [−128, 127], so the saturating packs are exact), in
/// lane order: r0's 8 then r1's 8.
DYNQ_X86A_INLINE __m128i dynq_x86a_narrow16(__m256i r0, __m256i r1) {
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
    return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

/// Stores the first `n` (may be ≤ 0 or ≥ 16) bytes of `b` at `out` (8-, 4-, 2- and 1-byte stores for a tail).
DYNQ_X86A_INLINE void dynq_x86a_store16(int8_t *out, __m128i b, intptr_t n) {
    if (n >= 16) { _mm_storeu_si128((__m128i *)(void *)out, b); return; }
    if (n <= 0) return;
    uint64_t v = (uint64_t)_mm_cvtsi128_si64(b);
    if (n & 8) { __builtin_memcpy(out, &v, 8); out += 8; v = (uint64_t)_mm_extract_epi64(b, 1); }
    if (n & 4) { uint32_t t = (uint32_t)v; __builtin_memcpy(out, &t, 4); out += 4; v >>= 32; }
    if (n & 2) { uint16_t t = (uint16_t)v; __builtin_memcpy(out, &t, 2); out += 2; v >>= 16; }
    if (n & 1) *out = (int8_t)v;
}

/// A pixel quad's 4 bytes at `p` broadcast and split into E = [u0, u2] and O = [u1, u3] int16 pairs (header).
#define DYNQ_X86A_SPLIT_PIXEL(P, E, O)                                                                          \
    {                                                                                                           \
        int32_t word_;                                                                                          \
        __builtin_memcpy(&word_, (P), 4);                                                                       \
        const __m256i b_ = _mm256_set1_epi32(word_);                                                            \
        E = _mm256_and_si256(b_, _mm256_set1_epi16(0xFF));                                                      \
        O = _mm256_srli_epi16(b_, 8);                                                                           \
    }
/// 8 channels' packed quads (32 bytes at `P`) split into We = [w0, w2] and Wo = [w1, w3] int16 pairs (header).
#define DYNQ_X86A_SPLIT_WEIGHTS(P, WE, WO)                                                                      \
    {                                                                                                           \
        const __m256i w_ = DYNQ_X86A_LOAD(P);                                                                   \
        WE = _mm256_srai_epi16(_mm256_slli_epi16(w_, 8), 8);                                                    \
        WO = _mm256_srai_epi16(w_, 8);                                                                          \
    }
/// `ACC += Σ_j u_j·w_j` per channel lane (exact, wrapping like `vpdpbusd`).
#define DYNQ_X86A_DOT(ACC, E, O, WE, WO)                                                                        \
    ACC = _mm256_add_epi32(ACC, _mm256_add_epi32(_mm256_madd_epi16(E, WE), _mm256_madd_epi16(O, WO)))

// ---- Channel-lane conv (HostWideConvVNNI.swift, the pass of `dynq_x86_vnni_conv_pass`) ---------------------------

/// One tile: 4 pixels × one 16-channel block (8 ymm accumulators; the 4 split weight vectors of a quad and one
/// pixel's split quad fit the 16 registers), or with `H` = 1 (a constant) only its first 8 channels (a block of at
/// most 8 channels: half the `vpmaddwd`, the other half's lanes are zero weights). `x0…x3` the pixels' origins in the padded image, `o0…o3` their first
/// outputs of the block, `w` the block's first packed quad, `wStep` the bytes between a tap-quad's rows (64 ·
/// blocks in the pass), `pb` the block's prepared requantization block; stores the first `n` pixels and the first
/// `channels` (may be ≥ 16) channels.
DYNQ_X86A_INLINE void dynq_x86a_conv_tile(const int H, const dynq_x86_vnni_conv_pass *a, const uint8_t *x0, const uint8_t *x1,
                                          const uint8_t *x2, const uint8_t *x3, int8_t *o0, int8_t *o1, int8_t *o2,
                                          int8_t *o3, intptr_t n, const int8_t *w, intptr_t wStep,
                                          const uint8_t *pb, intptr_t channels, __m256i z, __m256i low,
                                          __m256i high) {
    const intptr_t tapCount = a->tapCount, quadBytes = 4 * a->quads;
    __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
            a31 = a00;
    for (intptr_t t = 0; t < tapCount; t++) {
        const intptr_t o = a->taps[t];
        const uint8_t *p0 = x0 + o, *p1 = x1 + o, *p2 = x2 + o, *p3 = x3 + o;
        for (intptr_t k = 0; k < quadBytes; k += 4, w += wStep) {
            __m256i we0, wo0, we1 = a00, wo1 = a00, e, od;
            DYNQ_X86A_SPLIT_WEIGHTS(w, we0, wo0)
            if (H > 1) DYNQ_X86A_SPLIT_WEIGHTS(w + 32, we1, wo1)
#define DYNQ_X86A_PIXEL(J)                                                                                      \
            DYNQ_X86A_SPLIT_PIXEL(p##J + k, e, od)                                                              \
            DYNQ_X86A_DOT(a##J##0, e, od, we0, wo0);                                                            \
            if (H > 1) DYNQ_X86A_DOT(a##J##1, e, od, we1, wo1);
            DYNQ_X86A_PIXEL(0) DYNQ_X86A_PIXEL(1) DYNQ_X86A_PIXEL(2) DYNQ_X86A_PIXEL(3)
#undef DYNQ_X86A_PIXEL
        }
    }
    // Every pixel is requantized before any store (an int8 store could alias the prepared constants).
#define DYNQ_X86A_REQ(J)                                                                                        \
    const __m128i r##J = dynq_x86a_narrow16(dynq_x86a_requantize8(a##J##0, pb, z, low, high),                   \
                                            H > 1 ? dynq_x86a_requantize8(a##J##1, pb + 32, z, low, high) : a##J##1);
    DYNQ_X86A_REQ(0) DYNQ_X86A_REQ(1) DYNQ_X86A_REQ(2) DYNQ_X86A_REQ(3)
#undef DYNQ_X86A_REQ
    dynq_x86a_store16(o0, r0, channels);
    if (n > 1) dynq_x86a_store16(o1, r1, channels);
    if (n > 2) dynq_x86a_store16(o2, r2, channels);
    if (n > 3) dynq_x86a_store16(o3, r3, channels);
}

/// Runs one pass of `blocks` (1...4) channel blocks (the VNNI pass's arguments and packing): tiles of 4 pixels,
/// each running every block of the pass (the pixels' input stays in L1 and each output line is written once per
/// pass). Only call when `dynq_x86_cpu_level() >= DYNQ_X86_LEVEL_AVX2`.
__attribute__((noinline)) DYNQ_X86A_TARGET static inline void dynq_x86_avx2_conv_pass_run(
    const dynq_x86_vnni_conv_pass *a, intptr_t blocks) {
    const __m256i z = _mm256_set1_epi32(a->zeroPoint), low = _mm256_set1_epi32(a->activationMin),
                  high = _mm256_set1_epi32(a->activationMax);
    const intptr_t outC = a->outputChannels, outW = a->outputWidth, pixels = a->pixels, wStep = 64 * blocks;
    intptr_t oy = 0, ox = 0;
    for (intptr_t px = 0; px < pixels; px += 4) {
        const intptr_t n = pixels - px < 4 ? pixels - px : 4;
        // Origins and outputs of the tile's pixels; past the end pixel 0's again (read, never stored).
        const uint8_t *x0 = a->image + oy * a->rowStep + ox * a->colStep, *x1 = x0, *x2 = x0, *x3 = x0;
        int8_t *o0 = a->output + px * outC, *o1 = o0, *o2 = o0, *o3 = o0;
        if (++ox == outW) { ox = 0; oy++; }
#define DYNQ_X86A_TAKE(J)                                                                                       \
        if (J < n) {                                                                                            \
            x##J = a->image + oy * a->rowStep + ox * a->colStep;                                                \
            o##J = a->output + (px + J) * outC;                                                                 \
            if (++ox == outW) { ox = 0; oy++; }                                                                 \
        }
        DYNQ_X86A_TAKE(1) DYNQ_X86A_TAKE(2) DYNQ_X86A_TAKE(3)
#undef DYNQ_X86A_TAKE
        for (intptr_t b = 0; b < blocks; b++) {
            const intptr_t channels = a->channels - 16 * b;
            if (channels > 8) {
                dynq_x86a_conv_tile(2, a, x0, x1, x2, x3, o0 + 16 * b, o1 + 16 * b, o2 + 16 * b, o3 + 16 * b, n,
                                    a->weights + 64 * b, wStep, a->prepared + 512 * b, channels, z, low, high);
            } else {
                dynq_x86a_conv_tile(1, a, x0, x1, x2, x3, o0 + 16 * b, o1 + 16 * b, o2 + 16 * b, o3 + 16 * b, n,
                                    a->weights + 64 * b, wStep, a->prepared + 512 * b, channels, z, low, high);
            }
        }
    }
}

// ---- Linear (HostWideLinear.swift: the raw sums of one pass) ------------------------------------------------------

/// The 16·`blocks` (1...4) raw sums `Σ u·w` of one linear pass (the VNNI pass's packing) into `sums`; `u`: the uint8
/// input padded to whole quads. Two blocks at a time (4 accumulators), each quad's broadcast split once per pair.
DYNQ_X86A_TARGET __attribute__((noinline)) static inline void dynq_x86_avx2_linear_pass_run(
    const uint8_t *u, intptr_t quads, const int8_t *w, int32_t *sums, intptr_t blocks) {
    const intptr_t step = 64 * blocks;
    for (intptr_t b = 0; b < blocks; b += 2) {
        const int two = b + 1 < blocks;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        const int8_t *wp = w + 64 * b;
        for (intptr_t q = 0; q < quads; q++, wp += step) {
            __m256i e, od, we, wo;
            DYNQ_X86A_SPLIT_PIXEL(u + 4 * q, e, od)
            DYNQ_X86A_SPLIT_WEIGHTS(wp, we, wo)
            DYNQ_X86A_DOT(a0, e, od, we, wo);
            DYNQ_X86A_SPLIT_WEIGHTS(wp + 32, we, wo)
            DYNQ_X86A_DOT(a1, e, od, we, wo);
            if (two) {
                DYNQ_X86A_SPLIT_WEIGHTS(wp + 64, we, wo)
                DYNQ_X86A_DOT(a2, e, od, we, wo);
                DYNQ_X86A_SPLIT_WEIGHTS(wp + 96, we, wo)
                DYNQ_X86A_DOT(a3, e, od, we, wo);
            }
        }
        DYNQ_X86A_STORE(sums + 16 * b, a0);
        DYNQ_X86A_STORE(sums + 16 * b + 8, a1);
        if (two) {
            DYNQ_X86A_STORE(sums + 16 * b + 16, a2);
            DYNQ_X86A_STORE(sums + 16 * b + 24, a3);
        }
    }
}

// ---- Depthwise (HostWideDepthwise.swift, the row of `dynq_x86_depthwise_row`) -------------------------------------

/// Runs one output row of the 32-channel depthwise kernel, every block and pixel: the VNNI row's arithmetic on two
/// 256-bit halves (channels 0–15 and 16–31 of the block; the unpacks work within 128-bit lanes, so each half's
/// accumulators are the VNNI row's lanes 0–7 and 8–15, and `vpdpwssd` is `vpmaddwd` + `vpaddd`, exact: no pair is
/// (−32768, −32768)). Only call at `DYNQ_X86_LEVEL_AVX2` or above.
__attribute__((noinline)) DYNQ_X86A_TARGET static inline void dynq_x86_avx2_depthwise_row_run(
    const dynq_x86_depthwise_row *a) {
    const __m256i z = _mm256_set1_epi32(a->zeroPoint), low = _mm256_set1_epi32(a->activationMin),
                  high = _mm256_set1_epi32(a->activationMax);
    const intptr_t c = a->channels, pairs = a->pairs;
    for (intptr_t b = 0; b < a->blocks; b++) {
        const int16_t *w0 = a->weights + b * pairs * 64;
        const uint8_t *pLo = a->prepared + 2 * b * 512, *pHi = pLo + 512;
        const uint8_t *at = a->cache + 64 * b;
        int8_t *o = a->output + 32 * b;
        const intptr_t n = c - 32 * b;
        for (intptr_t x = 0; x < a->outputWidth; x++, at += a->pixelStep, o += c) {
            __m256i loA = _mm256_setzero_si256(), loB = loA, hiA = loA, hiB = loA;
            const int16_t *w = w0;
            for (intptr_t j = 0; j < pairs; j++, w += 64) {
                const uint8_t *t0 = at + a->taps[2 * j], *t1 = at + a->taps[2 * j + 1];
                const __m256i x0A = DYNQ_X86A_LOAD(t0), x0B = DYNQ_X86A_LOAD(t0 + 32);
                const __m256i x1A = DYNQ_X86A_LOAD(t1), x1B = DYNQ_X86A_LOAD(t1 + 32);
                loA = _mm256_add_epi32(loA, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0A, x1A), DYNQ_X86A_LOAD(w)));
                loB = _mm256_add_epi32(loB, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0B, x1B), DYNQ_X86A_LOAD(w + 16)));
                hiA = _mm256_add_epi32(hiA, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0A, x1A), DYNQ_X86A_LOAD(w + 32)));
                hiB = _mm256_add_epi32(hiB, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0B, x1B), DYNQ_X86A_LOAD(w + 48)));
            }
            const __m128i rl = dynq_x86a_narrow16(dynq_x86a_requantize8(loA, pLo, z, low, high),
                                                  dynq_x86a_requantize8(loB, pLo + 32, z, low, high));
            const __m128i rh = dynq_x86a_narrow16(dynq_x86a_requantize8(hiA, pHi, z, low, high),
                                                  dynq_x86a_requantize8(hiB, pHi + 32, z, low, high));
            dynq_x86a_store16(o, _mm_unpacklo_epi32(rl, rh), n);
            dynq_x86a_store16(o + 16, _mm_unpackhi_epi32(rl, rh), n - 16);
        }
    }
}

// ---- Add (HostWideAdd.swift: the 16-lane loop of `dynq_x86_add16`) --------------------------------------------------

/// `(x·m + r) >> n` (arithmetic) for 8 lanes with one multiplier, rounding constant and shift count n ∈ [29, 62]
/// (the caller guarantees the result fits in int32; the shift as in `dynq_x86a_requantize8`).
DYNQ_X86A_INLINE __m256i dynq_x86a_apply_uniform8(__m256i x, __m256i m, __m256i r, __m128i n) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i ve = _mm256_add_epi64(_mm256_mul_epi32(x, m), r);
    const __m256i vo = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), r);
    const __m256i se = _mm256_cmpgt_epi64(zero, ve), so = _mm256_cmpgt_epi64(zero, vo);
    const __m256i ye = _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(ve, se), n), se);
    const __m256i yo = _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(vo, so), n), so);
    return _mm256_blend_epi32(ye, _mm256_slli_epi64(yo, 32), 0xAA);
}

/// Runs the add of `dynq_x86_add16` (`count` a multiple of 16; the same arithmetic, 8 lanes at a time, the
/// prepared output block's two halves). Only call at `DYNQ_X86_LEVEL_AVX2` or above.
__attribute__((noinline)) DYNQ_X86A_TARGET static inline void dynq_x86_avx2_add16_run(const dynq_x86_add16 *p) {
    const __m256i z = _mm256_set1_epi32(p->zeroPoint), low = _mm256_set1_epi32(p->activationMin),
                  high = _mm256_set1_epi32(p->activationMax);
    const __m256i z1 = _mm256_set1_epi32(p->input1ZeroPoint), z2 = _mm256_set1_epi32(p->input2ZeroPoint);
    const __m256i m1 = _mm256_set1_epi32(p->input1Multiplier), m2 = _mm256_set1_epi32(p->input2Multiplier);
    const __m128i n1 = _mm_cvtsi64_si128(p->input1Shift), n2 = _mm_cvtsi64_si128(p->input2Shift);
    const __m256i r1 = _mm256_set1_epi64x((int64_t)1 << (p->input1Shift - 1));
    const __m256i r2 = _mm256_set1_epi64x((int64_t)1 << (p->input2Shift - 1));
    for (intptr_t i = 0; i < p->count; i += 16) {
        __m256i s[2];
        for (int h = 0; h < 2; h++) {
            const __m256i x1 = _mm256_slli_epi32(
                _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p->a + i + 8 * h))), z1), 20);
            const __m256i x2 = _mm256_slli_epi32(
                _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p->b + i + 8 * h))), z2), 20);
            s[h] = dynq_x86a_requantize8(_mm256_add_epi32(dynq_x86a_apply_uniform8(x1, m1, r1, n1),
                                                          dynq_x86a_apply_uniform8(x2, m2, r2, n2)),
                                         p->prepared + 32 * h, z, low, high);
        }
        _mm_storeu_si128((__m128i *)(void *)(p->output + i), dynq_x86a_narrow16(s[0], s[1]));
    }
}

// ---- Fusion (HostWideFusion.swift: steps 1 and 4 of `hostWideFuseConv`, as `dynq_x86_fuse_row` / `_store`) ------

/// Step 1 for one output channel with K = `k` ≥ 16: `row[e] = Σ_{t<g} eta[t] · src[t·kernelSize + e]` (int32,
/// wrapping) for e < k, 32 then 8 elements at a time in the order t = 0, 1, …, g−1, the last k mod 8 by recomputing
/// the row's last 8; returns max |row[e]| (wrapping absolute value, signed max, as the Swift kernel). Each kernel's
/// stream is prefetched 512 bytes ahead. Only call at `DYNQ_X86_LEVEL_AVX2` or above.
DYNQ_X86A_TARGET static inline int32_t dynq_x86_avx2_fuse_row(const int8_t *src, const int32_t *eta, intptr_t g,
                                                               intptr_t kernelSize, intptr_t k, int32_t *row) {
    __m256i maxAbs = _mm256_setzero_si256();
#define DYNQ_X86A_LOAD8(P) _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(P)))
    intptr_t e = 0;
    for (; e + 32 <= k; e += 32) {
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        const int8_t *kp = src + e;
        for (intptr_t t = 0; t < g; t++) {
            const __m256i h = _mm256_set1_epi32(eta[t]);
            _mm_prefetch((const char *)(kp + 512), _MM_HINT_T0);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(DYNQ_X86A_LOAD8(kp), h));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(DYNQ_X86A_LOAD8(kp + 8), h));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(DYNQ_X86A_LOAD8(kp + 16), h));
            a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(DYNQ_X86A_LOAD8(kp + 24), h));
            kp += kernelSize;
        }
        DYNQ_X86A_STORE(row + e, a0);
        DYNQ_X86A_STORE(row + e + 8, a1);
        DYNQ_X86A_STORE(row + e + 16, a2);
        DYNQ_X86A_STORE(row + e + 24, a3);
        maxAbs = _mm256_max_epi32(maxAbs, _mm256_max_epi32(_mm256_max_epi32(_mm256_abs_epi32(a0), _mm256_abs_epi32(a1)),
                                                           _mm256_max_epi32(_mm256_abs_epi32(a2), _mm256_abs_epi32(a3))));
    }
    for (;;) {
        intptr_t at;
        if (e + 8 <= k) at = e;
        else if (e < k) at = k - 8;
        else break;
        __m256i a = _mm256_setzero_si256();
        const int8_t *kp = src + at;
        for (intptr_t t = 0; t < g; t++) {
            _mm_prefetch((const char *)(kp + 512), _MM_HINT_T0);
            a = _mm256_add_epi32(a, _mm256_mullo_epi32(DYNQ_X86A_LOAD8(kp), _mm256_set1_epi32(eta[t])));
            kp += kernelSize;
        }
        DYNQ_X86A_STORE(row + at, a);
        maxAbs = _mm256_max_epi32(maxAbs, _mm256_abs_epi32(a));
        e = at + 8;
    }
#undef DYNQ_X86A_LOAD8
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(maxAbs), _mm256_extracti128_si256(maxAbs, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}

/// Step 4 for one output channel: for the `padded` (a multiple of 4) int32 values F of `quadRow` (zero-padded to a
/// multiple of 16), q = sign(F) · ((|F| · r + 2^31) >> 32) (32×32→64-bit unsigned products of the even and odd
/// lanes), narrowed to int8, quad j's 4 bytes stored as one word at `base + j · rowStride`; returns Σ q (wrapping).
/// Only call at `DYNQ_X86_LEVEL_AVX2` or above.
DYNQ_X86A_TARGET static inline int32_t dynq_x86_avx2_fuse_store(const int32_t *quadRow, intptr_t padded, uint32_t r,
                                                                 uint8_t *base, intptr_t rowStride) {
    const __m256i rr = _mm256_set1_epi64x((int64_t)r), half = _mm256_set1_epi64x((int64_t)1 << 31);
    __m256i sum = _mm256_setzero_si256();
    for (intptr_t i = 0; i < padded; i += 8) {
        const __m256i f = DYNQ_X86A_LOAD(quadRow + i);
        const __m256i sign = _mm256_srai_epi32(f, 31);
        const __m256i u = _mm256_sub_epi32(_mm256_xor_si256(f, sign), sign);
        const __m256i even = _mm256_add_epi64(_mm256_mul_epu32(u, rr), half);
        const __m256i odd = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(u, 32), rr), half);
        const __m256i q = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
        const __m256i v = _mm256_sub_epi32(_mm256_xor_si256(q, sign), sign);
        sum = _mm256_add_epi32(sum, v);
        // |v| ≤ 127: the saturating packs are exact; words 0 and 1 of the low 128 bits are quads i/4 and i/4 + 1.
        const __m128i v16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        const __m128i b = _mm_packs_epi16(v16, v16);
        uint8_t *d = base + (i >> 2) * rowStride;
        const uint32_t w0 = (uint32_t)_mm_cvtsi128_si32(b), w1 = (uint32_t)_mm_extract_epi32(b, 1);
        __builtin_memcpy(d, &w0, 4);
        if (padded - i > 4) __builtin_memcpy(d + rowStride, &w1, 4);
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

#endif  // __x86_64__

#endif  // DYNQ_X86_AVX2_H
