/* Into the HalfKay bootloader, as Teensyduino's _reboot_Teensyduino_ does on
   a Teensy 4: the board's bootloader chip watches for this breakpoint and
   takes over. A file of its own so that the console's logic builds for the
   host in tests/test_console_usb.py, with a stand-in for this. */
#include "usb_console.h"

void board_enter_bootloader(void)
{
    for (;;)
        __asm volatile("bkpt #251");
}
