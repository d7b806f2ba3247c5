"""src/tensor_console/tensor_console.c compiled for the host, its console and
cycle counter replaced by stubs: the protocol's numbers at their extremes
(64-bit integers, times), and command 4's payload rules byte by byte, checked
against what console_protocol.py (the host side) expects."""
import struct
import subprocess

import pytest

from conftest import ROOT, host_program
from teensyml import console_protocol as protocol

SOURCES = [ROOT / "src" / "tensor_console" / name
           for name in ("tensor_console.c", "float_format.c")]
# A stand-in for the board's DWT counter: each read is 100 cycles later,
# a pause is 2 s = 2 x 600 MHz, so TIMEOUT is that many cycles.
CYCLE_COUNTER = """
#include <stdint.h>
uint32_t cycle_counter_read(void);
"""
DRIVER = r"""
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "console.h"
#include "tensor_console.h"

static unsigned char input[4096];
static size_t input_length, input_position;
static uint32_t now;

void console_write(const char *text, size_t length) { fwrite(text, 1, length, stdout); }
void console_puts(const char *text) { console_write(text, strlen(text)); }
void console_put_uint(uint32_t value) { printf("%" PRIu32, value); }
void console_put_hex32(uint32_t value) { printf("0x%08" PRIX32, value); }
int console_read_byte(void) {
    return input_position < input_length ? input[input_position++] : -1;
}
uint32_t cycle_counter_read(void) { return now += 100; }

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "time")) {
        tensor_print_time((uint32_t)strtoul(argv[2], 0, 0), (uint32_t)strtoul(argv[3], 0, 0));
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "integers")) {
        static int64_t s64[] = {INT64_MIN, -1, 0, 4294967296LL, INT64_MAX};
        static uint64_t u64[] = {0, 4294967295ULL, 4294967296ULL, UINT64_MAX};
        static int32_t s32[] = {INT32_MIN, -7, INT32_MAX};
        static int8_t s8[] = {-128, 127};
        static uint8_t flags[] = {0, 1, 255};
        static const int d5[] = {5}, d4[] = {4}, d3[] = {3}, d2[] = {2}, d1x3[] = {1, 3};
        struct tensor_view views[] = {
            {TENSOR_INT64, 0, 1, d5, 0, 0, 0, (uint8_t *)s64, sizeof s64},
            {TENSOR_UINT64, 0, 1, d4, 0, 0, 0, (uint8_t *)u64, sizeof u64},
            {TENSOR_INT32, 0, 2, d1x3, 0, 0, 0, (uint8_t *)s32, sizeof s32},
            {TENSOR_INT8, 0, 1, d2, 0, 0, 0, (uint8_t *)s8, sizeof s8},
            {TENSOR_BOOL, 0, 1, d3, 0, 0, 0, flags, sizeof flags},
            {TENSOR_OTHER, "INT4", 1, d3, 0, 0, 0, flags, sizeof flags},
        };
        for (int i = 0; i < 6; ++i)
            tensor_print_values("output", i, &views[i]);
        printf("done: 6 outputs\r\n");
        return 0;
    }
    /* "read": stdin is command 4's payload for inputs int8[4] and float32[2]. */
    input_length = fread(input, 1, sizeof input, stdin);
    static uint8_t a[4], b[8];
    static const int d4[] = {4}, d2[] = {2};
    struct tensor_view inputs[] = {
        {TENSOR_INT8, 0, 1, d4, 0.5f, -1, "a", a, sizeof a},
        {TENSOR_FLOAT32, 0, 1, d2, 0, 0, 0, b, sizeof b},
    };
    int ok = tensor_read_inputs(inputs, 2, 1200000000u);
    printf("ok=%d consumed=%zu a=", ok, input_position);
    for (int i = 0; i < 4; ++i) printf("%02x", a[i]);
    printf(" b=");
    for (int i = 0; i < 8; ++i) printf("%02x", b[i]);
    printf("\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tensor_console")
    (directory / "cycle_counter.h").write_text(CYCLE_COUNTER)    # found before the board's
    binary = host_program(directory, DRIVER, SOURCES,
                          [ROOT / "src" / "board" / "core", SOURCES[0].parent])

    def run(*arguments, payload=b""):
        return subprocess.run([str(binary), *arguments], input=payload, capture_output=True,
                              check=True).stdout.decode()
    return run


@pytest.mark.parametrize("cycles, rate", [(0, 600), (599, 600), (600, 600), (601, 600),
                                          (0xFFFFFFFF, 600), (0xFFFFFFFF, 1), (1234567, 600),
                                          (999, 1000), (7, 3)])
def test_times_are_the_floor_of_cycles_over_the_rate_to_the_nanosecond(program, cycles,
                                                                         rate):
    nanoseconds = cycles * 1000 // rate
    assert program("time", str(cycles), str(rate)) == \
        f"cycles={cycles} us={nanoseconds // 1000}.{nanoseconds % 1000:03d}"


def test_integers_print_exactly_at_their_extremes(program):
    run = protocol.parse_run("total cycles=1 us=0.001\r\n" + program("integers"))
    assert run.outputs[0].numbers == (-2**63, -1, 0, 2**32, 2**63 - 1)
    assert run.outputs[1].numbers == (0, 2**32 - 1, 2**32, 2**64 - 1)
    assert run.outputs[2].numbers == (-2**31, -7, 2**31 - 1)
    assert run.outputs[3].numbers == (-128, 127)
    assert run.outputs[4].numbers == (0, 1, 1)                  # bool: any non-zero is 1
    assert run.outputs[5].raw == bytes([0, 1, 255])             # no decimal form: hex


def record(index, data, length=None):
    return bytes([index]) + struct.pack("<I", len(data) if length is None else length) + data


def test_records_fill_their_inputs(program):
    payload = bytes([2]) + record(1, struct.pack("<2f", 1.5, -2.0)) + record(0, b"\x01\x02\x03\x04")
    assert program(payload=payload) == \
        f"ok=1 consumed={len(payload)} a=01020304 b={struct.pack('<2f', 1.5, -2.0).hex()}\n"


@pytest.mark.parametrize("payload, error", [
    (bytes([1]) + record(7, b"zz"), "error: input 7 does not exist: the model has 2 inputs"),
    (bytes([1]) + record(0, b"12345"), "error: input 0 takes 4 bytes (int8 [4]), not 5"),
    (bytes([2]) + b"\x00\x04", "error: command 4 incomplete: record 0 of 2 stopped after 2 of "
                               "5 header bytes"),
    (b"", "error: command 4 incomplete: no record count arrived"),
])
def test_a_bad_record_is_one_error_and_leaves_the_inputs_alone(program, payload, error):
    lines = program(payload=payload).split("\r\n")
    assert lines[0] == error
    assert lines[1].startswith("ok=0 ") and "a=00000000 b=0000000000000000" in lines[1]


def test_a_payload_that_stops_is_incomplete_and_runs_nothing(program):
    """The bytes that came are in the input (they are read in place); the
    answer is the error, and the firmware runs no inference on them."""
    lines = program(payload=bytes([1]) + record(0, b"\x01\x02", length=4)).split("\r\n")
    assert lines[0] == "error: input 0 incomplete: 2 of 4 bytes arrived"
    assert lines[1].startswith("ok=0 consumed=8 a=01020000 ")


def test_after_a_bad_record_the_rest_is_read_and_dropped(program):
    """The stream stays in step: every announced byte is consumed, nothing is written."""
    payload = bytes([3]) + record(0, b"123") + record(1, bytes(8)) + record(0, b"\x01\x01\x01\x01")
    output = program(payload=payload + b"NEXT")
    assert output.startswith("error: input 0 takes 4 bytes (int8 [4]), not 3\r\n")
    assert f"ok=0 consumed={len(payload)} a=00000000 " in output
