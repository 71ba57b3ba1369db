/* The 32-bit atomic operations the DynQ library calls on a Cortex-M0/M0+ (ARMv6-M has no LDREX/STREX; GCC and
 * LLVM turn atomics into these calls, and libgcc for v6-M does not provide them). Made atomic by masking
 * interrupts (PRIMASK) around the read-modify-write, which is enough on a single-core part. Today's library uses
 * them for the reference counts of the tables dynq_create() builds on the heap. Calling conventions are GCC's
 * __atomic library functions; the memory-order arguments are ignored (a single core sees its own order). */
    .syntax unified
    .thumb
    .text

    .thumb_func
    .global __atomic_load_4
    .type __atomic_load_4, %function
__atomic_load_4:                    /* uint32_t (const volatile void *p, int order) */
    ldr r0, [r0]
    bx lr
    .size __atomic_load_4, . - __atomic_load_4

    .thumb_func
    .global __atomic_store_4
    .type __atomic_store_4, %function
__atomic_store_4:                   /* void (volatile void *p, uint32_t v, int order) */
    str r1, [r0]
    bx lr
    .size __atomic_store_4, . - __atomic_store_4

    .thumb_func
    .global __atomic_fetch_add_4
    .type __atomic_fetch_add_4, %function
__atomic_fetch_add_4:               /* uint32_t (volatile void *p, uint32_t v, int order): old value */
    mrs r3, primask
    cpsid i
    ldr r2, [r0]
    adds r1, r2, r1
    str r1, [r0]
    msr primask, r3
    movs r0, r2
    bx lr
    .size __atomic_fetch_add_4, . - __atomic_fetch_add_4

    .thumb_func
    .global __atomic_fetch_sub_4
    .type __atomic_fetch_sub_4, %function
__atomic_fetch_sub_4:               /* uint32_t (volatile void *p, uint32_t v, int order): old value */
    mrs r3, primask
    cpsid i
    ldr r2, [r0]
    subs r1, r2, r1
    str r1, [r0]
    msr primask, r3
    movs r0, r2
    bx lr
    .size __atomic_fetch_sub_4, . - __atomic_fetch_sub_4

    .thumb_func
    .global __atomic_compare_exchange_4
    .type __atomic_compare_exchange_4, %function
__atomic_compare_exchange_4:        /* bool (volatile void *p, uint32_t *expected, uint32_t desired, bool weak,
                                       int success, int failure) */
    push {r4, r5}
    mrs r5, primask
    cpsid i
    ldr r4, [r0]
    ldr r3, [r1]
    cmp r4, r3
    bne 1f
    str r2, [r0]
    msr primask, r5
    movs r0, #1
    pop {r4, r5}
    bx lr
1:  str r4, [r1]
    msr primask, r5
    movs r0, #0
    pop {r4, r5}
    bx lr
    .size __atomic_compare_exchange_4, . - __atomic_compare_exchange_4
