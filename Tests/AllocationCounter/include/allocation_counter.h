// Counts heap allocations made by the calling thread between dynq_count_allocations(1) and (0): every call of
// malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign, whoever makes it (Swift's allocator, C code,
// the runtime). Linux/glibc only: the test executable's definitions of these functions interpose libc's and
// forward to glibc's own (__libc_malloc, ...). Elsewhere the counter reports -1 (not available).
#ifndef DYNQ_ALLOCATION_COUNTER_H
#define DYNQ_ALLOCATION_COUNTER_H

/// Starts (1) or stops (0) counting on the calling thread; starting resets the count.
void dynq_count_allocations(int on);
/// Allocations counted on the calling thread since counting started, or -1 where the counter is not available.
long dynq_allocation_count(void);

#endif
