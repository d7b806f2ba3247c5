/* board_init(), called by the reset path before constructors and main(). */
#include "fsl_device_registers.h"

#include "board.h"
#include "console.h"
#include "cycle_counter.h"
#include "startup.h"

void board_init(void)
{
    SystemInit();          /* SDK: watchdogs off, SysTick off, I-cache on */
    SCB_EnableDCache();    /* weights and activations read through the D-cache */
    board_clock_init();
    console_init();
    cycle_counter_enable();
}
