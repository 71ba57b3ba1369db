/* Armv8.1-M MVE (Helium, Cortex-M55 / M85): `static inline` wrappers of clang's arm_mve.h intrinsics, for
 * DynQCore's Helium kernel set (Sources/DynQCore/Kernels/Helium/).
 *
 * With integer MVE (`__ARM_FEATURE_MVE & 1`, e.g. `-target armv7em-none-none-eabi -Xcc -mcpu=cortex-m55`) each
 * wrapper is the instruction named in its comment (a wrapper taking a lane count `n` adds the one `VCTP` that
 * builds its predicate; the compiler hoists it out of loops when `n` is loop-invariant). Otherwise it is a
 * portable C model of that instruction, bit-exact: the same lanes, the same rounding, wrap-around and
 * saturation. The models are always defined (`dynq_mve_model_*`), so a check built for the M55 can compare each
 * one with its instruction.
 *
 * Vectors are clang ext_vector types (Swift imports them as SIMD16<Int8>, SIMD4<Int32>, SIMD4<UInt32>); lane 0 is
 * the lowest address. No wrapper exposes the FPSCR.QC saturation flag; the kernels never read it.
 * Predicated loads never touch memory beyond their `n` active lanes; predicated stores write only those lanes. */
#ifndef DYNQ_ARM_MVE_H
#define DYNQ_ARM_MVE_H

#include <stdint.h>

typedef int8_t dynq_s8x16 __attribute__((ext_vector_type(16)));
typedef int32_t dynq_s32x4 __attribute__((ext_vector_type(4)));
typedef uint32_t dynq_u32x4 __attribute__((ext_vector_type(4)));
typedef uint8_t dynq_u8x16 __attribute__((ext_vector_type(16)));

/* ---- portable models (always defined) ---- */

static inline int32_t dynq_mve_model_sat32(int64_t x) {
    return x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : (int32_t)x);
}
/* The signed shift count of a register-shift instruction: the bottom byte of the shift operand. */
static inline int32_t dynq_mve_model_shift_count(int32_t s) { return (int32_t)(int8_t)(uint8_t)((uint32_t)s & 0xFFu); }

/* VLDRB.8 with the predicate of VCTP.8 n: lanes i < n loaded, the others 0. */
static inline dynq_s8x16 dynq_mve_model_vldrbq_z_s8(const int8_t *p, uint32_t n) {
    dynq_s8x16 r = 0;
    for (uint32_t i = 0; i < 16 && i < n; i++) r[i] = p[i];
    return r;
}
/* VLDRB.S32 with the predicate of VCTP.32 n: lanes i < n are p[i] sign-extended, the others 0. */
static inline dynq_s32x4 dynq_mve_model_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    dynq_s32x4 r = 0;
    for (uint32_t i = 0; i < 4 && i < n; i++) r[i] = p[i];
    return r;
}
/* VSTRB.32 with the predicate of VCTP.32 n: the low byte of lanes i < n to p[i]. */
static inline void dynq_mve_model_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) {
    for (uint32_t i = 0; i < 4 && i < n; i++) p[i] = (int8_t)(uint8_t)((uint32_t)v[i] & 0xFFu);
}
/* VSTRB.32 scatter with the predicate of VCTP.32 n: the low byte of lane i < n to base[offsets[i]]. */
static inline void dynq_mve_model_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    for (uint32_t i = 0; i < 4 && i < n; i++) base[offsets[i]] = (int8_t)(uint8_t)((uint32_t)v[i] & 0xFFu);
}
/* VLDRB.8 gather (VMSR P0 of `mask`; VLDRBT.U8 Qd, [base, Qoffsets]) with a byte-lane predicate: lane i is
 * base[offsets[i]] when bit i of `mask` is set, else 0 (and nothing is read for it). */
static inline dynq_s8x16 dynq_mve_model_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    dynq_s8x16 r = 0;
    for (int i = 0; i < 16; i++) {
        if ((mask >> i) & 1) r[i] = base[offsets[i]];
    }
    return r;
}
/* VPSEL (VMSR P0 of `mask`): lane i of a when bit i of `mask` is set, else lane i of b. */
static inline dynq_s8x16 dynq_mve_model_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = ((mask >> i) & 1) ? a[i] : b[i];
    return r;
}
/* VMLADAVA.S8: acc + Σ a[i]·b[i] over the 16 lanes, modulo 2^32. */
static inline int32_t dynq_mve_model_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    uint32_t s = (uint32_t)acc;
    for (int i = 0; i < 16; i++) s += (uint32_t)((int32_t)a[i] * (int32_t)b[i]);
    return (int32_t)s;
}
/* VADDVA.S8: acc + Σ a[i] (sign-extended), modulo 2^32. */
static inline int32_t dynq_mve_model_vaddvaq_s8(int32_t acc, dynq_s8x16 a) {
    uint32_t s = (uint32_t)acc;
    for (int i = 0; i < 16; i++) s += (uint32_t)(int32_t)a[i];
    return (int32_t)s;
}
/* VQSHL.S32 (register shift): count c = the shift operand's bottom byte, signed. c >= 0: x·2^c saturated to
 * int32; c < 0: x >> -c, arithmetic, truncating. */
static inline int32_t dynq_mve_model_vqshl_lane(int32_t x, int32_t s) {
    int32_t c = dynq_mve_model_shift_count(s);
    if (c < 0) return c <= -32 ? (x < 0 ? -1 : 0) : (x >> -c);
    if (x == 0) return 0;
    if (c >= 32) return x < 0 ? INT32_MIN : INT32_MAX;
    return dynq_mve_model_sat32((int64_t)x * ((int64_t)1 << c));
}
/* VRSHL.S32 (register shift): count c = the shift operand's bottom byte, signed. c >= 0: x·2^c modulo 2^32;
 * c < 0: ⌊(x + 2^(-c-1)) / 2^-c⌋ (round half up), computed without overflow (0 for c <= -32). */
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
/* VRMULH.U32: ⌊(a·b + 2^31) / 2^32⌋, unsigned (never overflows). */
static inline uint32_t dynq_mve_model_vrmulh_u32_lane(uint32_t a, uint32_t b) {
    return (uint32_t)(((uint64_t)a * (uint64_t)b + 0x80000000ull) >> 32);
}

/* ---- the wrappers the kernels call ---- */

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

/* 1 when the wrappers are the MVE instructions, 0 when they are the portable models. */
static inline int32_t dynq_arm_mve_native(void) { return 1; }

/* VLDRB.8: 16 bytes. */
static inline dynq_s8x16 dynq_mve_vldrbq_s8(const int8_t *p) { return (dynq_s8x16)vldrbq_s8(p); }
/* VCTP.8 n; VLDRB.8 predicated (zeroing): the first min(n, 16) bytes, the other lanes 0. */
static inline dynq_s8x16 dynq_mve_vldrbq_z_s8(const int8_t *p, uint32_t n) {
    return (dynq_s8x16)vldrbq_z_s8(p, vctp8q(n));
}
/* VCTP.8 n; VSTRB.8 predicated: the first min(n, 16) lanes of v to p. */
static inline void dynq_mve_vstrbq_p_s8(int8_t *p, dynq_s8x16 v, uint32_t n) {
    vstrbq_p_s8(p, (int8x16_t)v, vctp8q(n));
}
/* VDUP.8; VCTP.8 n; VSTRB.8 predicated: min(n, 16) copies of v at p. */
static inline void dynq_mve_vstrbq_dup_p_s8(int8_t *p, int8_t v, uint32_t n) {
    vstrbq_p_s8(p, vdupq_n_s8(v), vctp8q(n));
}
/* VLDRB.8 gather: lane i = base[offsets[i]]. */
static inline dynq_s8x16 dynq_mve_vldrbq_gather_s8(const int8_t *base, dynq_u8x16 offsets) {
    return (dynq_s8x16)vldrbq_gather_offset_s8(base, (uint8x16_t)offsets);
}
/* VMSR P0; VLDRB.8 gather predicated (zeroing): see the model. */
static inline dynq_s8x16 dynq_mve_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    return (dynq_s8x16)vldrbq_gather_offset_z_s8(base, (uint8x16_t)offsets, mask);
}
/* VMSR P0; VPSEL: see the model. */
static inline dynq_s8x16 dynq_mve_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    return (dynq_s8x16)vpselq_s8((int8x16_t)a, (int8x16_t)b, mask);
}
/* VDUP.8 */
static inline dynq_s8x16 dynq_mve_vdupq_s8(int8_t x) { return (dynq_s8x16)vdupq_n_s8(x); }
/* VLDRB.S32: 4 bytes, each sign-extended to an int32 lane. */
static inline dynq_s32x4 dynq_mve_vldrbq_s32(const int8_t *p) { return (dynq_s32x4)vldrbq_s32(p); }
/* VCTP.32 n; VLDRB.S32 predicated (zeroing): the first min(n, 4) bytes. */
static inline dynq_s32x4 dynq_mve_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    return (dynq_s32x4)vldrbq_z_s32(p, vctp32q(n));
}
/* VLD20.32, VLD21.32: 8 int32 de-interleaved, even = p[0], p[2], p[4], p[6], odd = p[1], p[3], p[5], p[7]. */
static inline void dynq_mve_vld2q_s32(const int32_t *p, dynq_s32x4 *even, dynq_s32x4 *odd) {
    int32x4x2_t r = vld2q_s32(p);
    *even = (dynq_s32x4)r.val[0];
    *odd = (dynq_s32x4)r.val[1];
}
/* VLD40.32 … VLD43.32: 16 int32 de-interleaved by 4, lane i of vector j = p[4·i + j]. */
static inline void dynq_mve_vld4q_s32(const int32_t *p, dynq_s32x4 *v0, dynq_s32x4 *v1, dynq_s32x4 *v2,
                                      dynq_s32x4 *v3) {
    int32x4x4_t r = vld4q_s32(p);
    *v0 = (dynq_s32x4)r.val[0];
    *v1 = (dynq_s32x4)r.val[1];
    *v2 = (dynq_s32x4)r.val[2];
    *v3 = (dynq_s32x4)r.val[3];
}
/* VLDRW.32 / VSTRW.32: 4 int32. */
static inline dynq_s32x4 dynq_mve_vldrwq_s32(const int32_t *p) { return (dynq_s32x4)vldrwq_s32(p); }
static inline void dynq_mve_vstrwq_s32(int32_t *p, dynq_s32x4 v) { vstrwq_s32(p, (int32x4_t)v); }
/* VSTRB.32: the low byte of each lane to p[0..3]. */
static inline void dynq_mve_vstrbq_s32(int8_t *p, dynq_s32x4 v) { vstrbq_s32(p, (int32x4_t)v); }
/* VCTP.32 n; VSTRB.32 predicated: the low bytes of the first min(n, 4) lanes. */
static inline void dynq_mve_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) {
    vstrbq_p_s32(p, (int32x4_t)v, vctp32q(n));
}
/* VSTRB.32 scatter: the low byte of lane i to base[offsets[i]]. */
static inline void dynq_mve_vstrbq_scatter_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v) {
    vstrbq_scatter_offset_s32(base, (uint32x4_t)offsets, (int32x4_t)v);
}
/* VCTP.32 n; VSTRB.32 scatter predicated: lanes i < min(n, 4) only. */
static inline void dynq_mve_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    vstrbq_scatter_offset_p_s32(base, (uint32x4_t)offsets, (int32x4_t)v, vctp32q(n));
}
/* VMLADAVA.S8 */
static inline int32_t dynq_mve_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    return vmladavaq_s8(acc, (int8x16_t)a, (int8x16_t)b);
}
/* VADDVA.S8 */
static inline int32_t dynq_mve_vaddvaq_s8(int32_t acc, dynq_s8x16 a) { return vaddvaq_s8(acc, (int8x16_t)a); }
/* VDUP.32 */
static inline dynq_s32x4 dynq_mve_vdupq_s32(int32_t x) { return (dynq_s32x4)vdupq_n_s32(x); }
/* Four GPRs into a vector: two VMOV Qd[2], Qd[0], Rt, Rt2 (the compiler's choice for an insert of 4 lanes). */
static inline dynq_s32x4 dynq_mve_vcreate_s32(int32_t a, int32_t b, int32_t c, int32_t d) {
    return (dynq_s32x4){a, b, c, d};
}
/* VADD.I32 / VADD.I32 with a scalar / VSUB.I32 / VMUL.I32: modulo 2^32. */
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
/* VMLA.I32 (vector by scalar): acc + a·b, modulo 2^32. */
static inline dynq_s32x4 dynq_mve_vmlaq_n_s32(dynq_s32x4 acc, dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)vmlaq_n_s32((int32x4_t)acc, (int32x4_t)a, b);
}
/* VMAX.S32 / VMIN.S32 */
static inline dynq_s32x4 dynq_mve_vmaxq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vmaxq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vminq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vminq_s32((int32x4_t)a, (int32x4_t)b);
}
/* VQSHL.S32 by a vector / by a scalar register (see the model). */
static inline dynq_s32x4 dynq_mve_vqshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    return (dynq_s32x4)vqshlq_s32((int32x4_t)a, (int32x4_t)s);
}
static inline dynq_s32x4 dynq_mve_vqshlq_r_s32(dynq_s32x4 a, int32_t s) {
    return (dynq_s32x4)vqshlq_r_s32((int32x4_t)a, s);
}
/* VQDMULH.S32 by a vector / by a scalar register. */
static inline dynq_s32x4 dynq_mve_vqdmulhq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)vqdmulhq_s32((int32x4_t)a, (int32x4_t)b);
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_n_s32(dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)vqdmulhq_n_s32((int32x4_t)a, b);
}
/* VRSHL.S32 by a vector / by a scalar register (see the model). */
static inline dynq_s32x4 dynq_mve_vrshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    return (dynq_s32x4)vrshlq_s32((int32x4_t)a, (int32x4_t)s);
}
static inline dynq_s32x4 dynq_mve_vrshlq_n_s32(dynq_s32x4 a, int32_t s) {
    return (dynq_s32x4)vrshlq_n_s32((int32x4_t)a, s);
}
/* VRMULH.U32 */
static inline dynq_u32x4 dynq_mve_vrmulhq_u32(dynq_u32x4 a, dynq_u32x4 b) {
    return (dynq_u32x4)vrmulhq_u32((uint32x4_t)a, (uint32x4_t)b);
}

#else

static inline int32_t dynq_arm_mve_native(void) { return 0; }

static inline dynq_s8x16 dynq_mve_vldrbq_s8(const int8_t *p) { return dynq_mve_model_vldrbq_z_s8(p, 16); }
static inline dynq_s8x16 dynq_mve_vldrbq_z_s8(const int8_t *p, uint32_t n) { return dynq_mve_model_vldrbq_z_s8(p, n); }
static inline void dynq_mve_vstrbq_p_s8(int8_t *p, dynq_s8x16 v, uint32_t n) {
    for (uint32_t i = 0; i < 16 && i < n; i++) p[i] = v[i];
}
static inline void dynq_mve_vstrbq_dup_p_s8(int8_t *p, int8_t v, uint32_t n) {
    for (uint32_t i = 0; i < 16 && i < n; i++) p[i] = v;
}
static inline dynq_s8x16 dynq_mve_vldrbq_gather_s8(const int8_t *base, dynq_u8x16 offsets) {
    return dynq_mve_model_vldrbq_gather_z_s8(base, offsets, 0xFFFF);
}
static inline dynq_s8x16 dynq_mve_vldrbq_gather_z_s8(const int8_t *base, dynq_u8x16 offsets, uint16_t mask) {
    return dynq_mve_model_vldrbq_gather_z_s8(base, offsets, mask);
}
static inline dynq_s8x16 dynq_mve_vpselq_s8(dynq_s8x16 a, dynq_s8x16 b, uint16_t mask) {
    return dynq_mve_model_vpselq_s8(a, b, mask);
}
static inline dynq_s8x16 dynq_mve_vdupq_s8(int8_t x) {
    dynq_s8x16 r;
    for (int i = 0; i < 16; i++) r[i] = x;
    return r;
}
static inline dynq_s32x4 dynq_mve_vldrbq_s32(const int8_t *p) { return dynq_mve_model_vldrbq_z_s32(p, 4); }
static inline dynq_s32x4 dynq_mve_vldrbq_z_s32(const int8_t *p, uint32_t n) {
    return dynq_mve_model_vldrbq_z_s32(p, n);
}
static inline void dynq_mve_vld2q_s32(const int32_t *p, dynq_s32x4 *even, dynq_s32x4 *odd) {
    *even = (dynq_s32x4){p[0], p[2], p[4], p[6]};
    *odd = (dynq_s32x4){p[1], p[3], p[5], p[7]};
}
static inline void dynq_mve_vld4q_s32(const int32_t *p, dynq_s32x4 *v0, dynq_s32x4 *v1, dynq_s32x4 *v2,
                                      dynq_s32x4 *v3) {
    *v0 = (dynq_s32x4){p[0], p[4], p[8], p[12]};
    *v1 = (dynq_s32x4){p[1], p[5], p[9], p[13]};
    *v2 = (dynq_s32x4){p[2], p[6], p[10], p[14]};
    *v3 = (dynq_s32x4){p[3], p[7], p[11], p[15]};
}
static inline dynq_s32x4 dynq_mve_vldrwq_s32(const int32_t *p) { return (dynq_s32x4){p[0], p[1], p[2], p[3]}; }
static inline void dynq_mve_vstrwq_s32(int32_t *p, dynq_s32x4 v) {
    for (int i = 0; i < 4; i++) p[i] = v[i];
}
static inline void dynq_mve_vstrbq_s32(int8_t *p, dynq_s32x4 v) { dynq_mve_model_vstrbq_p_s32(p, v, 4); }
static inline void dynq_mve_vstrbq_p_s32(int8_t *p, dynq_s32x4 v, uint32_t n) { dynq_mve_model_vstrbq_p_s32(p, v, n); }
static inline void dynq_mve_vstrbq_scatter_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v) {
    dynq_mve_model_vstrbq_scatter_p_s32(base, offsets, v, 4);
}
static inline void dynq_mve_vstrbq_scatter_p_s32(int8_t *base, dynq_u32x4 offsets, dynq_s32x4 v, uint32_t n) {
    dynq_mve_model_vstrbq_scatter_p_s32(base, offsets, v, n);
}
static inline int32_t dynq_mve_vmladavaq_s8(int32_t acc, dynq_s8x16 a, dynq_s8x16 b) {
    return dynq_mve_model_vmladavaq_s8(acc, a, b);
}
static inline int32_t dynq_mve_vaddvaq_s8(int32_t acc, dynq_s8x16 a) { return dynq_mve_model_vaddvaq_s8(acc, a); }
static inline dynq_s32x4 dynq_mve_vdupq_s32(int32_t x) { return (dynq_s32x4){x, x, x, x}; }
static inline dynq_s32x4 dynq_mve_vcreate_s32(int32_t a, int32_t b, int32_t c, int32_t d) {
    return (dynq_s32x4){a, b, c, d};
}
static inline dynq_s32x4 dynq_mve_vaddq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a + (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_vaddq_n_s32(dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)((dynq_u32x4)a + (uint32_t)b);
}
static inline dynq_s32x4 dynq_mve_vsubq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a - (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_vmulq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    return (dynq_s32x4)((dynq_u32x4)a * (dynq_u32x4)b);
}
static inline dynq_s32x4 dynq_mve_vmlaq_n_s32(dynq_s32x4 acc, dynq_s32x4 a, int32_t b) {
    return (dynq_s32x4)((dynq_u32x4)acc + (dynq_u32x4)a * (uint32_t)b);
}
static inline dynq_s32x4 dynq_mve_vmaxq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
static inline dynq_s32x4 dynq_mve_vminq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = a[i] < b[i] ? a[i] : b[i];
    return r;
}
static inline dynq_s32x4 dynq_mve_vqshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vqshl_lane(a[i], s[i]);
    return r;
}
static inline dynq_s32x4 dynq_mve_vqshlq_r_s32(dynq_s32x4 a, int32_t s) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vqshl_lane(a[i], s);
    return r;
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_s32(dynq_s32x4 a, dynq_s32x4 b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vqdmulh_lane(a[i], b[i]);
    return r;
}
static inline dynq_s32x4 dynq_mve_vqdmulhq_n_s32(dynq_s32x4 a, int32_t b) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vqdmulh_lane(a[i], b);
    return r;
}
static inline dynq_s32x4 dynq_mve_vrshlq_s32(dynq_s32x4 a, dynq_s32x4 s) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vrshl_lane(a[i], s[i]);
    return r;
}
static inline dynq_s32x4 dynq_mve_vrshlq_n_s32(dynq_s32x4 a, int32_t s) {
    dynq_s32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vrshl_lane(a[i], s);
    return r;
}
static inline dynq_u32x4 dynq_mve_vrmulhq_u32(dynq_u32x4 a, dynq_u32x4 b) {
    dynq_u32x4 r;
    for (int i = 0; i < 4; i++) r[i] = dynq_mve_model_vrmulh_u32_lane(a[i], b[i]);
    return r;
}

#endif /* __ARM_FEATURE_MVE */

#endif /* DYNQ_ARM_MVE_H */
