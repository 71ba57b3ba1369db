/* DynQIntrinsics: header-only wrappers of compiler builtins for DynQCore's per-ISA kernel sets, one header per
 * instruction set. Every wrapper is `static inline` (Swift imports and inlines it; nothing is linked) and has a
 * portable C model under `#else`, bit-exact with the instruction, so the same Swift kernel runs on any host.
 * Helpers adding a set add their header and one #include line here. */
#ifndef DYNQ_INTRINSICS_H
#define DYNQ_INTRINSICS_H

#include "dynq_arm_dsp.h"
#include "dynq_arm_mve.h"
#include "dynq_neon.h"
#include "dynq_x86.h"
#include "dynq_x86_dispatch.h"
#include "dynq_x86_avx2.h"

#endif
