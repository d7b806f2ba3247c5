"""The image the emulator runs, and the function names it reports with."""
from ...image import teensy_image


def load_firmware(path, elf=None):
    """(FirmwareImage, Symbols or None) of a .hex or .elf, refused with the
    failed check when it is not whole or not a Teensy 4.0 boot image (the
    checks of `scons flash`: teensy_image.load_bootable). Function names come
    from `elf`, the image itself when it is an ELF, or the .elf next to a .hex."""
    from .symbols import Symbols
    image = teensy_image.load_bootable(path, elf)
    if elf is None:
        elf = path if teensy_image.is_elf(path) else teensy_image.companion_elf(path)
    return image, (Symbols(elf) if elf else None)
