"""Every constant of the calibrated timing model, with where it comes from.

Three kinds of source, named on each line:
  [arch]   Arm documentation or the i.MX RT1060 reference manual (a fact)
  [public] a public measurement of the Cortex-M7 (quinapalus.com/cm7cycles.html,
           reverse engineering on an STM32H730; PJRC's notes on the Teensy 4)
  [fitted] chosen so bench/calibration.py meets its targets (CoreMark score,
           the original firmware's per-layer table); the fit and its residuals
           are in docs/emulator.md

A value without [arch] is a model choice, not a silicon fact.
"""
from dataclasses import dataclass, replace

LINE_BYTES = 32                  # [arch] Cortex-M7 L1 cache line, both caches
LINE_SHIFT = 5


@dataclass(frozen=True)
class CacheGeometry:
    """[arch] i.MX RT1062: 32 KB I-cache 2-way, 32 KB D-cache 4-way (CCSIDR)."""
    ways: int
    sets: int

    @property
    def size(self):
        return self.ways * self.sets * LINE_BYTES


ICACHE = CacheGeometry(ways=2, sets=512)
DCACHE = CacheGeometry(ways=4, sets=256)


@dataclass(frozen=True)
class CoreTiming:
    """The in-order, dual-issue core: issue cycles and result latencies.

    Pairing (two instructions issue in one cycle when all hold) [public]:
    at most one load/store unit instruction unless both are loads (the M7's
    two 32-bit DTCM ports), one multiply/MAC, one branch, one instruction with a
    shifted operand (shifts, extends, bitfield, wide immediates), DSP/SIMD
    only as the older of the pair, multi-cycle instructions alone, and no
    dependency between the two."""
    alu_latency: int = 1             # [public] result usable next cycle
    shifted_operand_early: int = 1   # [public] shifted inputs and addresses are needed a
    #                                  cycle earlier (the early ALU and the address generator)
    load_latency: int = 1            # [fitted] a load feeds the late ALU the next cycle;
    #                                  an address or shifted operand a cycle later
    multiply_latency: int = 2        # [public] MUL/MLA/SMLAD results
    vfp_latency: int = 3             # [public] single-precision add/mul/mac results
    vfp_double_issue: int = 2        # [public] f64 arithmetic occupies the FPU two cycles
    divide_cycles: int = 8           # [arch] SDIV/UDIV take 2..12 cycles, data dependent
    vfp_divide_cycles: int = 14      # [arch] VDIV.F32 / VSQRT.F32
    vfp_double_divide_cycles: int = 29   # [arch] VDIV.F64 / VSQRT.F64
    taken_branch_cycles: int = 0     # [fitted] a correctly predicted taken branch
    indirect_branch_cycles: int = 2  # [fitted] BX/POP/LDR to PC, TBB/TBH (target from a register)
    mispredict_cycles: int = 5       # [fitted] a conditional branch mispredicted


@dataclass(frozen=True)
class MemoryTiming:
    """Stalls of the memory system, in core cycles at 600 MHz."""
    # FlexSPI: the serial timing comes from the image's own configuration
    # block (flexspi.py); these are the parts around it.
    flexspi_ahb_latency: int = 12    # [fitted] AHB/AXI round trip of a read the
    #                                  FlexSPI buffer already holds
    flexspi_prefetch_lines: int = 8  # [fitted] how far the AHB RX buffer prefetch
    #                                  runs ahead of the reader, in 32-byte lines
    flexspi_fixed_clocks: int = 4    # [fitted] chip-select set-up/hold and
    #                                  synchronisation per burst, FlexSPI clocks
    ocram_line_fill: int = 24        # model choice: a 32-byte AXI burst from OCRAM
    ocram_uncached_access: int = 8   # model choice: one uncached OCRAM access
    ocram_write_back: int = 8        # model choice: a dirty line written back (buffered)


@dataclass(frozen=True)
class Parameters:
    core: CoreTiming = CoreTiming()
    memory: MemoryTiming = MemoryTiming()

    def with_core(self, **changes):
        return replace(self, core=replace(self.core, **changes))

    def with_memory(self, **changes):
        return replace(self, memory=replace(self.memory, **changes))


DEFAULT = Parameters()
