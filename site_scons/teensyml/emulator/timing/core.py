"""The core's share of the calibrated model: a static cost per translated
block, computed once when the block is first seen.

Each instruction gets a class (what unit it needs, how many cycles it
occupies the issue stage, when its result is usable), then the block is
scheduled in order on a two-wide issue stage with the pairing rules of
parameters.CoreTiming. The block's cost is the cycle after its last issue,
plus the cost of the branch that ends it when that is static (direct and
indirect branches); conditional branches are charged at run time, where
the branch predictor (timing.c) knows whether they were taken.

Registers are all ready at a block's start: a stall across two blocks (a
load at the end of one used at the start of the next) is not modelled.
"""
from dataclasses import dataclass

import capstone
from capstone import arm_const as arm

# --- instruction classes ------------------------------------------------------------
ALU, SHIFTED, DSP, LOAD, STORE, MULTIPLY, DIVIDE, BRANCH, VFP, VFP_DOUBLE, \
    VFP_DIVIDE, VFP_DOUBLE_DIVIDE, VFP_MOVE, LOAD_MULTIPLE, STORE_MULTIPLE, SERIAL = range(16)

LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrd", "ldrex", "ldrexb", "ldrexh",
         "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht", "vldr", "pld", "pli", "lda", "ldab",
         "ldah", "ldaex"}
STORES = {"str", "strb", "strh", "strd", "strex", "strexb", "strexh", "strt", "strbt", "strht",
          "vstr", "stl", "stlb", "stlh"}
LOAD_MULTIPLES = {"ldm", "ldmia", "ldmdb", "ldmfd", "pop", "vldmia", "vldmdb", "vpop", "vldm"}
STORE_MULTIPLES = {"stm", "stmia", "stmdb", "stmfd", "push", "vstmia", "vstmdb", "vpush", "vstm"}
MULTIPLIES = {"mul", "muls", "mla", "mls", "smull", "umull", "smlal", "umlal", "umaal",
              "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt", "smlabb", "smlabt",
              "smlatb", "smlatt", "smlawb", "smlawt", "smlalbb", "smlalbt", "smlaltb",
              "smlaltt", "smmul", "smmulr", "smmla", "smmlar", "smmls", "smmlsr", "smlad",
              "smladx", "smlsd", "smlsdx", "smuad", "smuadx", "smusd", "smusdx", "smlald",
              "smlaldx", "smlsld", "smlsldx", "usad8", "usada8"}
# Saturating and SIMD arithmetic, byte reversal, packing: the older slot only.
DSP_PREFIXES = ("sadd", "ssub", "sasx", "ssax", "uadd", "usub", "uasx", "usax", "qadd",
                "qsub", "qasx", "qsax", "qdadd", "qdsub", "shadd", "shsub", "uhadd", "uhsub",
                "uqadd", "uqsub", "sxtab16", "sxtb16", "uxtab16", "uxtb16", "ssat", "usat",
                "pkh", "sel", "rev", "rbit")
# Shifted-operand class: shifts, extends, bitfields (one per cycle).
SHIFTS = {"lsl", "lsr", "asr", "ror", "rrx", "lsls", "lsrs", "asrs", "rors", "sxtb", "sxth",
          "uxtb", "uxth", "sxtab", "sxtah", "uxtab", "uxtah", "ubfx", "sbfx", "bfi", "bfc"}
DIVIDES = {"sdiv", "udiv"}
SERIALISING = {"isb", "dsb", "dmb", "wfi", "wfe", "svc", "bkpt", "cpsid", "cpsie", "msr", "mrs"}
BRANCHES = {"b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh"}

# How a block ends, for timing.c (flags of a learned block).
ENDS_CONDITIONAL = 1         # conditional branch: predicted at run time
ENDS_BACKWARD = 2            # ... whose target lies before it (predicted taken at first)
ENDS_OPEN = 4                # its last cycle issues one instruction: a slot is free ...
STARTS_ALONE = 8             # ... that this block's first instruction, alone in its
#                              cycle and able to be the younger of a pair, can take


@dataclass
class InstructionTiming:
    unit: int
    issue: int = 1           # cycles it occupies the issue stage
    latency: int = 1         # cycles from issue until its result is usable
    reads: tuple = ()
    writes: tuple = ()
    shifted: bool = False
    early: tuple = ()        # inputs needed a cycle early: shifted operands, addresses


@dataclass
class BlockTiming:
    cost: int                # static cycles of one execution
    offsets: dict            # instruction address -> cycle it issues, from block start
    flags: int               # ENDS_* of timing.c
    instructions: int


def _base_mnemonic(instruction):
    name = instruction.mnemonic.split(".")[0]
    if instruction.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID) and len(name) > 2 \
            and name[-2:] in CONDITION_SUFFIXES and name[:-2] in KNOWN_ROOTS:
        name = name[:-2]
    return name


CONDITION_SUFFIXES = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls",
                      "ge", "lt", "gt", "le", "al"}
KNOWN_ROOTS = LOADS | STORES | LOAD_MULTIPLES | STORE_MULTIPLES | MULTIPLIES | SHIFTS | \
    DIVIDES | BRANCHES | {"mov", "movs", "add", "adds", "sub", "subs", "and", "orr", "eor",
                          "bic", "mvn", "cmp", "cmn", "tst", "teq", "adc", "sbc", "rsb"}


def _registers(instruction):
    """(read, written) register names; flags as 'apsr', d registers as s pairs."""
    try:
        read, written = instruction.regs_access()
    except capstone.CsError:
        read, written = (), ()
    reads = _expand(instruction.reg_name(r) for r in read)
    writes = _expand(instruction.reg_name(r) for r in written)
    if instruction.update_flags:
        writes.add("apsr")
    if instruction.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID):
        reads.add("apsr")
    return tuple(reads), tuple(writes)


def _expand(names):
    out = set()
    for name in names:
        if name is None:
            continue
        if name.startswith("d") and name[1:].isdigit():
            number = int(name[1:])
            out.update((f"s{2 * number}", f"s{2 * number + 1}"))
        elif name not in ("itstate",):
            out.add(name)
    return out


def _address_registers(instruction):
    """Base and index registers of memory operands (the address generator
    needs them a cycle before the ALU would)."""
    for op in instruction.operands:
        if op.type == arm.ARM_OP_MEM:
            for register in (op.mem.base, op.mem.index):
                if register:
                    yield instruction.reg_name(register)


def _is_double(instruction):
    return any(instruction.reg_name(op.reg).startswith("d")
               for op in instruction.operands if op.type == arm.ARM_OP_REG)


def _has_shifted_operand(instruction):
    for op in instruction.operands:
        if op.shift.type not in (arm.ARM_SFT_INVALID, 0) and op.shift.value:
            return True
        if op.type == arm.ARM_OP_IMM and not 0 <= op.imm <= 255 and \
                _base_mnemonic(instruction) not in BRANCHES:
            return True
    return False


def classify(instruction, core):
    """The InstructionTiming of one capstone instruction (detail on)."""
    name = _base_mnemonic(instruction)
    reads, writes = _registers(instruction)
    timing = InstructionTiming(ALU, reads=reads, writes=writes, latency=core.alu_latency)
    timing.early = tuple(_address_registers(instruction))
    registers = sum(1 for op in instruction.operands if op.type == arm.ARM_OP_REG)
    writes_pc = "pc" in writes
    if name in LOAD_MULTIPLES or name in STORE_MULTIPLES:
        count = max(1, registers - (0 if name in ("pop", "push", "vpop", "vpush") else 1))
        words = count * (2 if _is_double(instruction) else 1)
        timing.unit = LOAD_MULTIPLE if name in LOAD_MULTIPLES else STORE_MULTIPLE
        timing.issue = max(1, (words + 1) // 2)          # 64 bits a cycle
        timing.latency = core.load_latency
    elif name in LOADS:
        timing.unit, timing.latency = LOAD, core.load_latency
    elif name in STORES:
        timing.unit = STORE
    elif name in MULTIPLIES:
        timing.unit, timing.latency = MULTIPLY, core.multiply_latency
    elif name in DIVIDES:
        timing.unit, timing.issue = DIVIDE, core.divide_cycles
    elif name.startswith(("vdiv", "vsqrt")):
        double = _is_double(instruction)
        timing.unit = VFP_DOUBLE_DIVIDE if double else VFP_DIVIDE
        timing.issue = core.vfp_double_divide_cycles if double else core.vfp_divide_cycles
        timing.latency = timing.issue
    elif name.startswith("v"):
        if name in ("vmov", "vmrs", "vmsr") and not _is_double(instruction):
            timing.unit = VFP_MOVE
        elif _is_double(instruction) and name not in ("vmov",):
            timing.unit, timing.issue = VFP_DOUBLE, core.vfp_double_issue
            timing.latency = core.vfp_latency + 1
        else:
            timing.unit, timing.latency = VFP, core.vfp_latency
    elif name in SERIALISING:
        timing.unit = SERIAL
    elif name.startswith(DSP_PREFIXES):
        timing.unit = DSP
    elif name in SHIFTS or _has_shifted_operand(instruction):
        timing.unit, timing.shifted = SHIFTED, True
        timing.early = reads
    if name in BRANCHES or writes_pc:
        timing.unit = BRANCH if timing.unit in (ALU, SHIFTED) else timing.unit
    return timing


def _pairs(first, second):
    """May `second` issue in the same cycle as `first` (resources only)?"""
    if first.issue > 1 or second.issue > 1:
        return False
    units = (first.unit, second.unit)
    if SERIAL in units or DIVIDE in units:
        return False
    memory = {LOAD, STORE, LOAD_MULTIPLE, STORE_MULTIPLE}
    if first.unit in memory and second.unit in memory and units != (LOAD, LOAD):
        return False
    if units == (MULTIPLY, MULTIPLY) or units.count(BRANCH) == 2:
        return False
    if first.shifted and second.shifted:
        return False
    if second.unit == DSP:                      # DSP only as the older of a pair
        return False
    fpu = {VFP, VFP_DOUBLE, VFP_DIVIDE, VFP_DOUBLE_DIVIDE}
    if first.unit in fpu and second.unit in fpu:
        return False
    if set(first.writes) & set(second.writes) - {"apsr"}:
        return False
    return True


def schedule(timings, core):
    """(cost, issue cycle of each instruction, last cycle left open) of
    instructions in order."""
    ready = {}
    cycle = -1                 # the cycle the last instruction issued in
    open_slot = None           # the instruction alone in `cycle`, if pairing is possible
    offsets = []
    for timing in timings:
        needed = 0
        for register in timing.reads:
            if register in ready:           # produced inside this block
                needed = max(needed, ready[register]
                             + (core.shifted_operand_early if register in timing.early else 0))
        if open_slot is not None and needed <= cycle and _pairs(open_slot, timing):
            issue = cycle
            open_slot = None
        else:
            issue = max(cycle + 1, needed)
            cycle = issue + timing.issue - 1
            open_slot = timing
        offsets.append(issue)
        done = issue + max(timing.latency, timing.issue)
        for register in timing.writes:
            ready[register] = done
    return cycle + 1, offsets, open_slot is not None


class BlockCoster:
    """Decodes a block (capstone, detail on) and computes its BlockTiming."""

    def __init__(self, core):
        self.core = core
        self._disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB
                                         | capstone.CS_MODE_MCLASS | capstone.CS_MODE_V8)
        self._disassembler.detail = True

    def cost(self, code, start):
        instructions = list(self._disassembler.disasm(code, start))
        timings = [classify(instruction, self.core) for instruction in instructions]
        cycles, offsets, open_end = schedule(timings, self.core)
        addresses = [instruction.address for instruction in instructions]
        decoded = sum(instruction.size for instruction in instructions)
        # Bytes capstone cannot decode (rare): one cycle per halfword.
        cycles += max(0, len(code) - decoded) // 2
        flags = 0
        if instructions:
            cycles += self._branch_cost(instructions[-1], timings[-1])
            flags = self._branch_flags(instructions[-1]) | (ENDS_OPEN if open_end else 0)
            alone = len(offsets) == 1 or offsets[1] != offsets[0]
            if alone and timings[0].issue == 1 and timings[0].unit not in (DSP, SERIAL):
                flags |= STARTS_ALONE
        return BlockTiming(cycles, dict(zip(addresses, offsets)), flags, len(instructions))

    def _branch_cost(self, last, timing):
        """Static cycles of the branch that ends a block: conditional ones are
        charged at run time (timing.c's predictor)."""
        if not (_base_mnemonic(last) in BRANCHES or "pc" in timing.writes) \
                or _is_conditional_branch(last):
            return 0
        name = _base_mnemonic(last)
        direct = name in ("b", "bl") or (name == "blx" and last.operands
                                         and last.operands[0].type == arm.ARM_OP_IMM)
        return self.core.taken_branch_cycles if direct else self.core.indirect_branch_cycles

    @staticmethod
    def _branch_flags(last):
        if not _is_conditional_branch(last):
            return 0
        target = last.operands[-1].imm if last.operands and \
            last.operands[-1].type == arm.ARM_OP_IMM else last.address + last.size
        return ENDS_CONDITIONAL | (ENDS_BACKWARD if target <= last.address else 0)


def _is_conditional_branch(instruction):
    """B<cond>, CBZ, CBNZ: the branches the predictor guesses."""
    name = _base_mnemonic(instruction)
    return name in ("cbz", "cbnz") or (
        name == "b" and instruction.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID))
