/* TinyUSB's configuration for the USB serial console (CONSOLE=usb): device
   mode on USB OTG1 (root port 0) at high speed, one CDC-ACM interface, no
   RTOS. The firmware polls the controller (console_usb.c), it takes no USB
   interrupt. */
#ifndef TEENSYML_TUSB_CONFIG_H
#define TEENSYML_TUSB_CONFIG_H

#define CFG_TUSB_MCU OPT_MCU_MIMXRT1XXX
#define CFG_TUSB_OS OPT_OS_NONE
#define CFG_TUSB_DEBUG 0

#define CFG_TUD_ENABLED 1
#define CFG_TUD_MAX_SPEED OPT_MODE_HIGH_SPEED

/* Every buffer TinyUSB hands the controller is in .bss, which the linker
   script puts in DTCM: the D-cache does not cover DTCM, so no cache
   maintenance is needed (tests/test_usb_descriptors.py checks the
   placement). */
#define CFG_TUD_MEM_DCACHE_ENABLE 0

#define CFG_TUD_ENDPOINT0_SIZE 64

#define CFG_TUD_CDC 1
#define CFG_TUD_MSC 0
#define CFG_TUD_HID 0
#define CFG_TUD_MIDI 0
#define CFG_TUD_VENDOR 0

/* One high-speed packet each way, and FIFOs of two: a 784-byte image
   arrives in two packets while the firmware reads. */
#define CFG_TUD_CDC_EP_BUFSIZE 512
#define CFG_TUD_CDC_RX_BUFSIZE 1024
#define CFG_TUD_CDC_TX_BUFSIZE 1024

#endif
