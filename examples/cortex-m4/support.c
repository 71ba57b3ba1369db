/* Bare-metal support of the DynQ Cortex-M4 example (QEMU mps2-an386): the C library functions the compiled code
 * calls (memset, memcpy, memmove, memcmp and the ARM EABI __aeabi_mem* entry points), a counting heap,
 * semihosting console and exit, SysTick as an instruction counter, and stack painting.
 * Compiled with -ffreestanding -fno-builtin so that the loops below do not turn into calls to themselves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "support.h"

extern uint8_t __heap_start[], __heap_end[], __stack_bottom[], __stack_top[];

/* ---- memory functions ---- */
void *memset(void *d, int c, size_t n) {
    uint8_t *p = d;
    while (n--) *p++ = (uint8_t)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (n >= 8 && (((uintptr_t)dp | (uintptr_t)sp) & 3) == 0) {
        uint32_t *dq = (uint32_t *)dp;
        const uint32_t *sq = (const uint32_t *)sp;
        for (; n >= 4; n -= 4) *dq++ = *sq++;
        dp = (uint8_t *)dq;
        sp = (const uint8_t *)sq;
    }
    while (n--) *dp++ = *sp++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
    while (n--) dp[n] = sp[n];
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
/* ARM run-time ABI names of the same (memset's arguments in another order). */
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }

/* ---- the counting heap: a bump allocator with a size word before each block; free() gives the bytes back for
 * the last block, and the whole heap when nothing is live any more. Counts every allocation; the example
 * requires 0 during dynq_invoke(). ---- */
static uintptr_t heap_cursor;
static heap_stats stats;

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (heap_cursor == 0) heap_cursor = (uintptr_t)__heap_start;
    if (alignment < 8) alignment = 8;
    uintptr_t p = (heap_cursor + 8 + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (size > (uintptr_t)__heap_end || p > (uintptr_t)__heap_end - size) return 12; /* ENOMEM */
    ((uint32_t *)p)[-1] = (uint32_t)size;
    heap_cursor = p + size;
    stats.allocations++;
    stats.live_bytes += (uint32_t)size;
    if (stats.live_bytes > stats.peak_bytes) stats.peak_bytes = stats.live_bytes;
    *out = (void *)p;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t size) {
    void *p = 0;
    return posix_memalign(&p, alignment, size) == 0 ? p : 0;
}
void *memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }
void *malloc(size_t size) { return aligned_alloc(8, size); }
void *calloc(size_t n, size_t size) {
    if (size != 0 && n > (size_t)-1 / size) return 0;
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}
void free(void *ptr) {
    if (!ptr) return;
    uintptr_t p = (uintptr_t)ptr;
    uint32_t size = ((uint32_t *)p)[-1];
    stats.frees++;
    stats.live_bytes -= size;
    if (p + size == heap_cursor) heap_cursor = p - 8;
    if (stats.live_bytes == 0) heap_cursor = (uintptr_t)__heap_start;
}
void *realloc(void *ptr, size_t size) {
    void *q = malloc(size);
    if (q && ptr) {
        uint32_t old = ((uint32_t *)ptr)[-1];
        memcpy(q, ptr, old < size ? old : size);
        free(ptr);
    }
    return q;
}
heap_stats heap_now(void) { return stats; }

/* ---- semihosting (ARM semihosting: bkpt 0xab, operation in r0, argument in r1) ---- */
static int semihost(int op, void *arg) {
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
enum { SYS_WRITE0 = 0x04, SYS_EXIT = 0x18, SYS_EXIT_EXTENDED = 0x20 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static char line[200];
static size_t line_len;
static void flush(void) {
    line[line_len] = 0;
    if (line_len) semihost(SYS_WRITE0, line);
    line_len = 0;
}
static void put(char c) {
    line[line_len++] = c;
    if (c == '\n' || line_len == sizeof line - 1) flush();
}
static void put_unsigned(unsigned long v, unsigned base) {
    char digits[24];
    int n = 0;
    do { digits[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    while (n) put(digits[--n]);
}

void print(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    for (; *f; f++) {
        if (*f != '%') { put(*f); continue; }
        int is_long = 0;
        f++;
        if (*f == 'l' || *f == 'z') { is_long = 1; f++; }
        switch (*f) {
        case 'd': {
            long v = is_long ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) { put('-'); put_unsigned(0ul - (unsigned long)v, 10); } else put_unsigned((unsigned long)v, 10);
            break;
        }
        case 'u': put_unsigned(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10); break;
        case 'x': put_unsigned(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16); break;
        case 's': for (const char *s = va_arg(ap, const char *); *s; s++) put(*s); break;
        case 'c': put((char)va_arg(ap, int)); break;
        default: put('%'); put(*f); break;
        }
    }
    va_end(ap);
}

void semihost_exit(int code) {
    flush();
    if (code == 0) semihost(SYS_EXIT, (void *)ADP_STOPPED_APPLICATION_EXIT);
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {}
}

/* ---- instruction counter: SysTick (every Cortex-M has it) counting down from 2^24 - 1 at the board clock; its
 * interrupt counts the wraps. ---- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static volatile uint32_t systick_wraps;
static uint32_t milli_instructions_per_tick;

void systick_handler(void) { systick_wraps++; }

static uint64_t ticks(void) {
    uint32_t w, v;
    do { w = systick_wraps; v = SYST_CVR; } while (w != systick_wraps);
    return ((uint64_t)w << 24) + (0xFFFFFFu - v);
}

/* n iterations of two instructions (subs, bne): 2n instructions. */
static void calibration_loop(uint32_t n) {
#if defined(__ARM_ARCH_6M__) && !defined(__clang__)
    __asm__ volatile("1: sub %0, #1\n bne 1b" : "+l"(n)); /* GCC's v6-M inline asm is in divided syntax */
#else
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+l"(n));
#endif
}

uint32_t counter_start(void) {
    SYST_CSR = 0;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0; /* clears it; it reloads from SYST_RVR on the next tick */
    SYST_CSR = 7; /* enable, interrupt on wrap, processor clock */
    for (uint32_t spin = 0; SYST_CVR == 0; spin++)
        if (spin == 1000000) return 0; /* SysTick does not count */
    const uint32_t n = 250000;
    uint64_t t0 = ticks();
    calibration_loop(n);
    uint64_t t = ticks() - t0;
    milli_instructions_per_tick = t ? (uint32_t)(2000ull * n / t) : 0;
    return milli_instructions_per_tick;
}

uint32_t counter_instructions(void) {
    return (uint32_t)(ticks() * milli_instructions_per_tick / 1000u);
}

/* ---- stack ---- */
#define STACK_PATTERN 0xA5A5A5A5u
static uintptr_t sp(void) {
    uintptr_t v;
    __asm__ volatile("mov %0, sp" : "=r"(v));
    return v;
}
void stack_paint(void) {
    uint32_t *limit = (uint32_t *)((sp() - 64) & ~(uintptr_t)3);
    for (uint32_t *p = (uint32_t *)__stack_bottom; p < limit; p++) *p = STACK_PATTERN;
}
uint32_t stack_high_water(void) {
    uint32_t *p = (uint32_t *)__stack_bottom;
    while (p < (uint32_t *)__stack_top && *p == STACK_PATTERN) p++;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
uint32_t stack_depth(void) { return (uint32_t)((uintptr_t)__stack_top - sp()); }
