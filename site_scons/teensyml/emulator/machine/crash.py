"""The crash report: what faulted, where, and in which function.

The emulator stops at the first fault instead of entering the firmware's
fault handler, and reports it the way the Cortex-M7 would classify it
(ARMv7-M fault status names), with the faulting instruction disassembled and
PC/LR placed in the ELF's functions (and source lines when the ELF has them).
"""
from dataclasses import dataclass, field

import capstone
from unicorn import arm_const as uc_arm

REGISTERS = [("r0", uc_arm.UC_ARM_REG_R0), ("r1", uc_arm.UC_ARM_REG_R1),
             ("r2", uc_arm.UC_ARM_REG_R2), ("r3", uc_arm.UC_ARM_REG_R3),
             ("r4", uc_arm.UC_ARM_REG_R4), ("r5", uc_arm.UC_ARM_REG_R5),
             ("r6", uc_arm.UC_ARM_REG_R6), ("r7", uc_arm.UC_ARM_REG_R7),
             ("r8", uc_arm.UC_ARM_REG_R8), ("r9", uc_arm.UC_ARM_REG_R9),
             ("r10", uc_arm.UC_ARM_REG_R10), ("r11", uc_arm.UC_ARM_REG_R11),
             ("r12", uc_arm.UC_ARM_REG_R12), ("sp", uc_arm.UC_ARM_REG_SP),
             ("lr", uc_arm.UC_ARM_REG_LR), ("pc", uc_arm.UC_ARM_REG_PC),
             ("xpsr", uc_arm.UC_ARM_REG_XPSR)]

_DISASSEMBLER = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB
                            | capstone.CS_MODE_MCLASS | capstone.CS_MODE_V8)


@dataclass
class Fault:
    kind: str                 # BusFault, MemManage, UsageFault, Breakpoint, ...
    detail: str               # one sentence: what happened
    address: int = None       # the faulting data address (BFAR/MMFAR), if any


@dataclass
class CrashReport:
    fault: Fault
    registers: dict
    instruction: str = ""
    places: dict = field(default_factory=dict)    # "pc"/"lr" -> "func+0x10 (file:line)"
    notes: list = field(default_factory=list)

    @property
    def pc(self):
        return self.registers["pc"]

    @property
    def lr(self):
        return self.registers["lr"]

    def function(self, which="pc"):
        """The function name of PC (or LR), without offset, or None."""
        place = self.places.get(which, "?")
        return None if place.startswith("?") else place.split("+", 1)[0].split(" (", 1)[0]

    def lines(self):
        fault = self.fault
        head = f"crash: {fault.kind}: {fault.detail}"
        lines = [head,
                 f"  PC   0x{self.pc:08X}  {self.places.get('pc', '?')}"
                 + (f"   {self.instruction}" if self.instruction else ""),
                 f"  LR   0x{self.lr:08X}  {self.places.get('lr', '?')}"]
        if fault.address is not None:
            lines.append(f"  ADDR 0x{fault.address:08X}")
        names = [name for name, _ in REGISTERS if name not in ("pc", "lr")]
        for start in range(0, len(names), 6):
            lines.append("  " + "  ".join(f"{name}={self.registers[name]:08x}"
                                          for name in names[start:start + 6]))
        lines += [f"  {note}" for note in self.notes]
        return lines


def capture(uc, fault, symbols=None, notes=()):
    """The CrashReport of the machine state at a fault."""
    registers = {name: uc.reg_read(register) & 0xFFFFFFFF for name, register in REGISTERS}
    report = CrashReport(fault, registers, notes=list(notes))
    try:
        code = bytes(uc.mem_read(registers["pc"] & ~1, 4))
        insn = next(_DISASSEMBLER.disasm(code, registers["pc"] & ~1, 1), None)
        if insn is not None:
            report.instruction = f"{insn.mnemonic} {insn.op_str}".strip()
    except Exception:        # noqa: BLE001 - no code there (a bad jump): nothing to show
        pass
    for which in ("pc", "lr"):
        address = registers[which]
        if symbols is None:
            report.places[which] = "? (no ELF symbols: give the .elf for function names)"
            continue
        place = symbols.describe(address)
        line = symbols.location(address) if place != "?" else ""
        report.places[which] = place + (f" ({line})" if line else "")
    return report
