/* Unsigned 64-bit division for __aeabi_uldivmod (aeabi.S), clang build only: the hardware udiv when both
 * operands fit in 32 bits, otherwise shift-and-subtract over the quotient's bits. */
#include <stdint.h>

uint64_t aeabi_udivmod64(uint64_t n, uint64_t d, uint64_t *remainder);

uint64_t aeabi_udivmod64(uint64_t n, uint64_t d, uint64_t *remainder) {
    if (d == 0 || n < d) { *remainder = n; return 0; } /* the library never divides by zero */
    if ((n >> 32) == 0) {
        uint32_t a = (uint32_t)n, b = (uint32_t)d;
        *remainder = a % b;
        return a / b;
    }
    int shift = __builtin_clzll(d) - __builtin_clzll(n);
    d <<= shift;
    uint64_t q = 0;
    for (int i = 0; i <= shift; i++) {
        q <<= 1;
        if (n >= d) { n -= d; q |= 1; }
        d >>= 1;
    }
    *remainder = n;
    return q;
}
