"""`scons flash`: check a firmware image, then program it with one back end.

    run("build/int8-reference/firmware.hex", Settings.from_options(values))
    program("build/int8-reference/firmware.hex", flasher="auto", timeout=60)

FLASHER=teensy_loader_cli runs PJRC's tool; FLASHER=halfkay is our Python
uploader (hidapi); auto takes the tool when it is installed, else the
uploader, and the uploader when SERIAL= names a board (the tool cannot).
"""
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass

from .. import interrupts
from ..errors import UserError
from ..option_values import CommandSettings
from ..image.teensy_image import is_elf, load_bootable
from . import halfkay, teensy_loader_cli
from .halfkay_protocol import plan_blocks
from .reboot import reboot_into_bootloader

def choose_flasher(name="auto", serial=""):
    """The back end FLASHER=`name` (one of the option table's choices) means
    on this machine."""
    if name != "auto":
        return name
    if serial or teensy_loader_cli.find_tool() is None:
        return "halfkay"
    return "teensy_loader_cli"


@contextlib.contextmanager
def _hex_file(image, path):
    """`path` when it is a HEX already; else a temporary HEX of the image."""
    if not is_elf(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="teensy-flash-") as directory:
        hex_path = os.path.join(directory, os.path.splitext(os.path.basename(path))[0] + ".hex")
        image.write_hex(hex_path)
        yield hex_path


def program(path, flasher="auto", reboot="auto", serial="", timeout=60.0, out=None, bus=None,
            ports=None):
    """Check the image at `path` (HEX or ELF) is whole and a Teensy 4.0 image
    (teensy_image.load_bootable), reboot a running board into its bootloader
    as REBOOT=`reboot` says (flash/reboot.py), then program it. Returns the
    back end used. `bus` replaces USB for halfkay, `ports` the machine's
    serial ports (pyserial's ListPortInfo objects)."""
    out = out or sys.stdout
    image = load_bootable(path)
    chosen = choose_flasher(flasher, serial)
    if chosen == "teensy_loader_cli" and serial:
        raise UserError("SERIAL= chooses one board among several, which teensy_loader_cli "
                        "cannot do; use FLASHER=halfkay (or auto) with SERIAL=.")
    blocks = len(plan_blocks(image))
    print(f"Flashing {os.path.basename(path)} ({image.size / 1024:.1f} KB, {blocks} blocks) "
          f"with {chosen}", file=out, flush=True)
    reboot_into_bootloader(reboot, serial, out, ports)
    if chosen == "teensy_loader_cli":
        with _hex_file(image, path) as hex_path:
            teensy_loader_cli.program(hex_path, blocks, timeout, out)
    else:
        halfkay.upload(image, bus, serial, timeout, out)
    return chosen


@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons flash` and tools/flash.py do, from resolved options."""
    flasher: str
    reboot: str
    serial: str
    timeout: float


def run(path, settings, out=None):
    """program() the image at `path` with `settings`; Ctrl-C and SIGTERM stop
    it (interrupts.Interrupted)."""
    with interrupts.listening():
        return program(path, settings.flasher, settings.reboot, settings.serial,
                       settings.timeout, out)
