"""Counting what the emulated core does, and the cycle model built on it.

Instructions: Unicorn calls a block hook once per executed translation block;
the hook only bumps a per-block counter (blocktables.py: in C, 7 ns a block,
or in Python, 0.5 us, when no C compiler is at hand). Each block is
disassembled once (capstone), so instructions = sum(executions x instructions
in the block). This counts the instructions of an IT block whose condition
fails too (the core issues them; Unicorn's per-instruction hook misses them,
and costs a Python call per instruction).

Instruction fetches are charged to the region the block runs from. Data
accesses are counted only in measuring mode (`measure=True`): a hook on every
load and store in the four memory regions (in C: cheap; in Python: several
times slower than the run itself).

Two cycle models (what DWT CYCCNT reads):
- simple (TIMING=simple): one cycle per instruction, plus the region's fetch
  wait states per instruction, plus (measuring mode) the region's data wait
  states per data access. The defaults come from memory_map (FlexSPI flash
  20, OCRAM 4, TCM 0); no caches, pipeline or branch penalties.
- calibrated (TIMING=calibrated, timing/): the dual-issue core, branch
  prediction, both caches, FlexSPI and OCRAM line fills. It always measures
  data accesses, and its hooks count them.
"""
import ctypes
from collections import Counter
from dataclasses import dataclass
from operator import mul

import numpy as np
import unicorn
from unicorn import arm_const as uc_arm

from ... import memory_map as mm
from ...errors import UserError
from ...memory_map import WaitStates
from ..machine import native
from ..machine.blocktables import BlockDecoder, NativeBlockTable, make_table
from ..machine.fasthooks import native_hook, raw_access_hook, register_function_addresses

# The counted regions, in the memory map's order (as WaitStates holds them).
REGION_NAMES = mm.WAIT_STATE_REGIONS
FLASH_INDEX, ITCM_INDEX, DTCM_INDEX, OCRAM_INDEX = range(4)
OTHER_INDEX = 4                   # code or data outside the four regions
# Address ranges of each region as the chip decodes them (FlexRAM OCRAM banks
# count as OCRAM, the whole flash device as FLASH).
REGION_RANGES = (
    (mm.FLASH.origin, mm.FLASH.origin + mm.FLASH_DEVICE_SIZE),
    (mm.ITCM.origin, mm.ITCM.origin + mm.FLEXRAM_SIZE),
    (mm.DTCM.origin, mm.DTCM.origin + mm.FLEXRAM_SIZE),
    (mm.OCRAM.origin, mm.FLEXRAM_OCRAM_BASE + mm.FLEXRAM_SIZE),
)


XPSR_IT_BITS = (0b11 << 25) | (0b111111 << 10)


def clear_stale_it_state(uc):
    """Work around unicorn-engine/unicorn#2309, from inside a memory hook:
    Unicorn restores the accessing instruction's CPU state to give the hook a
    precise PC, which leaves an IT block's state in xPSR; QEMU keeps it at 0
    between blocks, so the next block would run as if inside the IT block
    (instructions skipped). hooks.c does the same in C."""
    xpsr = uc.reg_read(uc_arm.UC_ARM_REG_XPSR)
    if xpsr & XPSR_IT_BITS:
        uc.reg_write(uc_arm.UC_ARM_REG_XPSR, xpsr & ~XPSR_IT_BITS)


def region_index(address):
    for index, (start, end) in enumerate(REGION_RANGES):
        if start <= address < end:
            return index
    return OTHER_INDEX


@dataclass(frozen=True)
class Counts:
    """What ran, by region: instruction fetches (= instructions executed
    from the region) and data accesses (None unless measured); with the
    calibrated model, its statistics (timing.calibrated.STATS)."""
    fetches: tuple
    data: tuple
    wait_states: WaitStates
    calls: int = 0
    timing: tuple = None

    @property
    def instructions(self):
        return sum(self.fetches)

    @property
    def model(self):
        return "simple" if self.timing is None else "calibrated"

    @property
    def cycles(self):
        """Modelled cycles: the calibrated model's, or instructions + fetch
        wait states + data wait states."""
        if self.timing is not None:
            return self.timing[0]
        total = self.instructions + sum(map(mul, self.fetches, self.wait_states.fetch))
        if self.data is not None:
            total += sum(map(mul, self.data, self.wait_states.data))
        return total

    def by_region(self):
        """{region: (fetches, data accesses or None)} of the four regions."""
        return {name: (self.fetches[i], None if self.data is None else self.data[i])
                for i, name in enumerate(REGION_NAMES)}

    def share(self, region):
        """The fraction of instruction fetches from `region`."""
        return self.fetches[REGION_NAMES.index(region)] / self.instructions \
            if self.instructions else 0.0

    def breakdown(self):
        """{statistic: value} of the calibrated model (None for simple)."""
        from ..timing.calibrated import breakdown
        return None if self.timing is None else breakdown(self.timing)

    def as_dict(self):
        return {"instructions": self.instructions, "cycles": self.cycles,
                "calls": self.calls, "timing_model": self.model,
                "calibrated": self.breakdown(),
                "fetches": dict(zip(REGION_NAMES, self.fetches)),
                "data_accesses": None if self.data is None
                else dict(zip(REGION_NAMES, self.data)),
                "wait_states": {name: {"fetch": f, "data": d}
                                for name, (f, d) in self.wait_states.table().items()}}


class Counters:
    """Per-block execution counts, data access counts, and the cycle model.
    `native`: None (C hooks if they build), True (required) or False.
    `timing`: None for the simple model, or a function (uc, stop flag, data
    access array, REGION_RANGES) -> the calibrated model (which measures)."""

    def __init__(self, uc, wait_states=None, measure=False, native=None, timing=None):
        self.uc = uc
        self.wait_states = wait_states or WaitStates.defaults()
        self.measure = measure or timing is not None
        self.blocks = {}          # start -> Block, as learned
        self._where = {}          # instruction address -> (block start, index)
        self.decoder = BlockDecoder(uc, region_index, self._fetch_wait, self._on_block)
        self.table, self.native_unavailable = make_table(self.decoder, native)
        self.stop = self.table.stop     # set it: the block hook stops the run
        # The C access hook increments in place: numpy; Python ones: a list.
        self._data = np.zeros(len(REGION_NAMES), np.uint64) \
            if isinstance(self.table, NativeBlockTable) else [0] * len(REGION_NAMES)
        self.timing = None
        if timing is not None:
            if not isinstance(self.table, NativeBlockTable):
                raise UserError(f"TIMING=calibrated needs the emulator's C hooks "
                                f"({self.native_unavailable}); run with TIMING=simple.")
            self.timing = timing(uc, self.table.stop, self._data, REGION_RANGES[:OTHER_INDEX])

    @property
    def kind(self):
        """Which hooks count: "C hooks" or "Python hooks"."""
        return self.table.kind

    @property
    def error(self):
        if self.table.error is None and self.timing is not None:
            try:
                self.timing.check()
            except Exception as error:      # noqa: BLE001 - reported by the run loop
                return error
        return self.table.error

    @property
    def data(self):
        """Data accesses per region so far (zeros unless measuring)."""
        return [int(count) for count in self._data]

    # --- hooks ------------------------------------------------------------------------
    def install(self):
        self.table.install(self.uc)
        if self.timing is not None:
            self.timing.install()           # its access hooks count the data too
            return
        if not self.measure:
            return
        native_table = isinstance(self.table, NativeBlockTable)
        self._access_counters = []
        for index, (start, end) in enumerate(REGION_RANGES):
            if native_table:
                counter = native.AccessCounterStruct(
                    self._data.ctypes.data + index * self._data.itemsize,
                    *register_function_addresses(), uc_arm.UC_ARM_REG_XPSR)
                self._access_counters.append(counter)        # the hook points at it
                native_hook(self.uc, unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE,
                            self.table.library.count_access, ctypes.addressof(counter),
                            start, end - 1)
            else:
                raw_access_hook(self.uc, self._data_counter(index), start, end - 1)

    def _data_counter(self, index):
        data, uc = self._data, self.uc

        def on_access(_handle, _access, _address, _size, _value, _data):
            data[index] += 1
            clear_stale_it_state(uc)
        return on_access

    def _on_block(self, block):
        self.blocks[block.start] = block
        for index, instruction in enumerate(block.addresses):
            self._where.setdefault(instruction, (block.start, index))

    def _fetch_wait(self, region):
        return self.wait_states.fetch[region] if region != OTHER_INDEX else 0

    # --- totals --------------------------------------------------------------------------
    def instructions(self):
        return self.table.instructions()

    def cycles(self, pc=None):
        """Modelled cycles so far. With `pc` (the instruction being executed,
        e.g. a load of DWT_CYCCNT), the rest of its block, already counted
        when the block started, is taken off again."""
        if self.timing is not None:
            return self.timing.cycles(pc)
        total = self.table.fetch_cycles()
        if self.measure:
            total += sum(map(mul, self.data, self.wait_states.data))
        if pc is not None and pc in self._where:
            start, index = self._where[pc]
            block = self.blocks[start]
            later = len(block.addresses) - index - 1
            total -= later * (1 + self._fetch_wait(block.region))
        return total

    def executions(self):
        """{block start: executions} of every block run so far."""
        return self.table.executions()

    def stopped_at(self):
        """The block the counting hook stopped the run at (it did not run
        and is not counted), or None."""
        return self.table.stopped_at()

    def clear_stop(self):
        self.table.clear_stop()

    def grow_if_full(self):
        """The C table stops the run when it fills up: grow it, then go on."""
        if self.table.needs_growth():
            self.table.grow()
            return True
        return False

    def snapshot(self):
        """For markers, from a block hook: block counts so far (the starting
        block included), data accesses, and the calibrated model's statistics
        as they were before the starting block."""
        return (self.table.snapshot(), self.data,
                None if self.timing is None else self.timing.snapshot(True))

    def since(self, snapshot):
        """({block start: executions}, [data accesses], timing statistics or
        None) since `snapshot`, taken as `snapshot()` does."""
        table_snapshot, data, timing = snapshot
        return (self.table.since(table_snapshot),
                [now - then for now, then in zip(self.data, data)],
                None if timing is None else
                self.timing.difference(self.timing.snapshot(True), timing))

    def counts(self, executions=None, data=None, calls=0, timing=None):
        """Counts of `executions`/`data`/`timing` (default: everything so far)."""
        if executions is None and self.timing is not None:
            timing = self.timing.totals()
        executions = self.executions() if executions is None else executions
        fetches = [0] * (len(REGION_NAMES) + 1)
        for start, count in executions.items():
            if count:
                block = self.blocks[start]
                fetches[block.region] += count * len(block.addresses)
        if not self.measure:
            data = None
        elif data is None:
            data = self.data
        # fetches[OTHER_INDEX] stays 0: nothing executable is mapped elsewhere.
        return Counts(tuple(fetches[:OTHER_INDEX]), None if data is None else tuple(data),
                      self.wait_states, calls, None if self.timing is None else timing)

    def profile(self, executions, function_of):
        """Counter {function name: instructions} of `executions`."""
        result = Counter()
        for start, count in executions.items():
            if count:
                result[function_of(start)] += count * len(self.blocks[start].addresses)
        return result
