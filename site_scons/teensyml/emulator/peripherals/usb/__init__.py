"""USB on the emulated Teensy 4.0: the OTG1 device controller (chipidea),
the host at the other end of the cable (host) and its checks of what the
device reports (descriptors).

    port = UsbPort(memory, link)            # machine.usb
    bus.add(port.controller)                # the register page at USB_OTG1_BASE
    port.detach(); port.attach()            # pull the cable out, plug it back
    port.request_line_rate(134)             # what `scons flash` sends to reboot a Teensy

A firmware that never sets USBCMD.RS (the LPUART console) never sees the
host: nothing happens on the bus until the device connects.
"""
from .... import memory_map as mm
from .chipidea import ChipIdea
from .descriptors import DescriptorError
from .host import BOOTLOADER_RATE, TEENSY_SERIAL, Host, Identity, UsbError

__all__ = ["UsbPort", "UcMemory", "ChipIdea", "Host", "Identity", "TEENSY_SERIAL",
           "DescriptorError", "UsbError", "BOOTLOADER_RATE"]


class UcMemory:
    """The controller's DMA view of a Unicorn core's memory."""

    def __init__(self, uc):
        self.uc = uc

    def read(self, address, size):
        return bytes(self.uc.mem_read(address, size))

    def write(self, address, data):
        self.uc.mem_write(address, data)


class UsbPort:
    """The controller with the host on its bus; the host runs on USBSTS reads."""

    def __init__(self, memory, link, identity=TEENSY_SERIAL, on_cable=None):
        """`on_cable(attached)`: told when the cable is pulled or plugged (the
        console's device node goes and comes as /dev/ttyACM0 does)."""
        self.controller = ChipIdea("USB_OTG1", mm.USB_OTG1_BASE, mm.PERIPHERAL_BLOCK_SIZE,
                                   memory, self._poll)
        self.host = Host(self.controller, link, identity)
        self.on_cable = on_cable
        self._toggle_requested = False

    def _poll(self):
        self.host.poll()

    def detach(self):
        """Unplug: the device sees its port disconnect, the host forgets it."""
        self.controller.disconnect()
        self.host.forget()
        if self.on_cable:
            self.on_cable(False)

    def attach(self):
        """Plug in again: at the device's next poll the host resets the bus
        and enumerates it from the start."""
        self.controller.connect()
        if self.on_cable:
            self.on_cable(True)

    def toggle_cable_later(self):
        """Pull the cable out, or plug it back, at the next `service()` (safe
        from a signal handler: the emulation may be inside a register access)."""
        self._toggle_requested = True

    def service(self):
        """Between runs of the core: act on a toggle request."""
        if self._toggle_requested:
            self._toggle_requested = False
            if self.controller.attached:
                self.detach()
            else:
                self.attach()

    def request_line_rate(self, rate):
        self.host.request_line_rate(rate)

    def request_bootloader(self):
        """The 134-baud SET_LINE_CODING Teensy tools send before programming."""
        self.host.request_line_rate(BOOTLOADER_RATE)
