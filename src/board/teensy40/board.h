/* The Teensy 4.0 board on the NXP SDK: clocks and console bring-up. */
#ifndef TEENSYML_BOARD_H
#define TEENSYML_BOARD_H

#include "memory_map.h"

#define BOARD_CORE_CLOCK_HZ CORE_CLOCK_HZ
#define BOARD_UART_CLOCK_HZ 80000000u

#ifdef __cplusplus
extern "C" {
#endif

void board_clock_init(void);

#ifdef __cplusplus
}
#endif

#endif
