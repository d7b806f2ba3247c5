/* printf and friends write to the console; stdout is unbuffered so a line
   reaches the wire before a long inference starts. */
#include <stdio.h>

#include "console.h"

int _write(int file, const char *buffer, int length)
{
    (void)file;
    console_write(buffer, (size_t)length);
    return length;
}

int _isatty(int file)
{
    (void)file;
    return 1;
}
