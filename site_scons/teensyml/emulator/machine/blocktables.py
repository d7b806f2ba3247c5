"""How many times each translated block ran, kept by a block hook.

Two interchangeable tables: NativeBlockTable (the C hook of hooks.c writing
into numpy arrays) and PythonBlockTable (a Python hook bumping a dict; the
fallback when no C compiler is at hand). Both learn a block once, from its
start and size, by disassembling it (capstone) into a Block, and give the
same answers:

    table.stop[0] = 1         # the run stops at the next block (it is not counted)
    table.stopped_at()        # that block's start, once it stopped there (else None)
    table.executions()        # {block start: executions}
    table.instructions()      # sum of executions x instructions
    table.fetch_cycles()      # sum of executions x (instructions x (1 + fetch wait))
    snapshot = table.snapshot(); ...; table.since(snapshot) -> {start: executions}
"""
import ctypes
from dataclasses import dataclass
from operator import mul

import capstone
import numpy as np
import unicorn

from . import native
from .fasthooks import emu_stop_address, native_hook, raw_block_hook


@dataclass
class Block:
    start: int
    size: int
    region: int
    addresses: tuple          # of its instructions, in order


def thumb_lengths(code):
    """Instruction lengths of Thumb code by the first halfword alone (for
    bytes capstone cannot decode)."""
    lengths, offset = [], 0
    while offset + 1 < len(code):
        top = code[offset + 1] >> 3
        length = 4 if top in (0b11101, 0b11110, 0b11111) else 2
        lengths.append(length)
        offset += length
    return lengths


class BlockDecoder:
    """Blocks from code memory; `on_block(block)` hears of each new one."""

    def __init__(self, uc, region_of, fetch_wait, on_block):
        self.uc = uc
        self.region_of = region_of
        self.fetch_wait = fetch_wait          # region index -> wait states
        self.on_block = on_block
        self._disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB
                                         | capstone.CS_MODE_MCLASS | capstone.CS_MODE_V8)

    def decode(self, start, size):
        code = bytes(self.uc.mem_read(start, size))
        addresses, offset = [], 0
        for at, length, _, _ in self._disassembler.disasm_lite(code, start):
            addresses.append(at)
            offset = at + length - start
        # Capstone stops at what it cannot decode: count the rest by length.
        for length in thumb_lengths(code[offset:]):
            addresses.append(start + offset)
            offset += length
        block = Block(start, size, self.region_of(start), tuple(addresses))
        self.on_block(block)
        return block

    def cost(self, block):
        """Modelled fetch cycles of one execution of `block`."""
        return len(block.addresses) * (1 + self.fetch_wait(block.region))


class PythonBlockTable:
    def __init__(self, decoder):
        self.decoder = decoder
        self.stop = [False]
        self.error = None
        # Three dicts with the same keys in the same (insertion) order, so
        # the totals are C-speed sums over their values.
        self.hits = {}
        self._instructions = {}
        self._cost = {}
        self._stopped_at = [None]
        self.kind = "Python hooks"

    def install(self, uc):
        hits, stop, learn, stopped_at = self.hits, self.stop, self._learn, self._stopped_at

        def on_block(_handle, address, size, _data):
            if stop[0]:
                stopped_at[0] = address
                uc.emu_stop()         # this block does not run: not counted
                return
            try:
                hits[address] += 1
            except KeyError:
                learn(address, size)

        raw_block_hook(uc, on_block)

    def _learn(self, address, size):
        try:
            block = self.decoder.decode(address, size)
            self.hits[address] = 1
            self._instructions[address] = len(block.addresses)
            self._cost[address] = self.decoder.cost(block)
        except Exception as error:    # noqa: BLE001 - must not escape a ctypes callback
            self.error = error
            self.stop[0] = True

    def needs_growth(self):
        return False

    def stopped_at(self):
        return self._stopped_at[0]

    def clear_stop(self):
        self.stop[0] = False
        self._stopped_at[0] = None

    def executions(self):
        return self.hits

    def instructions(self):
        return sum(map(mul, self.hits.values(), self._instructions.values()))

    def fetch_cycles(self):
        return sum(map(mul, self.hits.values(), self._cost.values()))

    def snapshot(self):
        return dict(self.hits)

    def since(self, snapshot):
        return {start: count - snapshot.get(start, 0) for start, count in self.hits.items()
                if count != snapshot.get(start, 0)}


INITIAL_CAPACITY = 1 << 15     # blocks; a TFLM firmware runs a few thousand


class NativeBlockTable:
    """Open addressing in numpy arrays the C hook writes; blocks are learned
    lazily, when a total is asked for."""
    LOAD = 0.7

    def __init__(self, decoder, library, capacity=None):
        self.decoder = decoder
        self.library = library
        self.stop = np.zeros(1, np.int32)
        self.error = None
        self.kind = "C hooks"
        self._struct = native.BlockTableStruct()
        self._allocate(capacity or INITIAL_CAPACITY)

    def _allocate(self, capacity):
        self.keys = np.zeros(capacity, np.uint64)
        self.sizes = np.zeros(capacity, np.uint32)
        self.counts = np.zeros(capacity, np.uint64)
        self._instructions = np.zeros(capacity, np.uint64)
        self._cost = np.zeros(capacity, np.uint64)
        self._learned = np.zeros(capacity, bool)
        table = self._struct
        table.mask = capacity - 1
        table.keys, table.sizes, table.counts = (array.ctypes.data for array in
                                                 (self.keys, self.sizes, self.counts))
        table.used = 0
        table.limit = int(capacity * self.LOAD)
        table.stop = self.stop.ctypes.data
        table.emu_stop = emu_stop_address()

    def install(self, uc):
        native_hook(uc, unicorn.UC_HOOK_BLOCK, self.library.count_block,
                    ctypes.addressof(self._struct))

    def needs_growth(self):
        return self._struct.used >= self._struct.limit

    def stopped_at(self):
        return self._struct.stopped_at & ~1 if self._struct.stopped_at else None

    def clear_stop(self):
        self.stop[0] = 0
        self._struct.stopped_at = 0

    def grow(self):
        """Double the table (the C hook stopped the run when it filled up)."""
        old = (self.keys, self.sizes, self.counts, self._instructions, self._cost,
               self._learned)
        used = np.flatnonzero(old[0])
        self._allocate(len(old[0]) * 2)
        mask = len(self.keys) - 1
        new = (self.keys, self.sizes, self.counts, self._instructions, self._cost,
               self._learned)
        for index in used.tolist():
            key = int(old[0][index])
            slot = ((key * 0x9E3779B97F4A7C15) & (2 ** 64 - 1)) >> 32 & mask
            while self.keys[slot]:
                slot = (slot + 1) & mask
            for target, source in zip(new, old):
                target[slot] = source[index]
        self._struct.used = len(used)

    def _learn(self):
        for slot in np.flatnonzero((self.counts > 0) & ~self._learned).tolist():
            block = self.decoder.decode(int(self.keys[slot]) & ~1, int(self.sizes[slot]))
            self._instructions[slot] = len(block.addresses)
            self._cost[slot] = self.decoder.cost(block)
            self._learned[slot] = True

    def executions(self):
        self._learn()
        used = np.flatnonzero(self.counts)
        return dict(zip((self.keys[used] & ~np.uint64(1)).tolist(),
                        self.counts[used].tolist()))

    def instructions(self):
        self._learn()
        return int(self.counts @ self._instructions)

    def fetch_cycles(self):
        self._learn()
        return int(self.counts @ self._cost)

    def snapshot(self):
        return self.keys.copy(), self.counts.copy()

    def since(self, snapshot):
        keys, counts = snapshot
        self._learn()
        if len(keys) == len(self.keys):          # not grown since: slots line up
            changed = np.flatnonzero(self.counts != counts)
            return dict(zip((self.keys[changed] & ~np.uint64(1)).tolist(),
                            (self.counts[changed] - counts[changed]).tolist()))
        used = np.flatnonzero(keys)
        before = dict(zip((keys[used] & ~np.uint64(1)).tolist(), counts[used].tolist()))
        return {start: count - before.get(start, 0) for start, count
                in self.executions().items() if count != before.get(start, 0)}


def make_table(decoder, native_hooks=None):
    """The C table when possible (native_hooks None: if it builds; True:
    required), else the Python one. Returns (table, why the C one is not used)."""
    from .fasthooks import available
    if native_hooks is False:
        return PythonBlockTable(decoder), "Python hooks requested"
    if not available():
        why = "this unicorn binding has no raw hook interface"
    else:
        library, why = native.library()
        if library is not None:
            return NativeBlockTable(decoder, library), None
    if native_hooks:
        raise RuntimeError(f"the C hooks are not available: {why}")
    return PythonBlockTable(decoder), why
