// TFLM's MicroPrintf (DebugLog, cortex_m_generic's callback) to the board's
// console, registered before main(): TFLM's test main() prints through it.
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"

extern "C" {
#include "console.h"
}

namespace {

void WriteToConsole(const char* text) { console_puts(text); }

// C++ constructors run after board_init() (the console is up), before main().
__attribute__((constructor, used)) void RouteDebugLogToConsole() {
  RegisterDebugLogCallback(WriteToConsole);
}

}  // namespace
