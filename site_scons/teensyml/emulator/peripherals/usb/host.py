"""The emulated USB host at the other end of the cable: it enumerates the
device as an operating system does, checks what it reports (descriptors.py),
then carries the CDC-ACM serial port's bytes to and from the console.

It runs in the firmware's polls: every read of USBSTS is one turn
(`poll`), in which the host does at most one transaction or a burst of bulk
traffic. The host's work is a generator that yields whenever it has to wait
for the device (a NAK), so the code reads as the sequence of requests it is.

`link` is the machine's console side: transmit(byte), receive(count) ->
bytes, idle() (block for host input), note(text), fail(text) (a USB error:
the run stops), line_rate() (the baud rate the console's user set, or None),
seconds() (the emulated time, for the USB timeouts).
"""
import struct
from dataclasses import dataclass

from ..idle import IdlePolls
from . import descriptors as d
from .chipidea import ACK, NAK, STALL

ADDRESS = 1                              # the address the host gives the device
SET_ADDRESS, GET_DESCRIPTOR, SET_CONFIGURATION = 5, 6, 9
SET_LINE_CODING, SET_CONTROL_LINE_STATE = 0x20, 0x22
DTR_RTS = 0x3
BOOTLOADER_RATE = 134                    # Teensyduino: reboot into HalfKay
# USB 2.0 9.2.6.4: each data packet of a request within 500 ms (the status
# stage within 50 ms; the host here allows every stage the 500 ms).
REQUEST_TIMEOUT = 0.5
CHECK_CLOCK_EVERY = 256                  # NAKs between looks at the clock
RATE_CHECK_EVERY = 64                    # bridge turns between looks at the line rate
# The host cannot see the device read its receive buffer: after delivering
# bytes it grants this many empty turns per byte before calling the device
# idle (a firmware polls the controller at least once per byte it reads).
BUSY_TURNS_PER_BYTE = 4


@dataclass(frozen=True)
class Identity:
    """What the host expects the device to say it is."""
    vendor: int = 0x16C0
    product: int = 0x0483
    manufacturer: str = "Teensyduino"
    product_name: str = "USB Serial"


TEENSY_SERIAL = Identity()


class UsbError(Exception):
    """The device broke the protocol (no answer, a stall, a timeout)."""


class Host:
    def __init__(self, controller, link, identity=TEENSY_SERIAL):
        self.controller = controller
        self.link = link
        self.identity = identity
        self.failure = None              # the message of a USB error, once one happened
        self.enumerations = 0            # completed, since the start
        self._requests = []              # line rates to send (SET_LINE_CODING)
        self.forget()

    def forget(self):
        """The device is gone (unplugged, or it pulled its pull-up)."""
        self._task = None
        self.address = 0
        self.device = self.configuration = self.serial = None
        self.strings = {}
        self.configured = False
        self.line_rate = None
        self._pending = b""
        self._idle = IdlePolls(self.link)
        self._progress = False
        self._busy_turns = 0

    def request_line_rate(self, rate):
        """Send SET_LINE_CODING with `rate` once the port is configured (134:
        the bootloader request)."""
        self._requests.append(rate)

    # --- a turn -----------------------------------------------------------------------------
    def poll(self):
        if self.failure is not None:
            return
        if not self.controller.running:
            if self._task is not None:
                self.forget()
            self._empty_turn()               # nothing can come: an idle firmware
            return
        if self._task is None:
            self._task = self._session()
        self._progress = False
        try:
            next(self._task)
        except (UsbError, d.DescriptorError) as error:
            self.failure = f"USB: {error}"
            self.link.fail(self.failure)
        except StopIteration:
            self._task = None

    def _session(self):
        yield from self._reset()
        yield from self._enumerate()
        yield from self._bridge()

    def _reset(self):
        """Reset the bus, then give the device its reset recovery time (USB 2.0
        7.1.7.3: 10 ms): here, until it has acknowledged the reset (cleared
        USBSTS.URI) and polled once more."""
        self.controller.bus_reset()
        began = self.link.seconds()
        while self.controller.reset_pending:
            if self.link.seconds() - began > REQUEST_TIMEOUT:
                raise UsbError(f"bus reset: the device did not acknowledge it (USBSTS.URI "
                               f"still set after {REQUEST_TIMEOUT:g} s of emulated time)")
            yield
        yield

    # --- enumeration (what an operating system asks) ----------------------------------------
    def _enumerate(self):
        high_speed = self.controller.high_speed
        first = yield from self._get_descriptor(d.DEVICE, 0, 64, "device descriptor")
        self.device = d.parse_device(first, high_speed)
        yield from self._control(0x00, SET_ADDRESS, ADDRESS, 0, what="SET_ADDRESS")
        self.address = ADDRESS
        again = yield from self._get_descriptor(d.DEVICE, 0, 18, "device descriptor")
        d.check(again == first, "device descriptor: it changed after SET_ADDRESS")
        header = yield from self._get_descriptor(d.CONFIGURATION, 0, 9,
                                                 "configuration descriptor")
        d.check(len(header) >= 4, f"configuration descriptor: the device returned "
                                  f"{len(header)} bytes for the 9-byte header")
        total = struct.unpack("<H", header[2:4])[0]
        whole = yield from self._get_descriptor(d.CONFIGURATION, 0, total,
                                                "configuration descriptor")
        self.configuration = d.parse_configuration(whole, high_speed)
        self.serial = d.cdc_acm(self.configuration)
        languages = d.parse_string((yield from self._get_descriptor(
            d.STRING, 0, 255, "string descriptor 0")), 0)
        d.check(d.LANGID_US_ENGLISH in languages,
                f"string descriptor 0: LANGID 0x0409 (English) is not offered: {languages}")
        for name, index in self.device.strings.items():
            if index:
                raw = yield from self._get_descriptor(d.STRING, index, 255,
                                                      f"string descriptor {index}",
                                                      d.LANGID_US_ENGLISH)
                self.strings[name] = d.parse_string(raw, index)
        self._check_identity()
        yield from self._control(0x00, SET_CONFIGURATION, self.configuration.value, 0,
                                 what="SET_CONFIGURATION")
        self.configured = True
        yield from self._set_line_coding(115200)
        yield from self._control(0x21, SET_CONTROL_LINE_STATE, DTR_RTS, self.serial.control,
                                 what="SET_CONTROL_LINE_STATE")
        self.enumerations += 1

    def _check_identity(self):
        expected, device = self.identity, self.device
        d.check((device.vendor, device.product) == (expected.vendor, expected.product),
                f"device descriptor: idVendor:idProduct is {device.vendor:04X}:"
                f"{device.product:04X}; Teensyduino's USB serial is {expected.vendor:04X}:"
                f"{expected.product:04X}, which host tools look for")
        for name, text in (("manufacturer", expected.manufacturer),
                           ("product", expected.product_name)):
            d.check(self.strings.get(name) == text,
                    f"device descriptor: the {name} string (i{name.capitalize()}) is "
                    f"{self.strings.get(name)!r}; expected {text!r}")
        d.check(self.strings.get("serial"), "device descriptor: no serial number string "
                                            "(iSerialNumber); host tools tell boards apart "
                                            "by it")

    def _get_descriptor(self, kind, index, length, what, language=0):
        return (yield from self._control(0x80, GET_DESCRIPTOR, kind << 8 | index, language,
                                         length, what=f"GET_DESCRIPTOR {what}"))

    def _set_line_coding(self, rate):
        coding = struct.pack("<IBBB", rate, 0, 0, 8)          # 1 stop bit, no parity, 8 bits
        yield from self._control(0x21, SET_LINE_CODING, 0, self.serial.control, data=coding,
                                 what=f"SET_LINE_CODING {rate} baud")
        self.line_rate = rate

    # --- control transfers ------------------------------------------------------------------
    def _control(self, request_type, request, value, index, length=0, data=b"", what=""):
        """SETUP, data stage, status stage; returns the data read."""
        size = self.device.max_packet0 if self.device else 64
        setup = struct.pack("<BBHHH", request_type, request, value, index,
                            length if request_type & 0x80 else len(data))
        if self.controller.setup(self.address, setup) is None:
            raise UsbError(f"{what}: the device does not answer at address {self.address}")
        self._progress = True
        yield
        if request_type & 0x80:
            received = b""
            while True:
                packet = yield from self._in(0, what)
                received += packet
                if len(packet) < size or len(received) >= length:
                    break
            d.check(len(received) <= length, f"{what}: the device sent {len(received)} "
                                             f"bytes; the host asked for at most {length}")
            yield from self._out(0, b"", what + " (status stage)")
            return received
        for start in range(0, len(data), size):
            yield from self._out(0, data[start:start + size], what)
        status = yield from self._in(0, what + " (status stage)")
        d.check(status == b"", f"{what}: the status stage must be a zero-length packet; "
                               f"the device sent {len(status)} bytes")
        return b""

    def _in(self, endpoint, what):
        """One IN data packet, waiting out NAKs."""
        return (yield from self._retry(lambda: self.controller.in_token(self.address,
                                                                        endpoint), what))

    def _out(self, endpoint, data, what):
        return (yield from self._retry(lambda: self.controller.out_token(self.address,
                                                                         endpoint, data), what))

    def _retry(self, transaction, what):
        began, naks = None, 0
        while True:
            answer = transaction()
            if answer is None:
                raise UsbError(f"{what}: the device does not answer at address "
                               f"{self.address}")
            if answer == STALL:
                raise UsbError(f"{what}: the device stalled the request")
            if answer != NAK:
                self._progress = True
                return answer
            naks += 1
            if naks % CHECK_CLOCK_EVERY == 1:
                now = self.link.seconds()
                began = now if began is None else began
                if now - began > REQUEST_TIMEOUT:
                    raise UsbError(f"{what}: no answer for {REQUEST_TIMEOUT:g} s of emulated "
                                   f"time (the device NAKs)")
            yield

    # --- the serial port ----------------------------------------------------------------
    def _bridge(self):
        """Bulk IN to the console, console input to bulk OUT, line-rate
        changes as SET_LINE_CODING; forever (until the device goes)."""
        serial, turns = self.serial, 0
        while True:
            turns += 1
            if turns % RATE_CHECK_EVERY == 0:
                rate = self.link.line_rate()
                if rate is not None and rate != self.line_rate:
                    self._requests.append(rate)
            if self._requests:
                yield from self._set_line_coding(self._requests.pop(0))
                continue
            answer = self.controller.in_token(self.address, serial.bulk_in.number)
            if isinstance(answer, bytes):
                self._progress = True
                for byte in answer:
                    self.link.transmit(byte)
            elif answer != NAK:
                raise UsbError(f"bulk IN endpoint 0x{serial.bulk_in.address:02X}: "
                               f"{answer or 'no answer'}")
            if not self._pending:
                self._pending = self.link.receive(serial.bulk_out.max_packet)
            if self._pending:
                answer = self.controller.out_token(self.address, serial.bulk_out.number,
                                                   self._pending)
                if answer == ACK:
                    self._busy_turns += BUSY_TURNS_PER_BYTE * len(self._pending)
                    self._pending, self._progress = b"", True
                elif answer != NAK:
                    raise UsbError(f"bulk OUT endpoint 0x{serial.bulk_out.address:02X}: "
                                   f"{answer or 'no answer'}")
            # The notification endpoint: read (and drop) SERIAL_STATE if any.
            if turns % RATE_CHECK_EVERY == 1:
                self.controller.in_token(self.address, serial.notification.number)
            if not self._progress and not self._pending:
                self._empty_turn()
            else:
                self._idle.busy()
            yield

    def _empty_turn(self):
        if self._busy_turns:
            self._busy_turns -= 1
        else:
            self._idle.empty()
