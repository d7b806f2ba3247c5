"""Memory-mapped register blocks: plain storage plus per-register behaviour.

A block stores what is written to it as aligned words, merging byte and
halfword writes into them, so all access sizes agree (the watchdogs are
16-bit peripherals). A model gives behaviour to the
registers it cares about by overriding `read_register` / `write_register`,
which always see whole aligned 32-bit words.
"""


class RegisterBlock:
    """A peripheral's address slot. `reset` maps word offsets to values."""

    modelled = True

    def __init__(self, name, base, size, reset=None):
        self.name = name
        self.base = base
        self.size = size
        self._words = {}              # aligned offset -> 32-bit value; absent: 0
        for offset, value in (reset or {}).items():
            self.store(offset, value)

    # --- plain storage (aligned words) ------------------------------------------------
    def load(self, offset):
        return self._words.get(offset, 0)

    def store(self, offset, value):
        self._words[offset] = value & 0xFFFFFFFF

    # --- bus accesses ---------------------------------------------------------
    def read(self, offset, size):
        word = offset & ~3
        value = self.read_register(word)
        return (value >> (8 * (offset - word))) & ((1 << (8 * size)) - 1)

    def write(self, offset, size, value):
        word = offset & ~3
        if size == 4 and word == offset:
            self.write_register(word, value & 0xFFFFFFFF)
            return
        shift = 8 * (offset - word)
        mask = ((1 << (8 * size)) - 1) << shift
        merged = (self.load(word) & ~mask) | ((value << shift) & mask)
        self.write_register(word, merged)

    # --- behaviour: override ----------------------------------------------------
    def read_register(self, offset):
        return self.load(offset)

    def write_register(self, offset, value):
        self.store(offset, value)


class SetClearToggleBlock(RegisterBlock):
    """NXP analog blocks (CCM_ANALOG, PMU, ...): each register at offset R
    has SET, CLR and TOG aliases at R+4, R+8 and R+C."""

    def read_register(self, offset):
        return self.load(offset & ~0xF)

    def write_register(self, offset, value):
        register, alias = offset & ~0xF, offset & 0xF
        current = self.load(register)
        if alias == 0x4:
            value = current | value
        elif alias == 0x8:
            value = current & ~value
        elif alias == 0xC:
            value = current ^ value
        self.store(register, value)
