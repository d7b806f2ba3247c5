"""Execute the VFP instructions Unicorn rejects in M-class mode.

Unicorn 2 raises UC_ERR_INSN_INVALID on every double-precision data-processing
instruction of the Cortex-M7 (vadd.f64, vcvt.f64.f32, vcmp.f64, even
vmov.f64): the invalid-instruction hook decodes the instruction with capstone
(once per address), computes it with fpu64 on the D/S registers and the
FPSCR, advances PC and the IT state, and lets the run resume. Loads, stores
and core-register moves of D registers run natively and never get here.
"""
import struct
from collections import Counter

import capstone
from capstone import arm as cs_arm
from unicorn import arm_const as uc_arm

from . import fpu64
from .fpu64 import F32, F64

_FORMATS = {"f64": F64, "f32": F32}
_INTEGER_TYPES = {"s32": (True, 32), "u32": (False, 32), "s16": (True, 16), "u16": (False, 16)}
_ROUNDING = {cs_arm.ARM_INS_VCVTA: fpu64.TIES_AWAY, cs_arm.ARM_INS_VCVTN: fpu64.RN,
             cs_arm.ARM_INS_VCVTP: fpu64.RP, cs_arm.ARM_INS_VCVTM: fpu64.RM,
             cs_arm.ARM_INS_VRINTA: fpu64.TIES_AWAY, cs_arm.ARM_INS_VRINTN: fpu64.RN,
             cs_arm.ARM_INS_VRINTP: fpu64.RP, cs_arm.ARM_INS_VRINTM: fpu64.RM,
             cs_arm.ARM_INS_VRINTZ: fpu64.RZ}
# VSEL conditions on the APSR flags N, Z, C, V (bits 31..28 of xPSR).
_SELECT = {cs_arm.ARM_INS_VSELEQ: lambda n, z, c, v: z,
           cs_arm.ARM_INS_VSELGE: lambda n, z, c, v: n == v,
           cs_arm.ARM_INS_VSELGT: lambda n, z, c, v: not z and n == v,
           cs_arm.ARM_INS_VSELVS: lambda n, z, c, v: v}


def condition_passed(condition, xpsr):
    """ARM condition code (0..15) against the xPSR flags."""
    n, z, c, v = (bool(xpsr & (1 << bit)) for bit in (31, 30, 29, 28))
    base = (z, c, n, v, c and not z, n == v, n == v and not z, True)[condition >> 1]
    return base != bool(condition & 1) if condition != 0b1111 else True


def it_state(xpsr):
    return ((xpsr >> 25) & 0b11) | ((xpsr >> 8) & 0b11111100)


def with_it_state(xpsr, state):
    xpsr &= ~((0b11 << 25) | (0b111111 << 10))
    return xpsr | ((state & 0b11) << 25) | ((state >> 2) << 10)


def advance_it(state):
    """ITAdvance() of the ARM ARM."""
    if state & 0b111 == 0:
        return 0
    return (state & 0b11100000) | ((state << 1) & 0b11111)


class Registers:
    """Raw bit patterns of the S and D registers, the FPSCR and the xPSR."""

    def __init__(self, uc):
        self.uc = uc

    def read(self, name):
        bank, index = name[0], int(name[1:])
        if bank == "d":
            return self.uc.reg_read(uc_arm.UC_ARM_REG_D0 + index) & (2 ** 64 - 1)
        return self.uc.reg_read(uc_arm.UC_ARM_REG_S0 + index) & 0xFFFFFFFF

    def write(self, name, bits):
        bank, index = name[0], int(name[1:])
        base = uc_arm.UC_ARM_REG_D0 if bank == "d" else uc_arm.UC_ARM_REG_S0
        self.uc.reg_write(base + index, bits)

    @property
    def fpscr(self):
        return self.uc.reg_read(uc_arm.UC_ARM_REG_FPSCR)

    @fpscr.setter
    def fpscr(self, value):
        self.uc.reg_write(uc_arm.UC_ARM_REG_FPSCR, value)

    @property
    def xpsr(self):
        return self.uc.reg_read(uc_arm.UC_ARM_REG_XPSR)


class Unsupported(Exception):
    """An invalid instruction this module does not execute either."""


def compile_instruction(insn):
    """A function(registers) executing the capstone instruction `insn`, or
    Unsupported. Each function reads its operands, updates the FPSCR flags
    and writes its result."""
    parts = insn.mnemonic.split(".")
    types = parts[1:]
    operands = insn.operands
    names = [insn.reg_name(op.reg) for op in operands if op.type == cs_arm.ARM_OP_REG]
    immediates = [op for op in operands if op.type in (cs_arm.ARM_OP_IMM, cs_arm.ARM_OP_FP)]
    kind = insn.id
    fmt = _FORMATS.get(types[-1]) if types else None

    def arithmetic(function):
        def run(registers):
            context = fpu64.Context(registers.fpscr)
            result = function(context, *(registers.read(name) for name in names[1:]))
            registers.write(names[0], result)
            registers.fpscr = context.fpscr
        return run

    def accumulate(function):
        """Instructions that read their destination as an operand."""
        def run(registers):
            context = fpu64.Context(registers.fpscr)
            values = [registers.read(name) for name in names]
            registers.write(names[0], function(context, *values))
            registers.fpscr = context.fpscr
        return run

    neg = lambda bits: fpu64.negate(fmt, bits)      # noqa: E731

    if fmt is not None and len(types) == 1:
        simple = {
            cs_arm.ARM_INS_VADD: lambda c, a, b: fpu64.add(c, fmt, a, b),
            cs_arm.ARM_INS_VSUB: lambda c, a, b: fpu64.add(c, fmt, a, b, subtract=True),
            cs_arm.ARM_INS_VMUL: lambda c, a, b: fpu64.multiply(c, fmt, a, b),
            cs_arm.ARM_INS_VNMUL: lambda c, a, b: neg(fpu64.multiply(c, fmt, a, b)),
            cs_arm.ARM_INS_VDIV: lambda c, a, b: fpu64.divide(c, fmt, a, b),
            cs_arm.ARM_INS_VSQRT: lambda c, a: fpu64.square_root(c, fmt, a),
            cs_arm.ARM_INS_VABS: lambda c, a: fpu64.absolute(fmt, a),
            cs_arm.ARM_INS_VNEG: lambda c, a: fpu64.negate(fmt, a),
            cs_arm.ARM_INS_VMAXNM: lambda c, a, b: fpu64.max_min_number(c, fmt, a, b, True),
            cs_arm.ARM_INS_VMINNM: lambda c, a, b: fpu64.max_min_number(c, fmt, a, b, False),
            cs_arm.ARM_INS_VRINTR: lambda c, a: fpu64.round_integral(c, fmt, a, c.rounding,
                                                                    False),
            cs_arm.ARM_INS_VRINTX: lambda c, a: fpu64.round_integral(c, fmt, a, c.rounding,
                                                                    True),
        }
        if kind in simple:
            return arithmetic(simple[kind])
        if kind in _ROUNDING and insn.mnemonic.startswith("vrint"):
            rounding = _ROUNDING[kind]
            return arithmetic(lambda c, a: fpu64.round_integral(c, fmt, a, rounding, False))
        mul = lambda c, a, b: fpu64.multiply(c, fmt, a, b)    # noqa: E731
        add = lambda c, a, b: fpu64.add(c, fmt, a, b)         # noqa: E731
        fma = lambda c, a, b, d: fpu64.multiply_add(c, fmt, a, b, d)  # noqa: E731
        accumulating = {
            cs_arm.ARM_INS_VMLA: lambda c, d, n, m: add(c, d, mul(c, n, m)),
            cs_arm.ARM_INS_VMLS: lambda c, d, n, m: add(c, d, neg(mul(c, n, m))),
            cs_arm.ARM_INS_VNMLA: lambda c, d, n, m: add(c, neg(d), neg(mul(c, n, m))),
            cs_arm.ARM_INS_VNMLS: lambda c, d, n, m: add(c, neg(d), mul(c, n, m)),
            cs_arm.ARM_INS_VFMA: lambda c, d, n, m: fma(c, d, n, m),
            cs_arm.ARM_INS_VFMS: lambda c, d, n, m: fma(c, d, neg(n), m),
            cs_arm.ARM_INS_VFNMA: lambda c, d, n, m: fma(c, neg(d), neg(n), m),
            cs_arm.ARM_INS_VFNMS: lambda c, d, n, m: fma(c, neg(d), n, m),
        }
        if kind in accumulating:
            return accumulate(accumulating[kind])
        if kind in _SELECT:
            flags = _SELECT[kind]

            def select(registers):
                xpsr = registers.xpsr
                n, z, c, v = (bool(xpsr & (1 << bit)) for bit in (31, 30, 29, 28))
                source = names[1] if flags(n, z, c, v) else names[2]
                registers.write(names[0], registers.read(source))
            return select
        if kind in (cs_arm.ARM_INS_VCMP, cs_arm.ARM_INS_VCMPE):
            signal = kind == cs_arm.ARM_INS_VCMPE

            def compare(registers):
                context = fpu64.Context(registers.fpscr)
                right = registers.read(names[1]) if len(names) > 1 else 0   # #0.0
                nzcv = fpu64.compare(context, fmt, registers.read(names[0]), right, signal)
                registers.fpscr = (context.fpscr & 0x0FFFFFFF) | (nzcv << fpu64.NZCV_SHIFT)
            return compare
        if kind in (cs_arm.ARM_INS_VMOV, cs_arm.ARM_INS_FCONSTD, cs_arm.ARM_INS_FCONSTS):
            if len(names) == 2:
                return lambda registers: registers.write(names[0], registers.read(names[1]))
            if len(names) == 1 and immediates:
                value = immediates[0].fp if immediates[0].type == cs_arm.ARM_OP_FP \
                    else float(immediates[0].imm)
                packed = struct.pack("<d" if fmt is F64 else "<f", value)
                bits = int.from_bytes(packed, "little")
                return lambda registers: registers.write(names[0], bits)
    if kind in (cs_arm.ARM_INS_VCVT, cs_arm.ARM_INS_VCVTR) or \
            (kind in _ROUNDING and insn.mnemonic.startswith("vcvt")):
        return _conversion(insn, kind, types, names, immediates)
    raise Unsupported(f"{insn.mnemonic} {insn.op_str}")


def _conversion(insn, kind, types, names, immediates):
    if len(types) != 2:
        raise Unsupported(f"{insn.mnemonic} {insn.op_str}")
    target, source = types
    fraction_bits = immediates[0].imm if immediates else 0

    def run_with(function):
        def run(registers):
            context = fpu64.Context(registers.fpscr)
            registers.write(names[0], function(context, registers.read(names[-1])))
            registers.fpscr = context.fpscr
        return run

    if target in _FORMATS and source in _FORMATS:
        return run_with(lambda c, bits: fpu64.convert(c, _FORMATS[source], _FORMATS[target],
                                                      bits))
    if source in _FORMATS and target in _INTEGER_TYPES:
        signed, width = _INTEGER_TYPES[target]
        fixed_point = bool(immediates)

        def to_integer(c, bits):
            rounding = _ROUNDING.get(kind, c.rounding if kind == cs_arm.ARM_INS_VCVTR
                                     else fpu64.RZ)
            result = fpu64.to_integer(c, _FORMATS[source], bits, signed, rounding,
                                      fraction_bits, width)
            if fixed_point and names[0][0] == "d" and signed and result >> (width - 1):
                result |= (2 ** 64 - 1) ^ ((1 << width) - 1)     # sign-extend to 64
            return result
        return run_with(to_integer)
    if target in _FORMATS and source in _INTEGER_TYPES:
        signed, width = _INTEGER_TYPES[source]
        return run_with(lambda c, bits: fpu64.from_integer(c, _FORMATS[target], bits, signed,
                                                           fraction_bits, width))
    raise Unsupported(f"{insn.mnemonic} {insn.op_str}")


# CONTROL.FPCA: an FP context is active. Unicorn's M-profile core also wants
# SFPA (it runs the core in the Secure state); without both, the next native
# FP instruction creates a new FP context and resets FPSCR, losing what an
# emulated instruction wrote there (the flags of a vcmp.f64, say).
CONTROL_FP_ACTIVE = 0b1100


class VfpEmulator:
    """The UC_HOOK_INSN_INVALID handler: executes what it can, refuses the rest
    (the run then stops with an undefined-instruction crash report)."""

    def __init__(self, uc):
        self.uc = uc
        self.registers = Registers(uc)
        self._disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB
                                         | capstone.CS_MODE_MCLASS | capstone.CS_MODE_V8)
        self._disassembler.detail = True
        self._compiled = {}          # address -> (size, function) or None
        self.executed = Counter()    # mnemonic -> count
        self.refused = None          # (address, text) of the last refusal

    def on_invalid(self, uc, _data=None):
        pc = uc.reg_read(uc_arm.UC_ARM_REG_PC)
        entry = self._compiled.get(pc, False)
        if entry is False:
            entry = self._compiled[pc] = self._compile(pc)
        if entry is None:
            return False
        size, mnemonic, function = entry
        xpsr = self.registers.xpsr
        state = it_state(xpsr)
        if state & 0b1111 == 0 or condition_passed(state >> 4, xpsr):
            control = uc.reg_read(uc_arm.UC_ARM_REG_CONTROL)
            if control & CONTROL_FP_ACTIVE != CONTROL_FP_ACTIVE:
                # The first FP instruction of a context: as the core does, start
                # it with the default FPSCR (FPDSCR, 0 in Unicorn) and mark it active.
                self.registers.fpscr = 0
                uc.reg_write(uc_arm.UC_ARM_REG_CONTROL, control | CONTROL_FP_ACTIVE)
            function(self.registers)
            self.executed[mnemonic] += 1
        if state & 0b1111:
            uc.reg_write(uc_arm.UC_ARM_REG_XPSR, with_it_state(self.registers.xpsr,
                                                               advance_it(state)))
        uc.reg_write(uc_arm.UC_ARM_REG_PC, (pc + size) | 1)
        return True

    def _compile(self, pc):
        try:
            code = bytes(self.uc.mem_read(pc, 4))
        except Exception:        # noqa: BLE001 - unreadable: a plain crash
            return None
        insn = next(self._disassembler.disasm(code, pc, 1), None)
        if insn is None:
            self.refused = (pc, "(no valid instruction)")
            return None
        try:
            return insn.size, insn.mnemonic, compile_instruction(insn)
        except Unsupported as error:
            self.refused = (pc, str(error))
            return None
