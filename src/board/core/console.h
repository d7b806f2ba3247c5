/* The console the board layer prints through. The fixture implements it on
   raw LPUART2 registers; the Teensy 4.0 board on the NXP SDK's LPUART driver. */
#ifndef TEENSYML_CONSOLE_H
#define TEENSYML_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void console_init(void);
void console_write(const char *text, size_t length);
void console_puts(const char *text);            /* no newline added */
void console_put_hex32(uint32_t value);         /* 0x%08X */
void console_put_uint(uint32_t value);
void console_put_int(int32_t value);
int console_read_byte(void);                    /* -1 when nothing arrived */

#ifdef __cplusplus
}
#endif

#endif
