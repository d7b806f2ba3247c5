/* The USB serial console (CONSOLE=usb): what its files share. */
#ifndef TEENSYML_USB_CONSOLE_H
#define TEENSYML_USB_CONSOLE_H

/* Teensyduino's USB serial: the host tools find the board by these. */
#define USB_CONSOLE_VID 0x16C0u
#define USB_CONSOLE_PID 0x0483u

/* A host that sets this line rate asks for the bootloader (Teensyduino's
   convention, which teensy_loader_cli -s and `scons flash` use). */
#define USB_REBOOT_BAUD 134u

#ifdef __cplusplus
extern "C" {
#endif

void board_usb_init(void);      /* usb_phy.c: clocks and PHY of USB OTG1 */

#ifdef __cplusplus
}
#endif

#endif
