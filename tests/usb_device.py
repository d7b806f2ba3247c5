"""A USB CDC-ACM device written in Python against the emulator's ChipIdea
controller model, the way TinyUSB's ci_hs driver (dcd_ci_hs.c) and its
device stack drive the real one: queue heads and transfer descriptors in
RAM (a Unicorn core's), ENDPTPRIME, ENDPTCOMPLETE, ENDPTSETUPSTAT, USBSTS
polled (no interrupt). It answers the standard and CDC requests and runs an
application: `echo` (send back every byte) or one given by the test.

    device = UsbDevice(port.controller, memory)
    device.start()
    device.run(lambda: port.host.configured)
"""
import struct

from teensyml.emulator.peripherals.usb import chipidea as ci
from teensyml.emulator.peripherals.usb import descriptors as d

QH_BASE = 0x20200000             # OCRAM: 2 KB aligned, as ENDPTLISTADDR wants
TD_BASE = QH_BASE + 0x800
BUFFER_BASE = QH_BASE + 0x1000   # a 4 KB page per endpoint and direction
BULK, NOTIFY = 2, 1              # endpoint numbers: data pair, notification
BULK_PACKET = 512
OUT, IN = ci.OUT, ci.IN


def device_descriptor(vendor=0x16C0, product=0x0483, max_packet0=64, device_class=(0xEF, 2, 1),
                      bcd_usb=0x0200):
    return struct.pack("<BBHBBBBHHHBBBB", 18, d.DEVICE, bcd_usb, *device_class, max_packet0,
                       vendor, product, 0x0100, 1, 2, 3, 1)


def configuration_descriptor(bulk_packet=BULK_PACKET, interval=4, union=(0, 1),
                             with_iad=True, total=None, interfaces=2):
    iad = struct.pack("<BBBBBBBB", 8, d.IAD, 0, 2, 2, 2, 1, 0) if with_iad else b""
    body = iad + b"".join([
        struct.pack("<BBBBBBBBB", 9, d.INTERFACE, 0, 0, 1, 2, 2, 1, 0),
        struct.pack("<BBBH", 5, d.CS_INTERFACE, d.HEADER, 0x0110),
        struct.pack("<BBBBB", 5, d.CS_INTERFACE, d.CALL_MANAGEMENT, 0, 1),
        struct.pack("<BBBB", 4, d.CS_INTERFACE, d.ACM, 0x06),
        struct.pack("<BBBBB", 5, d.CS_INTERFACE, d.UNION, *union),
        struct.pack("<BBBBHB", 7, d.ENDPOINT, 0x80 | NOTIFY, d.INTERRUPT, 16, interval),
        struct.pack("<BBBBBBBBB", 9, d.INTERFACE, 1, 0, 2, 0x0A, 0, 0, 0),
        struct.pack("<BBBBHB", 7, d.ENDPOINT, BULK, d.BULK, bulk_packet, 0),
        struct.pack("<BBBBHB", 7, d.ENDPOINT, 0x80 | BULK, d.BULK, bulk_packet, 0),
    ])
    length = 9 + len(body)
    return struct.pack("<BBHBBBBB", 9, d.CONFIGURATION, total or length, interfaces, 1, 0,
                       0x80, 50) + body


def string(text):
    data = text.encode("utf-16-le")
    return bytes([2 + len(data), d.STRING]) + data


STRINGS = {0: bytes([4, d.STRING, 0x09, 0x04]), 1: string("Teensyduino"),
           2: string("USB Serial"), 3: string("12345")}


class UsbDevice:
    def __init__(self, controller, memory, device=None, configuration=None, strings=None,
                 application=None):
        self.controller = controller
        self.memory = memory
        self.device = device or device_descriptor()
        self.configuration = configuration or configuration_descriptor()
        self.strings = dict(STRINGS if strings is None else strings)
        self.application = application or (lambda data: data)    # echo
        self.received = bytearray()
        self.line_codings = []
        self.line_state = None
        self.resets = self.unplugged = 0
        self.configured = False
        self._control = None          # what the control transfer in progress does next
        self._sending = {}            # (endpoint, IN) in flight

    # --- registers, as the driver sees them ------------------------------------------
    def reg(self, offset):
        return self.controller.read(offset, 4)

    def set(self, offset, value):
        self.controller.write(offset, 4, value)

    # --- dcd_init -----------------------------------------------------------------------
    def start(self):
        self.set(ci.USBCMD, self.reg(ci.USBCMD) | ci.USBCMD_RST)
        assert not self.reg(ci.USBCMD) & ci.USBCMD_RST
        self.set(ci.USBMODE, (self.reg(ci.USBMODE) & ~3) | ci.USBMODE_DEVICE)
        self.memory.write(QH_BASE, bytes(0x800))
        self.set(ci.ENDPTLISTADDR, QH_BASE)
        self.set(ci.USBSTS, self.reg(ci.USBSTS))
        self.set(ci.USBINTR, ci.STS_UI | ci.STS_UEI | ci.STS_PCI | ci.STS_SLI)
        self.set(ci.USBCMD, (self.reg(ci.USBCMD) & ~0xFF0000) | ci.USBCMD_RS)

    def _bus_reset(self):
        for number in range(1, 8):
            self.set(ci.ENDPTCTRL[number], (2 << 2) | (2 << 18))
        self.set(ci.ENDPTSETUPSTAT, self.reg(ci.ENDPTSETUPSTAT))
        self.set(ci.ENDPTCOMPLETE, self.reg(ci.ENDPTCOMPLETE))
        assert self.reg(ci.ENDPTPRIME) == 0
        self.set(ci.ENDPTFLUSH, 0xFFFFFFFF)
        assert self.reg(ci.ENDPTFLUSH) == 0
        self.memory.write(QH_BASE, bytes(0x800))
        for direction in (OUT, IN):
            self._queue_head(0, direction, 64, setup_interrupt=direction == OUT)
        self._sending.clear()
        self.configured = False

    def _queue_head(self, number, direction, max_packet, setup_interrupt=False):
        capabilities = ci.QH_ZLT | max_packet << 16 | (ci.QH_IOS if setup_interrupt else 0)
        head = QH_BASE + 64 * (2 * number + direction)
        self.memory.write(head, struct.pack("<III", capabilities, 0, ci.TERMINATE))

    def open(self, address, kind, max_packet):
        number, direction = address & 0xF, IN if address & 0x80 else OUT
        self._queue_head(number, direction, max_packet)
        control = self.reg(ci.ENDPTCTRL[number])
        value = kind << 2 | 1 << 7 | 1 << 6                  # type, enable, toggle reset
        if direction == OUT:
            control = (control & 0xFFFF0000) | value
        else:
            control = (control & 0x0000FFFF) | value << 16
        self.set(ci.ENDPTCTRL[number], control)

    # --- dcd_edpt_xfer --------------------------------------------------------------------
    def transfer(self, number, direction, data=b"", length=None):
        """Prime one dTD: IN sends `data`, OUT receives up to `length` bytes."""
        buffer = BUFFER_BASE + 0x1000 * (2 * number + direction)
        total = len(data) if direction == IN else length
        if direction == IN and data:
            self.memory.write(buffer, data)
        td = TD_BASE + 32 * (2 * number + direction)
        token = ci.TOKEN_ACTIVE | ci.TOKEN_IOC | total << ci.TOKEN_TOTAL_SHIFT
        self.memory.write(td, struct.pack("<IIIIIIIHH", ci.TERMINATE, token, buffer, 0, 0, 0,
                                          0, total, 0))
        head = QH_BASE + 64 * (2 * number + direction)
        self.memory.write(head + ci.QH_OVERLAY, struct.pack("<I", td))
        if number == 0:
            assert not self.reg(ci.ENDPTSETUPSTAT) & 1
        self.set(ci.ENDPTPRIME, ci.bit(number, direction))
        if direction == IN:
            self._sending[number] = True

    def stall(self, number):
        self.set(ci.ENDPTCTRL[number], self.reg(ci.ENDPTCTRL[number]) | ci.EPCTRL_RXS |
                 ci.EPCTRL_TXS)

    def send(self, data):
        """CDC write: one transfer, and a zero-length one after a multiple of
        the packet size (so the host sees the end)."""
        self._queue = getattr(self, "_queue", [])
        self._queue.append(bytes(data))
        if len(data) and len(data) % BULK_PACKET == 0:
            self._queue.append(b"")
        self._send_next()

    def _send_next(self):
        if self._queue and not self._sending.get(BULK):
            self.transfer(BULK, IN, self._queue.pop(0))

    # --- dcd_int_handler (polled) --------------------------------------------------------
    def task(self):
        enabled = self.reg(ci.USBINTR)
        status = self.reg(ci.USBSTS) & enabled
        self.set(ci.USBSTS, status)
        if status & ci.STS_PCI:
            if self.reg(ci.USBSTS) & ci.STS_URI:
                self.set(ci.USBSTS, ci.STS_URI)
                if self.reg(ci.PORTSC1) & ci.PORTSC1_CCS:
                    self.resets += 1
                    self._bus_reset()
                else:
                    self.unplugged += 1
        if status & ci.STS_UI:
            complete = self.reg(ci.ENDPTCOMPLETE)
            self.set(ci.ENDPTCOMPLETE, complete)
            for number in range(8):
                for direction in (OUT, IN):
                    if complete & ci.bit(number, direction):
                        self._completed(number, direction)
            if self.reg(ci.ENDPTSETUPSTAT):
                self.set(ci.ENDPTSETUPSTAT, self.reg(ci.ENDPTSETUPSTAT))
                setup = self.memory.read(QH_BASE + ci.QH_SETUP, 8)
                self._setup(*struct.unpack("<BBHHH", setup))

    def run(self, until, polls=100_000):
        for _ in range(polls):
            if until():
                return
            self.task()
        raise AssertionError(f"not done after {polls} polls")

    def _transferred(self, number, direction):
        td = TD_BASE + 32 * (2 * number + direction)
        token, = struct.unpack("<I", self.memory.read(td + 4, 4))
        expected, = struct.unpack("<H", self.memory.read(td + 28, 2))
        assert not token & ci.TOKEN_ACTIVE
        return expected - (token >> ci.TOKEN_TOTAL_SHIFT & ci.TOKEN_TOTAL_MASK), token

    def _completed(self, number, direction):
        count, token = self._transferred(number, direction)
        assert not token & (ci.TOKEN_HALTED | ci.TOKEN_BUFFER_ERROR), hex(token)
        buffer = BUFFER_BASE + 0x1000 * (2 * number + direction)
        if number == 0:
            step, self._control = self._control, None
            if step:
                step(self.memory.read(buffer, count) if direction == OUT else None)
        elif number == BULK and direction == OUT:
            self.received += self.memory.read(buffer, count)
            reply = self.application(self.memory.read(buffer, count))
            self.transfer(BULK, OUT, length=BULK_PACKET)
            if reply:
                self.send(reply)
        elif number == BULK and direction == IN:
            self._sending[BULK] = False
            self._send_next()

    # --- the device stack's control requests ---------------------------------------------
    def _setup(self, request_type, request, value, index, length):
        if request_type == 0x80 and request == 6:
            data = self._descriptor(value >> 8, value & 0xFF)
            if data is None:
                return self.stall(0)
            self._data_in(data[:length])
        elif request_type == 0x00 and request == 5:
            self.transfer(0, IN)                       # status first, then the address
            self.set(ci.DEVICEADDR, value << 25 | ci.DEVICEADDR_USBADRA)
        elif request_type == 0x00 and request == 9:
            self.open(0x80 | NOTIFY, d.INTERRUPT, 16)
            self.open(BULK, d.BULK, BULK_PACKET)
            self.open(0x80 | BULK, d.BULK, BULK_PACKET)
            self.transfer(BULK, OUT, length=BULK_PACKET)
            self.configured = True
            self.transfer(0, IN)
        elif request_type == 0x21 and request == 0x20:
            self._control = self._line_coding
            self.transfer(0, OUT, length=length)
        elif request_type == 0x21 and request == 0x22:
            self.line_state = value
            self.transfer(0, IN)
        else:
            self.stall(0)

    def _descriptor(self, kind, index):
        if kind == d.DEVICE:
            return self.device
        if kind == d.CONFIGURATION:
            return self.configuration
        if kind == d.STRING:
            return self.strings.get(index)
        return None

    def _data_in(self, data):
        self._control = lambda _: self.transfer(0, OUT, length=0)     # then the status
        self.transfer(0, IN, data)

    def _line_coding(self, data):
        self.line_codings.append(struct.unpack("<IBBB", data))
        self.transfer(0, IN)
