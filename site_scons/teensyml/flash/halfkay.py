"""Program a Teensy 4.0 through its HalfKay bootloader in Python, over HID.

The USB side is a tiny interface so tests can put a device model in its place:

    bus.enumerate(vendor_id, product_id) -> [{"path": ..., "serial_number": ...}, ...]
    bus.open_path(path) -> handle        (OSError when it cannot be opened)
    handle.write(report) -> int          (bytes written, -1 on failure; report id first)
    handle.close()

HidapiBus is the real one (PyPI hidapi). Nothing is remembered between runs:
each run waits for the bootloader, starts at block 0 (which erases the chip)
and ends with the boot report, so a run cut short is simply run again.
Ctrl-C and SIGTERM stop it between two reports (teensyml.interrupts).
"""
import sys
import time

from .. import interrupts
from ..errors import UserError
from .halfkay_protocol import (BLOCK_SIZE, BOOTLOADER_PRODUCT_ID, ERASE_TIMEOUT,
                               ERASE_WRITES, RETRY_INTERVAL, UDEV_INSTALL, USB_ID,
                               VENDOR_ID, WRITE_TIMEOUT,
                               block_report, boot_report, plan_blocks)

POLL_INTERVAL = 0.25        # seconds between looks for the bootloader
PRESENCE_INTERVAL = 0.5     # seconds between looks for a board that stopped answering


class HidapiBus:
    """USB HID through hidapi (`import hid`)."""

    def enumerate(self, vendor_id, product_id):
        import hid
        return hid.enumerate(vendor_id, product_id)

    def open_path(self, path):
        import hid
        device = hid.device()
        device.open_path(path)
        return device


def permission_error(what):
    """The UserError for a bootloader that is there but cannot be opened."""
    return UserError(
        f"{what} is in the bootloader ({USB_ID}) but cannot be opened: on Linux this "
        f"means your user lacks permission on the USB device. Install the udev rule "
        f"once, then unplug and replug the board: {UDEV_INSTALL}")


def no_bootloader_error(timeout, serial="", present=()):
    """The UserError for a bootloader that did not show up in time."""
    seen = ""
    if serial and present:
        seen = (f" Bootloaders present have serial numbers "
                f"{', '.join(sorted(number or '(none)' for number in present))}; "
                f"none is {serial}.")
    return UserError(
        f"No Teensy bootloader{f' with serial number {serial}' if serial else ''} "
        f"appeared within {timeout:g} s.{seen} Press the button on the Teensy to enter "
        f"the bootloader (a board running a USB serial port is rebooted into it by "
        f"itself), check "
        f"that the USB cable carries data, and on Linux that a udev rule lets you open "
        f"{USB_ID}; then run again, with a longer TIMEOUT= if needed.")


def _serial_of(device):
    return (device.get("serial_number") or "").strip()


def _describe(device, start="the"):
    serial = _serial_of(device)
    return f"{start} Teensy" + (f" with serial number {serial}" if serial else "")


def wait_for_bootloader(bus, serial="", timeout=60.0, out=None, poll=POLL_INTERVAL):
    """The enumeration entry of the one bootloader to program (the one whose
    USB serial number is `serial`, when given), waiting up to `timeout` s."""
    out = out or sys.stdout
    deadline = time.monotonic() + timeout
    hinted = False
    while True:
        interrupts.check("while waiting for the Teensy bootloader; nothing was written")
        present = bus.enumerate(VENDOR_ID, BOOTLOADER_PRODUCT_ID)
        chosen = [d for d in present
                  if not serial or _serial_of(d).lower() == serial.strip().lower()]
        if len(chosen) == 1:
            return chosen[0]
        if len(chosen) > 1:
            numbers = ", ".join(sorted(_serial_of(d) or "(none)" for d in chosen))
            raise UserError(
                f"{len(chosen)} Teensy boards are in the bootloader (serial numbers: "
                f"{numbers}); name the one to program with SERIAL=<serial number> "
                f"(FLASHER=halfkay), or unplug the others.")
        if time.monotonic() >= deadline:
            raise no_bootloader_error(timeout, serial, [_serial_of(d) for d in present])
        if not hinted:
            print(f"Waiting up to {timeout:g} s for the Teensy bootloader ({USB_ID}): "
                  f"press the button on the board.", file=out, flush=True)
            hinted = True
        interrupts.wait(poll)


def _write(handle, report, limit, interval, present=lambda: True):
    """Send one report, retrying every `interval` s for up to `limit` s (the
    bootloader refuses reports while it erases or writes). Gives up early
    when `present()` says the board has gone (no 45 s wait for a lost board)
    or a stopping signal arrived."""
    now = time.monotonic()
    deadline, next_look = now + limit, now + PRESENCE_INTERVAL
    while interrupts.received() is None:
        try:
            if handle.write(report) > 0:
                return True
        except (OSError, ValueError):
            pass
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= next_look:
            if not present():
                return False
            next_look = now + PRESENCE_INTERVAL
        time.sleep(interval)
    return False


def _present(bus, device):
    return any(d.get("path") == device.get("path")
               for d in bus.enumerate(VENDOR_ID, BOOTLOADER_PRODUCT_ID))


def _write_failure(bus, device, number, total, block, limit):
    where = f"block {number + 1} of {total} (flash address 0x{block.address:08X})"
    if not _present(bus, device):
        what = (f"{_describe(device, 'The')} went away while writing {where}: it was "
                f"unplugged or reset.")
    elif number < ERASE_WRITES:
        what = (f"The bootloader did not accept {where} within {limit:g} s while the chip "
                f"erases.")
    else:
        what = f"The bootloader stopped accepting data at {where} (no answer in {limit:g} s)."
    return UserError(
        f"{what} The flash is only partly written, so the board will not run it. Run the "
        f"flash again (press the button if the bootloader is gone): every run starts over "
        f"from the first block, which erases the chip.")


def partly_written(blocks_written, total):
    """How an interrupted flash leaves the board (the end of a sentence)."""
    return (f"after {blocks_written} of {total} blocks: the flash is only partly written, so "
            f"the board will not run it. Run the flash again: every run starts over from "
            f"the first block")


def upload(image, bus=None, serial="", timeout=60.0, out=None,
           erase_timeout=ERASE_TIMEOUT, write_timeout=WRITE_TIMEOUT,
           retry_interval=RETRY_INTERVAL, poll=POLL_INTERVAL):
    """Write a checked image (teensy_image.check_teensy40) to the board and boot it."""
    from tqdm import tqdm
    out = out or sys.stdout
    bus = bus or HidapiBus()
    blocks = plan_blocks(image)
    device = wait_for_bootloader(bus, serial, timeout, out, poll)
    try:
        handle = bus.open_path(device["path"])
    except OSError:
        raise permission_error(_describe(device, "The")) from None
    started = time.monotonic()
    try:
        # disable=None: a bar on a terminal, nothing in logs.
        with tqdm(total=len(blocks) * BLOCK_SIZE, unit="B", unit_scale=True,
                  unit_divisor=1024, desc="Flashing", file=out, disable=None,
                  leave=False) as bar:
            for number, block in enumerate(blocks):
                limit = erase_timeout if number < ERASE_WRITES else write_timeout
                written = _write(handle, block_report(block), limit, retry_interval,
                                 lambda: _present(bus, device))
                interrupts.check(partly_written(number + written, len(blocks)))
                if not written:
                    raise _write_failure(bus, device, number, len(blocks), block, limit)
                bar.update(BLOCK_SIZE)
        # HalfKay may reset before it acknowledges the boot report: not an error.
        _write(handle, boot_report(), write_timeout, retry_interval)
    finally:
        handle.close()
    print(f"Programmed {len(blocks)} blocks ({len(blocks) * BLOCK_SIZE // 1024} KB) into "
          f"{_describe(device)} in {time.monotonic() - started:.1f} s; it now boots the "
          f"new firmware.", file=out, flush=True)
    return len(blocks)
