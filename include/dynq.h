/*
 * dynq.h — the C API of DynQ: run an int8 DynQ model (.dynq) in any C or C++ program, bare-metal firmware
 * included. Link one static library built by scripts/build-libs.sh (libdynq-cortex-m4.a, libdynq-host.a, ...).
 * docs/firmware.md walks through an integration step by step.
 *
 *     #include "dynq.h"
 *     #include "my_model.h"                     // from: dynq export my_model.dynq --c -o my_model
 *
 *     static uint8_t arena[MY_MODEL_ARENA_BYTES] DYNQ_ALIGNED;   // SRAM (or DTCM)
 *
 *     dynq_interpreter *net;
 *     dynq_status s = dynq_create(my_model_data, MY_MODEL_SIZE, arena, sizeof arena, &net, NULL);
 *     if (s != DYNQ_OK) { puts(dynq_status_string(s)); ... }
 *     uint8_t *in; size_t in_size;
 *     dynq_input(net, &in, &in_size);           // write H*W*C uint8 pixels (HWC order) here, every time
 *     dynq_invoke(net);
 *     const int8_t *logits; size_t n;
 *     dynq_output(net, 0, &logits, &n);         // n int8 logits; the largest is the class
 *
 * MEMORY. The library never takes memory on its own: the caller gives
 *   - the MODEL BYTES (read-only, e.g. a const array in flash). They must start on a 16-byte boundary
 *     (DYNQ_ALIGNMENT) and stay valid and unchanged while the interpreter exists: weights are read in place.
 *   - the ARENA (read-write, e.g. a static array in SRAM or DTCM), 16-byte aligned, at least the bytes
 *     dynq_arena_bytes() reports for the model (the exported header has them as NAME_ARENA_BYTES). The
 *     interpreter itself, its plan, every activation and every scratch buffer live in it. The arena belongs to
 *     the interpreter from dynq_create() until dynq_destroy(); do not touch it in between, except through
 *     dynq_input() and dynq_output().
 * NO HEAP: no function of the library calls malloc, posix_memalign or free (the library does not even reference
 * them); the interpreter's tables and plan live in the arena, validation and planning use the caller's memory.
 *
 * KERNELS. A library runs one kernel set, chosen when it is built (dynq_kernel_set() names it); the arena size
 * depends on it.
 *
 * THREADS AND INTERRUPTS. The library has no global mutable state and takes no locks. Different interpreters
 * may be used from different threads or interrupt handlers at the same time. One interpreter must not be used by
 * two threads at once: the caller serialises all calls on it (dynq_invoke() writes the arena). No function
 * blocks, sleeps or calls the operating system.
 *
 * ERRORS. Every function that can fail returns a dynq_status (DYNQ_OK = 0); dynq_status_string() gives a static
 * one-line text for each. No function aborts on bad input: a corrupt model, a short arena, a wrong size or a
 * NULL pointer gives an error code. Functions that validate a model also fill an optional dynq_diagnostic with
 * where the problem is (which op, which value).
 *
 * All sizes are in bytes. All integers are little-endian in memory (every supported core is little-endian).
 */
#ifndef DYNQ_H
#define DYNQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this API (changes when a declaration changes meaning). */
#define DYNQ_API_VERSION 1

/* Required alignment of the model bytes and of the arena, in bytes. */
#define DYNQ_ALIGNMENT 16

/* Puts a variable on a DYNQ_ALIGNMENT boundary:  static uint8_t arena[N] DYNQ_ALIGNED; */
#if defined(__GNUC__) || defined(__clang__) || defined(__ICCARM__) || defined(__CC_ARM)
#define DYNQ_ALIGNED __attribute__((aligned(DYNQ_ALIGNMENT)))
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define DYNQ_ALIGNED _Alignas(DYNQ_ALIGNMENT)
#else
#error "dynq.h: define DYNQ_ALIGNED for this compiler (16-byte alignment of a variable)"
#endif

/* ---- status codes ------------------------------------------------------------------------------------------ */

typedef int32_t dynq_status;

#define DYNQ_OK                     0  /* success */
#define DYNQ_E_NULL_ARGUMENT        1  /* a required pointer argument is NULL */
#define DYNQ_E_MODEL_MISALIGNED     2  /* the model bytes do not start on a 16-byte boundary */
#define DYNQ_E_TRUNCATED            3  /* the model bytes end before the 80-byte header or before the file size
                                          the header gives (a partial copy, a wrong size) */
#define DYNQ_E_BAD_MAGIC            4  /* the bytes are not a .dynq model (the first 8 bytes are not the magic) */
#define DYNQ_E_UNSUPPORTED_VERSION  5  /* a .dynq format version this library does not read (diagnostic value:
                                          the file's version) */
#define DYNQ_E_BAD_CHECKSUM         6  /* the CRC-32 over the model does not match its header: corrupted bytes */
#define DYNQ_E_INVALID_MODEL        7  /* the model is inconsistent: a record, offset, shape, parameter or the
                                          dataflow is wrong (the diagnostic says which op / tensor / blob) */
#define DYNQ_E_ARENA_MISALIGNED     8  /* the arena does not start on a 16-byte boundary */
#define DYNQ_E_ARENA_TOO_SMALL      9  /* the arena (or dynq_arena_bytes()'s work memory) is smaller than the
                                          model needs with this library's kernel set (diagnostic value: the
                                          bytes needed) */
#define DYNQ_E_BAD_INPUT_SIZE      10  /* dynq_set_input() got a size other than the input's H*W*C bytes
                                          (diagnostic-free; dynq_input() gives the size) */
#define DYNQ_E_BAD_INDEX           11  /* an output or op index beyond the model's count */
#define DYNQ_E_BAD_HANDLE          12  /* the interpreter pointer does not point to a live interpreter (never
                                          created, destroyed, or its arena overwritten) */
#define DYNQ_E_OUTPUT_TYPE         13  /* dynq_output_i16() on an output that is not int16 */

/* A static, NUL-terminated, one-line English text for a status ("arena too small for the model"). Never NULL:
 * unknown codes give "unknown dynq status". */
const char *dynq_status_string(dynq_status status);

/* Where a model or arena problem was found (dynq_diagnostic.location). */
#define DYNQ_AT_NONE     0
#define DYNQ_AT_FILE     1  /* the model bytes as a whole */
#define DYNQ_AT_HEADER   2  /* the 80-byte header */
#define DYNQ_AT_TENSOR   3  /* tensor number `index` */
#define DYNQ_AT_BLOB     4  /* blob (weights, biases, multipliers) number `index` */
#define DYNQ_AT_OP       5  /* op number `index` (in execution order; dynq inspect lists them) */
#define DYNQ_AT_META     6  /* the model info section (input, outputs, class names) */
#define DYNQ_AT_ARENA    7
#define DYNQ_AT_INPUT    8

/* Details of a failure, for a log line. Filled by dynq_arena_bytes() and dynq_create() when the caller passes
 * one (it may pass NULL); on success `status` is DYNQ_OK and the rest is zero / "". */
typedef struct dynq_diagnostic {
    dynq_status status;     /* the returned status */
    int32_t location;       /* DYNQ_AT_* */
    int32_t index;          /* tensor / blob / op number for DYNQ_AT_TENSOR / _BLOB / _OP, else -1 */
    int32_t element;        /* element or dimension number the value belongs to, or -1 */
    int32_t has_value;      /* 1 when `value` holds something */
    int32_t reserved;       /* 0 */
    int64_t value;          /* the offending value; for DYNQ_E_ARENA_TOO_SMALL the arena bytes needed */
    const char *detail;     /* static NUL-terminated text ("multiplier not in [2^30, 2^31)"); never NULL */
    const char *op_type;    /* static op type name ("conv2d") for DYNQ_AT_OP, else NULL */
} dynq_diagnostic;

/* ---- the interpreter ------------------------------------------------------------------------------------- */

/* An interpreter. Opaque: it lives at the start of the caller's arena. */
typedef struct dynq_interpreter dynq_interpreter;

/* Name of the kernel set this library was built with: "scalar" (the portable integer kernels, smallest arena),
 * "simd128" (128-bit vector kernels, faster on hosts and Cortex-A, larger arena), or a core's own set
 * ("cortex-m-dsp", "helium", "neon") when the library was built with it. Static string. */
const char *dynq_kernel_set(void);

/* The arena bytes dynq_create() needs for `model` with this library's kernel set (the arena must also be
 * 16-byte aligned). Validates the model completely (header, CRC-32, every record and parameter), like
 * dynq_create(). `model_size` is the size of the buffer holding the model; it may be larger than the model
 * (e.g. a flash partition), never smaller.
 * `work` is scratch memory for validating and planning the model without a heap: any alignment, contents
 * destroyed, not kept after the call. The arena you will pass to dynq_create() is the natural choice; a
 * work_size of the exported NAME_ARENA_BYTES is always enough (less is needed: the interpreter's tables plus
 * the planner's records). With work = NULL and work_size = 0 the call returns DYNQ_E_ARENA_TOO_SMALL with the
 * work bytes needed in the diagnostic's value: a way to ask for them.
 * Returns DYNQ_OK and sets *bytes_needed, or an error (DYNQ_E_NULL_ARGUMENT, DYNQ_E_MODEL_MISALIGNED,
 * DYNQ_E_TRUNCATED, DYNQ_E_BAD_MAGIC, DYNQ_E_UNSUPPORTED_VERSION, DYNQ_E_BAD_CHECKSUM, DYNQ_E_INVALID_MODEL;
 * DYNQ_E_ARENA_TOO_SMALL when `work` is too small to plan in, with diagnostic value = the work bytes needed)
 * and leaves *bytes_needed unchanged. `diagnostic` may be NULL. */
dynq_status dynq_arena_bytes(const void *model, size_t model_size, void *work, size_t work_size,
                             size_t *bytes_needed, dynq_diagnostic *diagnostic);

/* Creates an interpreter for `model` in `arena` and sets *interpreter (a pointer to the arena's start).
 * - model: the .dynq bytes, 16-byte aligned, kept valid and unchanged until dynq_destroy() (not copied).
 * - arena: arena_size bytes, 16-byte aligned, at least dynq_arena_bytes(); owned by the interpreter until
 *   dynq_destroy(). Its old contents do not matter.
 * - diagnostic: may be NULL.
 * On failure *interpreter is set to NULL and the arena holds nothing to clean up. Errors: every error of
 * dynq_arena_bytes(), DYNQ_E_ARENA_MISALIGNED, DYNQ_E_ARENA_TOO_SMALL (diagnostic->value = bytes needed).
 * Work: validates the model (CRC-32 over the whole file), plans the arena, prepares every op: about 2.8 M
 * instructions for the 114 KB fmnist model on a Cortex-M4. Call it once, at start-up. */
dynq_status dynq_create(const void *model, size_t model_size, void *arena, size_t arena_size,
                        dynq_interpreter **interpreter, dynq_diagnostic *diagnostic);

/* Ends an interpreter: afterwards the arena may be reused and the model bytes released (the interpreter holds
 * nothing outside them). NULL or an already destroyed interpreter is ignored. */
void dynq_destroy(dynq_interpreter *interpreter);

/* ---- input ----------------------------------------------------------------------------------------------- */

/* Element types (dynq_tensor_info.type). */
#define DYNQ_TYPE_INT8   1
#define DYNQ_TYPE_INT16  2
#define DYNQ_TYPE_INT32  3
#define DYNQ_TYPE_UINT8  4

/* Shape and quantization of an input or output tensor.
 * real value = scale * (q - zero_point), with scale = scale_q31 * 2^(scale_exponent - 31): integers only.
 * scale_q31 is in [2^30, 2^31) for a positive scale (exact: the binary32 scale's 24-bit mantissa fits), 0 when the
 * scale is 0, negative or not finite. scale_bits is the same scale as IEEE-754 binary32 bits, for callers with
 * floats (memcpy it into a float). */
typedef struct dynq_tensor_info {
    int32_t type;            /* DYNQ_TYPE_*: the input is UINT8 (pixels), outputs INT8 or INT16 (wide logits) */
    int32_t rank;            /* 1..4 */
    int32_t dims[4];         /* NHWC [1, H, W, C] for images, [1, N] for logits; unused dims are 0 */
    int32_t zero_point;
    int32_t scale_q31;
    int32_t scale_exponent;
    uint32_t scale_bits;
    uint32_t bytes;          /* product of dims times the element size */
} dynq_tensor_info;

/* The input tensor in the arena: *data = its first byte (uint8 pixels in HWC order: row by row, pixel by pixel,
 * channel by channel, no preprocessing — the model does it), *size = H*W*C. Write the image there before EVERY
 * dynq_invoke(): invoke reuses the input's bytes for later activations. `size` may be NULL. */
dynq_status dynq_input(dynq_interpreter *interpreter, uint8_t **data, size_t *size);

/* Copies `size` bytes into the input tensor; DYNQ_E_BAD_INPUT_SIZE when size is not exactly the input's size. */
dynq_status dynq_set_input(dynq_interpreter *interpreter, const void *data, size_t size);

/* Shape, type and quantization of the input tensor. */
dynq_status dynq_input_info(const dynq_interpreter *interpreter, dynq_tensor_info *info);

/* ---- running --------------------------------------------------------------------------------------------- */

/* Runs the model once on the input. Allocates nothing, cannot fail on a valid interpreter (it returns
 * DYNQ_E_BAD_HANDLE or DYNQ_E_NULL_ARGUMENT only for a bad pointer). Stack: 2.7 KB measured on a Cortex-M4
 * for the fmnist model (docs/firmware.md, per core). Deterministic: the same input gives the same output, bit
 * for bit, on every core. */
dynq_status dynq_invoke(dynq_interpreter *interpreter);

/* Per-op callback, for profiling (e.g. reading DWT->CYCCNT): called with DYNQ_OP_BEGIN before and DYNQ_OP_END
 * after every op of every dynq_invoke(), on the invoking thread, op_index counting from 0. It must not call the
 * interpreter. */
#define DYNQ_OP_BEGIN 0
#define DYNQ_OP_END   1
typedef void (*dynq_op_callback)(void *context, uint32_t op_index, int32_t phase);

/* Sets (or, with callback NULL, removes) the per-op callback. `context` is passed back unchanged. */
dynq_status dynq_set_op_callback(dynq_interpreter *interpreter, dynq_op_callback callback, void *context);

/* Number of ops a dynq_invoke() runs (the callback's op_index is below it). */
dynq_status dynq_op_count(const dynq_interpreter *interpreter, uint32_t *count);

/* Static name of op `op_index`'s type ("conv2d", "dynamic_conv2d", ...), or NULL for a bad handle or index. */
const char *dynq_op_type(const dynq_interpreter *interpreter, uint32_t op_index);

/* ---- outputs --------------------------------------------------------------------------------------------- */

/* Number of model outputs (1 for a classifier: the logits). */
dynq_status dynq_output_count(const dynq_interpreter *interpreter, uint32_t *count);

/* Output `index` in the arena: *data = its first byte, *size = its bytes. For an int8 output (dynq_output_info's
 * type DYNQ_TYPE_INT8) these are its values; an int16 output (the wide logits `dynq quantize` writes by default,
 * DYNQ_TYPE_INT16) is read with dynq_output_i16(). Valid after dynq_invoke() until the next dynq_invoke() or
 * dynq_destroy(). `size` may be NULL. */
dynq_status dynq_output(const dynq_interpreter *interpreter, uint32_t index, const int8_t **data, size_t *size);

/* Output `index` as int16 values: *data = its first value, *count = its element count (`count` may be NULL).
 * DYNQ_E_OUTPUT_TYPE when the output is not int16. Valid as dynq_output()'s. */
dynq_status dynq_output_i16(const dynq_interpreter *interpreter, uint32_t index, const int16_t **data,
                            size_t *count);

/* The index of output `index`'s largest value, the lowest index among equal ones (the class, for logits), for
 * any output type. */
dynq_status dynq_output_argmax(const dynq_interpreter *interpreter, uint32_t index, uint32_t *argmax);

/* Shape, type and quantization of output `index`. */
dynq_status dynq_output_info(const dynq_interpreter *interpreter, uint32_t index, dynq_tensor_info *info);

#ifdef __cplusplus
}
#endif

#endif /* DYNQ_H */
