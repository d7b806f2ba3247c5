/*
 * Reset path of the Teensy 4.0 image, our own: it must run before anything
 * uses TCM, so it lives in flash (.boot_text) and touches no stack until the
 * FlexRAM bank map is written.
 *
 * 1. FlexRAM: write the bank map the linker computed (ITCM banks for the ITCM
 *    code, DTCM for the rest), then select it over the fuses.
 * 2. Stack pointer to the top of DTCM.
 * 3. Copy ITCM code, data (and the model when it lives in RAM) from flash;
 *    zero .bss, as the linker's copy and zero tables list.
 * 4. FPU on, vector table base, then board_init() (clocks, console: every
 *    image provides one; not weak, so the linker pulls it out of a library)
 *    and C/C++ constructors, then main().
 */
#include <stdint.h>

#include "memory_map.h"
#include "startup.h"

#define REG32(address) (*(volatile uint32_t *)(address))
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_VTOR REG32(0xE000ED08u)

extern uint32_t __flexram_bank_config__[];   /* linker symbols: use the address */
extern uint32_t __StackTop[];
extern const uint32_t __VECTOR_TABLE[];
extern const uint32_t __copy_table_start__[], __copy_table_end__[];
extern const uint32_t __zero_table_start__[], __zero_table_end__[];

extern int main(void);
extern void __libc_init_array(void);

/* Linked without the C runtime's start files (we are the start-up code):
   __libc_init_array still calls these hooks. */
void _init(void) {}
void _fini(void) {}

__attribute__((section(".boot_text"), noreturn, used)) static void reset_continue(void)
{
    for (const uint32_t *entry = __copy_table_start__; entry < __copy_table_end__; entry += 3) {
        const uint32_t *source = (const uint32_t *)entry[0];
        uint32_t *destination = (uint32_t *)entry[1];
        for (uint32_t words = (entry[2] + 3) / 4; words; --words)
            *destination++ = *source++;
    }
    for (const uint32_t *entry = __zero_table_start__; entry < __zero_table_end__; entry += 2) {
        uint32_t *destination = (uint32_t *)entry[0];
        for (uint32_t words = (entry[1] + 3) / 4; words; --words)
            *destination++ = 0;
    }
    SCB_CPACR |= (0xFu << 20);          /* CP10 and CP11: full access to the FPU */
    __asm volatile("dsb\n\tisb" ::: "memory");
    SCB_VTOR = (uint32_t)__VECTOR_TABLE;
    board_init();
    __libc_init_array();
    main();
    for (;;) {
        __asm volatile("wfi");
    }
}

__attribute__((section(".boot_text"), naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile(
        "cpsid i\n\t"
        "ldr r0, =%c[gpr17]\n\t"
        "ldr r1, =__flexram_bank_config__\n\t"
        "str r1, [r0]\n\t"
        "ldr r0, =%c[gpr16]\n\t"
        "ldr r1, [r0]\n\t"
        "orr r1, r1, %[bank_sel]\n\t"
        "str r1, [r0]\n\t"
        "ldr r0, =%c[gpr14]\n\t"
        "ldr r1, =%c[tcm_sizes]\n\t"
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
        "ldr r0, =__StackTop\n\t"
        "msr msp, r0\n\t"
        "b reset_continue\n\t"
        ".ltorg\n\t"
        :
        : [gpr17] "i"(IOMUXC_GPR17_ADDR), [gpr16] "i"(IOMUXC_GPR16_ADDR),
          [gpr14] "i"(IOMUXC_GPR14_ADDR), [bank_sel] "i"(GPR16_FLEXRAM_BANK_CFG_SEL),
          [tcm_sizes] "i"(GPR14_TCM_SIZES));
}

/* The heap lives in OCRAM between __heap_start__ and __heap_end__. */
extern uint8_t __heap_start__[], __heap_end__[];

void *_sbrk(intptr_t increment)
{
    static uint8_t *heap_top = __heap_start__;
    if (increment > __heap_end__ - heap_top || heap_top + increment < __heap_start__)
        return (void *)-1;
    uint8_t *previous = heap_top;
    heap_top += increment;
    return previous;
}
