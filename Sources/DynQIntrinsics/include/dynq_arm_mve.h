/* Armv8.1-M MVE (Helium, Cortex-M55 / M85): `static inline` wrappers of clang's arm_mve.h intrinsics, for
 * DynQCore's Helium kernel set (Sources/DynQCore/Kernels/Helium/).
 *
 * With integer MVE (`__ARM_FEATURE_MVE & 1`, e.g. `-target armv7em-none-none-eabi -Xcc -mcpu=cortex-m55`) each
 * wrapper is the instruction named in its comment. Otherwise it is its portable C model `dynq_mve_model_*`, bit-exact:
 * the same lanes, the same rounding, wrap-around and saturation. The models are always defined, so a build for
 * the M55 can compare each wrapper with its model (the Helium per-layer benchmark's "intrinsics" check).
 *
 * Vectors are clang ext_vector types (Swift imports them as SIMD16<Int8>, SIMD4<Int32>, SIMD4<UInt32>,
 * SIMD16<UInt8>); lane 0 is the lowest address. No wrapper exposes the FPSCR.QC saturation flag.
 *
 * Predication. A wrapper taking a lane count `n` is predicated on its first min(n, lanes) lanes: predicated
 * loads zero the other lanes and never read memory for them, predicated stores leave memory alone for them.
 * The predicate is built arithmetically (`dynq_mve_mask8/32`, a few scalar instructions, hoisted out of loops)
 * and moved to P0 with VMSR, never with VCTP: LLVM's MVE low-overhead-loop pass has turned a loop containing a
 * loop-invariant VCTP into a tail-predicated loop counting that invariant, i.e. a wrong loop (seen with
 * swift-6.3.1's LLVM on a fusion loop). Byte-lane masks (`uint16_t`, bit i = byte lane i) are passed as is. */
#ifndef DYNQ_ARM_MVE_H
#define DYNQ_ARM_MVE_H

#include <stdint.h>

typedef int8_t dynq_s8x16 __attribute__((ext_vector_type(16)));
typedef uint8_t dynq_u8x16 __attribute__((ext_vector_type(16)));
typedef int32_t dynq_s32x4 __attribute__((ext_vector_type(4)));
typedef uint32_t dynq_u32x4 __attribute__((ext_vector_type(4)));

/* The predicate of the first min(n, 16) byte lanes / min(n, 4) word lanes (4 predicate bits per word lane). */
static inline uint16_t dynq_mve_mask8(uint32_t n) { return n >= 16 ? 0xFFFFu : (uint16_t)((1u << n) - 1u); }
static inline uint16_t dynq_mve_mask32(uint32_t n) { return n >= 4 ? 0xFFFFu : (uint16_t)((1u << (4u * n)) - 1u); }

/* ---- portable models (always defined) ---- */

static inline int32_t dynq_mve_model_sat32(int64_t x) {
    return x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : (int32_t)x);
}
/* The signed shift count of a register-shift instruction: the bottom byte of the shift operand. */
static inline int32_t dynq_mve_model_shift_count(int32_t s) { return (int32_t)(int8_t)(uint8_t)((uint32_t)s & 0xFFu); }
static inline uint32_t dynq_mve_model_abs_u32(int32_t x) { return x < 0 ? 0u - (uint32_t)x : (uint32_t)x; }

/* VLDRB.8 (predicated, zeroing). */
static inline dynq_s8x16 dynq_mve_model_vldrbq_z_s8(const int8_t *p, uint32_t n) {
    dynq_s8x16 r = 0;
    for (uint32_t i = 0; i < 16 && i < n; i++) r[i] = p[i];
    return r;
}
static inline dynq_s8x16 dynq_mve_model_vldrbq_s8(const int8_t *p) { return dynq_mve_model_vldrbq_z_s8(p, 16); }
/* VSTRB.8 (predicated). */
static inline void dynq_mve_model_vstrbq_p_s8(int8_t *p, dynq_s8x16 v, uint32_t n) {
    for (uint32_t i = 0; i < 16 && i < n; i++) p[i] = v[i];
}
/* VDUP.8 then VSTRB.8 (predicated). */
static inline void dynq_mve_model_vstrbq_dup_p_s8(int8_t *p, int8_t v, uint32_t n) {
    for (uint32_t i = 0; i < 16 && i < n; i++) p[i] = v;
}
/* VLDRB.8 gather [base, Qoffsets] predicated by a byte-lane mask (zeroing; nothing read for inactive lanes). */
static inline dynq_s8x16 dynq_mve_model_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    dynq_s8x16 r = 0;
    for (int i = 0; i < 16; i++) {
        if ((mask >> i) & 1u) r[i] = base[offsets[i]];
    }
    return r;
}
/* VPSEL by a byte-lane mask: lane i of a where bit i is set, else lane i of b. */
static inline dynq_s8x16 dynq_mve_model_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = ((mask >> i) & 1u) ? a[i] : b[i];
    return r;
}
static inline dynq_s8x16 dynq_mve_model_vdupq_s8(int8_t x) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = x;
    return r;
}
/* VLDRB.S32 (predicated, zeroing): bytes sign-extended to int32 lanes. */
static inline dynq_s32x4 dynq_mve_model_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    dynq_s32x4 r = 0;
    for (uint32_t i = 0; i < 4 && i < n; i++) r[i] = p[i];
    return r;
}
static inline dynq_s32x4 dynq_mve_model_vldrbq_s32(const int8_t *p) { return dynq_mve_model_vldrbq_z_s32(p, 4); }
/* VLD20/VLD21.32: 8 int32 de-interleaved. */
static inline void dynq_mve_model_vld2q_s32(const int32_t *p, dynq_s32x4 *even, dynq_s32x4 *odd) {
    *even = (dynq_s32x4){p[0], p[2], p[4], p[6]};
    *odd = (dynq_s32x4){p[1], p[3], p[5], p[7]};
}
/* VLD40…VLD43.32: 16 int32 de-interleaved by 4. */
static inline void dynq_mve_model_vld4q_s32(const int32_t *p, dynq_s32x4 *v0, dynq_s32x4 *v1, dynq_s32x4 *v2,
                                            dynq_s32x4 *v3) {
    *v0 = (dynq_s32x4){p[0], p[4], p[8], p[12]};
    *v1 = (dynq_s32x4){p[1], p[5], p[9], p[13]};
    *v2 = (dynq_s32x4){p[2], p[6], p[10], p[14]};
    *v3 = (dynq_s32x4){p[3], p[7], p[11], p[15]};
}
static inline dynq_s32x4 dynq_mve_model_vldrwq_s32(const int32_t *p) { return (dynq_s32x4){p[0], p[1], p[2], p[3]}; }
static inline void dynq_mve_model_vstrwq_s32(int32_t *p, dynq_s32x4 v) {
    for (int i = 0; i < 4; i++) p[i] = v[i];
}
/* VSTRB.32 (predicated): the low byte of each active lane. */
static inline void dynq_mve_model_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) {
    for (uint32_t i = 0; i < 4 && i < n; i++) p[i] = (int8_t)(uint8_t)((uint32_t)v[i] & 0xFFu);
}
static inline void dynq_mve_model_vstrbq_s32(int8_t *p, dynq_s32x4 v) { dynq_mve_model_vstrbq_p_s32(p, v, 4); }
/* VSTRB.32 scatter [base, Qoffsets] (predicated). */
static inline void dynq_mve_model_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    for (uint32_t i = 0; i < 4 && i < n; i++) base[offsets[i]] = (int8_t)(uint8_t)((uint32_t)v[i] & 0xFFu);
}
static inline void dynq_mve_model_vstrbq_scatter_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v) {
    dynq_mve_model_vstrbq_scatter_p_s32(base, offsets, v, 4);
}
/* VMLADAVA.S8: acc + Σ a[i]·b[i] over 16 lanes, modulo 2^32. */
static inline int32_t dynq_mve_model_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    uint32_t s = (uint32_t)acc;
    for (int i = 0; i < 16; i++) s += (uint32_t)((int32_t)a[i] * (int32_t)b[i]);
    return (int32_t)s;
}
static inline dynq_s32x4 dynq_mve_model_vdupq_s32(int32_t x) { return (dynq_s32x4){x, x, x, x}; }
static inline dynq_s32x4 dynq_mve_model_vcreate_s32(int32_t a, int32_t b, int32_t c, int32_t d) {
    return (dynq_s32x4){a, b, c, d};
}
/* VADD / VSUB / VMUL .I32, VADD.I32 by a scalar, VMLA.I32 by a scalar: modulo 2^32. */
static inline dynq_s32x4 dynq_mve_model_vaddq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a + (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_model_vaddq_n_s32(dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)((dynq_u32x4)a + (uint32_t)b);
}
static inline dynq_s32x4 dynq_mve_model_vsubq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a - (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_model_vmulq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a * (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_model_vmlaq_n_s32(dynq_s32x4 acc, dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)((dynq_u32x4)acc + (dynq_u32x4)a * (uint32_t)b);
}
static inline dynq_s32x4 dynq_mve_model_vmaxq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
static inline dynq_s32x4 dynq_mve_model_vminq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = a[i] < b[i] ? a[i] : b[i];
    return r;
}
/* VQSHL.S32 (register): count c = the shift operand's bottom byte, signed. c >= 0: x·2^c saturated to int32;
 * c < 0: x >> -c, arithmetic, truncating. */
static inline int32_t dynq_mve_model_vqshl_lane(int32_t x, int32_t s) {
    int32_t c = dynq_mve_model_shift_count(s);
    if (c < 0) return c <= -32 ? (x < 0 ? -1 : 0) : (x >> -c);
    if (x == 0) return 0;
    if (c >= 32) return x < 0 ? INT32_MIN : INT32_MAX;
    return dynq_mve_model_sat32((int64_t)x * ((int64_t)1 << c));
}
/* VRSHL.S32 (register): c >= 0: x·2^c modulo 2^32; c < 0: ⌊(x + 2^(-c-1)) / 2^-c⌋ (round half up), computed
 * without overflow (0 for c <= -32). */
static inline int32_t dynq_mve_model_vrshl_lane(int32_t x, int32_t s) {
    int32_t c = dynq_mve_model_shift_count(s);
    if (c >= 0) return c >= 32 ? 0 : (int32_t)((uint32_t)x << c);
    if (c <= -32) return 0;
    return (int32_t)(((int64_t)x + ((int64_t)1 << (-c - 1))) >> -c);
}
/* VQDMULH.S32: ⌊2·a·b / 2^32⌋ = ⌊a·b / 2^31⌋, saturated (only a = b = -2^31 saturates). */
static inline int32_t dynq_mve_model_vqdmulh_lane(int32_t a, int32_t b) {
    return dynq_mve_model_sat32(((int64_t)a * (int64_t)b) >> 31);
}
#define DYNQ_MVE_MODEL_LANEWISE(name, lane)                                                                   \
    static inline dynq_s32x4 dynq_mve_model_##name(dynq_s32x4 a, dynq_s32x4 b) {                           \
        dynq_s32x4 r;                                                                                        \
        for (int i = 0; i < 4; i++) r[i] = lane(a[i], b[i]);                                                 \
        return r;                                                                                            \
    }                                                                                                        \
    static inline dynq_s32x4 dynq_mve_model_##name##_scalar(dynq_s32x4 a, int32_t b) {                     \
        dynq_s32x4 r;                                                                                        \
        for (int i = 0; i < 4; i++) r[i] = lane(a[i], b);                                                    \
        return r;                                                                                            \
    }
DYNQ_MVE_MODEL_LANEWISE(vqshlq_s32, dynq_mve_model_vqshl_lane)
DYNQ_MVE_MODEL_LANEWISE(vqdmulhq_s32, dynq_mve_model_vqdmulh_lane)
DYNQ_MVE_MODEL_LANEWISE(vrshlq_s32, dynq_mve_model_vrshl_lane)
#undef DYNQ_MVE_MODEL_LANEWISE
/* VRMULH.U32: ⌊(a·b + 2^31) / 2^32⌋, unsigned. */
static inline dynq_u32x4 dynq_mve_model_vrmulhq_u32(dynq_u32x4 a, dynq_u32x4 b) {
    dynq_u32x4 r;
    for (int i = 0; i < 4; i++) r[i] = (uint32_t)(((uint64_t)a[i] * (uint64_t)b[i] + 0x80000000ull) >> 32);
    return r;
}
/* VMAXAV.S32: max(acc, |b[0]|, …, |b[3]|), unsigned. */
static inline uint32_t dynq_mve_model_vmaxavq_s32(uint32_t acc, dynq_s32x4 b) {
    for (int i = 0; i < 4; i++) {
        uint32_t m = dynq_mve_model_abs_u32(b[i]);
        if (m > acc) acc = m;
    }
    return acc;
}
/* VMAXA.S32: lane i = max(acc[i], |b[i]|), unsigned. */
static inline dynq_u32x4 dynq_mve_model_vmaxaq_s32(dynq_u32x4 acc, dynq_s32x4 b) {
    for (int i = 0; i < 4; i++) {
        uint32_t m = dynq_mve_model_abs_u32(b[i]);
        if (m > acc[i]) acc[i] = m;
    }
    return acc;
}
/* VABS.S32, read unsigned (|-2^31| = 2^31). */
static inline dynq_u32x4 dynq_mve_model_vabsq_s32(dynq_s32x4 a) {
    dynq_u32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_abs_u32(a[i]);
    return r;
}
/* VPT.S32 LT, sign, ZR; VNEGT.S32: lane i = -q[i] where sign[i] < 0, else q[i] (q read as int32, modulo 2^32). */
static inline dynq_s32x4 dynq_mve_model_vnegq_where_negative_s32(dynq_u32x4 q, dynq_s32x4 sign) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = sign[i] < 0 ? (int32_t)(0u - q[i]) : (int32_t)q[i];
    return r;
}

/* ---- the wrappers the kernels call ---- */

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

/* 1 when the wrappers are the MVE instructions, 0 when they are the portable models. */
static inline int32_t dynq_arm_mve_native(void) { return 1; }

/* VLDRB.8 / VLDRB.8 predicated (VMSR P0; VPST; VLDRBT). */
static inline dynq_s8x16 dynq_mve_vldrbq_s8(const int8_t *p) { return (dynq_s8x16)vldrbq_s8(p); }
static inline dynq_s8x16 dynq_mve_vldrbq_z_s8(const int8_t *p, uint32_t n) {
    return (dynq_s8x16)vldrbq_z_s8(p, dynq_mve_mask8(n));
}
/* VSTRB.8 predicated. */
static inline void dynq_mve_vstrbq_p_s8(int8_t *p, dynq_s8x16 v, uint32_t n) {
    vstrbq_p_s8(p, (int8x16_t)v, dynq_mve_mask8(n));
}
/* VDUP.8; VSTRB.8 predicated. */
static inline void dynq_mve_vstrbq_dup_p_s8(int8_t *p, int8_t v, uint32_t n) {
    vstrbq_p_s8(p, vdupq_n_s8(v), dynq_mve_mask8(n));
}
/* VLDRB.8 gather [base, Qoffsets] predicated by a byte-lane mask; VPSEL by a byte-lane mask; VDUP.8. */
static inline dynq_s8x16 dynq_mve_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    return (dynq_s8x16)vldrbq_gather_offset_z_s8(base, (uint8x16_t)offsets, mask);
}
static inline dynq_s8x16 dynq_mve_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    return (dynq_s8x16)vpselq_s8((int8x16_t)a, (int8x16_t)b, mask);
}
static inline dynq_s8x16 dynq_mve_vdupq_s8(int8_t x) { return (dynq_s8x16)vdupq_n_s8(x); }
/* VLDRB.S32 / predicated. */
static inline dynq_s32x4 dynq_mve_vldrbq_s32(const int8_t *p) { return (dynq_s32x4)vldrbq_s32(p); }
static inline dynq_s32x4 dynq_mve_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    return (dynq_s32x4)vldrbq_z_s32(p, dynq_mve_mask32(n));
}
/* VLD20, VLD21.32 / VLD40 … VLD43.32. */
static inline void dynq_mve_vld2q_s32(const int32_t *p, dynq_s32x4 *even, dynq_s32x4 *odd) {
    int32x4x2_t r = vld2q_s32(p);
    *even = (dynq_s32x4)r.val[0];
    *odd = (dynq_s32x4)r.val[1];
}
static inline void dynq_mve_vld4q_s32(const int32_t *p, dynq_s32x4 *v0, dynq_s32x4 *v1, dynq_s32x4 *v2,
                                      dynq_s32x4 *v3) {
    int32x4x4_t r = vld4q_s32(p);
    *v0 = (dynq_s32x4)r.val[0];
    *v1 = (dynq_s32x4)r.val[1];
    *v2 = (dynq_s32x4)r.val[2];
    *v3 = (dynq_s32x4)r.val[3];
}
/* VLDRW.32 / VSTRW.32. */
static inline dynq_s32x4 dynq_mve_vldrwq_s32(const int32_t *p) { return (dynq_s32x4)vldrwq_s32(p); }
static inline void dynq_mve_vstrwq_s32(int32_t *p, dynq_s32x4 v) { vstrwq_s32(p, (int32x4_t)v); }
/* VSTRB.32 / predicated / scatter / scatter predicated. */
static inline void dynq_mve_vstrbq_s32(int8_t *p, dynq_s32x4 v) { vstrbq_s32(p, (int32x4_t)v); }
static inline void dynq_mve_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) {
    vstrbq_p_s32(p, (int32x4_t)v, dynq_mve_mask32(n));
}
static inline void dynq_mve_vstrbq_scatter_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v) {
    vstrbq_scatter_offset_s32(base, (uint32x4_t)offsets, (int32x4_t)v);
}
static inline void dynq_mve_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    vstrbq_scatter_offset_p_s32(base, (uint32x4_t)offsets, (int32x4_t)v, dynq_mve_mask32(n));
}
/* VMLADAVA.S8 */
static inline int32_t dynq_mve_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    return vmladavaq_s8(acc, (int8x16_t)a, (int8x16_t)b);
}
/* VDUP.32; 4 GPRs into a vector (two VMOV Qd[2], Qd[0], Rt, Rt2). */
static inline dynq_s32x4 dynq_mve_vdupq_s32(int32_t x) { return (dynq_s32x4)vdupq_n_s32(x); }
static inline dynq_s32x4 dynq_mve_vcreate_s32(int32_t a, int32_t b, int32_t c, int32_t d) {
    return (dynq_s32x4){a, b, c, d};
}
/* VADD.I32, VADD.I32 by a scalar, VSUB.I32, VMUL.I32, VMLA.I32 by a scalar, VMAX.S32, VMIN.S32. */
static inline dynq_s32x4 dynq_mve_vaddq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vaddq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vaddq_n_s32(dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)vaddq_n_s32((int32x4_t)a, b);
}
static inline dynq_s32x4 dynq_mve_vsubq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vsubq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vmulq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vmulq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vmlaq_n_s32(dynq_s32x4 acc, dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)vmlaq_n_s32((int32x4_t)acc, (int32x4_t)a, b);
}
static inline dynq_s32x4 dynq_mve_vmaxq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vmaxq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vminq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vminq_s32((int32x4_t)a, (int32x4_t)b);
}
/* VQSHL.S32, VQDMULH.S32, VRSHL.S32: by a vector / by a scalar register. */
static inline dynq_s32x4 dynq_mve_vqshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    return (dynq_s32x4)vqshlq_s32((int32x4_t)a, (int32x4_t)s);
}
static inline dynq_s32x4 dynq_mve_vqshlq_r_s32(dynq_s32x4 a, int32_t s) {
    return (dynq_s32x4)vqshlq_r_s32((int32x4_t)a, s);
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vqdmulhq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_n_s32(dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)vqdmulhq_n_s32((int32x4_t)a, b);
}
static inline dynq_s32x4 dynq_mve_vrshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    return (dynq_s32x4)vrshlq_s32((int32x4_t)a, (int32x4_t)s);
}
static inline dynq_s32x4 dynq_mve_vrshlq_n_s32(dynq_s32x4 a, int32_t s) {
    return (dynq_s32x4)vrshlq_n_s32((int32x4_t)a, s);
}
/* VRMULH.U32, VMAXAV.S32, VMAXA.S32, VABS.S32, VPT + VNEGT. */
static inline dynq_u32x4 dynq_mve_vrmulhq_u32(dynq_u32x4 a, dynq_u32x4 b) {
    return (dynq_u32x4)vrmulhq_u32((uint32x4_t)a, (uint32x4_t)b);
}
static inline uint32_t dynq_mve_vmaxavq_s32(uint32_t acc, dynq_s32x4 b) { return vmaxavq_s32(acc, (int32x4_t)b); }
static inline dynq_u32x4 dynq_mve_vmaxaq_s32(dynq_u32x4 acc, dynq_s32x4 b) {
    return (dynq_u32x4)vmaxaq_s32((uint32x4_t)acc, (int32x4_t)b);
}
static inline dynq_u32x4 dynq_mve_vabsq_s32(dynq_s32x4 a) { return (dynq_u32x4)vabsq_s32((int32x4_t)a); }
static inline dynq_s32x4 dynq_mve_vnegq_where_negative_s32(dynq_u32x4 q, dynq_s32x4 sign) {
    return (dynq_s32x4)vnegq_m_s32((int32x4_t)q, (int32x4_t)q, vcmpltq_n_s32((int32x4_t)sign, 0));
}

#else

static inline int32_t dynq_arm_mve_native(void) { return 0; }

static inline dynq_s8x16 dynq_mve_vldrbq_s8(const int8_t *p) { return dynq_mve_model_vldrbq_s8(p); }
static inline dynq_s8x16 dynq_mve_vldrbq_z_s8(const int8_t *p, uint32_t n) { return dynq_mve_model_vldrbq_z_s8(p, n); }
static inline void dynq_mve_vstrbq_p_s8(int8_t *p, dynq_s8x16 v, uint32_t n) { dynq_mve_model_vstrbq_p_s8(p, v, n); }
static inline void dynq_mve_vstrbq_dup_p_s8(int8_t *p, int8_t v, uint32_t n) {
    dynq_mve_model_vstrbq_dup_p_s8(p, v, n);
}
static inline dynq_s8x16 dynq_mve_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    return dynq_mve_model_vldrbq_gather_z_s8(base, offsets, mask);
}
static inline dynq_s8x16 dynq_mve_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    return dynq_mve_model_vpselq_s8(a, b, mask);
}
static inline dynq_s8x16 dynq_mve_vdupq_s8(int8_t x) { return dynq_mve_model_vdupq_s8(x); }
static inline dynq_s32x4 dynq_mve_vldrbq_s32(const int8_t *p) { return dynq_mve_model_vldrbq_s32(p); }
static inline dynq_s32x4 dynq_mve_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    return dynq_mve_model_vldrbq_z_s32(p, n);
}
static inline void dynq_mve_vld2q_s32(const int32_t *p, dynq_s32x4 *even, dynq_s32x4 *odd) {
    dynq_mve_model_vld2q_s32(p, even, odd);
}
static inline void dynq_mve_vld4q_s32(const int32_t *p, dynq_s32x4 *v0, dynq_s32x4 *v1, dynq_s32x4 *v2,
                                      dynq_s32x4 *v3) {
    dynq_mve_model_vld4q_s32(p, v0, v1, v2, v3);
}
static inline dynq_s32x4 dynq_mve_vldrwq_s32(const int32_t *p) { return dynq_mve_model_vldrwq_s32(p); }
static inline void dynq_mve_vstrwq_s32(int32_t *p, dynq_s32x4 v) { dynq_mve_model_vstrwq_s32(p, v); }
static inline void dynq_mve_vstrbq_s32(int8_t *p, dynq_s32x4 v) { dynq_mve_model_vstrbq_s32(p, v); }
static inline void dynq_mve_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) { dynq_mve_model_vstrbq_p_s32(p, v, n); }
static inline void dynq_mve_vstrbq_scatter_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v) {
    dynq_mve_model_vstrbq_scatter_s32(base, offsets, v);
}
static inline void dynq_mve_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    dynq_mve_model_vstrbq_scatter_p_s32(base, offsets, v, n);
}
static inline int32_t dynq_mve_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    return dynq_mve_model_vmladavaq_s8(acc, a, b);
}
static inline dynq_s32x4 dynq_mve_vdupq_s32(int32_t x) { return dynq_mve_model_vdupq_s32(x); }
static inline dynq_s32x4 dynq_mve_vcreate_s32(int32_t a, int32_t b, int32_t c, int32_t d) {
    return dynq_mve_model_vcreate_s32(a, b, c, d);
}
static inline dynq_s32x4 dynq_mve_vaddq_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_mve_model_vaddq_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vaddq_n_s32(dynq_s32x4 a, int32_t b) { return dynq_mve_model_vaddq_n_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vsubq_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_mve_model_vsubq_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vmulq_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_mve_model_vmulq_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vmlaq_n_s32(dynq_s32x4 acc, dynq_s32x4 a, int32_t b) {
    return dynq_mve_model_vmlaq_n_s32(acc, a, b);
}
static inline dynq_s32x4 dynq_mve_vmaxq_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_mve_model_vmaxq_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vminq_s32(dynq_s32x4 a, dynq_s32x4 b) { return dynq_mve_model_vminq_s32(a, b); }
static inline dynq_s32x4 dynq_mve_vqshlq_s32(dynq_s32x4 a, dynq_s32x4 s) { return dynq_mve_model_vqshlq_s32(a, s); }
static inline dynq_s32x4 dynq_mve_vqshlq_r_s32(dynq_s32x4 a, int32_t s) {
    return dynq_mve_model_vqshlq_s32_scalar(a, s);
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return dynq_mve_model_vqdmulhq_s32(a, b);
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_n_s32(dynq_s32x4 a, int32_t b) {
    return dynq_mve_model_vqdmulhq_s32_scalar(a, b);
}
static inline dynq_s32x4 dynq_mve_vrshlq_s32(dynq_s32x4 a, dynq_s32x4 s) { return dynq_mve_model_vrshlq_s32(a, s); }
static inline dynq_s32x4 dynq_mve_vrshlq_n_s32(dynq_s32x4 a, int32_t s) {
    return dynq_mve_model_vrshlq_s32_scalar(a, s);
}
static inline dynq_u32x4 dynq_mve_vrmulhq_u32(dynq_u32x4 a, dynq_u32x4 b) { return dynq_mve_model_vrmulhq_u32(a, b); }
static inline uint32_t dynq_mve_vmaxavq_s32(uint32_t acc, dynq_s32x4 b) { return dynq_mve_model_vmaxavq_s32(acc, b); }
static inline dynq_u32x4 dynq_mve_vmaxaq_s32(dynq_u32x4 acc, dynq_s32x4 b) {
    return dynq_mve_model_vmaxaq_s32(acc, b);
}
static inline dynq_u32x4 dynq_mve_vabsq_s32(dynq_s32x4 a) { return dynq_mve_model_vabsq_s32(a); }
static inline dynq_s32x4 dynq_mve_vnegq_where_negative_s32(dynq_u32x4 q, dynq_s32x4 sign) {
    return dynq_mve_model_vnegq_where_negative_s32(q, sign);
}

#endif /* __ARM_FEATURE_MVE */

#endif /* DYNQ_ARM_MVE_H */
