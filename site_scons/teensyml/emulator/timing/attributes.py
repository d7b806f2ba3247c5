"""Which addresses the caches may hold: memory attributes by 32 KB page.

Without the MPU (or as its background with PRIVDEFENA) the ARMv7-M default
memory map applies [arch]: Code 0x00000000-0x1FFFFFFF Normal write-through,
SRAM 0x20000000-0x3FFFFFFF and RAM 0x60000000-0x7FFFFFFF Normal write-back
write-allocate, RAM 0x80000000-0x9FFFFFFF Normal write-through, everything
else Device or Strongly-ordered (never cached). MPU regions (higher number
wins) replace it with their TEX/C/B/S attributes; Shareable Normal memory is
not cached by the Cortex-M7 [arch: Cortex-M7 TRM, L1 caches]. TCM is never
cached, whatever the attributes say.

One attribute byte per 32 KB page, as timing.c reads it: bit 0 instruction
cacheable, bit 1 data cacheable, bit 2 write-allocate, bits 4-5 the kind of
memory (TCM, FLASH, OCRAM, OTHER). An MPU region or subregion smaller than a
page is not applied (none of the firmwares here use one for cached memory).
"""
import numpy as np

from ... import memory_map as mm

PAGE_SHIFT = 15
PAGE_SIZE = 1 << PAGE_SHIFT
PAGES = 1 << (32 - PAGE_SHIFT)
ICACHEABLE, DCACHEABLE, WRITE_ALLOCATE = 1, 2, 4
KIND_SHIFT = 4
KIND_TCM, KIND_FLASH, KIND_OCRAM, KIND_OTHER = range(4)

# (start, end, instruction/data cacheable, write-allocate) of the default map.
NORMAL_WT, NORMAL_WBWA, UNCACHED = (True, False), (True, True), (False, False)
DEFAULT_MAP = (
    (0x00000000, 0x20000000, NORMAL_WT),
    (0x20000000, 0x40000000, NORMAL_WBWA),
    (0x60000000, 0x80000000, NORMAL_WBWA),
    (0x80000000, 0xA0000000, NORMAL_WT),
)
KINDS = (
    (mm.ITCM.origin, mm.ITCM.origin + mm.FLEXRAM_SIZE, KIND_TCM),
    (mm.DTCM.origin, mm.DTCM.origin + mm.FLEXRAM_SIZE, KIND_TCM),
    (mm.FLASH.origin, mm.FLASH.origin + 0x10000000, KIND_FLASH),      # the FlexSPI window
    (mm.OCRAM.origin, mm.FLEXRAM_OCRAM_BASE + mm.FLEXRAM_SIZE, KIND_OCRAM),
)

# MPU registers (offsets in the System Control Space) [arch: ARMv7-M].
MPU_CTRL, MPU_RNR, MPU_RBAR, MPU_RASR = 0xD94, 0xD98, 0xD9C, 0xDA0
MPU_ALIASES = {0xDA4: 0xD9C, 0xDA8: 0xDA0, 0xDAC: 0xD9C, 0xDB0: 0xDA0, 0xDB4: 0xD9C,
               0xDB8: 0xDA0}
MPU_ENABLE, MPU_PRIVDEFENA = 1, 4
MPU_REGIONS = 16


def _pages(start, end):
    return slice(start >> PAGE_SHIFT, min(PAGES, (end + PAGE_SIZE - 1) >> PAGE_SHIFT))


def region_policy(rasr):
    """(cacheable, write-allocate) of an MPU region's attributes."""
    tex, shareable = (rasr >> 19) & 7, bool(rasr >> 18 & 1)
    cacheable, bufferable = bool(rasr >> 17 & 1), bool(rasr >> 16 & 1)
    if tex & 4:                                   # TEX=1BB: inner policy in C,B
        inner = (cacheable << 1) | bufferable
        policy = {0: UNCACHED, 1: NORMAL_WBWA, 2: NORMAL_WT, 3: (True, False)}[inner]
    elif tex == 1:
        policy = NORMAL_WBWA if cacheable and bufferable else UNCACHED
    elif tex == 0 and cacheable:
        policy = NORMAL_WT if not bufferable else (True, False)      # WT / WB, no WA
    else:
        policy = UNCACHED                         # Device or Strongly-ordered
    return UNCACHED if shareable else policy


class Mpu:
    """The MPU's registers, as storage the attribute table is built from."""

    def __init__(self):
        self.ctrl = 0
        self.number = 0
        self.bases = [0] * MPU_REGIONS
        self.attributes = [0] * MPU_REGIONS

    def handles(self, offset):
        return offset in (MPU_CTRL, MPU_RNR, MPU_RBAR, MPU_RASR) or offset in MPU_ALIASES

    def read(self, offset):
        offset = MPU_ALIASES.get(offset, offset)
        if offset == MPU_CTRL:
            return self.ctrl
        if offset == MPU_RNR:
            return self.number
        if offset == MPU_RBAR:
            return self.bases[self.number] | self.number
        return self.attributes[self.number]

    def write(self, offset, value):
        offset = MPU_ALIASES.get(offset, offset)
        if offset == MPU_CTRL:
            self.ctrl = value & 7
        elif offset == MPU_RNR:
            self.number = (value & 0xFF) % MPU_REGIONS
        elif offset == MPU_RBAR:
            if value & 0x10:                      # VALID: the region number is in it
                self.number = value & 0xF
            self.bases[self.number] = value & ~0x1F
        else:
            self.attributes[self.number] = value

    def regions(self):
        """Enabled regions as (number, start, size, subregion-disable, rasr)."""
        for number in range(MPU_REGIONS):
            rasr = self.attributes[number]
            if rasr & 1:
                size = 1 << (((rasr >> 1) & 0x1F) + 1)
                yield number, self.bases[number] & ~(size - 1), size, (rasr >> 8) & 0xFF, rasr


def build(mpu=None):
    """The attribute byte of every page (numpy uint8, PAGES long)."""
    table = np.full(PAGES, KIND_OTHER << KIND_SHIFT, np.uint8)
    for start, end, kind in KINDS:
        table[_pages(start, end)] = kind << KIND_SHIFT
    policy = np.zeros(PAGES, np.uint8)
    enabled = mpu is not None and mpu.ctrl & MPU_ENABLE
    if not enabled or mpu.ctrl & MPU_PRIVDEFENA:
        for start, end, (cacheable, allocate) in DEFAULT_MAP:
            policy[_pages(start, end)] = _bits(cacheable, allocate)
    if enabled:
        for _, start, size, disabled, rasr in mpu.regions():
            bits = _bits(*region_policy(rasr))
            part = size // 8 if size >= 256 else size
            for index in range(8 if size >= 256 else 1):
                if disabled >> index & 1 or part < PAGE_SIZE:
                    continue
                low = start + index * part
                policy[_pages(low, low + part)] = bits
    tcm = (table >> KIND_SHIFT) == KIND_TCM
    policy[tcm] = 0
    return table | policy


def _bits(cacheable, allocate):
    return (ICACHEABLE | DCACHEABLE if cacheable else 0) | (WRITE_ALLOCATE if allocate else 0)
