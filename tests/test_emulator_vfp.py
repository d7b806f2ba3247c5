"""Double-precision VFP as the emulator executes it (Unicorn cannot), checked
against Python float semantics: the IEEE 754 arithmetic of the host, with
exact rationals where Python has no operation (fused multiply-add)."""
import math
import random
import shutil
import struct
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from unicorn import UC_ARCH_ARM, UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UC_MODE_MCLASS, \
    UC_MODE_THUMB, Uc
from unicorn import arm_const as uc_arm

from teensyml.emulator.fpu import fpu64
from teensyml.emulator.fpu.fpu64 import F32, F64
from teensyml.emulator.fpu.vfp import VfpEmulator, advance_it, condition_passed


def bits(value):
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def value(pattern):
    return struct.unpack("<d", struct.pack("<Q", pattern))[0]


def run(function, *operands, fpscr=0):
    context = fpu64.Context(fpscr)
    result = function(context, F64, *(bits(x) for x in operands))
    return result, context.fpscr


def same(result_bits, expected):
    """Bit equality, except that any NaN matches any NaN (Python leaves NaN
    payloads unspecified)."""
    if math.isnan(expected):
        return math.isnan(value(result_bits))
    return result_bits == bits(expected)


SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-310, -5e-324, 1.7976931348623157e308,
            math.inf, -math.inf, math.nan, 2.0 ** -1022, 1e300, -1e-300, 0.1, 1 / 3]


def random_doubles(count, seed):
    generator = random.Random(seed)
    values = []
    for _ in range(count):
        kind = generator.random()
        if kind < 0.6:
            values.append(generator.uniform(-1e3, 1e3))
        elif kind < 0.8:
            values.append(math.ldexp(generator.random() * 2 - 1, generator.randint(-1074, 1023)))
        else:
            values.append(generator.choice(SPECIALS))
    return values


PAIRS = list(zip(random_doubles(400, 1), random_doubles(400, 2))) + \
    [(a, b) for a in SPECIALS for b in SPECIALS]


def python_divide(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * \
            math.copysign(1, b)


@pytest.mark.parametrize("name, emulated, python", [
    ("add", lambda c, f, a, b: fpu64.add(c, f, a, b), lambda a, b: a + b),
    ("sub", lambda c, f, a, b: fpu64.add(c, f, a, b, subtract=True), lambda a, b: a - b),
    ("mul", fpu64.multiply, lambda a, b: a * b),
    ("div", fpu64.divide, python_divide),
])
def test_arithmetic_matches_python_floats(name, emulated, python):
    with np.errstate(all="ignore"):
        for a, b in PAIRS:
            result, _ = run(emulated, a, b)
            expected = float(python(np.float64(a), np.float64(b)))
            assert same(result, expected), f"{name}({a!r}, {b!r}) = {value(result)!r}, " \
                                            f"Python says {expected!r}"


def test_square_root_matches_python():
    for a in random_doubles(400, 3) + SPECIALS:
        result, _ = run(fpu64.square_root, a)
        expected = math.nan if a < 0 or math.isnan(a) else math.sqrt(a)
        if a == 0:
            expected = a                # sqrt(-0) is -0
        assert same(result, expected), f"sqrt({a!r}) = {value(result)!r}"


def test_fused_multiply_add_rounds_once():
    generator = random.Random(4)
    for _ in range(300):
        a, b, c = (generator.uniform(-10, 10) for _ in range(3))
        result, _ = run(fpu64.multiply_add, c, a, b)
        assert result == bits(float(Fraction(a) * Fraction(b) + Fraction(c)))
    # A case where fused and unfused differ: (1+e)(1-e) - 1 = -e*e exactly.
    epsilon = 2.0 ** -30
    result, _ = run(fpu64.multiply_add, -1.0, 1 + epsilon, 1 - epsilon)
    assert value(result) == -epsilon * epsilon
    assert (1 + epsilon) * (1 - epsilon) - 1 == 0.0


@pytest.mark.parametrize("operation, operands, flag", [
    (lambda c, f, a, b: fpu64.add(c, f, a, b), (math.inf, -math.inf), fpu64.IOC),
    (fpu64.multiply, (0.0, math.inf), fpu64.IOC),
    (fpu64.divide, (1.0, 0.0), fpu64.DZC),
    (fpu64.divide, (1.0, 3.0), fpu64.IXC),
    (fpu64.multiply, (1e300, 1e300), fpu64.OFC | fpu64.IXC),
    (fpu64.multiply, (1e-300, 1e-300), fpu64.UFC | fpu64.IXC),
])
def test_exception_flags(operation, operands, flag):
    _, fpscr = run(operation, *operands)
    assert fpscr == flag


def test_exact_results_raise_no_flag():
    _, fpscr = run(fpu64.multiply, 1.5, 2.0)
    assert fpscr == 0


def test_default_nan_and_flush_to_zero_modes():
    quiet_nan_with_payload = 0x7FF8000000000123
    context = fpu64.Context(fpu64.DN)
    assert fpu64.add(context, F64, quiet_nan_with_payload, bits(1.0)) == F64.default_nan
    context = fpu64.Context(0)
    assert fpu64.add(context, F64, quiet_nan_with_payload, bits(1.0)) == quiet_nan_with_payload
    context = fpu64.Context(fpu64.FZ)
    assert fpu64.add(context, F64, bits(1e-310), bits(0.0)) == bits(0.0)
    assert context.fpscr & fpu64.IDC


def test_signalling_nan_is_quietened_with_invalid_flag():
    signalling = 0x7FF0000000000001
    context = fpu64.Context(0)
    result = fpu64.multiply(context, F64, signalling, bits(2.0))
    assert result == signalling | F64.quiet_bit and context.fpscr & fpu64.IOC


@pytest.mark.parametrize("a, b", PAIRS[:200] + [(1.0, 1.0), (math.nan, 1.0), (-0.0, 0.0)])
def test_compare_flags_follow_python_ordering(a, b):
    context = fpu64.Context(0)
    nzcv = fpu64.compare(context, F64, bits(a), bits(b), quiet_nans_signal=True)
    if math.isnan(a) or math.isnan(b):
        assert nzcv == 0b0011 and context.fpscr & fpu64.IOC
    else:
        assert nzcv == (0b0110 if a == b else 0b1000 if a < b else 0b0010)


def test_conversions_match_python_and_numpy():
    for a in random_doubles(300, 5) + SPECIALS:
        context = fpu64.Context(0)
        single = fpu64.convert(context, F64, F32, bits(a))
        with np.errstate(all="ignore"):
            expected = struct.unpack("<I", np.float32(a).tobytes())[0]
        if math.isnan(a):
            assert single & 0x7FC00000 == 0x7FC00000
        else:
            assert single == expected, f"f64->f32 of {a!r}"
        context = fpu64.Context(0)
        back = fpu64.convert(context, F32, F64, expected)
        if not math.isnan(a):
            assert value(back) == struct.unpack("<f", struct.pack("<I", expected))[0], \
                "f32->f64 is exact"


@pytest.mark.parametrize("a", [0.0, -0.0, 0.5, 1.5, 2.5, -2.5, -0.7, 123456.9, 3e9, -3e9,
                               2147483647.4, math.inf, math.nan])
def test_to_integer_truncates_saturates_and_rounds(a):
    context = fpu64.Context(0)
    truncated = fpu64.to_integer(context, F64, bits(a), True, fpu64.RZ)
    as_signed = truncated - (1 << 32) if truncated & (1 << 31) else truncated
    if math.isnan(a):
        assert as_signed == 0 and context.fpscr & fpu64.IOC
    else:
        expected = max(-2 ** 31, min(2 ** 31 - 1, int(a) if math.isfinite(a)
                                     else (2 ** 31 if a > 0 else -2 ** 31)))
        assert as_signed == expected
    if math.isfinite(a) and abs(a) < 2 ** 31:
        context = fpu64.Context(0)       # FPSCR rounding: to nearest, ties to even
        nearest = fpu64.to_integer(context, F64, bits(a), True, fpu64.RN)
        assert (nearest - (1 << 32) if nearest & (1 << 31) else nearest) == round(a)


def test_from_integer_is_exact():
    for number in (0, 1, -1, 2 ** 31 - 1, -2 ** 31, 123456789):
        context = fpu64.Context(0)
        result = fpu64.from_integer(context, F64, number & 0xFFFFFFFF, signed=True)
        assert value(result) == float(number)
    context = fpu64.Context(0)
    assert value(fpu64.from_integer(context, F64, 0xFFFFFFFF, signed=False)) == 4294967295.0


@pytest.mark.parametrize("rounding, python", [(fpu64.RN, round), (fpu64.RP, math.ceil),
                                              (fpu64.RM, math.floor), (fpu64.RZ, math.trunc)])
def test_round_integral(rounding, python):
    for a in [0.5, 1.5, 2.5, -0.5, -1.5, 2.7, -2.7, 1e20, 0.3]:
        context = fpu64.Context(0)
        result = value(fpu64.round_integral(context, F64, bits(a), rounding, False))
        assert result == float(python(a)) and math.copysign(1, result) == math.copysign(1, a)


def test_max_min_number_prefer_numbers_to_quiet_nans():
    context = fpu64.Context(0)
    assert value(fpu64.max_min_number(context, F64, bits(math.nan), bits(2.0), True)) == 2.0
    assert value(fpu64.max_min_number(context, F64, bits(-1.0), bits(2.0), False)) == -1.0
    assert fpu64.max_min_number(context, F64, bits(-0.0), bits(0.0), True) == bits(0.0)


def test_it_state_helpers():
    # ITTE GT: GT for two instructions, then LE.
    state = 0b11000110
    xpsr_gt = 0x00000000            # Z=0, N=V: GT holds
    assert condition_passed(state >> 4, xpsr_gt)
    state = advance_it(state)
    assert condition_passed(state >> 4, xpsr_gt)
    state = advance_it(state)
    assert not condition_passed(state >> 4, xpsr_gt)
    assert advance_it(state) == 0


# --- Through Unicorn: the invalid-instruction hook executes what Unicorn refuses ----------

TOOLCHAIN = shutil.which("arm-none-eabi-as")
needs_assembler = pytest.mark.skipif(TOOLCHAIN is None, reason="arm-none-eabi-as is not "
                                     "installed (the firmware toolchain)")
CODE_BASE = 0x1000


def assemble(source, directory):
    (directory / "code.s").write_text(".syntax unified\n.thumb\n" + source + "\nbkpt #0\n")
    subprocess.run([TOOLCHAIN, "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mthumb", "-o",
                    str(directory / "code.o"), str(directory / "code.s")], check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(directory / "code.o"),
                    str(directory / "code.bin")], check=True)
    return (directory / "code.bin").read_bytes()


def execute(code, doubles=(), core=()):
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(uc_arm.UC_CPU_ARM_CORTEX_M7)
    uc.mem_map(CODE_BASE, 0x1000)
    uc.mem_write(CODE_BASE, code)
    for index, number in enumerate(doubles):
        uc.reg_write(uc_arm.UC_ARM_REG_D0 + index, bits(number))
    for index, number in enumerate(core):
        uc.reg_write(uc_arm.UC_ARM_REG_R0 + index, number)
    emulator = VfpEmulator(uc)
    uc.hook_add(UC_HOOK_INSN_INVALID, emulator.on_invalid)
    uc.hook_add(UC_HOOK_INTR, lambda uc, number, _data: uc.emu_stop())
    uc.emu_start(CODE_BASE | 1, CODE_BASE + len(code))
    return uc, emulator


def d(uc, index):
    return value(uc.reg_read(uc_arm.UC_ARM_REG_D0 + index))


@needs_assembler
@pytest.mark.parametrize("instruction, python", [
    ("vadd.f64 d2, d0, d1", lambda a, b, c: a + b),
    ("vsub.f64 d2, d0, d1", lambda a, b, c: a - b),
    ("vmul.f64 d2, d0, d1", lambda a, b, c: a * b),
    ("vdiv.f64 d2, d0, d1", lambda a, b, c: a / b),
    ("vnmul.f64 d2, d0, d1", lambda a, b, c: -(a * b)),
    ("vneg.f64 d2, d0", lambda a, b, c: -a),
    ("vabs.f64 d2, d0", lambda a, b, c: abs(a)),
    ("vsqrt.f64 d2, d1", lambda a, b, c: math.sqrt(b) if b >= 0 else math.nan),
    ("vmov.f64 d2, d1", lambda a, b, c: b),
    ("vmov.f64 d2, #-2.5", lambda a, b, c: -2.5),
    ("vmla.f64 d2, d0, d1", lambda a, b, c: c + a * b),
    ("vmls.f64 d2, d0, d1", lambda a, b, c: c - a * b),
    ("vnmla.f64 d2, d0, d1", lambda a, b, c: -c - a * b),
    ("vnmls.f64 d2, d0, d1", lambda a, b, c: -c + a * b),
    ("vfma.f64 d2, d0, d1", lambda a, b, c: float(Fraction(c) + Fraction(a) * Fraction(b))),
    ("vfms.f64 d2, d0, d1", lambda a, b, c: float(Fraction(c) - Fraction(a) * Fraction(b))),
    ("vfnma.f64 d2, d0, d1", lambda a, b, c: float(-Fraction(c) - Fraction(a) * Fraction(b))),
    ("vfnms.f64 d2, d0, d1", lambda a, b, c: float(-Fraction(c) + Fraction(a) * Fraction(b))),
    ("vmaxnm.f64 d2, d0, d1", lambda a, b, c: max(a, b)),
    ("vminnm.f64 d2, d0, d1", lambda a, b, c: min(a, b)),
    ("vrintm.f64 d2, d0", lambda a, b, c: float(math.floor(a))),
    ("vrintz.f64 d2, d1", lambda a, b, c: float(math.trunc(b))),
])
def test_instruction_through_unicorn(tmp_path, instruction, python):
    code = assemble(instruction, tmp_path)
    for a, b, c in [(1.25, 3.5, 0.75), (-7.1, 0.3, 1e10), (1e-3, -2.0, -5.5)]:
        uc, emulator = execute(code, (a, b, c))
        result = uc.reg_read(uc_arm.UC_ARM_REG_D2)
        assert same(result, python(a, b, c)), f"{instruction} with {a}, {b}, {c}"
        assert sum(emulator.executed.values()) == 1
        assert uc.reg_read(uc_arm.UC_ARM_REG_PC) == CODE_BASE + len(code) - 2   # at bkpt


@needs_assembler
def test_conversions_through_unicorn(tmp_path):
    code = assemble("vcvt.f64.f32 d1, s0\n"          # s0 = low half of d0
                    "vcvt.f32.f64 s4, d1\n"
                    "vcvt.s32.f64 s6, d1\n"
                    "vcvtr.s32.f64 s7, d1\n"
                    "vmov s8, r0\n"
                    "vcvt.f64.s32 d5, s8\n"
                    "vcvt.f64.u32 d6, s8", tmp_path)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(uc_arm.UC_CPU_ARM_CORTEX_M7)
    uc.mem_map(CODE_BASE, 0x1000)
    uc.mem_write(CODE_BASE, code)
    single = struct.unpack("<I", struct.pack("<f", -2.75))[0]
    uc.reg_write(uc_arm.UC_ARM_REG_S0, single)
    uc.reg_write(uc_arm.UC_ARM_REG_R0, 0xFFFFFFF6)            # -10 signed
    emulator = VfpEmulator(uc)
    uc.hook_add(UC_HOOK_INSN_INVALID, emulator.on_invalid)
    uc.hook_add(UC_HOOK_INTR, lambda uc, number, _data: uc.emu_stop())
    uc.emu_start(CODE_BASE | 1, CODE_BASE + len(code))
    assert d(uc, 1) == -2.75
    assert uc.reg_read(uc_arm.UC_ARM_REG_S4) == single
    assert uc.reg_read(uc_arm.UC_ARM_REG_S6) == (-2) & 0xFFFFFFFF       # toward zero
    assert uc.reg_read(uc_arm.UC_ARM_REG_S7) == (-3) & 0xFFFFFFFF       # to nearest
    assert d(uc, 5) == -10.0 and d(uc, 6) == 4294967286.0


@needs_assembler
@pytest.mark.parametrize("a, b", [(1.0, 2.0), (2.0, 1.0), (3.0, 3.0), (math.nan, 1.0)])
def test_compare_then_branch_on_flags(tmp_path, a, b):
    """vcmp.f64 sets FPSCR; vmrs (run by Unicorn) copies it to APSR."""
    code = assemble("vcmp.f64 d0, d1\n"
                    "vmrs APSR_nzcv, fpscr\n"
                    "ite gt\n"
                    "movgt r0, #1\n"
                    "movle r0, #0", tmp_path)
    uc, _ = execute(code, (a, b))
    assert uc.reg_read(uc_arm.UC_ARM_REG_R0) == int(a > b)


@needs_assembler
@pytest.mark.parametrize("selector, expected", [(1, "sum"), (0, "difference")])
def test_conditional_f64_inside_it_block(tmp_path, selector, expected):
    code = assemble("cmp r0, #1\n"
                    "itte eq\n"
                    "vaddeq.f64 d2, d0, d1\n"
                    "addeq r3, r3, #1\n"
                    "vsubne.f64 d2, d0, d1\n"
                    "add r4, r4, #1", tmp_path)
    uc, emulator = execute(code, (5.0, 2.0), core=(selector, 0, 0, 0, 0))
    assert d(uc, 2) == {"sum": 7.0, "difference": 3.0}[expected]
    assert uc.reg_read(uc_arm.UC_ARM_REG_R3) == selector       # the IT state advanced
    assert uc.reg_read(uc_arm.UC_ARM_REG_R4) == 1               # after the IT block


@pytest.mark.parametrize("rounding", [fpu64.RP, fpu64.RM, fpu64.RZ])
def test_directed_rounding_brackets_the_exact_quotient(rounding):
    for a, b in zip(random_doubles(200, 6), random_doubles(200, 7)):
        if not (math.isfinite(a) and math.isfinite(b)) or b == 0 or a == 0:
            continue
        context = fpu64.Context(rounding << fpu64.RMODE_SHIFT)
        result = value(fpu64.divide(context, F64, bits(a), bits(b)))
        nearest = a / b
        exact = Fraction(a) / Fraction(b)
        assert result in (nearest, math.nextafter(nearest, math.inf),
                          math.nextafter(nearest, -math.inf))
        if math.isfinite(result) and result != 0:
            if rounding == fpu64.RP:
                assert Fraction(result) >= exact
            elif rounding == fpu64.RM:
                assert Fraction(result) <= exact
            else:
                assert abs(Fraction(result)) <= abs(exact)
