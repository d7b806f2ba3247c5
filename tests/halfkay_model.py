"""A Teensy 4.0 waiting in its HalfKay bootloader, as the host sees it over
USB HID: the device model the HalfKay uploader's tests put in place of hidapi.

It enforces the protocol (../shared/DESIGN.md, section 2) on every report and
raises ProtocolViolation (an AssertionError, which the uploader does not
catch) on a breach: 1089 bytes with report id 0, a 3-byte little-endian block
offset then zeros up to byte 64 of the report proper, 1024 data bytes, block
0 first (it erases), blocks ascending, the boot report (offset FFFFFF, all
zeros) last and nothing after it. It keeps what was written in its own flash
array, and fails on command: not present (yet), gone at block N, an erase that
takes long or never ends, a device the user may not open.

The report layout is decoded here with its own literal numbers, not with the
uploader's helpers, so a wrong encoding cannot agree with itself.
"""
import time

from teensyml import memory_map as mm

VENDOR_ID, PRODUCT_ID = 0x16C0, 0x0478
REPORT_LENGTH = 1 + 64 + 1024      # report id, header, one block
BLOCK = 1024
BOOT = 0xFFFFFF


class ProtocolViolation(AssertionError):
    pass


class HalfKayBoard:
    """One board in the bootloader."""

    def __init__(self, serial_number="0012F3A4", present=True, appear_after=None,
                 vanish_at_block=None, erase_seconds=0.0, deny_open=False):
        self.serial_number = serial_number
        self.path = f"model-usb-{serial_number}".encode()
        self._present = present and appear_after is None
        self._appear_at = None if appear_after is None else time.monotonic() + appear_after
        self.vanish_at_block = vanish_at_block      # 1-based number of a block report
        self.erase_seconds = erase_seconds           # float("inf"): never finishes
        self.deny_open = deny_open
        self.flash = bytearray(b"\xA5" * mm.FLASH_PROGRAM_SIZE)   # old contents
        self.blocks = []            # offsets received this session, in order
        self.booted = False
        self.rejected_writes = 0    # writes refused while busy (erasing)
        self._busy_until = 0.0

    @property
    def present(self):
        if self._appear_at is not None and time.monotonic() >= self._appear_at:
            self._present, self._appear_at = True, None
        return self._present

    def replug(self):
        """The user presses the button again: a fresh bootloader session."""
        self._present, self.vanish_at_block = True, None
        self.blocks, self.booted, self._busy_until = [], False, 0.0

    def info(self):
        return {"path": self.path, "vendor_id": VENDOR_ID, "product_id": PRODUCT_ID,
                "serial_number": self.serial_number, "product_string": "",
                "manufacturer_string": "", "interface_number": 0}

    def receive(self, report):
        """One HID output report, as hidapi's write() delivers it."""
        if not self.present:
            return -1
        if self.booted:
            raise ProtocolViolation("a report arrived after the boot report")
        if len(report) != REPORT_LENGTH:
            raise ProtocolViolation(f"report of {len(report)} bytes, not {REPORT_LENGTH}")
        if report[0] != 0:
            raise ProtocolViolation(f"report id {report[0]}, not 0")
        offset = report[1] | report[2] << 8 | report[3] << 16
        if any(report[4:65]):
            raise ProtocolViolation(f"header bytes 3..63 not zero (block 0x{offset:06X})")
        data = report[65:]
        if offset == BOOT:
            if any(data):
                raise ProtocolViolation("the boot report carries data")
            if not self.blocks:
                raise ProtocolViolation("boot report before any block")
            self.booted, self._present = True, False     # it runs the firmware now
            return len(report)
        if time.monotonic() < self._busy_until:
            self.rejected_writes += 1
            return -1
        if offset % BLOCK or offset >= mm.FLASH_PROGRAM_SIZE:
            raise ProtocolViolation(f"block offset 0x{offset:06X} is not a block of "
                                    f"program flash")
        if not self.blocks and offset != 0:
            raise ProtocolViolation(f"first block is 0x{offset:06X}; block 0 must come "
                                    f"first (it erases the chip)")
        if self.blocks and offset <= self.blocks[-1]:
            raise ProtocolViolation(f"block 0x{offset:06X} after 0x{self.blocks[-1]:06X}: "
                                    f"blocks must ascend")
        if self.vanish_at_block == len(self.blocks) + 1:
            self._present = False
            return -1
        if offset == 0:
            self.flash[:] = b"\xFF" * len(self.flash)
            self._busy_until = time.monotonic() + self.erase_seconds
        self.flash[offset:offset + BLOCK] = data
        self.blocks.append(offset)
        return len(report)


class _Handle:
    def __init__(self, bus, board):
        self.bus, self.board, self.closed = bus, board, False

    def write(self, report):
        if self.closed:
            raise ProtocolViolation("write on a closed device")
        return self.board.receive(bytes(report))

    def close(self):
        self.closed = True
        self.bus.open_handles.remove(self)


class ModelBus:
    """The HID bus with the given boards on it: what HidapiBus is for real USB."""

    def __init__(self, *boards):
        self.boards = list(boards)
        self.open_handles = []
        self.opened = 0

    def enumerate(self, vendor_id, product_id):
        if (vendor_id, product_id) != (VENDOR_ID, PRODUCT_ID):
            return []
        return [board.info() for board in self.boards if board.present]

    def open_path(self, path):
        for board in self.boards:
            if board.path == path and board.present and not board.deny_open:
                handle = _Handle(self, board)
                self.open_handles.append(handle)
                self.opened += 1
                return handle
        raise OSError("open failed")
