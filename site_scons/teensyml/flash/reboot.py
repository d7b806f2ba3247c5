"""REBOOT=: before programming, ask a running board to enter its bootloader,
so no one has to press the button.

A board running our firmware with CONSOLE=usb, or a Teensyduino sketch with
USB serial, is a USB serial port 16c0:0483; opening it at 134 baud reboots
it into HalfKay (teensyml.teensy_usb). Both back ends then wait for the
bootloader as they would for the button.

    auto  reboot the board when one is found (the one of SERIAL= when given);
          otherwise say to press the button, and wait for it
    1     the same, but no board to reboot is an error: for scripts where
          nobody can press the button
    0     never: wait for the button
"""
import sys

from .. import teensy_usb
from ..errors import UserError


def _no_board(serial):
    which = f" with serial number {serial}" if serial else ""
    return (f"No Teensy{which} running a USB serial port ({teensy_usb.SERIAL_USB_ID}: our "
            f"firmware built with CONSOLE=usb, or a Teensyduino sketch with USB serial) was "
            f"found to reboot into the bootloader")


def reboot_into_bootloader(mode="auto", serial="", out=None, listed=None):
    """Reboot the running board into its bootloader as REBOOT=`mode` says;
    True when the request went out. `listed` replaces the machine's serial
    ports (tests)."""
    out = out or sys.stdout
    if mode == "0":
        return False
    ports = teensy_usb.serial_ports(listed, serial)
    if len(ports) > 1:
        listing = ", ".join(teensy_usb.describe(port) for port in ports)
        problem = (f"Several Teensy boards run a USB serial port ({listing}); name the one "
                   f"to program with SERIAL=<serial number>")
        if mode == "1":
            raise UserError(f"REBOOT=1: {problem}.")
        print(f"{problem}, or press the button on it.", file=out, flush=True)
        return False
    if not ports:
        if mode == "1":
            raise UserError(f"REBOOT=1: {_no_board(serial)}. Connect the board with its USB "
                            f"cable, or press its button and flash with REBOOT=auto.")
        print(f"{_no_board(serial)}: press the button on the Teensy to enter the "
              f"bootloader.", file=out, flush=True)
        return False
    port = ports[0]
    print(f"Rebooting the Teensy on {teensy_usb.describe(port)} into its bootloader "
          f"({teensy_usb.REBOOT_BAUD}-baud request)", file=out, flush=True)
    teensy_usb.request_bootloader(port.device)
    return True
