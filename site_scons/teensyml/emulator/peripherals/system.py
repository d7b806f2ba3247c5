"""The Cortex-M7 private peripheral bus: SCB, DWT, SysTick, NVIC, MPU, FPU
and cache maintenance registers.

Unicorn models none of them. Here they are storage with the values the CMSIS
and NXP start-up code reads (CPUID, cache geometry, MPU type, FP feature
registers), plus the DWT cycle counter, which reads the emulator's cycle
model. Nothing raises exceptions: there is no interrupt delivery (SysTick
does not count, NVIC enables are only stored), and the MPU is not enforced.
With the calibrated timing model, CCR's cache enables, the cache maintenance
operations and the MPU's regions drive its caches. A reset request through
AIRCR ends the run.
"""
from ... import memory_map as mm
from .registers import RegisterBlock
from ..timing.attributes import MPU_RNR, Mpu

# SCB and friends, as offsets in the 4 KB System Control Space at SCS_BASE.
CPUID, ICSR, VTOR, AIRCR, CCR = 0xD00, 0xD04, 0xD08, 0xD0C, 0xD14
CLIDR, CTR, CCSIDR, CSSELR, CPACR = 0xD78, 0xD7C, 0xD80, 0xD84, 0xD88
MPU_TYPE = mm.MPU_BASE - mm.SCS_BASE
DEMCR = mm.DEMCR - mm.SCS_BASE
ICTR = 0x004
FPCCR, MVFR0, MVFR1, MVFR2 = 0xF34, 0xF40, 0xF44, 0xF48
CACHE_MAINTENANCE = range(0xF50, 0xF7C, 4)      # ICIALLU ... BPIALL: write-only
DEMCR_TRCENA = 1 << 24
AIRCR_VECTKEY, AIRCR_SYSRESETREQ = 0x05FA, 1 << 2

SCS_RESET = {
    CPUID: 0x411FC272,             # Arm Cortex-M7 r1p2, as in the i.MX RT1062
    ICTR: 0x00000004,              # 160 external interrupt lines
    CCR: 0x00040200,               # STKALIGN, branch prediction on
    AIRCR: 0xFA050000,
    CLIDR: 0x09000003,             # L1 instruction and data caches
    CTR: 0x8303C003,               # 32-byte cache lines
    MPU_TYPE: 0x00001000,          # 16 MPU regions
    FPCCR: 0xC0000000,             # automatic and lazy FP state preservation
    MVFR0: 0x10110221,             # single and double precision, divide, sqrt
    MVFR1: 0x12000011,
    MVFR2: 0x00000040,             # FPv5 (VRINT, VSEL, VMAXNM, VCVTA)
}
# CCSIDR by CSSELR: 32 KB data cache (4 ways, 256 sets) and 32 KB instruction
# cache (2 ways, 512 sets), 32-byte lines; SCB_EnableDCache() walks every
# set/way it reads here.
CACHE_GEOMETRY = {0: 0xF01FE019, 1: 0xF03FE009}

# DWT, as offsets in its 4 KB block at DWT_BASE.
DWT_CTRL, DWT_CYCCNT = 0x000, mm.DWT_CYCCNT - mm.DWT_BASE
DWT_LAR, DWT_LSR = 0xFB0, 0xFB4
DWT_CTRL_RESET = 0x40000000        # four comparators
DWT_CYCCNTENA = 1 << 0
DWT_UNLOCK_KEY = 0xC5ACCE55


class SystemControlSpace(RegisterBlock):
    """`memory_system`: the calibrated timing model (control, maintain,
    memory_attributes_changed) or None."""

    def __init__(self, on_reset_request, memory_system=None):
        super().__init__("SCS", mm.SCS_BASE, 0x1000, SCS_RESET)
        self.on_reset_request = on_reset_request
        self.memory_system = memory_system
        self.mpu = Mpu()

    @property
    def trace_enabled(self):
        return bool(self.load(DEMCR) & DEMCR_TRCENA)

    @property
    def vector_table(self):
        return self.load(VTOR)

    def read_register(self, offset):
        if offset == CCSIDR:
            return CACHE_GEOMETRY.get(self.load(CSSELR) & 1, 0)
        if offset in CACHE_MAINTENANCE:
            return 0
        if self.mpu.handles(offset):
            return self.mpu.read(offset)
        return self.load(offset)

    def write_register(self, offset, value):
        if offset in CACHE_MAINTENANCE:
            if self.memory_system is not None:
                self.memory_system.maintain(offset, value)
            return
        if self.mpu.handles(offset):
            self.mpu.write(offset, value)
            if offset != MPU_RNR:
                self._attributes_changed()
            return
        if offset in (CPUID, CLIDR, CTR, CCSIDR, MPU_TYPE, MVFR0, MVFR1, MVFR2, ICTR):
            return
        if offset == CCR and self.memory_system is not None:
            self.memory_system.control(value)
        if offset == AIRCR:
            if value >> 16 != AIRCR_VECTKEY:
                return                      # writes without the key are ignored
            if value & AIRCR_SYSRESETREQ:
                self.on_reset_request()
            value = (0xFA05 << 16) | (value & 0x0700)    # PRIGROUP
        self.store(offset, value)

    def _attributes_changed(self):
        if self.memory_system is not None:
            self.memory_system.memory_attributes_changed(self.mpu)


class DataWatchpointTrace(RegisterBlock):
    """DWT: CYCCNT counts the emulator's modelled cycles while DEMCR.TRCENA
    and DWT_CTRL.CYCCNTENA are set. As on the M7, writes are ignored until the
    software lock is opened with LAR = 0xC5ACCE55."""

    def __init__(self, scs, cycles):
        super().__init__("DWT", mm.DWT_BASE, 0x1000, {DWT_CTRL: DWT_CTRL_RESET})
        self.scs = scs
        self.cycles = cycles           # () -> modelled cycles so far
        self.locked = True
        self._base_value = 0           # CYCCNT at the last write/start ...
        self._base_cycles = None       # ... and the model's cycles then (None: stopped)

    @property
    def counting(self):
        return bool(self.load(DWT_CTRL) & DWT_CYCCNTENA) and self.scs.trace_enabled

    def cycle_count(self):
        if self._base_cycles is None:
            return self._base_value
        return (self._base_value + self.cycles() - self._base_cycles) & 0xFFFFFFFF

    def _restart(self, value):
        self._base_value = value & 0xFFFFFFFF
        self._base_cycles = self.cycles() if self.counting else None

    def read_register(self, offset):
        if offset == DWT_CYCCNT:
            return self.cycle_count()
        if offset == DWT_LSR:
            return 0b11 if self.locked else 0b01      # lock implemented, locked
        return self.load(offset)

    def write_register(self, offset, value):
        if offset == DWT_LAR:
            self.locked = value != DWT_UNLOCK_KEY
            return
        if self.locked or offset == DWT_LSR:
            return
        if offset == DWT_CYCCNT:
            self._restart(value)
        elif offset == DWT_CTRL:
            current = self.cycle_count()
            self.store(DWT_CTRL, value)
            self._restart(current)
        else:
            self.store(offset, value)

    def trace_enable_changed(self):
        """DEMCR.TRCENA gates counting too."""
        self._restart(self.cycle_count())


class PrivatePeripheralBus:
    """The 1 MB PPB: the SCS and the DWT; every other address is storage."""

    def __init__(self, cycles, on_reset_request, memory_system=None):
        self.scs = SystemControlSpace(on_reset_request, memory_system)
        self.dwt = DataWatchpointTrace(self.scs, cycles)
        self._other = RegisterBlock("PPB", mm.PPB_BASE, mm.PPB_SIZE)
        self._blocks = {mm.SCS_BASE: self.scs, mm.DWT_BASE: self.dwt}

    def _route(self, address):
        block = self._blocks.get(address & ~0xFFF, self._other)
        return block, address - block.base

    def read(self, address, size):
        block, offset = self._route(address)
        return block.read(offset, size)

    def write(self, address, size, value):
        block, offset = self._route(address)
        tracing = self.scs.trace_enabled
        block.write(offset, size, value)
        if block is self.scs and self.scs.trace_enabled != tracing:
            self.dwt.trace_enable_changed()
