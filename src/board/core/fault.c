/*
 * Fault handlers: print one line the monitor can decode, then stop.
 *
 *   *** HardFault PC=0x60001234 LR=0x60005679 CFSR=0x00008200 ADDR=0x20080000
 *
 * PC and LR come from the exception frame the core stacked; ADDR is the
 * faulting data address when the fault status says it is valid (BFAR/MMFAR).
 */
#include <stdint.h>

#include "console.h"

#define REG32(address) (*(volatile uint32_t *)(address))
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)
#define CFSR_MMARVALID (1u << 7)
#define CFSR_BFARVALID (1u << 15)

__attribute__((used, noreturn)) void fault_report(const uint32_t *frame, const char *name)
{
    uint32_t cfsr = SCB_CFSR;
    console_puts("\r\n*** ");
    console_puts(name);
    console_puts(" PC=");
    console_put_hex32(frame[6]);
    console_puts(" LR=");
    console_put_hex32(frame[5]);
    console_puts(" CFSR=");
    console_put_hex32(cfsr);
    if (cfsr & (CFSR_BFARVALID | CFSR_MMARVALID)) {
        console_puts(" ADDR=");
        console_put_hex32((cfsr & CFSR_BFARVALID) ? SCB_BFAR : SCB_MMFAR);
    }
    console_puts("\r\n");
    for (;;) {
        __asm volatile("bkpt #0");
    }
}

/* Each handler finds the stacked frame on whichever stack was in use. */
#define FAULT_HANDLER(handler, label)                                   \
    __attribute__((naked)) void handler(void)                           \
    {                                                                   \
        __asm volatile("tst lr, #4\n\t"                                 \
                       "ite eq\n\t"                                     \
                       "mrseq r0, msp\n\t"                              \
                       "mrsne r0, psp\n\t"                              \
                       "ldr r1, =%c0\n\t"                               \
                       "b fault_report\n\t"                             \
                       ".ltorg" ::"i"(label));                          \
    }

static const char hard_fault_name[] = "HardFault";
static const char mem_manage_name[] = "MemManage";
static const char bus_fault_name[] = "BusFault";
static const char usage_fault_name[] = "UsageFault";

FAULT_HANDLER(HardFault_Handler, hard_fault_name)
FAULT_HANDLER(MemManage_Handler, mem_manage_name)
FAULT_HANDLER(BusFault_Handler, bus_fault_name)
FAULT_HANDLER(UsageFault_Handler, usage_fault_name)
