/* What the DynQ Cortex-M4 example needs from a bare-metal environment (support.c): console output and exit over
 * semihosting, an instruction counter, stack painting and a counting heap. A real project has its own UART,
 * cycle counter (DWT->CYCCNT) and libc; only the counting heap is specific to this example. */
#ifndef SUPPORT_H
#define SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* printf subset: %d %u %x %s %c, %ld %lu, %zu. Output goes to the host through semihosting, line by line. */
void print(const char *format, ...);
__attribute__((noreturn)) void semihost_exit(int code);

/* Instructions executed since counter_start(), from SysTick under QEMU's `-icount shift=0` (1 ns of virtual time
 * per instruction; SysTick runs at the board's clock, 25 or 32 MHz, so one tick is 40 or 31.25 instructions):
 * counter_start() measures instructions per tick on a loop of known length and returns that rate times 1000
 * (0 when SysTick does not count). Resolution: one tick. On hardware, read DWT->CYCCNT for cycles instead. */
uint32_t counter_start(void);
uint32_t counter_instructions(void);

/* Stack high-water mark: stack_paint() fills the unused stack below the caller with a pattern;
 * stack_high_water() is the deepest byte used since (counted from the top of the stack). */
void stack_paint(void);
uint32_t stack_high_water(void);
uint32_t stack_depth(void);

/* The counting heap: malloc, calloc, realloc, free, posix_memalign, aligned_alloc and memalign all come here
 * (nothing else is linked: a call to any other allocator would not link). */
typedef struct heap_stats {
    uint32_t allocations;  /* calls that returned memory */
    uint32_t frees;
    uint32_t live_bytes;   /* bytes allocated and not freed */
    uint32_t peak_bytes;   /* the most live bytes at any time */
} heap_stats;
heap_stats heap_now(void);

/* The C library functions this freestanding example defines itself (support.c). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *malloc(size_t size);
void free(void *p);

#endif
