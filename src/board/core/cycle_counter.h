/* The Cortex-M7 DWT cycle counter: cycles at the core clock. */
#ifndef TEENSYML_CYCLE_COUNTER_H
#define TEENSYML_CYCLE_COUNTER_H

#include <stdint.h>

#include "memory_map.h"

#ifdef __cplusplus
extern "C" {
#endif

void cycle_counter_enable(void);

static inline uint32_t cycle_counter_read(void)
{
    return *(volatile uint32_t *)DWT_CYCCNT_ADDR;
}

#ifdef __cplusplus
}
#endif

#endif
