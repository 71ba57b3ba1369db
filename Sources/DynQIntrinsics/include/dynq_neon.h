/* AArch64 Advanced SIMD (NEON): `static inline` wrappers of clang's ACLE intrinsics, for DynQCore's NEON kernel set
 * (Sources/DynQCore/Kernels/NEON/).
 *
 * On AArch64 (`__ARM_NEON` and `__aarch64__`: `-target aarch64-none-none-elf`, or an arm64 host) each wrapper is the
 * instruction(s) named in its comment; SDOT additionally needs the dot-product extension (`__ARM_FEATURE_DOTPROD`:
 * `-Xcc -march=armv8.2-a+dotprod`, or `-Xcc -mcpu=` a core that has it, e.g. cortex-a55, cortex-a76). Otherwise each
 * wrapper is a portable C model of the instruction, bit-exact: the same lanes, the same wrap-around (modulo 2^16,
 * 2^32, 2^64 as the instruction's lane width), rounding and saturation. The models are always defined
 * (`dynq_model_neon_*`), so a test can compare them with the instruction where both exist.
 *
 * Types: clang extended vectors, which Swift imports as SIMD16<Int8>, SIMD8<Int16>, SIMD4<Int32>, SIMD2<Int64>
 * (the same 128-bit registers as the NEON types; the wrappers reinterpret, they never convert lane values).
 * Lane 0 is the lowest-addressed element. "low half" = lanes 0..n/2-1. */
#ifndef DYNQ_NEON_H
#define DYNQ_NEON_H

#include <stdint.h>

typedef int8_t dynq_s8x16 __attribute__((ext_vector_type(16)));
typedef int16_t dynq_s16x8 __attribute__((ext_vector_type(8)));
typedef int32_t dynq_s32x4 __attribute__((ext_vector_type(4)));
typedef int64_t dynq_s64x2 __attribute__((ext_vector_type(2)));

/* ---- portable models (always defined) ---- */

static inline int16_t dynq_model_wrap16(int32_t v) { return (int16_t)(uint16_t)((uint32_t)v & 0xFFFFu); }
static inline int32_t dynq_model_wrap32(int64_t v) { return (int32_t)(uint32_t)((uint64_t)v & 0xFFFFFFFFu); }

/* SMULL Vd.8H, Vn.8B, Vm.8B: r[i] = a[i]·b[i], i < 8 (the low halves); exact (|product| ≤ 2^14). */
static inline dynq_s16x8 dynq_model_neon_smull_low_s8(dynq_s8x16 a, dynq_s8x16 b) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int16_t)((int32_t)a[i] * (int32_t)b[i]);
    return r;
}
/* SMLAL2 Vd.8H, Vn.16B, Vm.16B: r[i] = acc[i] + a[8+i]·b[8+i] (the high halves), modulo 2^16. */
static inline dynq_s16x8 dynq_model_neon_smlal_high_s8(dynq_s16x8 acc, dynq_s8x16 a, dynq_s8x16 b) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = dynq_model_wrap16((int32_t)acc[i] + (int32_t)a[8 + i] * (int32_t)b[8 + i]);
    return r;
}
/* SADALP Vd.4S, Vn.8H: r[l] = acc[l] + x[2l] + x[2l+1], modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_sadalp_s16(dynq_s32x4 acc, dynq_s16x8 x) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32((int64_t)acc[l] + x[2 * l] + x[2 * l + 1]);
    return r;
}
/* SDOT Vd.4S, Vn.16B, Vm.16B: r[l] = acc[l] + Σ_{j<4} a[4l+j]·b[4l+j], modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_sdot_s8(dynq_s32x4 acc, dynq_s8x16 a, dynq_s8x16 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) {
        int64_t s = acc[l];
        for (int j = 0; j < 4; j++) s += (int32_t)a[4 * l + j] * (int32_t)b[4 * l + j];
        r[l] = dynq_model_wrap32(s);
    }
    return r;
}
/* ADDP Vd.4S, Vn.4S, Vm.4S: (a0+a1, a2+a3, b0+b1, b2+b3), modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_addp_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    r[0] = dynq_model_wrap32((int64_t)a[0] + a[1]); r[1] = dynq_model_wrap32((int64_t)a[2] + a[3]);
    r[2] = dynq_model_wrap32((int64_t)b[0] + b[1]); r[3] = dynq_model_wrap32((int64_t)b[2] + b[3]);
    return r;
}
/* SMULL Vd.2D, Vn.2S, Vm.2S: (a0·b0, a1·b1), exact. */
static inline dynq_s64x2 dynq_model_neon_smull_low_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s64x2 r;
    r[0] = (int64_t)a[0] * b[0]; r[1] = (int64_t)a[1] * b[1];
    return r;
}
/* SMULL2 Vd.2D, Vn.4S, Vm.4S: (a2·b2, a3·b3), exact. */
static inline dynq_s64x2 dynq_model_neon_smull_high_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s64x2 r;
    r[0] = (int64_t)a[2] * b[2]; r[1] = (int64_t)a[3] * b[3];
    return r;
}
/* SRSHL Vd.2D, Vn.2D, Vm.2D, one lane: the shift is the signed low byte of s. s ≥ 0: a << s (bits shifted out
 * are lost; 0 for s ≥ 64). s = −n < 0: the rounding right shift ⌊(a + 2^(n−1)) / 2^n⌋ computed without overflow
 * (= (a >> n) + bit n−1 of a; 0 for n ≥ 64, where |a| < 2^(n−1)). */
static inline int64_t dynq_model_neon_srshl_lane(int64_t a, int64_t s) {
    int sh = (int8_t)(uint8_t)((uint64_t)s & 0xFFu);
    if (sh >= 0) return sh >= 64 ? 0 : (int64_t)((uint64_t)a << sh);
    int n = -sh;
    if (n >= 64) return 0;
    return (a >> n) + ((a >> (n - 1)) & 1);
}
static inline dynq_s64x2 dynq_model_neon_srshl_s64(dynq_s64x2 a, dynq_s64x2 s) {
    dynq_s64x2 r;
    r[0] = dynq_model_neon_srshl_lane(a[0], s[0]); r[1] = dynq_model_neon_srshl_lane(a[1], s[1]);
    return r;
}
/* SQXTN Vd.2S, Vn.2D + SQXTN2 Vd.4S, Vm.2D: (sat32(lo0), sat32(lo1), sat32(hi0), sat32(hi1)). */
static inline int32_t dynq_model_sat32(int64_t v) {
    return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}
static inline dynq_s32x4 dynq_model_neon_sqxtn_s64(dynq_s64x2 lo, dynq_s64x2 hi) {
    dynq_s32x4 r;
    r[0] = dynq_model_sat32(lo[0]); r[1] = dynq_model_sat32(lo[1]);
    r[2] = dynq_model_sat32(hi[0]); r[3] = dynq_model_sat32(hi[1]);
    return r;
}
/* SMAX / SMIN Vd.4S. */
static inline dynq_s32x4 dynq_model_neon_smax_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = a[l] > b[l] ? a[l] : b[l];
    return r;
}
static inline dynq_s32x4 dynq_model_neon_smin_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = a[l] < b[l] ? a[l] : b[l];
    return r;
}
/* XTN Vd.4H, Vn.4S + XTN Vd.8B, Vn.8H + FMOV Wd, Sn: the low bytes of the four lanes, lane 0 in bits 0-7. */
static inline uint32_t dynq_model_neon_narrow_s32_s8(dynq_s32x4 a) {
    return ((uint32_t)a[0] & 0xFFu) | (((uint32_t)a[1] & 0xFFu) << 8) | (((uint32_t)a[2] & 0xFFu) << 16)
         | (((uint32_t)a[3] & 0xFFu) << 24);
}

/* SXTL Vd.8H, Vn.8B / SXTL2 Vd.8H, Vn.16B: the low / high 8 lanes sign-extended to int16. */
static inline dynq_s16x8 dynq_model_neon_sxtl_low_s8(dynq_s8x16 a) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = a[i];
    return r;
}
static inline dynq_s16x8 dynq_model_neon_sxtl_high_s8(dynq_s8x16 a) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = a[8 + i];
    return r;
}
/* SMLAL Vd.4S, Vn.4H, Vm.4H: r[l] = acc[l] + a[l]·b[l], l < 4 (the low halves), modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_smlal_low_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32((int64_t)acc[l] + (int32_t)a[l] * (int32_t)b[l]);
    return r;
}
/* SMLAL2 Vd.4S, Vn.8H, Vm.8H: r[l] = acc[l] + a[4+l]·b[4+l] (the high halves), modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_smlal_high_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32((int64_t)acc[l] + (int32_t)a[4 + l] * (int32_t)b[4 + l]);
    return r;
}
/* SADDLP Vd.8H, Vn.16B: r[i] = a[2i] + a[2i+1] (exact in int16). */
static inline dynq_s16x8 dynq_model_neon_saddlp_s8(dynq_s8x16 a) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int16_t)((int32_t)a[2 * i] + (int32_t)a[2 * i + 1]);
    return r;
}
/* ABS Vd.4S: |a[l]|, modulo 2^32 (ABS of INT32_MIN is INT32_MIN). */
static inline dynq_s32x4 dynq_model_neon_abs_s32(dynq_s32x4 a) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32(a[l] < 0 ? -(int64_t)a[l] : (int64_t)a[l]);
    return r;
}
/* SMAXV Sd, Vn.4S: the largest lane. */
static inline int32_t dynq_model_neon_smaxv_s32(dynq_s32x4 a) {
    int32_t m = a[0];
    for (int l = 1; l < 4; l++) m = a[l] > m ? a[l] : m;
    return m;
}
/* UMULL Vd.2D, Vn.2S, Vm.S[0] + UMULL2 Vd.2D, Vn.4S, Vm.S[0] + RSHRN Vd.2S, Vn.2D, #32 + RSHRN2 Vd.4S, Vn.2D, #32:
 * r[l] = low 32 bits of ⌊(a[l]·m + 2^31) / 2^32⌋, a[l] and m unsigned 32-bit (the sum computed in 65 bits, as the
 * instruction does; for a[l] < 2^31 the product is < 2^63 and the result < 2^31). */
static inline dynq_s32x4 dynq_model_neon_mul_rshrn32_u32(dynq_s32x4 a, uint32_t m) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) {
        uint64_t p = (uint64_t)(uint32_t)a[l] * m;
        uint64_t q = (p >> 32) + ((p >> 31) & 1);
        r[l] = (int32_t)(uint32_t)q;
    }
    return r;
}
/* XTN Vd.4H + XTN2 Vd.8H (twice) + XTN Vd.8B + XTN2 Vd.16B: the low bytes of the 16 lanes of a, b, c, d in order
 * (a[0] in byte 0, d[3] in byte 15). */
static inline dynq_s8x16 dynq_model_neon_narrow4_s32_s8(dynq_s32x4 a, dynq_s32x4 b, dynq_s32x4 c, dynq_s32x4 d) {
    dynq_s8x16 r;
    for (int l = 0; l < 4; l++) {
        r[l] = (int8_t)(uint8_t)((uint32_t)a[l] & 0xFFu); r[4 + l] = (int8_t)(uint8_t)((uint32_t)b[l] & 0xFFu);
        r[8 + l] = (int8_t)(uint8_t)((uint32_t)c[l] & 0xFFu); r[12 + l] = (int8_t)(uint8_t)((uint32_t)d[l] & 0xFFu);
    }
    return r;
}

/* ---- models of the thin-K tile's instructions (NEONThin.swift) ---- */

/* LD1 Vt.8B, [p] + SSUBL Vd.8H, Vt.8B, Vz.8B: r[i] = p[i] − z, i < 8, exact in int16 (|r| ≤ 255). Reads 8 bytes. */
static inline dynq_s16x8 dynq_model_neon_ld1_ssubl_s8(const int8_t *p, int8_t z) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int16_t)((int32_t)p[i] - (int32_t)z);
    return r;
}
/* SMLAL Vd.4S, Vn.4H, Vm.H[lane]: r[l] = acc[l] + w[l]·x[lane], l < 4 (w's low half), modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_smlal_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32((int64_t)acc[l] + (int32_t)w[l] * (int32_t)x[lane & 7]);
    return r;
}
/* SMLAL2 Vd.4S, Vn.8H, Vm.H[lane]: r[l] = acc[l] + w[4+l]·x[lane] (w's high half), modulo 2^32. */
static inline dynq_s32x4 dynq_model_neon_smlal_high_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_wrap32((int64_t)acc[l] + (int32_t)w[4 + l] * (int32_t)x[lane & 7]);
    return r;
}
/* SQXTN Vd.4H, Vn.4S + SQXTN2 Vd.8H, Vm.4S: (sat16(a0..a3), sat16(b0..b3)). */
static inline int16_t dynq_model_sat16(int32_t v) { return v > INT16_MAX ? INT16_MAX : (v < INT16_MIN ? INT16_MIN : (int16_t)v); }
static inline dynq_s16x8 dynq_model_neon_sqxtn_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s16x8 r;
    for (int l = 0; l < 4; l++) { r[l] = dynq_model_sat16(a[l]); r[4 + l] = dynq_model_sat16(b[l]); }
    return r;
}
/* SMAX / SMIN Vd.8H. */
static inline dynq_s16x8 dynq_model_neon_smax_s16(dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
static inline dynq_s16x8 dynq_model_neon_smin_s16(dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = a[i] < b[i] ? a[i] : b[i];
    return r;
}
/* XTN Vd.8B, Vn.8H + XTN2 Vd.16B, Vm.8H: the low bytes of a's then b's 8 lanes. */
static inline dynq_s8x16 dynq_model_neon_xtn_s16(dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s8x16 r;
    for (int i = 0; i < 8; i++) {
        r[i] = (int8_t)(uint8_t)((uint16_t)a[i] & 0xFFu); r[8 + i] = (int8_t)(uint8_t)((uint16_t)b[i] & 0xFFu);
    }
    return r;
}

/* SQDMULH Vd.4S, Vn.4S, Vm.4S: sat32(⌊2·a·b / 2^32⌋) = ⌊a·b / 2^31⌋ (saturates only for a = b = INT32_MIN). */
static inline dynq_s32x4 dynq_model_neon_sqdmulh_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) {
        if (a[l] == INT32_MIN && b[l] == INT32_MIN) { r[l] = INT32_MAX; continue; }
        int64_t p = (int64_t)a[l] * b[l];
        r[l] = (int32_t)(p >> 31);
    }
    return r;
}
/* SRSHL Vd.4S, Vn.4S, Vm.4S, one lane: the shift is the signed low byte of s. s ≥ 0: a << s (bits shifted out are
 * lost; 0 for s ≥ 32). s = −n < 0: the rounding right shift ⌊(a + 2^(n−1)) / 2^n⌋ in exact arithmetic (0 for
 * n ≥ 32, where |a| ≤ 2^31 ≤ 2^(n−1)). */
static inline int32_t dynq_model_neon_srshl32_lane(int32_t a, int32_t s) {
    int sh = (int8_t)(uint8_t)((uint32_t)s & 0xFFu);
    if (sh >= 0) return sh >= 32 ? 0 : (int32_t)((uint32_t)a << sh);
    int n = -sh;
    if (n >= 32) return 0;
    return (int32_t)(((int64_t)a + ((int64_t)1 << (n - 1))) >> n);
}
static inline dynq_s32x4 dynq_model_neon_srshl_s32(dynq_s32x4 a, dynq_s32x4 s) {
    dynq_s32x4 r;
    for (int l = 0; l < 4; l++) r[l] = dynq_model_neon_srshl32_lane(a[l], s[l]);
    return r;
}
/* SQADD Vd.8H: sat16(a + b). */
static inline dynq_s16x8 dynq_model_neon_sqadd_s16(dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s16x8 r;
    for (int i = 0; i < 8; i++) r[i] = dynq_model_sat16((int32_t)a[i] + (int32_t)b[i]);
    return r;
}
/* SQXTN Vd.8B, Vn.8H + SQXTN2 Vd.16B, Vm.8H: (sat8(a0..a7), sat8(b0..b7)). */
static inline int8_t dynq_model_sat8(int16_t v) { return v > INT8_MAX ? INT8_MAX : (v < INT8_MIN ? INT8_MIN : (int8_t)v); }
static inline dynq_s8x16 dynq_model_neon_sqxtn_s16(dynq_s16x8 a, dynq_s16x8 b) {
    dynq_s8x16 r;
    for (int i = 0; i < 8; i++) { r[i] = dynq_model_sat8(a[i]); r[8 + i] = dynq_model_sat8(b[i]); }
    return r;
}
/* SMAX / SMIN Vd.16B. */
static inline dynq_s8x16 dynq_model_neon_smax_s8(dynq_s8x16 a, dynq_s8x16 b) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
static inline dynq_s8x16 dynq_model_neon_smin_s8(dynq_s8x16 a, dynq_s8x16 b) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = a[i] < b[i] ? a[i] : b[i];
    return r;
}

/* ---- the wrappers the kernels call ---- */

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>

/* 1 when the wrappers are the NEON instructions, 0 when they are the portable models. */
static inline int32_t dynq_neon_native(void) { return 1; }

static inline dynq_s16x8 dynq_neon_smull_low_s8(dynq_s8x16 a, dynq_s8x16 b) {
    return (dynq_s16x8)vmull_s8(vget_low_s8((int8x16_t)a), vget_low_s8((int8x16_t)b));
}
static inline dynq_s16x8 dynq_neon_smlal_high_s8(dynq_s16x8 acc, dynq_s8x16 a, dynq_s8x16 b) {
    return (dynq_s16x8)vmlal_high_s8((int16x8_t)acc, (int8x16_t)a, (int8x16_t)b);
}
static inline dynq_s32x4 dynq_neon_sadalp_s16(dynq_s32x4 acc, dynq_s16x8 x) {
    return (dynq_s32x4)vpadalq_s16((int32x4_t)acc, (int16x8_t)x);
}
static inline dynq_s32x4 dynq_neon_addp_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vpaddq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s64x2 dynq_neon_smull_low_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s64x2)vmull_s32(vget_low_s32((int32x4_t)a), vget_low_s32((int32x4_t)b));
}
static inline dynq_s64x2 dynq_neon_smull_high_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s64x2)vmull_high_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s64x2 dynq_neon_srshl_s64(dynq_s64x2 a, dynq_s64x2 s) {
    return (dynq_s64x2)vrshlq_s64((int64x2_t)a, (int64x2_t)s);
}
static inline dynq_s32x4 dynq_neon_sqxtn_s64(dynq_s64x2 lo, dynq_s64x2 hi) {
    return (dynq_s32x4)vqmovn_high_s64(vqmovn_s64((int64x2_t)lo), (int64x2_t)hi);
}
static inline dynq_s32x4 dynq_neon_smax_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vmaxq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_neon_smin_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vminq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline uint32_t dynq_neon_narrow_s32_s8(dynq_s32x4 a) {
    int8x8_t b = vmovn_s16(vcombine_s16(vmovn_s32((int32x4_t)a), vdup_n_s16(0)));
    return vget_lane_u32(vreinterpret_u32_s8(b), 0);
}

static inline dynq_s16x8 dynq_neon_sxtl_low_s8(dynq_s8x16 a) { return (dynq_s16x8)vmovl_s8(vget_low_s8((int8x16_t)a)); }
static inline dynq_s16x8 dynq_neon_sxtl_high_s8(dynq_s8x16 a) { return (dynq_s16x8)vmovl_high_s8((int8x16_t)a); }
static inline dynq_s32x4 dynq_neon_smlal_low_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    return (dynq_s32x4)vmlal_s16((int32x4_t)acc, vget_low_s16((int16x8_t)a), vget_low_s16((int16x8_t)b));
}
static inline dynq_s32x4 dynq_neon_smlal_high_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    return (dynq_s32x4)vmlal_high_s16((int32x4_t)acc, (int16x8_t)a, (int16x8_t)b);
}
static inline dynq_s16x8 dynq_neon_saddlp_s8(dynq_s8x16 a) { return (dynq_s16x8)vpaddlq_s8((int8x16_t)a); }
static inline dynq_s32x4 dynq_neon_abs_s32(dynq_s32x4 a) { return (dynq_s32x4)vabsq_s32((int32x4_t)a); }
static inline int32_t dynq_neon_smaxv_s32(dynq_s32x4 a) { return vmaxvq_s32((int32x4_t)a); }
static inline dynq_s32x4 dynq_neon_mul_rshrn32_u32(dynq_s32x4 a, uint32_t m) {
    uint32x4_t u = vreinterpretq_u32_s32((int32x4_t)a);
    uint64x2_t lo = vmull_n_u32(vget_low_u32(u), m), hi = vmull_high_n_u32(u, m);
    return (dynq_s32x4)vreinterpretq_s32_u32(vrshrn_high_n_u64(vrshrn_n_u64(lo, 32), hi, 32));
}
static inline dynq_s8x16 dynq_neon_narrow4_s32_s8(dynq_s32x4 a, dynq_s32x4 b, dynq_s32x4 c, dynq_s32x4 d) {
    int16x8_t ab = vmovn_high_s32(vmovn_s32((int32x4_t)a), (int32x4_t)b);
    int16x8_t cd = vmovn_high_s32(vmovn_s32((int32x4_t)c), (int32x4_t)d);
    return (dynq_s8x16)vmovn_high_s16(vmovn_s16(ab), cd);
}

static inline dynq_s16x8 dynq_neon_ld1_ssubl_s8(const int8_t *p, int8_t z) {
    return (dynq_s16x8)vsubl_s8(vld1_s8(p), vdup_n_s8(z));
}
/* The lane must be a constant after inlining (the switch then folds to one instruction). */
static inline dynq_s32x4 dynq_neon_smlal_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    int32x4_t a = (int32x4_t)acc; int16x4_t v = vget_low_s16((int16x8_t)w); int16x8_t s = (int16x8_t)x;
    switch (lane & 7) {
    case 0: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 0);
    case 1: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 1);
    case 2: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 2);
    case 3: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 3);
    case 4: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 4);
    case 5: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 5);
    case 6: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 6);
    default: return (dynq_s32x4)vmlal_laneq_s16(a, v, s, 7);
    }
}
static inline dynq_s32x4 dynq_neon_smlal_high_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    int32x4_t a = (int32x4_t)acc; int16x8_t v = (int16x8_t)w; int16x8_t s = (int16x8_t)x;
    switch (lane & 7) {
    case 0: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 0);
    case 1: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 1);
    case 2: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 2);
    case 3: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 3);
    case 4: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 4);
    case 5: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 5);
    case 6: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 6);
    default: return (dynq_s32x4)vmlal_high_laneq_s16(a, v, s, 7);
    }
}
static inline dynq_s16x8 dynq_neon_sqxtn_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s16x8)vqmovn_high_s32(vqmovn_s32((int32x4_t)a), (int32x4_t)b);
}
static inline dynq_s16x8 dynq_neon_smax_s16(dynq_s16x8 a, dynq_s16x8 b) { return (dynq_s16x8)vmaxq_s16((int16x8_t)a, (int16x8_t)b); }
static inline dynq_s16x8 dynq_neon_smin_s16(dynq_s16x8 a, dynq_s16x8 b) { return (dynq_s16x8)vminq_s16((int16x8_t)a, (int16x8_t)b); }
static inline dynq_s8x16 dynq_neon_xtn_s16(dynq_s16x8 a, dynq_s16x8 b) {
    return (dynq_s8x16)vmovn_high_s16(vmovn_s16((int16x8_t)a), (int16x8_t)b);
}
static inline dynq_s32x4 dynq_neon_sqdmulh_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vqdmulhq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_neon_srshl_s32(dynq_s32x4 a, dynq_s32x4 s) {
    return (dynq_s32x4)vrshlq_s32((int32x4_t)a, (int32x4_t)s);
}
static inline dynq_s16x8 dynq_neon_sqadd_s16(dynq_s16x8 a, dynq_s16x8 b) { return (dynq_s16x8)vqaddq_s16((int16x8_t)a, (int16x8_t)b); }
static inline dynq_s8x16 dynq_neon_sqxtn_s16(dynq_s16x8 a, dynq_s16x8 b) {
    return (dynq_s8x16)vqmovn_high_s16(vqmovn_s16((int16x8_t)a), (int16x8_t)b);
}
static inline dynq_s8x16 dynq_neon_smax_s8(dynq_s8x16 a, dynq_s8x16 b) { return (dynq_s8x16)vmaxq_s8((int8x16_t)a, (int8x16_t)b); }
static inline dynq_s8x16 dynq_neon_smin_s8(dynq_s8x16 a, dynq_s8x16 b) { return (dynq_s8x16)vminq_s8((int8x16_t)a, (int8x16_t)b); }

#else

static inline int32_t dynq_neon_native(void) { return 0; }

static inline dynq_s16x8 dynq_neon_smull_low_s8(dynq_s8x16 a, dynq_s8x16 b) { return dynq_model_neon_smull_low_s8(a, b); }
static inline dynq_s16x8 dynq_neon_smlal_high_s8(dynq_s16x8 acc, dynq_s8x16 a, dynq_s8x16 b) {
    return dynq_model_neon_smlal_high_s8(acc, a, b);
}
static inline dynq_s32x4 dynq_neon_sadalp_s16(dynq_s32x4 acc, dynq_s16x8 x) { return dynq_model_neon_sadalp_s16(acc, x); }
static inline dynq_s32x4 dynq_neon_addp_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_addp_s32(a, b); }
static inline dynq_s64x2 dynq_neon_smull_low_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_smull_low_s32(a, b); }
static inline dynq_s64x2 dynq_neon_smull_high_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return dynq_model_neon_smull_high_s32(a, b);
}
static inline dynq_s64x2 dynq_neon_srshl_s64(dynq_s64x2 a, dynq_s64x2 s) { return dynq_model_neon_srshl_s64(a, s); }
static inline dynq_s32x4 dynq_neon_sqxtn_s64(dynq_s64x2 lo, dynq_s64x2 hi) { return dynq_model_neon_sqxtn_s64(lo, hi); }
static inline dynq_s32x4 dynq_neon_smax_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_smax_s32(a, b); }
static inline dynq_s32x4 dynq_neon_smin_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_smin_s32(a, b); }
static inline uint32_t dynq_neon_narrow_s32_s8(dynq_s32x4 a) { return dynq_model_neon_narrow_s32_s8(a); }

static inline dynq_s16x8 dynq_neon_sxtl_low_s8(dynq_s8x16 a) { return dynq_model_neon_sxtl_low_s8(a); }
static inline dynq_s16x8 dynq_neon_sxtl_high_s8(dynq_s8x16 a) { return dynq_model_neon_sxtl_high_s8(a); }
static inline dynq_s32x4 dynq_neon_smlal_low_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    return dynq_model_neon_smlal_low_s16(acc, a, b);
}
static inline dynq_s32x4 dynq_neon_smlal_high_s16(dynq_s32x4 acc, dynq_s16x8 a, dynq_s16x8 b) {
    return dynq_model_neon_smlal_high_s16(acc, a, b);
}
static inline dynq_s16x8 dynq_neon_saddlp_s8(dynq_s8x16 a) { return dynq_model_neon_saddlp_s8(a); }
static inline dynq_s32x4 dynq_neon_abs_s32(dynq_s32x4 a) { return dynq_model_neon_abs_s32(a); }
static inline int32_t dynq_neon_smaxv_s32(dynq_s32x4 a) { return dynq_model_neon_smaxv_s32(a); }
static inline dynq_s32x4 dynq_neon_mul_rshrn32_u32(dynq_s32x4 a, uint32_t m) { return dynq_model_neon_mul_rshrn32_u32(a, m); }
static inline dynq_s8x16 dynq_neon_narrow4_s32_s8(dynq_s32x4 a, dynq_s32x4 b, dynq_s32x4 c, dynq_s32x4 d) {
    return dynq_model_neon_narrow4_s32_s8(a, b, c, d);
}

static inline dynq_s16x8 dynq_neon_ld1_ssubl_s8(const int8_t *p, int8_t z) { return dynq_model_neon_ld1_ssubl_s8(p, z); }
static inline dynq_s32x4 dynq_neon_smlal_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    return dynq_model_neon_smlal_lane_s16(acc, w, x, lane);
}
static inline dynq_s32x4 dynq_neon_smlal_high_lane_s16(dynq_s32x4 acc, dynq_s16x8 w, dynq_s16x8 x, int lane) {
    return dynq_model_neon_smlal_high_lane_s16(acc, w, x, lane);
}
static inline dynq_s16x8 dynq_neon_sqxtn_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_sqxtn_s32(a, b); }
static inline dynq_s16x8 dynq_neon_smax_s16(dynq_s16x8 a, dynq_s16x8 b) { return dynq_model_neon_smax_s16(a, b); }
static inline dynq_s16x8 dynq_neon_smin_s16(dynq_s16x8 a, dynq_s16x8 b) { return dynq_model_neon_smin_s16(a, b); }
static inline dynq_s8x16 dynq_neon_xtn_s16(dynq_s16x8 a, dynq_s16x8 b) { return dynq_model_neon_xtn_s16(a, b); }
static inline dynq_s32x4 dynq_neon_sqdmulh_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_model_neon_sqdmulh_s32(a, b); }
static inline dynq_s32x4 dynq_neon_srshl_s32(dynq_s32x4 a, dynq_s32x4 s) { return dynq_model_neon_srshl_s32(a, s); }
static inline dynq_s16x8 dynq_neon_sqadd_s16(dynq_s16x8 a, dynq_s16x8 b) { return dynq_model_neon_sqadd_s16(a, b); }
static inline dynq_s8x16 dynq_neon_sqxtn_s16(dynq_s16x8 a, dynq_s16x8 b) { return dynq_model_neon_sqxtn_s16(a, b); }
static inline dynq_s8x16 dynq_neon_smax_s8(dynq_s8x16 a, dynq_s8x16 b) { return dynq_model_neon_smax_s8(a, b); }
static inline dynq_s8x16 dynq_neon_smin_s8(dynq_s8x16 a, dynq_s8x16 b) { return dynq_model_neon_smin_s8(a, b); }

#endif

#if defined(__ARM_NEON) && defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
/* 1 when dynq_neon_sdot_s8 is the SDOT instruction (the build targets a core with the dot-product extension). */
static inline int32_t dynq_neon_dotprod_native(void) { return 1; }
static inline dynq_s32x4 dynq_neon_sdot_s8(dynq_s32x4 acc, dynq_s8x16 a, dynq_s8x16 b) {
    return (dynq_s32x4)vdotq_s32((int32x4_t)acc, (int8x16_t)a, (int8x16_t)b);
}
#else
static inline int32_t dynq_neon_dotprod_native(void) { return 0; }
static inline dynq_s32x4 dynq_neon_sdot_s8(dynq_s32x4 acc, dynq_s8x16 a, dynq_s8x16 b) {
    return dynq_model_neon_sdot_s8(acc, a, b);
}
#endif

#endif
