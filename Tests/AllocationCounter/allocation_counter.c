// See include/allocation_counter.h. Test-only code: linked into the test executable, never into DynQ.
#include "allocation_counter.h"
#include <errno.h>
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *p);

static __thread int counting;
static __thread long counted;

void dynq_count_allocations(int on) {
    if (on) counted = 0;
    counting = on;
}

long dynq_allocation_count(void) { return counted; }

void *malloc(size_t size) {
    if (counting) counted++;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (counting) counted++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (counting) counted++;
    return __libc_realloc(p, size);
}

void *memalign(size_t alignment, size_t size) {
    if (counting) counted++;
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    if (counting) counted++;
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (counting) counted++;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p) { __libc_free(p); }
#else
void dynq_count_allocations(int on) { (void)on; }
long dynq_allocation_count(void) { return -1; }
#endif
