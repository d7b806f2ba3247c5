"""The USB console's own logic (src/board/teensy40/console_usb.c) built for
the host against a stand-in for TinyUSB whose state the driver sets: text
held before a terminal opens the port and sent when one does, writes that
give up on a host that stopped reading (and drop at once afterwards), reads,
and the 134-baud request leading to the bootloader after serving the bus for
10 ms. TinyUSB itself and the controller are the emulator's to exercise; this
pins the decisions made in our file."""
import subprocess

import pytest

from conftest import ROOT, host_program

BOARD = ROOT / "src" / "board" / "teensy40"
CYCLES_PER_MS = 600_000

# What console_usb.c includes, reduced to what it uses. The real tusb_config.h
# gives the buffer sizes.
HEADERS = {
    "tusb.h": """
#include <stdbool.h>
#include <stdint.h>
#include "tusb_config.h"
typedef struct { uint32_t bit_rate; uint8_t stop_bits, parity, data_bits; } cdc_line_coding_t;
typedef struct { int role; int speed; } tusb_rhport_init_t;
enum { TUSB_ROLE_DEVICE = 1, TUSB_SPEED_HIGH = 2 };
#define tusb_init(port, init) fake_tusb_init(port, init)
#define tud_int_handler(port) fake_int_handler(port)
bool fake_tusb_init(uint8_t port, const tusb_rhport_init_t *init);
void fake_int_handler(uint8_t port);
void tud_task(void);
bool tud_cdc_connected(void);
uint32_t tud_cdc_write(const void *buffer, uint32_t size);
uint32_t tud_cdc_write_flush(void);
uint32_t tud_cdc_write_available(void);
uint32_t tud_cdc_available(void);
int32_t tud_cdc_read_char(void);
void tud_cdc_line_coding_cb(uint8_t itf, cdc_line_coding_t const *coding);
""",
    "memory_map.h": "#define CORE_CLOCK_HZ 600000000u\n",
    "cycle_counter.h": "#include <stdint.h>\nuint32_t cycle_counter_read(void);\n",
}

DRIVER = r"""
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include "tusb.h"
#include "console.h"
#include "usb_console.h"

static int connected, host_reading, inited, usb_inits, int_handler_calls;
static uint32_t now, step = 1000, pending_baud, requested_at, rebooted_at;
static uint8_t fifo[CFG_TUD_CDC_TX_BUFSIZE];
static uint32_t fifo_count, sent_count;
static char sent[8192];
static const char *rx = "";
static jmp_buf rebooted;

uint32_t cycle_counter_read(void) { return now += step; }
bool fake_tusb_init(uint8_t port, const tusb_rhport_init_t *init)
{ inited = port == 0 && init->role == TUSB_ROLE_DEVICE && init->speed == TUSB_SPEED_HIGH; return true; }
void fake_int_handler(uint8_t port) { int_handler_calls += port == 0; }
void tud_task(void)
{
    if (pending_baud) {
        cdc_line_coding_t coding = {.bit_rate = pending_baud};
        pending_baud = 0;
        requested_at = now;
        tud_cdc_line_coding_cb(0, &coding);
    }
}
bool tud_cdc_connected(void) { return connected; }
uint32_t tud_cdc_write(const void *buffer, uint32_t size)
{
    uint32_t room = sizeof fifo - fifo_count;
    if (size > room) size = room;
    memcpy(fifo + fifo_count, buffer, size);
    fifo_count += size;
    return size;
}
uint32_t tud_cdc_write_flush(void)
{
    uint32_t count = fifo_count;
    if (!connected || !host_reading || !count) return 0;
    memcpy(sent + sent_count, fifo, count);
    sent_count += count;
    fifo_count = 0;
    return count;
}
uint32_t tud_cdc_write_available(void) { return sizeof fifo - fifo_count; }
uint32_t tud_cdc_available(void) { return (uint32_t)strlen(rx); }
int32_t tud_cdc_read_char(void) { return *rx ? (int32_t)(uint8_t)*rx++ : -1; }
void board_usb_init(void) { usb_inits++; }
void board_enter_bootloader(void) { rebooted_at = now; longjmp(rebooted, 1); }

static void fill(char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) text[i] = (char)('a' + i % 26);
}

int main(int argc, char **argv)
{
    static char text[3000];
    fill(text, sizeof text);
    console_init();
    printf("init %d %d %d\n", inited, usb_inits, int_handler_calls > 0);
    const char *scenario = argc > 1 ? argv[1] : "";
    if (!strcmp(scenario, "held")) {
        console_write(text, 700);
        console_write(text, 10);
        printf("held %u sent %u\n", fifo_count, sent_count);
        connected = host_reading = 1;
        int byte = console_read_byte();
        printf("read %d held %u sent %u same %d\n", byte, fifo_count, sent_count,
               !memcmp(sent, text, sent_count));
    } else if (!strcmp(scenario, "write")) {
        connected = host_reading = 1;
        console_write(text, sizeof text);
        printf("sent %u same %d held %u\n", sent_count, !memcmp(sent, text, sizeof text),
               fifo_count);
    } else if (!strcmp(scenario, "stalled")) {
        connected = 1;
        uint32_t start = now;
        console_write(text, 2000);
        printf("gave up after %u cycles held %u\n", now - start, fifo_count);
        start = now;
        console_write(text, 10);
        printf("then after %u cycles\n", now - start);
        host_reading = 1;
        console_write("xyz", 3);
        printf("reading again sent %u last %.3s\n", sent_count, sent + sent_count - 3);
    } else if (!strcmp(scenario, "read")) {
        connected = 1;
        rx = "hi";
        int first = console_read_byte(), second = console_read_byte(), third = console_read_byte();
        printf("read %d %d %d\n", first, second, third);
    } else {
        connected = 1;
        pending_baud = (uint32_t)atoi(scenario);
        if (setjmp(rebooted)) {
            printf("bootloader after %u cycles\n", rebooted_at - requested_at);
            return 0;
        }
        for (int i = 0; i < 100000; i++) console_read_byte();
        printf("no bootloader\n");
    }
    return 0;
}
""".replace("#include <stdio.h>", "#include <stdio.h>\n#include <stdlib.h>")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    directory = tmp_path_factory.mktemp("console_usb")
    for name, text in HEADERS.items():
        (directory / name).write_text(text)
    program = host_program(directory, DRIVER, [BOARD / "console_usb.c"],
                           include_dirs=[BOARD, ROOT / "src" / "board" / "core"])

    def run(scenario):
        output = subprocess.run([str(program), scenario], capture_output=True, text=True,
                                check=True, timeout=60).stdout.splitlines()
        assert output[0] == "init 1 1 1"       # PHY, then TinyUSB as a high-speed device
        return output[1:]
    return run


def test_text_before_a_terminal_is_held_then_sent(console):
    assert console("held") == ["held 511 sent 0", "read -1 held 0 sent 511 same 1"]


def test_a_terminal_gets_everything_in_order(console):
    assert console("write") == ["sent 3000 same 1 held 0"]


def test_a_host_that_stops_reading_does_not_hang_the_firmware(console):
    gave_up, then, again = console("stalled")
    cycles = int(gave_up.split()[3])
    assert 250 * CYCLES_PER_MS <= cycles < 251 * CYCLES_PER_MS
    assert gave_up.endswith("held 1024")
    assert int(then.split()[2]) < 10_000                # at once, while it stays stalled
    assert again == "reading again sent 1027 last xyz"


def test_reads_return_bytes_then_nothing(console):
    assert console("read") == [f"read {ord('h')} {ord('i')} -1"]


def test_134_baud_enters_the_bootloader_after_10_ms(console):
    (line,) = console("134")
    cycles = int(line.split()[2])
    assert 10 * CYCLES_PER_MS <= cycles < 10 * CYCLES_PER_MS + 50_000


@pytest.mark.parametrize("baud", ["115200", "9600", "135"])
def test_other_rates_do_not(console, baud):
    assert console(baud) == ["no bootloader"]
