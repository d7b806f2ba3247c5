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
 * inference nobody polls: the controller itself NAKs the host. Bulk
 * transfers may wait forever; a standard request's data stage must be
 * answered within 500 ms (USB 2.0, 9.2.6.4), and a 10 ms inference (the
 * float32 model's 360 ms) is inside that. A longer computation between
 * console calls would make requests the host sends meanwhile (enumeration
 * after a replug) time out.
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

/* Text written before a terminal opens the port (no DTR, or not even
   enumerated yet) is kept in TinyUSB's FIFO, up to one byte short of a
   packet: TinyUSB starts a transfer when a packet's worth is queued, which
   must not happen before the endpoint is opened. usb_poll() sends it once a
   terminal opens the port, so the boot banner reaches a monitor that opens
   the port later; beyond that, text is dropped, as on an unconnected UART. */
#define HELD_MAX (CFG_TUD_CDC_EP_BUFSIZE - 1u)

static bool reboot_requested;
static uint32_t reboot_requested_at;
static bool host_stalled;

/* The interrupt TinyUSB would enable: left disabled (see the top). */
void __wrap_dcd_int_enable(uint8_t rhport)
{
    (void)rhport;
}

static void usb_poll(void)
{
    tud_int_handler(0);
    tud_task();
    if (tud_cdc_connected())
        tud_cdc_write_flush();      /* what was held, or is left of a write */
    if (reboot_requested &&
        cycle_counter_read() - reboot_requested_at >= REBOOT_DELAY_CYCLES)
        board_enter_bootloader();
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

static void hold(const char *text, size_t length)
{
    const uint32_t held = CFG_TUD_CDC_TX_BUFSIZE - tud_cdc_write_available();
    if (held < HELD_MAX)
        tud_cdc_write(text, (uint32_t)(length < HELD_MAX - held ? length : HELD_MAX - held));
}

void console_write(const char *text, size_t length)
{
    uint32_t progress_at = cycle_counter_read();
    while (length) {
        usb_poll();
        if (!tud_cdc_connected()) {
            hold(text, length);
            return;
        }
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
