// Print("layer ", i, " ", name, "\r\n"): the console's text, without printf.
// newlib's printf and stdio cost about 6 KB of flash; the app prints only
// strings and integers (floats through float_format.h).
#ifndef TEENSYML_APP_CONSOLE_PRINT_H
#define TEENSYML_APP_CONSOLE_PRINT_H

#include <cstdint>
#include <type_traits>

extern "C" {
#include "console.h"
}

inline void PrintOne(const char* text) { console_puts(text); }
inline void PrintOne(char letter) { console_write(&letter, 1); }

template <typename Integer>
inline std::enable_if_t<std::is_integral_v<Integer>> PrintOne(Integer value) {
  static_assert(sizeof(Integer) <= 4, "32-bit integers only");
  if constexpr (std::is_signed_v<Integer>)
    console_put_int(static_cast<int32_t>(value));
  else
    console_put_uint(static_cast<uint32_t>(value));
}

template <typename... Parts>
inline void Print(const Parts&... parts) {
  (PrintOne(parts), ...);
}

#endif
