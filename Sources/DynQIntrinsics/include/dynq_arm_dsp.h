/* Armv7E-M DSP extension (Cortex-M4, M7, M33/M55 with DSP): `static inline` wrappers of clang's ACLE builtins,
 * for DynQCore's Cortex-M DSP kernel set (Sources/DynQCore/Kernels/CortexMDSP/).
 *
 * With `__ARM_FEATURE_DSP` (e.g. `-target armv7em-none-none-eabi`, `-mcpu=cortex-m4`) each wrapper is the one
 * instruction named in its comment. Otherwise it is a portable C model of that instruction, bit-exact: the same
 * lane split, the same wrap-around or saturation. Flags: no wrapper exposes the Q (sticky overflow) or GE flags;
 * the kernels never read them. Every portable model is checked against the instruction on an emulated Cortex-M4
 * (scripts/qemu-layers.sh, "intrinsics" check): there the model is compiled for a core without DSP, so the
 * compiler cannot turn it back into the instruction.
 *
 * Types: a packed word of two int16 lanes or four int8 bytes is `uint32_t` (bottom lane = bits 0-15, byte 0 =
 * bits 0-7); scalars are `int32_t`. Lane values are read as two's complement. */
#ifndef DYNQ_ARM_DSP_H
#define DYNQ_ARM_DSP_H

#include <stdint.h>

/* ---- portable models (always defined, so a check can compare them with the instruction) ---- */

static inline uint32_t dynq_model_lane16(int32_t v) { return (uint32_t)v & 0xFFFFu; }
static inline int32_t dynq_model_bottom16(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x & 0xFFFFu); }
static inline int32_t dynq_model_top16(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x >> 16); }
static inline int32_t dynq_model_byte(uint32_t x, int i) { return (int32_t)(int8_t)(uint8_t)(x >> (8 * i)); }
static inline uint32_t dynq_model_ror8(uint32_t x) { return (x >> 8) | (x << 24); }

/* SXTB16: bytes 0 and 2 sign-extended into the bottom and top int16 lanes. */
static inline uint32_t dynq_model_sxtb16(uint32_t x) {
    return dynq_model_lane16(dynq_model_byte(x, 0)) | (dynq_model_lane16(dynq_model_byte(x, 2)) << 16);
}
/* SXTAB16: `a`'s int16 lanes plus bytes 0 and 2 of `x`, sign-extended; each lane wraps modulo 2^16. */
static inline uint32_t dynq_model_sxtab16(uint32_t a, uint32_t x) {
    return dynq_model_lane16(dynq_model_bottom16(a) + dynq_model_byte(x, 0))
         | (dynq_model_lane16(dynq_model_top16(a) + dynq_model_byte(x, 2)) << 16);
}
/* SMLAD: acc + x.bottom·y.bottom + x.top·y.top, wrapping modulo 2^32 (the instruction sets Q on overflow). */
static inline int32_t dynq_model_smlad(uint32_t x, uint32_t y, int32_t acc) {
    uint32_t p0 = (uint32_t)(dynq_model_bottom16(x) * dynq_model_bottom16(y));
    uint32_t p1 = (uint32_t)(dynq_model_top16(x) * dynq_model_top16(y));
    return (int32_t)((uint32_t)acc + p0 + p1);
}
/* SMLAxy: acc + x.{bottom|top}·y.{bottom|top}, wrapping modulo 2^32. */
static inline int32_t dynq_model_smla(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(a * b));
}
/* SMMUL: the top 32 bits of the 64-bit product, ⌊a·b / 2^32⌋ (`>>` of a negative int64 is arithmetic in clang
 * and gcc, the only compilers that see this header). */
static inline int32_t dynq_model_smmul(int32_t a, int32_t b) { return (int32_t)(((int64_t)a * (int64_t)b) >> 32); }
/* SMMULR: ⌊(a·b + 2^31) / 2^32⌋ (≤ 2^30 in magnitude, no overflow). */
static inline int32_t dynq_model_smmulr(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * (int64_t)b + 2147483648LL) >> 32);
}
/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t dynq_model_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
/* QADD: a + b saturated to int32. */
static inline int32_t dynq_model_qadd(int32_t a, int32_t b) {
    int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}
/* ASR / LSL by a register amount s in [0, 31] (Swift's `&>>` / `&<<` would add an AND #31 first). */
static inline int32_t dynq_model_asr(int32_t x, uint32_t s) { return x >> s; }
static inline uint32_t dynq_model_lsl(uint32_t x, uint32_t s) { return x << s; }
/* PKHBT x, y, LSL #16: bottom lane of x, bottom lane of y as the top lane. */
static inline uint32_t dynq_model_pkhbt16(uint32_t x, uint32_t y) { return (x & 0xFFFFu) | (y << 16); }
/* PKHTB x, y, ASR #16: top lane of x, top lane of y as the bottom lane. */
static inline uint32_t dynq_model_pkhtb16(uint32_t x, uint32_t y) { return (x & 0xFFFF0000u) | (y >> 16); }

/* SSUB8 a, b then SEL: per byte, the larger (max) or smaller (min) of the signed bytes of a and b. SSUB8 sets
 * each byte's GE flag when a_i - b_i >= 0 (exact, not wrapped); SEL picks a's byte where GE is set. */
static inline uint32_t dynq_model_smax8x4(uint32_t a, uint32_t b) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        int32_t x = dynq_model_byte(a, i), y = dynq_model_byte(b, i);
        r |= (uint32_t)(uint8_t)(x >= y ? x : y) << (8 * i);
    }
    return r;
}
static inline uint32_t dynq_model_smin8x4(uint32_t a, uint32_t b) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        int32_t x = dynq_model_byte(a, i), y = dynq_model_byte(b, i);
        r |= (uint32_t)(uint8_t)(x >= y ? y : x) << (8 * i);
    }
    return r;
}

/* ---- the wrappers the kernels call ---- */

#if defined(__ARM_FEATURE_DSP)

/* 1 when the wrappers are the DSP instructions, 0 when they are the portable models. */
static inline int32_t dynq_arm_dsp_native(void) { return 1; }

static inline uint32_t dynq_sxtb16(uint32_t x) { return (uint32_t)__builtin_arm_sxtb16((int32_t)x); }
/* SXTB16 x, ROR #8: bytes 1 and 3 (clang folds the rotate into the instruction). */
static inline uint32_t dynq_sxtb16_ror8(uint32_t x) {
    return (uint32_t)__builtin_arm_sxtb16((int32_t)((x >> 8) | (x << 24)));
}
static inline uint32_t dynq_sxtab16(uint32_t a, uint32_t x) {
    return (uint32_t)__builtin_arm_sxtab16((int32_t)a, (int32_t)x);
}
/* SXTAB16 a, x, ROR #8: `a` plus bytes 1 and 3 of x. */
static inline uint32_t dynq_sxtab16_ror8(uint32_t a, uint32_t x) {
    return (uint32_t)__builtin_arm_sxtab16((int32_t)a, (int32_t)((x >> 8) | (x << 24)));
}
static inline int32_t dynq_smlad(uint32_t x, uint32_t y, int32_t acc) {
    return __builtin_arm_smlad((int32_t)x, (int32_t)y, acc);
}
static inline int32_t dynq_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    return __builtin_arm_smlabb((int32_t)x, (int32_t)y, acc);
}
static inline int32_t dynq_smlabt(uint32_t x, uint32_t y, int32_t acc) {
    return __builtin_arm_smlabt((int32_t)x, (int32_t)y, acc);
}
static inline int32_t dynq_smlatb(uint32_t x, uint32_t y, int32_t acc) {
    return __builtin_arm_smlatb((int32_t)x, (int32_t)y, acc);
}
static inline int32_t dynq_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    return __builtin_arm_smlatt((int32_t)x, (int32_t)y, acc);
}
/* ACLE has no SMMUL builtin; LLVM selects SMMUL / SMMULR for exactly these expressions (checked in the
 * disassembly of the Cortex-M4 build). */
static inline int32_t dynq_smmul(int32_t a, int32_t b) { return (int32_t)(((int64_t)a * (int64_t)b) >> 32); }
static inline int32_t dynq_smmulr(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * (int64_t)b + 0x80000000LL) >> 32);
}
static inline int32_t dynq_ssat8(int32_t x) { return __builtin_arm_ssat(x, 8); }
static inline int32_t dynq_asr(int32_t x, uint32_t s) { return x >> s; }
static inline uint32_t dynq_lsl(uint32_t x, uint32_t s) { return x << s; }
static inline int32_t dynq_qadd(int32_t a, int32_t b) { return __builtin_arm_qadd(a, b); }
/* SSUB8 + SEL in one wrapper, so nothing can come between the instruction that sets the GE flags and the one that
 * reads them (clang keeps both: they are marked as having side effects). */
static inline uint32_t dynq_smax8x4(uint32_t a, uint32_t b) {
    (void)__builtin_arm_ssub8((int32_t)a, (int32_t)b);
    return (uint32_t)__builtin_arm_sel((int32_t)a, (int32_t)b);
}
static inline uint32_t dynq_smin8x4(uint32_t a, uint32_t b) {
    (void)__builtin_arm_ssub8((int32_t)a, (int32_t)b);
    return (uint32_t)__builtin_arm_sel((int32_t)b, (int32_t)a);
}
/* LLVM selects PKHBT / PKHTB for these expressions. */
static inline uint32_t dynq_pkhbt16(uint32_t x, uint32_t y) { return (x & 0xFFFFu) | (y << 16); }
static inline uint32_t dynq_pkhtb16(uint32_t x, uint32_t y) { return (x & 0xFFFF0000u) | (y >> 16); }

#else

static inline int32_t dynq_arm_dsp_native(void) { return 0; }

static inline uint32_t dynq_sxtb16(uint32_t x) { return dynq_model_sxtb16(x); }
static inline uint32_t dynq_sxtb16_ror8(uint32_t x) { return dynq_model_sxtb16(dynq_model_ror8(x)); }
static inline uint32_t dynq_sxtab16(uint32_t a, uint32_t x) { return dynq_model_sxtab16(a, x); }
static inline uint32_t dynq_sxtab16_ror8(uint32_t a, uint32_t x) { return dynq_model_sxtab16(a, dynq_model_ror8(x)); }
static inline int32_t dynq_smlad(uint32_t x, uint32_t y, int32_t acc) { return dynq_model_smlad(x, y, acc); }
static inline int32_t dynq_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    return dynq_model_smla(dynq_model_bottom16(x), dynq_model_bottom16(y), acc);
}
static inline int32_t dynq_smlabt(uint32_t x, uint32_t y, int32_t acc) {
    return dynq_model_smla(dynq_model_bottom16(x), dynq_model_top16(y), acc);
}
static inline int32_t dynq_smlatb(uint32_t x, uint32_t y, int32_t acc) {
    return dynq_model_smla(dynq_model_top16(x), dynq_model_bottom16(y), acc);
}
static inline int32_t dynq_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    return dynq_model_smla(dynq_model_top16(x), dynq_model_top16(y), acc);
}
static inline int32_t dynq_smmul(int32_t a, int32_t b) { return dynq_model_smmul(a, b); }
static inline int32_t dynq_smmulr(int32_t a, int32_t b) { return dynq_model_smmulr(a, b); }
static inline int32_t dynq_ssat8(int32_t x) { return dynq_model_ssat8(x); }
static inline int32_t dynq_asr(int32_t x, uint32_t s) { return dynq_model_asr(x, s); }
static inline uint32_t dynq_lsl(uint32_t x, uint32_t s) { return dynq_model_lsl(x, s); }
static inline int32_t dynq_qadd(int32_t a, int32_t b) { return dynq_model_qadd(a, b); }
static inline uint32_t dynq_smax8x4(uint32_t a, uint32_t b) { return dynq_model_smax8x4(a, b); }
static inline uint32_t dynq_smin8x4(uint32_t a, uint32_t b) { return dynq_model_smin8x4(a, b); }
static inline uint32_t dynq_pkhbt16(uint32_t x, uint32_t y) { return dynq_model_pkhbt16(x, y); }
static inline uint32_t dynq_pkhtb16(uint32_t x, uint32_t y) { return dynq_model_pkhtb16(x, y); }

#endif /* __ARM_FEATURE_DSP */

#endif /* DYNQ_ARM_DSP_H */
