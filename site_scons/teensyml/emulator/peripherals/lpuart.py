"""LPUART2, the console: what fsl_lpuart and a raw-register driver read.

Transmission is instant: TDRE and TC always read as set and a byte written to
DATA goes to the host at once (only while CTRL.TE is set, as on the chip).
Reception: host bytes wait "on the wire" until CTRL.RE is set, then fill the
receive FIFO (4 entries with FIFO.RXFE, else a single buffer); RDRF follows
the FIFO count against WATER.RXWATER. A FIFO flush discards what the FIFO
holds, never what is still on the wire. No interrupts, no overrun, no
framing: the baud rate is not modelled.

Idle detection: a firmware with nothing to do polls STAT in a tight loop;
idle.py turns such a loop into `link.idle()`, which may block until the host
has input, so an idle firmware costs no host CPU.
"""
from .idle import IdlePolls
from .registers import RegisterBlock

VERID, PARAM, GLOBAL, PINCFG, BAUD, STAT, CTRL, DATA, MATCH, MODIR, FIFO, WATER = \
    range(0x00, 0x30, 4)
FIFO_DEPTH = 4

STAT_TDRE, STAT_TC, STAT_RDRF = 1 << 23, 1 << 22, 1 << 21
STAT_CONFIG = 0x3F << 24          # MSBF RXINV RWUID BRK13 LBKDE RAF: read/write
STAT_RESET = STAT_TDRE | STAT_TC
CTRL_TE, CTRL_RE = 1 << 19, 1 << 18
DATA_RXEMPT = 1 << 12
GLOBAL_RST = 1 << 1
FIFO_RXFE, FIFO_TXFE = 1 << 3, 1 << 7
FIFO_RXFLUSH, FIFO_TXFLUSH = 1 << 14, 1 << 15
FIFO_RXEMPT, FIFO_TXEMPT = 1 << 22, 1 << 23
FIFO_WRITABLE = FIFO_RXFE | FIFO_TXFE | (0x3F << 8)       # enables, RXIDEN, ...
FIFO_SIZES = 0x11                   # TXFIFOSIZE = RXFIFOSIZE = 1: four words
WATER_RXWATER_SHIFT, WATER_RXCOUNT_SHIFT = 16, 24
WATER_WRITABLE = 0x3 | (0x3 << WATER_RXWATER_SHIFT)

RESET = {VERID: 0x04010003, PARAM: 0x00000202,    # PARAM: 2**2 = 4-word FIFOs
         BAUD: 0x0F000004, STAT: STAT_RESET, FIFO: FIFO_SIZES}



class Lpuart(RegisterBlock):
    """`link` provides transmit(byte), receive(count) -> bytes (what the host
    has sent, at most `count` bytes), idle() and note(text)."""

    def __init__(self, name, base, link, size):
        super().__init__(name, base, size, RESET)
        self.link = link
        self.rx = bytearray()
        self.transmitted = 0
        self.dropped_tx = 0
        self.idle = IdlePolls(link)

    # --- receive path -----------------------------------------------------------------
    def _capacity(self):
        return FIFO_DEPTH if self.load(FIFO) & FIFO_RXFE else 1

    def _fill(self):
        if self.load(CTRL) & CTRL_RE and len(self.rx) < self._capacity():
            self.rx += self.link.receive(self._capacity() - len(self.rx))
        if not self.rx:
            self.idle.empty()

    def _rdrf(self):
        if self.load(FIFO) & FIFO_RXFE:
            water = (self.load(WATER) >> WATER_RXWATER_SHIFT) & 0x3
            return len(self.rx) > water
        return bool(self.rx)

    # --- registers ---------------------------------------------------------------------
    def read_register(self, offset):
        if offset == STAT:
            self._fill()
            return (self.load(STAT) & STAT_CONFIG) | STAT_TDRE | STAT_TC | \
                (STAT_RDRF if self._rdrf() else 0)
        if offset == DATA:
            self._fill()
            if not self.rx:
                return DATA_RXEMPT
            self.idle.busy()
            byte = self.rx.pop(0)
            return byte
        if offset == FIFO:
            self._fill()
            return (self.load(FIFO) & (FIFO_WRITABLE | FIFO_SIZES)) | FIFO_TXEMPT | \
                (0 if self.rx else FIFO_RXEMPT)
        if offset == WATER:
            self._fill()
            return (self.load(WATER) & WATER_WRITABLE) | \
                (min(len(self.rx), FIFO_DEPTH) << WATER_RXCOUNT_SHIFT)
        return self.load(offset)

    def write_register(self, offset, value):
        if offset == DATA:
            self.idle.busy()
            if self.load(CTRL) & CTRL_TE:
                self.transmitted += 1
                self.link.transmit(value & 0xFF)
            else:
                if not self.dropped_tx:
                    self.link.note(f"{self.name}: the firmware writes DATA while the "
                                   f"transmitter is off (CTRL.TE clear): those bytes are "
                                   f"lost, as on the chip. Was the UART initialised?")
                self.dropped_tx += 1
        elif offset == STAT:
            # Flags are write-1-to-clear (none is ever raised); keep the config bits.
            self.store(STAT, (value & STAT_CONFIG) | STAT_RESET)
        elif offset == FIFO:
            if value & FIFO_RXFLUSH:
                self.rx.clear()
            self.store(FIFO, (value & FIFO_WRITABLE) | FIFO_SIZES)
        elif offset == GLOBAL:
            if value & GLOBAL_RST:
                for register, reset in RESET.items():
                    self.store(register, reset)
                for register in (PINCFG, CTRL, MATCH, MODIR, WATER):
                    self.store(register, 0)
                self.rx.clear()
            self.store(GLOBAL, value)
        elif offset in (VERID, PARAM):
            pass                      # read-only
        else:
            self.store(offset, value)
