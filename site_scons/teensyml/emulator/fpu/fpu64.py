"""IEEE 754 arithmetic as the Cortex-M7 FPU performs it, on raw bit patterns.

Unicorn runs single-precision VFP in M-class mode but raises an invalid
instruction on every double-precision data-processing instruction, so the
emulator executes those itself (vfp.py) with these functions. They follow the
ARMv7-M "Floating-point pseudocode": NaN propagation (signalling NaNs first,
then quiet ones, in operand order), the default-NaN (DN) and flush-to-zero
(FZ) modes, the four rounding modes, and the cumulative FPSCR exception flags.

Values are bit patterns (ints) so NaN payloads and signed zeros survive; the
arithmetic is exact (fractions.Fraction) and rounded once, which is what
"fused" and "correctly rounded" mean. Double-precision instructions are rare
in TFLM (quantization set-up), so exactness costs nothing that matters.
"""
import math
from dataclasses import dataclass
from fractions import Fraction

# FPSCR: cumulative exception flags, modes, condition flags.
IOC, DZC, OFC, UFC, IXC, IDC = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 7
FZ, DN = 1 << 24, 1 << 25
RMODE_SHIFT = 22
NZCV_SHIFT = 28
RN, RP, RM, RZ = 0, 1, 2, 3           # FPSCR.RMode encodings
TIES_AWAY = 4                         # VRINTA / VCVTA only, never in FPSCR

ZERO, FINITE, INF, QNAN, SNAN = "zero", "finite", "inf", "qnan", "snan"


@dataclass(frozen=True)
class Format:
    width: int
    exponent_bits: int
    fraction_bits: int

    @property
    def bias(self):
        return (1 << (self.exponent_bits - 1)) - 1

    @property
    def sign_bit(self):
        return 1 << (self.width - 1)

    @property
    def exponent_mask(self):
        return ((1 << self.exponent_bits) - 1) << self.fraction_bits

    @property
    def quiet_bit(self):
        return 1 << (self.fraction_bits - 1)

    @property
    def default_nan(self):
        return self.exponent_mask | self.quiet_bit

    @property
    def min_exponent(self):
        return 1 - self.bias

    def infinity(self, negative):
        return (self.sign_bit if negative else 0) | self.exponent_mask

    def zero(self, negative):
        return self.sign_bit if negative else 0

    def max_finite(self, negative):
        return (self.sign_bit if negative else 0) | (self.exponent_mask - 1)


F64 = Format(64, 11, 52)
F32 = Format(32, 8, 23)


class Context:
    """The FPSCR an instruction reads (modes) and updates (flags)."""

    def __init__(self, fpscr):
        self.fpscr = fpscr

    @property
    def rounding(self):
        return (self.fpscr >> RMODE_SHIFT) & 3

    @property
    def flush_to_zero(self):
        return bool(self.fpscr & FZ)

    def flag(self, bits):
        self.fpscr |= bits


@dataclass(frozen=True)
class Operand:
    kind: str
    negative: bool
    value: Fraction       # magnitude with sign; 0 for zeros, NaNs and infinities
    bits: int


def unpack(bits, fmt, ctx):
    """Classify an operand; denormals become zeros (IDC) under FZ."""
    negative = bool(bits & fmt.sign_bit)
    exponent = (bits & fmt.exponent_mask) >> fmt.fraction_bits
    fraction = bits & ((1 << fmt.fraction_bits) - 1)
    if exponent == (1 << fmt.exponent_bits) - 1:
        if fraction == 0:
            return Operand(INF, negative, Fraction(0), bits)
        return Operand(QNAN if fraction & fmt.quiet_bit else SNAN, negative, Fraction(0), bits)
    if exponent == 0:
        if fraction == 0 or ctx.flush_to_zero:
            if fraction:
                ctx.flag(IDC)
            return Operand(ZERO, negative, Fraction(0), fmt.zero(negative))
        magnitude = Fraction(fraction) * Fraction(2) ** (fmt.min_exponent - fmt.fraction_bits)
    else:
        magnitude = Fraction((1 << fmt.fraction_bits) | fraction) * \
            Fraction(2) ** (exponent - fmt.bias - fmt.fraction_bits)
    return Operand(FINITE, negative, -magnitude if negative else magnitude, bits)


def _nan_result(ctx, fmt, bits):
    return fmt.default_nan if ctx.fpscr & DN else bits


def process_nans(ctx, fmt, *operands):
    """The NaN result of an operation, or None when no operand is a NaN:
    the first signalling NaN (quietened, IOC), else the first quiet NaN."""
    for operand in operands:
        if operand.kind == SNAN:
            ctx.flag(IOC)
            return _nan_result(ctx, fmt, operand.bits | fmt.quiet_bit)
    for operand in operands:
        if operand.kind == QNAN:
            return _nan_result(ctx, fmt, operand.bits)
    return None


def invalid(ctx, fmt):
    ctx.flag(IOC)
    return fmt.default_nan


def round_to(ctx, fmt, exact, rounding=None):
    """The bit pattern of the non-zero rational `exact` rounded to `fmt`,
    raising OFC/UFC/IXC as FPRound does (tininess detected before rounding)."""
    rounding = ctx.rounding if rounding is None else rounding
    negative = exact < 0
    magnitude = -exact if negative else exact
    if ctx.flush_to_zero and magnitude < Fraction(2) ** fmt.min_exponent:
        ctx.flag(UFC)
        return fmt.zero(negative)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    exponent = max(exponent, fmt.min_exponent)
    scaled = magnitude / Fraction(2) ** (exponent - fmt.fraction_bits)
    significand = _round_integer(scaled, rounding, negative)
    inexact = significand != scaled
    if significand == 1 << (fmt.fraction_bits + 1):
        significand >>= 1
        exponent += 1
    if exponent > fmt.bias:
        ctx.flag(OFC | IXC)
        to_infinity = rounding == RN or rounding == TIES_AWAY or \
            (rounding == RP and not negative) or (rounding == RM and negative)
        return fmt.infinity(negative) if to_infinity else fmt.max_finite(negative)
    if inexact:
        ctx.flag(IXC)
        if magnitude < Fraction(2) ** fmt.min_exponent:
            ctx.flag(UFC)
    sign = fmt.sign_bit if negative else 0
    if significand < 1 << fmt.fraction_bits:       # subnormal
        return sign | significand
    biased = exponent + fmt.bias
    return sign | (biased << fmt.fraction_bits) | (significand - (1 << fmt.fraction_bits))


def _round_integer(value, rounding, negative):
    """Round a non-negative rational magnitude to an integer; directed modes
    look at the sign of the number it belongs to."""
    floor = math.floor(value)
    if floor == value:
        return floor
    if rounding == RZ or (rounding == RP and negative) or (rounding == RM and not negative):
        return floor
    if rounding in (RP, RM):
        return floor + 1
    half = value - floor
    if half > Fraction(1, 2) or (half == Fraction(1, 2) and
                                 (rounding == TIES_AWAY or floor % 2 == 1)):
        return floor + 1
    return floor


def _exact_zero(ctx, fmt, negative_if_same=None):
    """The zero an exact-zero sum gives: the operands' sign when both zeros
    agree, else +0 (-0 when rounding toward minus infinity)."""
    if negative_if_same is not None:
        return fmt.zero(negative_if_same)
    return fmt.zero(ctx.rounding == RM)


def add(ctx, fmt, a_bits, b_bits, subtract=False):
    a, b = unpack(a_bits, fmt, ctx), unpack(b_bits, fmt, ctx)
    nan = process_nans(ctx, fmt, a, b)
    if nan is not None:
        return nan
    b_negative = b.negative != subtract
    if a.kind == INF and b.kind == INF and a.negative != b_negative:
        return invalid(ctx, fmt)
    if a.kind == INF:
        return fmt.infinity(a.negative)
    if b.kind == INF:
        return fmt.infinity(b_negative)
    exact = a.value + (-b.value if subtract else b.value)
    if exact == 0:
        same = a.negative if a.kind == ZERO and b.kind == ZERO and a.negative == b_negative \
            else None
        return _exact_zero(ctx, fmt, same)
    return round_to(ctx, fmt, exact)


def multiply(ctx, fmt, a_bits, b_bits):
    a, b = unpack(a_bits, fmt, ctx), unpack(b_bits, fmt, ctx)
    nan = process_nans(ctx, fmt, a, b)
    if nan is not None:
        return nan
    negative = a.negative != b.negative
    if (a.kind == INF and b.kind == ZERO) or (a.kind == ZERO and b.kind == INF):
        return invalid(ctx, fmt)
    if a.kind == INF or b.kind == INF:
        return fmt.infinity(negative)
    if a.kind == ZERO or b.kind == ZERO:
        return fmt.zero(negative)
    return round_to(ctx, fmt, a.value * b.value)


def divide(ctx, fmt, a_bits, b_bits):
    a, b = unpack(a_bits, fmt, ctx), unpack(b_bits, fmt, ctx)
    nan = process_nans(ctx, fmt, a, b)
    if nan is not None:
        return nan
    negative = a.negative != b.negative
    if (a.kind == INF and b.kind == INF) or (a.kind == ZERO and b.kind == ZERO):
        return invalid(ctx, fmt)
    if a.kind == INF or b.kind == ZERO:
        if b.kind == ZERO and a.kind != INF:
            ctx.flag(DZC)
        return fmt.infinity(negative)
    if a.kind == ZERO or b.kind == INF:
        return fmt.zero(negative)
    return round_to(ctx, fmt, a.value / b.value)


def multiply_add(ctx, fmt, addend_bits, a_bits, b_bits):
    """addend + a*b with a single rounding (FPMulAdd). VFMS, VFNMA and VFNMS
    negate operands (bit flips, NaNs included) before calling this."""
    c, a, b = (unpack(bits, fmt, ctx) for bits in (addend_bits, a_bits, b_bits))
    nan = process_nans(ctx, fmt, c, a, b)
    inf_times_zero = (a.kind == INF and b.kind == ZERO) or (a.kind == ZERO and b.kind == INF)
    if c.kind == QNAN and inf_times_zero:
        return invalid(ctx, fmt)
    if nan is not None:
        return nan
    product_negative = a.negative != b.negative
    product_inf = a.kind == INF or b.kind == INF
    if inf_times_zero or (c.kind == INF and product_inf and c.negative != product_negative):
        return invalid(ctx, fmt)
    if c.kind == INF:
        return fmt.infinity(c.negative)
    if product_inf:
        return fmt.infinity(product_negative)
    exact = c.value + a.value * b.value
    if exact == 0:
        product_zero = a.kind == ZERO or b.kind == ZERO
        same = c.negative if c.kind == ZERO and product_zero and \
            c.negative == product_negative else None
        return _exact_zero(ctx, fmt, same)
    return round_to(ctx, fmt, exact)


def square_root(ctx, fmt, a_bits):
    a = unpack(a_bits, fmt, ctx)
    nan = process_nans(ctx, fmt, a)
    if nan is not None:
        return nan
    if a.kind == ZERO:
        return a.bits
    if a.negative:
        return invalid(ctx, fmt)
    if a.kind == INF:
        return a.bits
    # The exact root is irrational in general: bracket it between the two
    # neighbouring rationals of a 2*(p+2)-bit integer root, which rounds the
    # same way as the real number (it is never exactly halfway).
    shift = 2 * (fmt.fraction_bits + 3)
    scale_exponent = (a.value.numerator.bit_length() - a.value.denominator.bit_length())
    even = scale_exponent - scale_exponent % 2
    scaled = a.value / Fraction(2) ** even * Fraction(2) ** (2 * shift)
    root = math.isqrt(math.floor(scaled))
    exact = Fraction(root) ** 2 == scaled
    approximation = Fraction(root) if exact else Fraction(2 * root + 1, 2)
    value = approximation * Fraction(2) ** (even // 2 - shift)
    return round_to(ctx, fmt, value)


def compare(ctx, fmt, a_bits, b_bits, quiet_nans_signal):
    """NZCV (4 bits) of VCMP (quiet_nans_signal False) or VCMPE (True)."""
    a, b = unpack(a_bits, fmt, ctx), unpack(b_bits, fmt, ctx)
    if a.kind in (QNAN, SNAN) or b.kind in (QNAN, SNAN):
        if quiet_nans_signal or SNAN in (a.kind, b.kind):
            ctx.flag(IOC)
        return 0b0011
    left, right = _ordered(a), _ordered(b)
    if left == right:
        return 0b0110
    return 0b1000 if left < right else 0b0010


def _ordered(operand):
    if operand.kind == INF:
        return -math.inf if operand.negative else math.inf
    return operand.value


def convert(ctx, source, target, bits):
    """VCVT between F32 and F64 (the FPSCR rounding mode)."""
    a = unpack(bits, source, ctx)
    if a.kind in (QNAN, SNAN):
        if a.kind == SNAN:
            ctx.flag(IOC)
        if ctx.fpscr & DN:
            return target.default_nan
        payload = (a.bits & ((1 << source.fraction_bits) - 1)) | source.quiet_bit
        shift = target.fraction_bits - source.fraction_bits
        payload = payload << shift if shift >= 0 else payload >> -shift
        return (target.sign_bit if a.negative else 0) | target.exponent_mask | payload
    if a.kind == INF:
        return target.infinity(a.negative)
    if a.kind == ZERO:
        return target.zero(a.negative)
    return round_to(ctx, target, a.value)


def to_integer(ctx, fmt, bits, signed, rounding, fraction_bits=0, width=32):
    """VCVT to a (fixed-point) integer: saturating, NaN gives 0 (IOC).
    Returns the result as an unsigned `width`-bit pattern."""
    a = unpack(bits, fmt, ctx)
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if a.kind in (QNAN, SNAN):
        ctx.flag(IOC)
        return 0
    if a.kind == INF:
        ctx.flag(IOC)
        return (low if a.negative else high) & ((1 << width) - 1)
    scaled = a.value * (1 << fraction_bits)
    magnitude = _round_integer(abs(scaled), rounding, scaled < 0)
    result = -magnitude if scaled < 0 else magnitude
    if result < low or result > high:
        ctx.flag(IOC)
        result = low if result < low else high
    elif result != scaled:
        ctx.flag(IXC)
    return result & ((1 << width) - 1)


def from_integer(ctx, fmt, value, signed, fraction_bits=0, width=32):
    """VCVT from a (fixed-point) integer held as an unsigned `width`-bit pattern."""
    value &= (1 << width) - 1
    if signed and value & (1 << (width - 1)):
        value -= 1 << width
    if value == 0:
        return fmt.zero(False)
    return round_to(ctx, fmt, Fraction(value, 1 << fraction_bits))


def round_integral(ctx, fmt, bits, rounding, signal_inexact):
    """VRINT{A,N,P,M,Z,R,X}: round to an integral value in the same format."""
    a = unpack(bits, fmt, ctx)
    nan = process_nans(ctx, fmt, a)
    if nan is not None:
        return nan
    if a.kind in (INF, ZERO):
        return a.bits if a.kind == INF else fmt.zero(a.negative)
    magnitude = _round_integer(abs(a.value), rounding, a.negative)
    if signal_inexact and magnitude != abs(a.value):
        ctx.flag(IXC)
    if magnitude == 0:
        return fmt.zero(a.negative)
    # Exact: a value of 2**fraction_bits or more is integral already.
    return round_to(ctx, fmt, Fraction(-magnitude if a.negative else magnitude))


def max_min_number(ctx, fmt, a_bits, b_bits, maximum):
    """VMAXNM/VMINNM: IEEE 754-2008 maxNum/minNum (a quiet NaN loses)."""
    a, b = unpack(a_bits, fmt, ctx), unpack(b_bits, fmt, ctx)
    if a.kind == QNAN and b.kind not in (QNAN, SNAN):
        return b.bits
    if b.kind == QNAN and a.kind not in (QNAN, SNAN):
        return a.bits
    nan = process_nans(ctx, fmt, a, b)
    if nan is not None:
        return nan
    if a.kind == ZERO and b.kind == ZERO:
        negative = (a.negative and b.negative) if maximum else (a.negative or b.negative)
        return fmt.zero(negative)
    left, right = _ordered(a), _ordered(b)
    pick_a = left > right if maximum else left < right
    return a.bits if pick_a or left == right else b.bits


def negate(fmt, bits):
    return bits ^ fmt.sign_bit


def absolute(fmt, bits):
    return bits & ~fmt.sign_bit
