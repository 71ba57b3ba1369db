/* DynQ in a plain C firmware (Cortex-M4 on QEMU mps2-an386; the Makefile also builds it for the Cortex-M0+ and the
 * Cortex-M55 on mps3-an547): classify one Fashion-MNIST image with the model in
 * flash and the arena in SRAM, print the class and the int8 logits over semihosting, and measure what DynQ
 * used: heap allocations (must be none: in dynq_arena_bytes, dynq_create and dynq_invoke), stack high-water marks,
 * instructions.
 *
 * Generated inputs (scripts/firmware-example.sh or the Makefile make them):
 *   fmnist_model.h/.c  dynq export fixtures/fmnist/model.dynq --c -o fmnist_model
 *   test_image.h/.c    dynq export fixtures/fmnist/model.dynq --c -o test_image --image fixtures/fmnist/test_images.npy
 * Every output line is `key: value`; the last is `status: ok` (exit code 0) or `error: ...` (exit code 1). */
#include <stdint.h>

#include "dynq.h"
#include "fmnist_model.h"
#include "support.h"
#include "test_image.h"

#ifndef EXAMPLE_BOARD
#define EXAMPLE_BOARD "a Cortex-M4 (QEMU mps2-an386)"
#endif

/* The arena: 16-byte aligned, in its own section (the linker script puts it in SRAM; on a Cortex-M7, DTCM).
 * FMNIST_MODEL_ARENA_BYTES is the size for the library's kernel set (the Makefile passes the same
 * -DDYNQ_KERNELS_<SET> as scripts/build-libs.sh used for the library). */
static uint8_t arena[FMNIST_MODEL_ARENA_BYTES] DYNQ_ALIGNED __attribute__((section(".dynq_arena")));

/* Per-op profile, filled by the callback: instructions per op (on hardware: DWT->CYCCNT cycles). */
static uint32_t op_start, op_instructions[FMNIST_MODEL_OP_COUNT], ops_seen;

static void on_op(void *context, uint32_t op, int32_t phase) {
    (void)context;
    if (phase == DYNQ_OP_BEGIN) {
        op_start = counter_instructions();
    } else if (op < FMNIST_MODEL_OP_COUNT) {
        op_instructions[op] = counter_instructions() - op_start;
        ops_seen++;
    }
}

static void *volatile probe;

static int fail(const char *what, dynq_status s, const dynq_diagnostic *d) {
    print("error: %s: %s", what, dynq_status_string(s));
    if (d && d->status != DYNQ_OK) {
        print(" (%s", d->detail);
        if (d->location == DYNQ_AT_OP) print(", op %d %s", d->index, d->op_type ? d->op_type : "");
        if (d->has_value) print(", value %ld", (long)d->value);
        print(")");
    }
    print("\n");
    return 1;
}

int main(void) {
    uint32_t rate = counter_start();
    print("dynq-example: DynQ C API on %s, kernel set %s\n", EXAMPLE_BOARD, dynq_kernel_set());
    print("counter: %u instructions per 1000 SysTick ticks (0: no counter)\n", rate);

    /* Positive control: the counting heap sees an allocation made through it (the volatile store keeps the
     * compiler from removing the malloc/free pair). */
    heap_stats h0 = heap_now();
    probe = malloc(24);
    heap_stats h1 = heap_now();
    free(probe);
    if (h1.allocations != h0.allocations + 1) {
        print("error: the counting heap did not see a malloc\n");
        return 1;
    }
    print("heap_control: ok (one malloc counted)\n");

    /* 1. How much arena does the model need with this library? (The exported macro says the same.) */
    dynq_diagnostic diag;
    size_t needed = 0;
    /* The arena itself is the work memory for validating and planning (nothing of it is kept). */
    heap_stats before = heap_now();
    dynq_status s = dynq_arena_bytes(fmnist_model_data, FMNIST_MODEL_SIZE, arena, sizeof arena, &needed, &diag);
    heap_stats after = heap_now();
    if (s != DYNQ_OK) return fail("dynq_arena_bytes", s, &diag);
    uint32_t sizing_allocations = after.allocations - before.allocations;
    print("arena_bytes_heap: %u allocations\n", sizing_allocations);
    print("model_bytes: %u\n", (unsigned)FMNIST_MODEL_SIZE);
    print("arena_bytes: %zu needed, %zu static (FMNIST_MODEL_ARENA_BYTES)\n", needed, sizeof arena);
    if (needed != sizeof arena) {
        print("error: the library needs %zu arena bytes, the exported header says %zu: build the example with the\n"
              "       library's -DDYNQ_KERNELS_<SET>\n", needed, sizeof arena);
        return 1;
    }

    /* The error path, once: one byte short gives DYNQ_E_ARENA_TOO_SMALL and the bytes needed. */
    dynq_interpreter *net = 0;
    s = dynq_create(fmnist_model_data, FMNIST_MODEL_SIZE, arena, sizeof arena - 1, &net, &diag);
    if (s != DYNQ_E_ARENA_TOO_SMALL || net != 0 || !diag.has_value || diag.value != (int64_t)needed) {
        print("error: a short arena was not refused with the bytes needed (status %d)\n", s);
        return 1;
    }
    print("short_arena: refused: %s (value %ld)\n", dynq_status_string(s), (long)diag.value);

    /* 2. Create the interpreter in the arena. */
    stack_paint();
    uint32_t depth = stack_depth();
    before = heap_now();
    uint32_t t0 = counter_instructions();
    s = dynq_create(fmnist_model_data, FMNIST_MODEL_SIZE, arena, sizeof arena, &net, &diag);
    uint32_t t1 = counter_instructions();
    after = heap_now();
    if (s != DYNQ_OK) return fail("dynq_create", s, &diag);
    uint32_t create_allocations = after.allocations - before.allocations;
    print("create_heap: %u allocations, %u bytes live, %u bytes peak\n", create_allocations,
          after.live_bytes - before.live_bytes, after.peak_bytes);
    print("create_stack: %u bytes\n", stack_high_water() - depth);
    print("create_instructions: %u\n", t1 - t0);

    /* 3. The input: write the image's uint8 HWC pixels straight into the input tensor. */
    dynq_tensor_info in;
    uint8_t *input;
    size_t input_size;
    dynq_input_info(net, &in);
    dynq_input(net, &input, &input_size);
    if (input_size != TEST_IMAGE_BYTES) {
        print("error: the model takes %zu input bytes, the image has %u\n", input_size, (unsigned)TEST_IMAGE_BYTES);
        return 1;
    }
    memcpy(input, test_image_data, input_size);
    print("input: %dx%dx%d uint8\n", in.dims[1], in.dims[2], in.dims[3]);

    /* 4. Run it, with the per-op callback timing each op. */
    dynq_set_op_callback(net, on_op, 0);
    stack_paint();
    depth = stack_depth();
    before = heap_now();
    t0 = counter_instructions();
    s = dynq_invoke(net);
    t1 = counter_instructions();
    after = heap_now();
    if (s != DYNQ_OK) return fail("dynq_invoke", s, 0);
    uint32_t invoke_allocations = after.allocations - before.allocations;
    print("invoke_heap: %u allocations\n", invoke_allocations);
    print("invoke_stack: %u bytes\n", stack_high_water() - depth);
    print("invoke_instructions: %u (%u ops reported by the callback)\n", t1 - t0, ops_seen);
    uint32_t slowest = 0;
    for (uint32_t i = 1; i < FMNIST_MODEL_OP_COUNT; i++)
        if (op_instructions[i] > op_instructions[slowest]) slowest = i;
    print("slowest_op: %u %s, %u instructions\n", slowest, dynq_op_type(net, slowest), op_instructions[slowest]);

    /* 5. The logits (int16 "wide" logits by default, int8 from `dynq quantize --int8-logits`) and the class. */
    dynq_tensor_info out;
    dynq_output_info(net, 0, &out);
    print("logits:");
    if (out.type == DYNQ_TYPE_INT16) {
        const int16_t *logits;
        size_t classes;
        dynq_output_i16(net, 0, &logits, &classes);
        for (size_t i = 0; i < classes; i++) print(" %d", logits[i]);
    } else {
        const int8_t *logits;
        size_t classes;
        dynq_output(net, 0, &logits, &classes);
        for (size_t i = 0; i < classes; i++) print(" %d", logits[i]);
    }
    print("\n");
    uint32_t best = 0;
    dynq_output_argmax(net, 0, &best);      /* the largest logit, the lowest index among equal ones */
    print("output_quantization: zero point %d, scale %d * 2^(%d - 31)\n", out.zero_point, out.scale_q31,
          out.scale_exponent);
    print("class: %u %s\n", (unsigned)best, best < FMNIST_MODEL_CLASS_COUNT ? fmnist_model_class_names[best] : "?");

    dynq_destroy(net);
    /* No heap at all: the library keeps its tables and plan in the arena. */
    if (sizing_allocations != 0 || create_allocations != 0 || invoke_allocations != 0) {
        print("error: the library allocated on the heap (dynq_arena_bytes %u, dynq_create %u, dynq_invoke %u)\n",
              sizing_allocations, create_allocations, invoke_allocations);
        return 1;
    }
    if (ops_seen != FMNIST_MODEL_OP_COUNT) {
        print("error: the per-op callback was not called for every op\n");
        return 1;
    }
    print("status: ok\n");
    return 0;
}
