#include "cycle_counter.h"

#define REG32(address) (*(volatile uint32_t *)(address))
#define DEMCR REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_LAR REG32(0xE0001FB0u)
#define DWT_LAR_UNLOCK 0xC5ACCE55u  /* the M7's DWT ignores writes until unlocked */

void cycle_counter_enable(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_UNLOCK;
    REG32(DWT_CYCCNT_ADDR) = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}
