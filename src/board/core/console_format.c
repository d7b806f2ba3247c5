/* Formatting on top of console_write, shared by every console. No printf:
   the fault handler must not depend on the C library's state. */
#include <string.h>

#include "console.h"

void console_puts(const char *text)
{
    console_write(text, strlen(text));
}

void console_put_hex32(uint32_t value)
{
    char text[10] = {'0', 'x'};
    for (int nibble = 0; nibble < 8; ++nibble) {
        uint32_t digit = (value >> (28 - 4 * nibble)) & 0xFu;
        text[2 + nibble] = (char)(digit < 10 ? '0' + digit : 'A' + digit - 10);
    }
    console_write(text, sizeof text);
}

void console_put_uint(uint32_t value)
{
    char text[10];
    size_t length = 0;
    do {
        text[sizeof text - 1 - length++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    console_write(text + sizeof text - length, length);
}

void console_put_int(int32_t value)
{
    if (value < 0)
        console_write("-", 1);
    console_put_uint(value < 0 ? 0u - (uint32_t)value : (uint32_t)value);
}
