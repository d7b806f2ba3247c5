/*
 * The console over USB (CONSOLE=usb): a CDC-ACM serial port on the Teensy's
 * own USB connector (USB OTG1), through TinyUSB. Same interface and protocol
 * as console_lpuart.c.
 *
 * Polled, no interrupt: the firmware takes no interrupt at all, and its
 * console is a strict request/response loop. Every console call services the
 * controller: tud_int_handler() does what TinyUSB's interrupt handler would
 * (turns the controller's status into events) and tud_task() handles them
 * (enumeration, transfers, the CDC callbacks). While the CPU runs an
 * inference nobody polls: the controller itself NAKs the host (bulk data
 * waits, control requests wait), which USB allows for up to 5 s in a control
 * request's data stage and forever on bulk endpoints; a 10 ms inference is
 * far inside that. A longer computation between console calls (a command
 * that runs for seconds) would make the host time out enumeration requests
 * sent meanwhile.
 *
 * TinyUSB's OS-less event queue enables the USB interrupt in the NVIC around
 * every tud_task() (dcd_int_enable as its unlock); the link wraps that
 * function (-Wl,--wrap=dcd_int_enable, third_party/tinyusb.SConscript) so
 * the interrupt stays disabled: there is no handler for it.
 */
#include <stdbool.h>

#include "tusb.h"

#include "board.h"
#include "console.h"
#include "cycle_counter.h"
#include "usb_console.h"

#define CYCLES_PER_MS (BOARD_CORE_CLOCK_HZ / 1000u)
/* A host that keeps the port open but stops reading: give up a write after
   this long without progress, and drop output at once until it reads again
   (as Teensyduino's Serial does), instead of hanging the firmware. */
#define WRITE_TIMEOUT_CYCLES (250u * CYCLES_PER_MS)
/* After the 134-baud request, keep serving the bus this long before leaving
   for the bootloader (Teensyduino waits 80 microframes): the host's request
   and its close of the port complete. */
#define REBOOT_DELAY_CYCLES (10u * CYCLES_PER_MS)

static bool reboot_requested;
static uint32_t reboot_requested_at;
static bool host_stalled;

/* The interrupt TinyUSB would enable: left disabled (see the top). */
void __wrap_dcd_int_enable(uint8_t rhport)
{
    (void)rhport;
}

static void enter_bootloader(void)
{
    /* The Teensy 4's bootloader chip watches for this breakpoint and takes
       over (Teensyduino's _reboot_Teensyduino_). */
    for (;;)
        __asm volatile("bkpt #251");
}

static void usb_poll(void)
{
    tud_int_handler(0);
    tud_task();
    if (reboot_requested &&
        cycle_counter_read() - reboot_requested_at >= REBOOT_DELAY_CYCLES)
        enter_bootloader();
}

void tud_cdc_line_coding_cb(uint8_t itf, cdc_line_coding_t const *coding)
{
    (void)itf;
    if (coding->bit_rate == USB_REBOOT_BAUD && !reboot_requested) {
        reboot_requested = true;
        reboot_requested_at = cycle_counter_read();
    }
}

void console_init(void)
{
    board_usb_init();
    const tusb_rhport_init_t device = {.role = TUSB_ROLE_DEVICE, .speed = TUSB_SPEED_HIGH};
    tusb_init(0, &device);
    usb_poll();
}

void console_write(const char *text, size_t length)
{
    uint32_t progress_at = cycle_counter_read();
    while (length) {
        usb_poll();
        /* No terminal has the port open: the text is lost, as on an
           unconnected UART. */
        if (!tud_cdc_connected())
            return;
        const uint32_t written = tud_cdc_write(text, (uint32_t)length);
        if (written) {
            text += written;
            length -= written;
            progress_at = cycle_counter_read();
            host_stalled = false;
        } else if (host_stalled ||
                   cycle_counter_read() - progress_at >= WRITE_TIMEOUT_CYCLES) {
            host_stalled = true;
            return;
        }
    }
    /* Hand the rest to the controller now: it sends while the CPU computes. */
    tud_cdc_write_flush();
    usb_poll();
}

int console_read_byte(void)
{
    usb_poll();
    return tud_cdc_available() ? (int)tud_cdc_read_char() : -1;
}
