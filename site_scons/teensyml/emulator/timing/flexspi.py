"""What a 32-byte read from the FlexSPI flash costs, from the image itself.

The boot ROM configures FlexSPI from the image's configuration block (FCB,
at 0x60000000): the serial clock from `serialClkFreq`, and AHB reads (what
execute-in-place and cache line fills are) with the LUT's read sequence 0.
A sequence is a list of 16-bit instructions: opcode (6 bits), pads (2 bits:
1, 2, 4 or 8 data lines), operand (8 bits). Its cost in serial clocks:
command 8 bits, address and mode bits over the pads, dummy cycles as given,
then the data (a 32-byte line: 256 bits over the pads, half the clocks in
DDR). [arch] i.MX RT1060 reference manual, FlexSPI chapter (LUT) and
boot ROM chapter (FlexSPI NOR configuration block).
"""
import struct
from dataclasses import dataclass

from ... import memory_map as mm
from .parameters import LINE_BYTES

SERIAL_CLOCK_MHZ = {1: 30, 2: 50, 3: 60, 4: 75, 5: 80, 6: 100, 7: 120, 8: 133, 9: 166}
SERIAL_CLOCK_OFFSET = 0x46
LUT_OFFSET = 0x80
# The ROM's serial clock when the block names none it knows (its 30 MHz default).
DEFAULT_SERIAL_CLOCK_MHZ = 30

STOP, CMD, RADDR, CADDR, MODE1, MODE2, MODE4, MODE8, WRITE, READ, LEARN, DATSZ, DUMMY, \
    DUMMY_RWDS = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, \
    0x0C, 0x0D
DDR_BIT = 0x20
MODE_BITS = {MODE1: 1, MODE2: 2, MODE4: 4, MODE8: 8}


@dataclass(frozen=True)
class ReadTiming:
    """A FlexSPI AHB read, in serial clocks and core cycles."""
    serial_clock_mhz: int
    setup_clocks: float       # command, address, mode and dummy: before data flows
    line_clocks: float        # one 32-byte line of data
    core_hz: int = mm.CORE_CLOCK_HZ
    description: str = ""

    def cycles(self, clocks):
        return clocks * self.core_hz / (self.serial_clock_mhz * 1e6)

    @property
    def setup_cycles(self):
        return self.cycles(self.setup_clocks)

    @property
    def line_cycles(self):
        return self.cycles(self.line_clocks)


def decode_sequence(words):
    """[(opcode, ddr, pads, operand)] of a LUT sequence (4 words), up to STOP."""
    out = []
    for word in words:
        for instruction in (word & 0xFFFF, word >> 16):
            opcode, pads, operand = instruction >> 10, 1 << ((instruction >> 8) & 3), \
                instruction & 0xFF
            if opcode == STOP:
                return out
            out.append((opcode & ~DDR_BIT, bool(opcode & DDR_BIT), pads, operand))
    return out


def read_timing(flash_bytes, core_hz=mm.CORE_CLOCK_HZ):
    """ReadTiming of the FCB at the start of `flash_bytes` (the image's flash)."""
    serial = SERIAL_CLOCK_MHZ.get(flash_bytes[SERIAL_CLOCK_OFFSET], DEFAULT_SERIAL_CLOCK_MHZ)
    words = struct.unpack_from("<4I", flash_bytes, LUT_OFFSET)
    setup = 0.0
    data = None
    parts = []
    for opcode, ddr, pads, operand in decode_sequence(words):
        rate = pads * (2 if ddr else 1)             # bits per serial clock
        if opcode == CMD:
            clocks = 8 / rate
            parts.append(f"command 0x{operand:02X} {clocks:g}")
        elif opcode in (RADDR, CADDR):
            clocks = operand / rate
            parts.append(f"address {operand} bits {clocks:g}")
        elif opcode in MODE_BITS:
            clocks = MODE_BITS[opcode] / rate
            parts.append(f"mode {clocks:g}")
        elif opcode in (DUMMY, DUMMY_RWDS):
            clocks = operand / 2 if ddr else operand     # DDR counts half clocks
            parts.append(f"dummy {clocks:g}")
        elif opcode == READ:
            data = LINE_BYTES * 8 / rate
            parts.append(f"data {data:g} ({pads} pads{', DDR' if ddr else ''})")
            break
        else:
            continue
        setup += clocks
    if data is None:                 # no READ in sequence 0: a single-pad read
        data = LINE_BYTES * 8
        parts.append("no READ instruction: 1 pad assumed")
    return ReadTiming(serial, setup, data, core_hz,
                      f"{serial} MHz serial clock; clocks: " + ", ".join(parts))
