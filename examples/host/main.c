/* DynQ's C API in an ordinary Linux program (x86-64): the same model and image as examples/cortex-m4, the same
 * calls, the same logits. Shows that the library and the exported model are portable C.
 *
 *   make && ./build/classify            (scripts/firmware-example.sh builds and checks it)
 *
 * Every output line is `key: value`; exit code 0 after `status: ok`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dynq.h"
#include "fmnist_model.h"
#include "test_image.h"

/* The arena, sized for the library's kernel set (the Makefile passes -DDYNQ_KERNELS_SIMD128, the set
 * scripts/build-libs.sh builds libdynq-host.a with). */
static uint8_t arena[FMNIST_MODEL_ARENA_BYTES] DYNQ_ALIGNED;

static unsigned ops_begun, ops_ended;

static void on_op(void *context, uint32_t op, int32_t phase) {
    (void)context;
    (void)op;
    if (phase == DYNQ_OP_BEGIN) ops_begun++; else ops_ended++;
}

int main(void) {
    printf("dynq-example: DynQ C API on %s, kernel set %s\n", "Linux x86-64", dynq_kernel_set());

    size_t needed = 0;
    dynq_diagnostic diag;
    /* The arena itself is the work memory for validating and planning (nothing of it is kept). */
    dynq_status s = dynq_arena_bytes(fmnist_model_data, FMNIST_MODEL_SIZE, arena, sizeof arena, &needed, &diag);
    if (s != DYNQ_OK) {
        printf("error: dynq_arena_bytes: %s (%s)\n", dynq_status_string(s), diag.detail);
        return 1;
    }
    printf("model_bytes: %u\n", (unsigned)FMNIST_MODEL_SIZE);
    printf("arena_bytes: %zu needed, %zu static (FMNIST_MODEL_ARENA_BYTES)\n", needed, sizeof arena);
    if (needed != sizeof arena) {
        printf("error: the library needs %zu arena bytes, the exported header says %zu\n", needed, sizeof arena);
        return 1;
    }

    dynq_interpreter *net;
    s = dynq_create(fmnist_model_data, FMNIST_MODEL_SIZE, arena, sizeof arena, &net, &diag);
    if (s != DYNQ_OK) {
        printf("error: dynq_create: %s (%s)\n", dynq_status_string(s), diag.detail);
        return 1;
    }

    s = dynq_set_input(net, test_image_data, TEST_IMAGE_BYTES);
    if (s != DYNQ_OK) {
        printf("error: dynq_set_input: %s\n", dynq_status_string(s));
        return 1;
    }
    dynq_set_op_callback(net, on_op, NULL);
    s = dynq_invoke(net);
    if (s != DYNQ_OK) {
        printf("error: dynq_invoke: %s\n", dynq_status_string(s));
        return 1;
    }
    uint32_t ops = 0;
    dynq_op_count(net, &ops);
    printf("invoke: ok, %u ops begun and %u ended (of %u)\n", ops_begun, ops_ended, ops);

    /* The logits: int16 "wide" logits by default, int8 from `dynq quantize --int8-logits`. */
    dynq_tensor_info out;
    dynq_output_info(net, 0, &out);
    printf("logits:");
    if (out.type == DYNQ_TYPE_INT16) {
        const int16_t *logits;
        size_t classes;
        dynq_output_i16(net, 0, &logits, &classes);
        for (size_t i = 0; i < classes; i++) printf(" %d", logits[i]);
    } else {
        const int8_t *logits;
        size_t classes;
        dynq_output(net, 0, &logits, &classes);
        for (size_t i = 0; i < classes; i++) printf(" %d", logits[i]);
    }
    printf("\n");
    uint32_t best = 0;
    dynq_output_argmax(net, 0, &best);      /* the largest logit, the lowest index among equal ones */
    printf("class: %u %s\n", (unsigned)best, best < FMNIST_MODEL_CLASS_COUNT ? fmnist_model_class_names[best] : "?");
    dynq_destroy(net);
    if (ops_begun != ops || ops_ended != ops) {
        printf("error: the per-op callback was not called for every op\n");
        return 1;
    }
    printf("status: ok\n");
    return 0;
}
