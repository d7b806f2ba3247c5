"""The Teensy 4.0 HalfKay bootloader protocol, as data: which 1 KB blocks of
an image get written, and the bytes of each HID report.

Both back ends use the block plan: the Python uploader sends it, and the
teensy_loader_cli back end counts the dots that tool prints against it (the
tool chooses the same blocks), so the two progress bars agree.
"""
from dataclasses import dataclass

from .. import memory_map as mm
# The bootloader's USB id (with the running firmware's, in one place).
from ..teensy_usb import BOOTLOADER_PRODUCT_ID, VENDOR_ID

BLOCK_SIZE = 1024
HEADER_SIZE = 64                     # address in bytes 0..2, the rest zero
REPORT_ID = b"\x00"                  # hidapi wants the report id first
BOOT_ADDRESS = 0xFFFFFF
# The first writes wait while the chip erases; later ones only for a page write.
ERASE_WRITES = 5
ERASE_TIMEOUT = 45.0
WRITE_TIMEOUT = 0.5
RETRY_INTERVAL = 0.01

# One line for /etc/udev/rules.d/: lets users open the bootloader without root.
UDEV_RULE = (f'SUBSYSTEMS=="usb", ATTRS{{idVendor}}=="{VENDOR_ID:04x}", '
             f'ATTRS{{idProduct}}=="{BOOTLOADER_PRODUCT_ID:04x}", MODE:="0666", '
             f'TAG+="uaccess"')
UDEV_INSTALL = (f"echo '{UDEV_RULE}' | sudo tee /etc/udev/rules.d/00-teensy.rules "
                f"&& sudo udevadm control --reload-rules && sudo udevadm trigger")
USB_ID = f"USB {VENDOR_ID:04x}:{BOOTLOADER_PRODUCT_ID:04x}"


@dataclass(frozen=True)
class Block:
    offset: int          # from the flash base
    data: bytes          # BLOCK_SIZE bytes, 0xFF where the image has none

    @property
    def address(self):
        return mm.FLASH.origin + self.offset


def plan_blocks(image):
    """The blocks to write, ascending: block 0 always (writing it erases the
    chip), then every block holding image bytes that are not all 0xFF.
    The image must already have passed teensy_image.check_teensy40()."""
    offsets = {0}
    for segment in image.segments:
        first = (segment.address - mm.FLASH.origin) // BLOCK_SIZE
        last = (segment.end - 1 - mm.FLASH.origin) // BLOCK_SIZE
        offsets.update(range(first * BLOCK_SIZE, (last + 1) * BLOCK_SIZE, BLOCK_SIZE))
    blocks = []
    for offset in sorted(offsets):
        data = image.bytes_at(mm.FLASH.origin + offset, BLOCK_SIZE, fill=0xFF)
        if offset == 0 or data.count(0xFF) != BLOCK_SIZE:
            blocks.append(Block(offset, data))
    return blocks


def _header(address):
    return address.to_bytes(3, "little") + bytes(HEADER_SIZE - 3)


def block_report(block):
    """The HID output report (report id first) that writes `block`."""
    return REPORT_ID + _header(block.offset) + block.data


def boot_report():
    """The report that makes HalfKay start the new firmware."""
    return REPORT_ID + _header(BOOT_ADDRESS) + bytes(BLOCK_SIZE)
