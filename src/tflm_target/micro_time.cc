// TFLM's clock for the Teensy 4.0: the DWT cycle counter at the core clock.
// Replaces TFLM's generic Cortex-M micro_time.cc by file name (as TFLM's
// Makefile specialises a target), which needs a CMSIS device header and
// reports 0 ticks per second.
#include "tensorflow/lite/micro/micro_time.h"

#include "cycle_counter.h"
#include "memory_map.h"

namespace tflite {

uint32_t ticks_per_second() { return CORE_CLOCK_HZ; }

uint32_t GetCurrentTimeTicks() { return cycle_counter_read(); }

}  // namespace tflite
