/* ARM run-time ABI helpers for the clang build of the example (GCC links libgcc, which has them; the Swift
 * toolchain's clang ships no compiler-rt for bare-metal ARM): 64-bit shifts and unsigned 64-bit division, which
 * the DynQ library calls (a Cortex-M4 has no 64-bit divide). Values are (lo, hi) in (r0, r1); shift counts in
 * r2 are 0..63, and Thumb-2 register shifts by 32 or more give 0. The division itself is aeabi_udivmod64() in
 * udivmod64.c. */
    .syntax unified
    .thumb
    .text

    .thumb_func
    .global __aeabi_llsl
    .type __aeabi_llsl, %function
__aeabi_llsl:                       /* r1:r0 << r2 */
    subs r3, r2, #32
    bpl 1f
    rsb r12, r2, #32
    lsl r1, r1, r2
    lsr r12, r0, r12
    orr r1, r1, r12
    lsl r0, r0, r2
    bx lr
1:  lsl r1, r0, r3
    movs r0, #0
    bx lr
    .size __aeabi_llsl, . - __aeabi_llsl

    .thumb_func
    .global __aeabi_llsr
    .type __aeabi_llsr, %function
__aeabi_llsr:                       /* r1:r0 >> r2, logical */
    subs r3, r2, #32
    bpl 1f
    rsb r12, r2, #32
    lsr r0, r0, r2
    lsl r12, r1, r12
    orr r0, r0, r12
    lsr r1, r1, r2
    bx lr
1:  lsr r0, r1, r3
    movs r1, #0
    bx lr
    .size __aeabi_llsr, . - __aeabi_llsr

    .thumb_func
    .global __aeabi_lasr
    .type __aeabi_lasr, %function
__aeabi_lasr:                       /* r1:r0 >> r2, arithmetic */
    subs r3, r2, #32
    bpl 1f
    rsb r12, r2, #32
    lsr r0, r0, r2
    lsl r12, r1, r12
    orr r0, r0, r12
    asr r1, r1, r2
    bx lr
1:  asr r0, r1, r3
    asr r1, r1, #31
    bx lr
    .size __aeabi_lasr, . - __aeabi_lasr

    .thumb_func
    .global __aeabi_uldivmod
    .type __aeabi_uldivmod, %function
__aeabi_uldivmod:                   /* (r1:r0) / (r3:r2) -> quotient r1:r0, remainder r3:r2 */
    push {r4, lr}
    sub sp, sp, #16
    add r4, sp, #8
    str r4, [sp]                    /* 5th argument: where aeabi_udivmod64 stores the remainder */
    bl aeabi_udivmod64
    ldrd r2, r3, [sp, #8]
    add sp, sp, #16
    pop {r4, pc}
    .size __aeabi_uldivmod, . - __aeabi_uldivmod
