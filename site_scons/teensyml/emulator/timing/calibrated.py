"""The calibrated timing model (TIMING=calibrated): what DWT CYCCNT reads.

    cycles = sum over executed blocks of their static cost      (core.py)
           + conditional branches: taken cost, mispredictions    (2-bit predictor)
           + instruction fetch stalls: I-cache misses            (2-way, 32 KB)
           + data stalls: D-cache misses, write-backs, uncached  (4-way, 32 KB)

Misses are served by FlexSPI (a prefetching burst timed from the image's own
configuration block, flexspi.py) or OCRAM; TCM is never cached and never
stalls. Caches follow the firmware: SCB CCR enables them, the maintenance
operations act on them, memory attributes come from the default memory map
and the MPU (attributes.py). timing.c does the per-block and per-access work;
this class owns its state, learns each new block's static cost when timing.c
first meets it, and answers for the counters and DWT.
"""
import ctypes

import numpy as np
import unicorn
from unicorn import arm_const as uc_arm

from ...errors import UserError
from ..machine import native
from ..machine.fasthooks import emu_stop_address, native_hook, register_function_addresses
from . import attributes
from .core import BlockCoster
from .flexspi import read_timing
from .parameters import DCACHE, DEFAULT, ICACHE, LINE_SHIFT

STATS = ("cycles", "static", "fetch_stall", "data_stall", "branch_stall", "icache_hits",
         "icache_misses", "dcache_hits", "dcache_misses", "write_backs", "flash_bursts",
         "flash_lines", "uncached", "conditionals", "mispredicts", "paired_across")
RING = 64
CAPACITY = 1 << 16              # blocks; a TFLM firmware runs a few thousand

CCR_DC, CCR_IC = 1 << 16, 1 << 17
ICIALLU, ICIMVAU, DCIMVAC, DCISW, DCCMVAU, DCCMVAC, DCCSW, DCCIMVAC, DCCISW, BPIALL = \
    0xF50, 0xF58, 0xF5C, 0xF60, 0xF64, 0xF68, 0xF6C, 0xF70, 0xF74, 0xF78

LEARN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64)


class CacheStruct(ctypes.Structure):
    _fields_ = [("tags", ctypes.c_void_p), ("dirty", ctypes.c_void_p),
                ("ages", ctypes.c_void_p), ("sets", ctypes.c_uint32),
                ("ways", ctypes.c_uint32), ("enabled", ctypes.c_int32)]


class FlexSpiStruct(ctypes.Structure):
    _fields_ = [("setup", ctypes.c_uint64), ("line", ctypes.c_uint64),
                ("hit", ctypes.c_uint64), ("depth", ctypes.c_uint64),
                ("base", ctypes.c_uint64), ("last", ctypes.c_uint64),
                ("active", ctypes.c_int64), ("done", ctypes.c_uint64 * RING),
                ("taken", ctypes.c_uint64 * RING)]


class TimingStruct(ctypes.Structure):
    """struct timing of timing.c."""
    _fields_ = [("stats", ctypes.c_void_p), ("before_block", ctypes.c_void_p),
                ("data_counts", ctypes.c_void_p),
                ("pages", ctypes.c_void_p), ("icache", CacheStruct), ("dcache", CacheStruct),
                ("flash", FlexSpiStruct), ("ocram_fill", ctypes.c_uint64),
                ("ocram_uncached", ctypes.c_uint64), ("ocram_write_back", ctypes.c_uint64),
                ("taken_branch", ctypes.c_uint64), ("mispredict", ctypes.c_uint64),
                ("mask", ctypes.c_uint64), ("used", ctypes.c_uint64),
                ("limit", ctypes.c_uint64), ("keys", ctypes.c_void_p),
                ("costs", ctypes.c_void_p), ("flags", ctypes.c_void_p),
                ("predictor", ctypes.c_void_p), ("learn", ctypes.c_void_p),
                ("stop", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("failed", ctypes.c_int64), ("previous", ctypes.c_uint64),
                ("previous_end", ctypes.c_uint64), ("current", ctypes.c_uint64),
                ("region_start", ctypes.c_uint64 * 4), ("region_end", ctypes.c_uint64 * 4),
                ("reg_read", ctypes.c_void_p), ("reg_write", ctypes.c_void_p),
                ("xpsr", ctypes.c_int32)]


class Cache:
    """One cache's state, shared with timing.c, and its maintenance operations."""

    def __init__(self, geometry, struct):
        self.geometry = geometry
        entries = geometry.sets * geometry.ways
        self.tags = np.zeros(entries, np.uint32)        # line number + 1; 0: invalid
        self.dirty = np.zeros(entries, np.uint8)
        self.ages = np.zeros(entries, np.uint8)
        struct.tags, struct.dirty, struct.ages = (array.ctypes.data for array in
                                                  (self.tags, self.dirty, self.ages))
        struct.sets, struct.ways = geometry.sets, geometry.ways
        self.struct = struct

    @property
    def enabled(self):
        return bool(self.struct.enabled)

    def invalidate_all(self):
        self.tags[:] = 0
        self.dirty[:] = 0

    def _entry_of(self, address):
        line = address >> LINE_SHIFT
        base = (line & (self.geometry.sets - 1)) * self.geometry.ways
        for way in range(self.geometry.ways):
            if self.tags[base + way] == line + 1:
                return base + way
        return None

    def by_address(self, address, clean, invalidate):
        entry = self._entry_of(address)
        if entry is not None:
            self._apply(entry, clean, invalidate)

    def by_set_way(self, value, clean, invalidate):
        """[arch] DCISW/DCCSW/DCCISW: way in bits 31:30, set from bit 5."""
        way = value >> 30 & (self.geometry.ways - 1)
        line_set = (value >> LINE_SHIFT) & (self.geometry.sets - 1)
        self._apply(line_set * self.geometry.ways + way, clean, invalidate)

    def _apply(self, entry, clean, invalidate):
        if clean:
            self.dirty[entry] = 0            # written back (the time is not charged)
        if invalidate:
            self.tags[entry] = 0
            self.dirty[entry] = 0

    def lines(self):
        """The valid lines' addresses (for tests and reports)."""
        return sorted((int(tag) - 1) << LINE_SHIFT for tag in self.tags if tag)


class CalibratedTiming:
    """Installs timing.c's hooks on `uc`; `stop` is the counting table's stop
    flag (numpy int32), `data` the counters' per-region data access array."""

    name = "calibrated"

    def __init__(self, uc, flash_bytes, stop, data, regions, parameters=DEFAULT):
        library, why = native.library()
        if library is None:
            raise UserError(f"TIMING=calibrated needs the emulator's C hooks, which cannot "
                            f"be built here ({why}). Install a C compiler (`sudo apt-get "
                            f"install gcc`) or run with TIMING=simple.")
        self.uc = uc
        self.library = library
        self.parameters = parameters
        self.flexspi = read_timing(flash_bytes)
        self.error = None
        self.blocks = {}                  # start -> BlockTiming
        self._coster = BlockCoster(parameters.core)
        self._stop = stop
        self._data = data
        struct = self.struct = TimingStruct()
        self.stats = np.zeros(len(STATS), np.uint64)
        self.before_block = np.zeros(len(STATS), np.uint64)
        self._keys = np.zeros(CAPACITY, np.uint64)
        self._costs = np.zeros(CAPACITY, np.uint32)
        self._flags = np.zeros(CAPACITY, np.uint8)
        self._predictor = np.zeros(CAPACITY, np.uint8)
        self.pages = attributes.build()
        struct.stats, struct.before_block, struct.data_counts, struct.pages = (
            array.ctypes.data for array in (self.stats, self.before_block, data, self.pages))
        struct.keys, struct.costs, struct.flags, struct.predictor = (
            array.ctypes.data for array in (self._keys, self._costs, self._flags,
                                            self._predictor))
        struct.mask, struct.limit = CAPACITY - 1, int(CAPACITY * 0.7)
        self.icache = Cache(ICACHE, struct.icache)
        self.dcache = Cache(DCACHE, struct.dcache)
        self._configure(parameters)
        self._learn = LEARN(self._on_new_block)
        struct.learn = ctypes.cast(self._learn, ctypes.c_void_p).value
        struct.stop = stop.ctypes.data
        struct.emu_stop = emu_stop_address()
        for index, (start, end) in enumerate(regions):
            struct.region_start[index], struct.region_end[index] = start, end
        struct.reg_read, struct.reg_write = register_function_addresses()
        struct.xpsr = uc_arm.UC_ARM_REG_XPSR
        self._regions = regions

    def _configure(self, parameters):
        memory, core, struct = parameters.memory, parameters.core, self.struct
        fixed = self.flexspi.cycles(memory.flexspi_fixed_clocks)
        struct.flash.setup = round(self.flexspi.setup_cycles + fixed)
        struct.flash.line = round(self.flexspi.line_cycles)
        struct.flash.hit = memory.flexspi_ahb_latency
        struct.flash.depth = max(1, min(RING // 2, memory.flexspi_prefetch_lines))
        struct.ocram_fill = memory.ocram_line_fill
        struct.ocram_uncached = memory.ocram_uncached_access
        struct.ocram_write_back = memory.ocram_write_back
        struct.taken_branch = core.taken_branch_cycles
        struct.mispredict = core.mispredict_cycles

    def install(self):
        """The block hook (after the counting hook) and the data access hooks."""
        uc, struct = self.uc, ctypes.addressof(self.struct)
        native_hook(uc, unicorn.UC_HOOK_BLOCK, self.library.time_block, struct)
        for start, end in self._regions:
            native_hook(uc, unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE,
                        self.library.time_access, struct, start, end - 1)

    def _on_new_block(self, address, size, slot):
        try:
            timing = self._coster.cost(bytes(self.uc.mem_read(address, size)), address)
            self._costs[slot] = timing.cost
            self._flags[slot] = timing.flags
            self.blocks[address] = timing
            return 0
        except Exception as error:    # noqa: BLE001 - must not escape a ctypes callback
            self.error = error
            return 1

    def check(self):
        """Raise what went wrong inside the hooks, if anything did."""
        if self.error is not None:
            raise self.error
        if self.struct.failed:
            raise RuntimeError(f"the timing model's block table is full ({CAPACITY:,} "
                               f"blocks x 0.7)")

    # --- the firmware's controls (system.py calls these) ------------------------------
    def control(self, ccr):
        """SCB CCR written: IC and DC enable the caches."""
        self.icache.struct.enabled = int(bool(ccr & CCR_IC))
        self.dcache.struct.enabled = int(bool(ccr & CCR_DC))

    def maintain(self, offset, value):
        """A cache maintenance operation (a write to SCB 0xF50..0xF78)."""
        if offset == ICIALLU:
            self.icache.invalidate_all()
        elif offset == ICIMVAU:
            self.icache.by_address(value, clean=False, invalidate=True)
        elif offset in (DCIMVAC, DCCMVAU, DCCMVAC, DCCIMVAC):
            self.dcache.by_address(value, clean=offset != DCIMVAC,
                                   invalidate=offset in (DCIMVAC, DCCIMVAC))
        elif offset in (DCISW, DCCSW, DCCISW):
            self.dcache.by_set_way(value, clean=offset != DCISW,
                                   invalidate=offset in (DCISW, DCCISW))

    def memory_attributes_changed(self, mpu):
        self.pages[:] = attributes.build(mpu)

    # --- totals ------------------------------------------------------------------------
    def cycles(self, pc=None):
        """Modelled cycles so far; with `pc` (an instruction of the block being
        executed, e.g. a load of DWT_CYCCNT), up to that instruction's issue."""
        total = int(self.stats[0])
        block = self.blocks.get(self.struct.current)
        if pc is not None and block is not None and pc in block.offsets:
            total -= block.cost - block.offsets[pc]
        return total

    def snapshot(self, before_current_block=False):
        """The statistics now, or (from a block hook that runs after timing.c's)
        as they were before the block that is starting."""
        return (self.before_block if before_current_block else self.stats).copy()

    @staticmethod
    def difference(now, before):
        return tuple(int(a) - int(b) for a, b in zip(now, before))

    def totals(self):
        return tuple(int(value) for value in self.stats)


def breakdown(stats):
    """{name: value} of a stats tuple (a total or a difference)."""
    return dict(zip(STATS, stats))
