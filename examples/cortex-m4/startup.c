/* Start-up code of the DynQ example firmware: the vector table and the reset handler (copy .data, zero .bss,
 * paint the stack for the high-water measurement, call main, exit through semihosting). Plain C for GCC and
 * clang, for every Cortex-M (the assembly below is ARMv6-M, a subset of the others); your project's own start-up
 * file (CMSIS startup_<part>.s) does the same job. */
#include <stdint.h>

#include "support.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_bottom[];

int main(void);
void reset_handler(void);
void fault_handler(void);
void systick_handler(void);

/* The vector table (first words of flash): initial stack pointer, reset, and the system exceptions. */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, /* 0: initial SP */
    reset_handler,               /* 1: reset */
    fault_handler,               /* 2: NMI */
    fault_handler,               /* 3: HardFault */
    fault_handler,               /* 4: MemManage */
    fault_handler,               /* 5: BusFault */
    fault_handler,               /* 6: UsageFault */
    0, 0, 0, 0,                  /* 7-10: reserved */
    fault_handler,               /* 11: SVCall */
    fault_handler,               /* 12: DebugMonitor */
    0,                           /* 13: reserved */
    fault_handler,               /* 14: PendSV */
    systick_handler,             /* 15: SysTick (support.c's instruction counter) */
};

__attribute__((noreturn)) void reset_handler(void) {
    /* Paint the stack below this frame (the high-water mark is the lowest word no longer painted). */
    stack_paint();
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end;) *d++ = 0;
#if defined(__ARM_FP) || defined(EXAMPLE_ENABLE_CP10_CP11)
    /* Built for the FPU (-mfloat-abi=hard/softfp), or linking the Helium library (MVE uses the FP registers):
     * allow CP10/CP11 (CPACR) before any FP or MVE instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n isb");
#endif
    semihost_exit(main());
}

/* Any fault (a Swift trap is a `udf` instruction, which arrives as a HardFault; so does running out of heap):
 * report the exception and the faulting pc (look it up with llvm-symbolizer or addr2line), exit with 70. */
__attribute__((noreturn, used)) void fault_report(const uint32_t *frame) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    print("FAULT: exception %u at pc 0x%x\n", ipsr & 0x1FF, frame[6]);
    semihost_exit(70);
}

__attribute__((naked)) void fault_handler(void) {
    __asm__ volatile(
        "movs r0, #4\n"
        "mov r1, lr\n"
        "tst r0, r1\n"
        "bne 1f\n"
        "mrs r0, msp\n"
        "b fault_report\n"
        "1: mrs r0, psp\n"
        "b fault_report\n");
}
