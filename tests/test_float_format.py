"""src/tensor_console/float_format.c prints floats exactly as printf("%.9g") does (the
firmware's console used newlib's float printf for it; CPython's '%.9g' is the
same correctly rounded conversion), compiled for the host and compared on
every kind of float32: normals, subnormals, extremes, powers of ten, halfway
cases and random bit patterns; and 64-bit integers in decimal (format_uint64,
the same long division, so no image links libgcc's 64-bit division)."""
import random
import struct
import subprocess

import pytest

from conftest import ROOT, host_program

SOURCE = ROOT / "src" / "tensor_console" / "float_format.c"
DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "float_format.h"
int main(void) {
    unsigned int bits;
    char text[FLOAT_G9_SIZE];
    while (scanf("%x", &bits) == 1) {
        float value;
        memcpy(&value, &bits, sizeof value);
        puts(format_float_g9(value, text));
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def formatter(tmp_path_factory):
    program = host_program(tmp_path_factory.mktemp("float_format"), DRIVER, [SOURCE],
                           [SOURCE.parent])

    def run(patterns):
        text = "\n".join(f"{bits:x}" for bits in patterns)
        return subprocess.run([str(program)], input=text, capture_output=True, text=True,
                              check=True).stdout.split()
    return run


def bits_of(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def expected(bits):
    return "%.9g" % struct.unpack("<f", struct.pack("<I", bits))[0]


EDGES = [0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF,
         0x7F800000, 0xFF800000, 0x3F800000, 0xBF800000, 0x3DCCCCCD, 0x4E6E6B28,
         0x4E6E6B29] + [bits_of(float(f"1e{power}")) for power in range(-38, 39)] + \
    [bits_of(value) for value in (123456789.0, 999999999.0, 1e9, 0.0001, 0.00001, 99999.99,
                                  0.5, 2.5e-5, 0.00392156886, 1 / 3, -2.0 ** -126)]


def test_edges_print_as_printf_would(formatter):
    assert formatter(EDGES) == [expected(bits) for bits in EDGES]


def test_random_floats_print_as_printf_would(formatter):
    generator = random.Random(2026)
    patterns = [bits for bits in (generator.getrandbits(32) for _ in range(20000))
                if (bits >> 23) & 0xFF != 0xFF]              # NaNs: newlib prints "nan"
    printed = formatter(patterns)
    wrong = [(hex(bits), text, expected(bits)) for bits, text in zip(patterns, printed)
             if text != expected(bits)]
    assert len(printed) == len(patterns) and not wrong, wrong[:5]


def test_nan_prints_nan(formatter):
    assert formatter([0x7FC00000, 0xFFC00001]) == ["nan", "nan"]


UINT64_DRIVER = r"""
#include <stdio.h>
#include "float_format.h"
int main(void) {
    unsigned long long value;
    char text[UINT64_TEXT_SIZE];
    while (scanf("%llx", &value) == 1)
        printf("%.*s\n", format_uint64(value, text), text);
    return 0;
}
"""


def test_64_bit_integers_print_in_decimal(tmp_path):
    program = host_program(tmp_path, UINT64_DRIVER, [SOURCE], [SOURCE.parent])
    generator = random.Random(2026)
    values = [0, 1, 9, 10, 9999, 10000, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 10 ** 19,
              2 ** 64 - 1] + [generator.getrandbits(generator.randint(1, 64))
                             for _ in range(5000)]
    printed = subprocess.run([str(program)], input="\n".join(f"{v:x}" for v in values),
                             capture_output=True, text=True, check=True).stdout.split()
    assert printed == [str(value) for value in values]
