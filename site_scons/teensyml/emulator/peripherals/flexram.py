"""FlexRAM: sixteen 32 KB banks that the firmware hands to ITCM, DTCM or OCRAM.

The chip starts with the fuse configuration (memory_map.RESET_BANK_CONFIG)
and switches to the bank map in IOMUXC_GPR17 once GPR16 bit 2 is set; GPR14
holds the TCM sizes the core decodes. The emulator maps exactly the memory
that configuration provides, so an access beyond it faults as on the chip:

  ITCM at 0x00000000, DTCM at 0x20000000, FlexRAM OCRAM at 0x20280000, each
  as large as its banks (capped by the GPR14 size field once written).

Banks keep their contents across a reconfiguration, in the order the chip
stacks them (lowest bank at the lowest address), so a bank that keeps its kind
and position keeps its data. The TCM interleaving of the real part is not
modelled (contents are per bank, not per port).
"""
from ... import memory_map as mm

KIND_NAMES = {mm.BANK_ITCM: "ITCM", mm.BANK_DTCM: "DTCM", mm.BANK_OCRAM: "OCRAM"}
KIND_BASES = {mm.BANK_ITCM: mm.ITCM.origin, mm.BANK_DTCM: mm.DTCM.origin,
              mm.BANK_OCRAM: mm.FLEXRAM_OCRAM_BASE}
GPR14_ITCM_SHIFT, GPR14_DTCM_SHIFT = 16, 20
SIZE_OF_CODE = {code: size for size, code in mm.TCM_SIZE_CODES.items()}
# GPR16 out of reset: both TCMs enabled (bits 0, 1), bank map from the fuses.
GPR16_RESET = 0x00200003


class FlexRam:
    def __init__(self, uc, on_remap=None):
        self.uc = uc
        self.on_remap = on_remap or (lambda old, new: None)
        self.gpr14 = 0
        self.gpr16 = GPR16_RESET
        self.gpr17 = 0
        self._gpr14_written = False
        self.banks = mm.RESET_BANK_CONFIG
        self._contents = [bytes(mm.FLEXRAM_BANK_SIZE)] * mm.FLEXRAM_BANKS
        self.mapped = {}            # kind -> (base, size) currently mapped
        self._map()

    # --- register writes from IOMUXC_GPR ---------------------------------------------
    def write_gpr(self, address, value):
        if address == mm.GPR14:
            self.gpr14, self._gpr14_written = value, True
        elif address == mm.GPR16:
            self.gpr16 = value
        elif address == mm.GPR17:
            self.gpr17 = value
        self.apply()

    def read_gpr(self, address):
        return {mm.GPR14: self.gpr14, mm.GPR16: self.gpr16, mm.GPR17: self.gpr17}[address]

    @property
    def selected_banks(self):
        """The bank map in force: GPR17 once GPR16 selects it, else the fuses."""
        if self.gpr16 & mm.GPR16_FLEXRAM_BANK_CFG_SEL:
            return mm.decode_bank_config(self.gpr17)
        return mm.RESET_BANK_CONFIG

    def apply(self):
        """Remap if the configuration in force changed."""
        selected = self.selected_banks
        if selected == self.banks and self._layout(selected) == self.mapped:
            return
        old = dict(self.mapped)
        self._save()
        self._unmap()
        self.banks = selected
        self._map()
        self.on_remap(old, dict(self.mapped))

    # --- what is mapped ---------------------------------------------------------------
    def sizes(self):
        """{kind name: bytes mapped}"""
        return {KIND_NAMES[kind]: size for kind, (_, size) in self.mapped.items()}

    def describe(self, address):
        """A phrase placing `address` against the configured FlexRAM, or None
        when it is not in a FlexRAM window."""
        for kind, base in KIND_BASES.items():
            if base <= address < base + mm.FLEXRAM_SIZE:
                size = self.mapped.get(kind, (base, 0))[1]
                name = KIND_NAMES[kind]
                banks = sum(1 for k in self.banks if k == kind)
                configured = (f"{banks} bank{'s' if banks != 1 else ''} of "
                              f"{mm.FLEXRAM_BANK_SIZE // mm.KB} KB")
                if size == 0:
                    return f"in the {name} window, but the firmware configured no {name} " \
                           f"({configured} per IOMUXC_GPR17)"
                return (f"{address - base - size + 1} byte(s) past the end of {name} as "
                        f"configured: {configured}, 0x{base:08X}..0x{base + size - 1:08X}"
                        if address >= base + size else f"inside {name}")
        return None

    # --- internals ------------------------------------------------------------------
    def _layout(self, banks):
        layout = {}
        for kind in KIND_NAMES:
            size = sum(mm.FLEXRAM_BANK_SIZE for k in banks if k == kind)
            size = min(size, self._size_cap(kind))
            if size:
                layout[kind] = (KIND_BASES[kind], size)
        return layout

    def _size_cap(self, kind):
        if not self._gpr14_written or kind == mm.BANK_OCRAM:
            return mm.FLEXRAM_SIZE
        shift = GPR14_ITCM_SHIFT if kind == mm.BANK_ITCM else GPR14_DTCM_SHIFT
        code = (self.gpr14 >> shift) & 0xF
        return SIZE_OF_CODE.get(code, mm.FLEXRAM_SIZE)

    def _bank_indices(self, banks, kind):
        return [index for index, k in enumerate(banks) if k == kind]

    def _save(self):
        for kind, (base, size) in self.mapped.items():
            data = bytes(self.uc.mem_read(base, size))
            for position, bank in enumerate(self._bank_indices(self.banks, kind)):
                chunk = data[position * mm.FLEXRAM_BANK_SIZE:(position + 1) * mm.FLEXRAM_BANK_SIZE]
                if chunk:
                    self._contents[bank] = chunk.ljust(mm.FLEXRAM_BANK_SIZE, b"\0")

    def _unmap(self):
        for base, size in self.mapped.values():
            self.uc.mem_unmap(base, size)
        self.mapped = {}

    def _map(self):
        self.mapped = self._layout(self.banks)
        for kind, (base, size) in self.mapped.items():
            self.uc.mem_map(base, size)
            data = b"".join(self._contents[bank]
                            for bank in self._bank_indices(self.banks, kind))
            self.uc.mem_write(base, data[:size])
