"""Our Cortex-M7 versions of CMSIS-NN files (src/cmsis_nn_tuned/) against
CMSIS-NN's own, bit for bit, on random convolutions and max poolings: both
are compiled with the firmware's compiler into one harness
(tests/kernel_harness/harness.c, CMSIS-NN's versions renamed upstream_*) and
run in Unicorn as a Cortex-M7. The shapes cover what the MNIST model does
not: odd output channel counts, columns of every length modulo 4, channel
counts that are and are not multiples of 4, padding, strides, dilation, no
bias, clamping narrower than int8, left and right shifts, batches; for the
one-channel 3x3 path, more output channels than its table holds and left
shifts too large for it (the im2col path then); and the shapes handed back
to CMSIS-NN's code: grouped convolutions, pooling windows wholly in the
padding."""
import os
import struct
import subprocess

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_HOOK_INTR, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
from unicorn import arm_const

from conftest import ROOT, requires_third_party

CMSIS_NN = ROOT / "third_party" / "CMSIS-NN"
TUNED = ROOT / "src" / "cmsis_nn_tuned"
HARNESS = ROOT / "tests" / "kernel_harness" / "harness.c"
BASE, SIZE = 0x20000000, 0x100000          # code, data and stack, one RAM
SUPPORT = ("Source/NNSupportFunctions/arm_s8_to_s16_unordered_with_offset.c",
           "Source/ConvolutionFunctions/arm_nn_mat_mult_kernel_row_offset_s8_s16.c")
UPSTREAM = {"arm_convolve_s8": "Source/ConvolutionFunctions/arm_convolve_s8.c",
            "arm_nn_mat_mult_kernel_s8_s16":
                "Source/ConvolutionFunctions/arm_nn_mat_mult_kernel_s8_s16.c",
            "arm_max_pool_s8": "Source/PoolingFunctions/arm_max_pool_s8.c"}
FLAGS = ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=soft", "-O2", "-std=gnu11",
         f"-I{CMSIS_NN / 'Include'}", f"-I{TUNED}"]
# CMSIS-NN's versions call each other by their upstream names.
RENAMES = [f"-D{name}=upstream_{name}" for name in UPSTREAM]


def test_every_tuned_file_replaces_a_cmsis_nn_file():
    names = sorted(path.name for path in TUNED.glob("*.c"))
    declared = (TUNED / "upstream.h").read_text()
    assert all(f"upstream_{name}" in declared for name in UPSTREAM)
    assert names == sorted(os.path.basename(path) for path in UPSTREAM.values())


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    directory = tmp_path_factory.mktemp("harness")
    objects = []

    def compile_c(source, *extra):
        target = directory / f"{len(objects)}_{os.path.basename(source)}.o"
        subprocess.run(["arm-none-eabi-gcc", *FLAGS, *extra, "-c", str(source), "-o",
                        str(target)], check=True)
        objects.append(str(target))

    compile_c(HARNESS)
    for path in sorted(TUNED.glob("*.c")):
        compile_c(path)
    for path in UPSTREAM.values():
        compile_c(CMSIS_NN / path, *RENAMES)
    for path in SUPPORT:
        compile_c(CMSIS_NN / path)
    elf = directory / "harness.elf"
    subprocess.run(["arm-none-eabi-gcc", *FLAGS, "--specs=nano.specs", "-nostartfiles",
                    "-Wl,-e,harness", f"-Wl,-Ttext={BASE:#x}", "-o", str(elf), *objects],
                   check=True)
    return Harness(elf)


class Harness:
    def __init__(self, elf):
        with open(elf, "rb") as stream:
            image = ELFFile(stream)
            self.symbols = {symbol.name: symbol["st_value"]
                            for symbol in image.get_section_by_name(".symtab").iter_symbols()}
            self.segments = [(segment["p_paddr"], segment.data())
                             for segment in image.iter_segments()
                             if segment["p_type"] == "PT_LOAD"]

    def run(self, case, entry="harness"):
        uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M7)
        uc.mem_map(BASE, SIZE)
        for address, data in self.segments:
            uc.mem_write(address, data)
        for name, data in case.buffers().items():
            uc.mem_write(self.symbols[name], data)
        uc.reg_write(arm_const.UC_ARM_REG_SP, BASE + SIZE - 16)
        uc.hook_add(UC_HOOK_INTR, lambda uc, number, _data: uc.emu_stop())   # the BKPT
        uc.emu_start(self.symbols[entry] | 1, BASE + SIZE, count=200_000_000)
        count = case.output_count()
        read = lambda name: np.frombuffer(uc.mem_read(self.symbols[name], count), np.int8)
        status = struct.unpack("<2i", uc.mem_read(self.symbols["harness_status"], 8))
        return status, read("harness_ours"), read("harness_upstream")


def random_activation(rng):
    """The clamp: half the time all of int8, else a narrower random one."""
    if rng.integers(0, 2):
        return int(rng.integers(-128, 0)), int(rng.integers(0, 128))
    return -128, 127


class Shape:
    """What every case has: NHWC outputs."""

    def output_count(self):
        return self.batches * self.out_h * self.out_w * self.out_c


class Case(Shape):
    """A random convolution (NHWC int8, per-channel requantization)."""

    def __init__(self, rng, *, channels, groups=1, kernel=None, out_c=None):
        self.batches = int(rng.integers(1, 3))
        self.in_h, self.in_w = (int(v) for v in rng.integers(3, 9, 2))
        self.in_c = channels
        self.k_h, self.k_w = kernel or (int(v) for v in rng.integers(1, 4, 2))
        self.filter_c = channels // groups
        self.out_c = out_c or int(rng.integers(1, 12)) * groups
        self.stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        self.dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        self.padding = tuple(int(v) for v in rng.integers(0, 2, 2))
        span_h = (self.k_h - 1) * self.dilation[1] + 1
        span_w = (self.k_w - 1) * self.dilation[0] + 1
        self.out_h = (self.in_h + 2 * self.padding[1] - span_h) // self.stride[1] + 1
        self.out_w = (self.in_w + 2 * self.padding[0] - span_w) // self.stride[0] + 1
        self.input = rng.integers(-128, 128, self.batches * self.in_h * self.in_w * self.in_c)
        self.filter = rng.integers(-127, 128, self.out_c * self.k_h * self.k_w * self.filter_c)
        self.bias = rng.integers(-5000, 5000, self.out_c)
        self.with_bias = int(rng.integers(0, 2))
        self.multiplier = rng.integers(1 << 30, (1 << 31) - 1, self.out_c)
        self.shift = rng.integers(-12, 3, self.out_c)     # right and left shifts
        self.input_offset = int(rng.integers(-127, 129))
        self.output_offset = int(rng.integers(-128, 128))
        self.activation = random_activation(rng)


    def buffers(self):
        params = struct.pack(
            "<27i", self.input_offset, self.output_offset, *self.stride, *self.padding,
            *self.dilation, *self.activation,
            self.batches, self.in_h, self.in_w, self.in_c,
            self.out_c, self.k_h, self.k_w, self.filter_c,
            1, 1, 1, self.out_c,
            self.batches, self.out_h, self.out_w, self.out_c, self.with_bias)
        return {"harness_case": params,
                "harness_input": self.input.astype(np.int8).tobytes(),
                "harness_filter": self.filter.astype(np.int8).tobytes(),
                "harness_bias": self.bias.astype(np.int32).tobytes(),
                "harness_multiplier": self.multiplier.astype(np.int32).tobytes(),
                "harness_shift": self.shift.astype(np.int32).tobytes()}


def compare(harness, cases, entry="harness"):
    """Run each case with outputs through both versions; returns how many
    ran and the output values seen."""
    compared, values = 0, set()
    for case in cases:
        if case.out_h < 1 or case.out_w < 1:
            continue
        status, ours, upstream = harness.run(case, entry)
        assert status == (0, 0)
        assert np.array_equal(ours, upstream), vars(case)
        compared += 1
        values.update(ours.tolist())
    return compared, values


@requires_third_party
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5, 8, 12])
def test_tuned_convolution_equals_cmsis_nn(harness, channels):
    rng = np.random.default_rng(channels)
    compared, values = compare(harness, [Case(rng, channels=channels) for _ in range(12)])
    assert compared >= 8 and len(values) > 50     # real cases, not constant outputs


@requires_third_party
def test_interleaved_columns_with_many_channels_equal_cmsis_nn(harness):
    """Channel counts that are multiples of 4 (interleaved columns), more
    output channels than the odd last position's buffer holds, and odd and
    even numbers of positions (passes forwards and backwards)."""
    rng = np.random.default_rng(21)
    cases = [Case(rng, channels=int(rng.choice([4, 8])), out_c=int(rng.choice([33, 40, 70])))
             for _ in range(12)]
    compared, values = compare(harness, cases)
    assert compared >= 10 and len(values) > 100
    positions = {case.out_h * case.out_w % 2 for case in cases if case.out_h > 0 < case.out_w}
    assert positions == {0, 1}


@requires_third_party
def test_one_channel_3x3_equals_cmsis_nn(harness):
    """The first-layer path: a window in registers against a table of up to
    32 output channels (40 take two tables)."""
    rng = np.random.default_rng(13)
    cases = [Case(rng, channels=1, kernel=(3, 3), out_c=int(rng.choice([1, 7, 32, 40])))
             for _ in range(16)]
    compared, values = compare(harness, cases)
    assert compared >= 12 and len(values) > 100
    # Both clamps, and padding, strides and dilation in the cases that ran.
    assert {case.activation == (-128, 127) for case in cases} == {True, False}
    assert {case.padding != (0, 0) for case in cases} == {True, False}


@requires_third_party
def test_one_channel_3x3_large_left_shift_takes_im2col_path(harness):
    rng = np.random.default_rng(14)
    case = Case(rng, channels=1, kernel=(3, 3), out_c=40)
    case.shift[35] = 8           # weights shifted by 8 would not fit in int16 (second table)
    case.multiplier[:] = 1 << 30
    case.input_offset = 0
    assert compare(harness, [case])[0] == 1


@requires_third_party
def test_grouped_convolution_is_handed_to_cmsis_nn(harness):
    rng = np.random.default_rng(99)
    case = Case(rng, channels=8, groups=2)
    case.with_bias = 1      # CMSIS-NN's grouped kernel reads the bias without a NULL check
    status, ours, upstream = harness.run(case)
    assert status == (0, 0) and np.array_equal(ours, upstream)


class PoolCase(Shape):
    """A random int8 max pooling (NHWC)."""

    def __init__(self, rng, *, channels):
        self.batches = int(rng.integers(1, 3))
        self.in_h, self.in_w = (int(v) for v in rng.integers(3, 10, 2))
        self.in_c = channels
        self.rng = rng
        self.k_h, self.k_w = (int(v) for v in rng.integers(1, 4, 2))
        self.stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        self.padding = tuple(int(v) for v in rng.integers(0, 2, 2))
        self.out_h = (self.in_h + 2 * self.padding[1] - self.k_h) // self.stride[1] + 1
        self.out_w = (self.in_w + 2 * self.padding[0] - self.k_w) // self.stride[0] + 1
        self.out_c = channels
        self.input = rng.integers(-128, 128, self.batches * self.in_h * self.in_w * channels)
        self.activation = random_activation(rng)


    def buffers(self):
        params = struct.pack(
            "<18i", *self.stride, *self.padding, *self.activation,
            self.batches, self.in_h, self.in_w, self.in_c,
            1, self.k_h, self.k_w, 1,
            self.batches, self.out_h, self.out_w, self.out_c)
        # Both outputs start with the same bytes: CMSIS-NN leaves an output
        # whose window is wholly in the padding as it was (then clamps it).
        before = self.rng.integers(-128, 128, self.output_count()).astype(np.int8).tobytes()
        return {"harness_pool_case": params,
                "harness_input": self.input.astype(np.int8).tobytes(),
                "harness_ours": before, "harness_upstream": before}


@requires_third_party
@pytest.mark.parametrize("channels", [1, 3, 4, 6, 8, 13, 32])
def test_tuned_max_pool_equals_cmsis_nn(harness, channels):
    rng = np.random.default_rng(100 + channels)
    cases = [PoolCase(rng, channels=channels) for _ in range(10)]
    compared, values = compare(harness, cases, "harness_pool")
    assert compared >= 8 and len(values) > 50


@requires_third_party
@pytest.mark.parametrize("narrow", [False, True])
def test_max_pool_windows_in_padding_equal_cmsis_nn(harness, narrow):
    """1x1 windows over a padded border: the border's outputs have no input
    position; CMSIS-NN leaves them as they were, then clamps them."""
    rng = np.random.default_rng(7)
    case = PoolCase(rng, channels=6)
    case.k_h, case.k_w, case.stride, case.padding = 1, 1, (1, 1), (1, 1)
    case.out_h, case.out_w = case.in_h + 2, case.in_w + 2
    case.activation = (-20, 30) if narrow else (-128, 127)
    assert compare(harness, [case], "harness_pool")[0] == 1
