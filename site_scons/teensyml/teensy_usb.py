"""The Teensy's USB identities, and its USB serial port as the host sees it.

A Teensy 4.0 running our firmware with CONSOLE=usb, or any Teensyduino sketch
with USB serial, is a CDC-ACM serial port with USB id 16c0:0483 (the firmware
enumerates as Teensyduino's, src/board/teensy40/usb_descriptors.c); in its
bootloader the board is the HID device 16c0:0478 (HalfKay). Setting the
serial port's line rate to 134 baud asks the running firmware to reboot into
the bootloader: Teensyduino's convention, which our firmware honours too.

    ports = serial_ports()                 # the boards running a USB serial
    request_bootloader(ports[0].device)    # the 134-baud request

`listed` arguments take pyserial's ListPortInfo objects in place of the
machine's ports (tests: pyserial cannot list a pseudo-terminal).
"""
import errno

from .errors import UserError

VENDOR_ID = 0x16C0
BOOTLOADER_PRODUCT_ID = 0x0478       # HalfKay
SERIAL_PRODUCT_ID = 0x0483           # a running firmware with USB serial
REBOOT_BAUD = 134
SERIAL_USB_ID = f"USB {VENDOR_ID:04x}:{SERIAL_PRODUCT_ID:04x}"


def listed_ports(listed=None):
    """pyserial's ports: `listed`, or the machine's."""
    if listed is not None:
        return list(listed)
    from serial.tools import list_ports
    return list_ports.comports()


def serial_ports(listed=None, serial=""):
    """The Teensy USB serial ports (16c0:0483) among `listed` (default: the
    machine's), those of USB serial number `serial` when given, by device path."""
    return sorted((port for port in listed_ports(listed)
                   if port.vid == VENDOR_ID and port.pid == SERIAL_PRODUCT_ID
                   and (not serial or (port.serial_number or "").lower() == serial.lower())),
                  key=lambda port: port.device)


def describe(port):
    """`/dev/ttyACM0 (serial number 12345670)`: a port, for messages."""
    number = port.serial_number
    return port.device + (f" (serial number {number})" if number else "")


def request_bootloader(device):
    """Ask the firmware behind the serial port `device` to reboot into the
    bootloader: open it at 134 baud (the driver sends the line coding) and
    close it. A UserError when the port cannot be opened."""
    import serial as pyserial
    try:
        pyserial.Serial(device, REBOOT_BAUD).close()
    except (pyserial.SerialException, OSError) as error:
        if getattr(error, "errno", None) == errno.EACCES:
            raise UserError(f"{device} is the Teensy's USB serial port, but it cannot be "
                            f"opened: permission denied. Add yourself to the group that "
                            f"owns it (usually `sudo usermod -aG dialout $USER`, then log in "
                            f"again), or press the button on the Teensy.") from None
        raise UserError(f"{device} (the Teensy's USB serial port) could not be opened to "
                        f"ask for the bootloader ({error}); press the button on the "
                        f"Teensy instead.") from None
