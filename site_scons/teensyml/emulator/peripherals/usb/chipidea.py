"""USB OTG1 of the i.MX RT1062 (a ChipIdea high-speed controller) in device
mode, as far as TinyUSB's ci_hs driver uses it.

Registers: the USB_Type layout of the NXP device header (operational
registers from 0x140). The endpoint queue heads (dQH, 64 bytes each, OUT then
IN per endpoint) live in RAM at ENDPTLISTADDR; a prime loads the dTD the
queue head's overlay points to, transactions move its bytes, and completion
writes the token back (active cleared, total bytes left, error bits), sets
ENDPTCOMPLETE (when the dTD asks for an interrupt, IOC) and USBSTS.UI, and
follows the dTD's next pointer.

The bus side is the emulated host's (host.py): `setup`, `in_token` and
`out_token` are transactions; they answer as the controller would on the
wire (ACK, NAK, STALL, a data packet, or None: nobody answers). Everything
happens at once: a prime or a flush is done before the firmware reads the
register back. No interrupt is raised (the firmware polls USBSTS), and
reading USBSTS is what lets the host run (`on_status_read`).
"""
import struct

from ..registers import RegisterBlock

# Identification and capability registers (RT1060 reference manual reset values).
ID, HWGENERAL, HWHOST, HWDEVICE, HWTXBUF, HWRXBUF = range(0x000, 0x018, 4)
CAPLENGTH, HCSPARAMS, HCCPARAMS, DCIVERSION, DCCPARAMS = 0x100, 0x104, 0x108, 0x120, 0x124
ENDPOINTS = 8
READ_ONLY = {ID: 0xE241FA05, HWGENERAL: 0x00000035, HWHOST: 0x10020001,
             HWDEVICE: 0x00000001 | ENDPOINTS << 1, HWTXBUF: 0x80080B08,
             HWRXBUF: 0x00000808, CAPLENGTH: 0x01000040, HCSPARAMS: 0x00010011,
             HCCPARAMS: 0x00000006, DCIVERSION: 0x00000001,
             DCCPARAMS: 0x00000180 | ENDPOINTS}          # DC, HC, DEN = 8
# Operational registers.
USBCMD, USBSTS, USBINTR, FRINDEX = 0x140, 0x144, 0x148, 0x14C
DEVICEADDR, ENDPTLISTADDR = 0x154, 0x158
ENDPTNAK, ENDPTNAKEN, PORTSC1, OTGSC, USBMODE = 0x178, 0x17C, 0x184, 0x1A4, 0x1A8
ENDPTSETUPSTAT, ENDPTPRIME, ENDPTFLUSH, ENDPTSTAT, ENDPTCOMPLETE = range(0x1AC, 0x1C0, 4)
ENDPTCTRL = tuple(0x1C0 + 4 * n for n in range(ENDPOINTS))

USBCMD_RS, USBCMD_RST = 1 << 0, 1 << 1
USBCMD_RESET = 0x00080000                    # ITC = 8 microframes
STS_UI, STS_UEI, STS_PCI, STS_URI, STS_SLI = 1 << 0, 1 << 1, 1 << 2, 1 << 6, 1 << 8
STS_W1C = 0x030107FF & ~(1 << 9)             # every flag but HCH
DEVICEADDR_USBADRA = 1 << 24
PORTSC1_CCS, PORTSC1_SUSP, PORTSC1_PR, PORTSC1_HSP = 1 << 0, 1 << 7, 1 << 8, 1 << 9
PORTSC1_PFSC = 1 << 24
PORTSC1_PSPD_SHIFT, SPEED_FULL, SPEED_HIGH = 26, 0, 2
PORTSC1_STATUS = PORTSC1_CCS | PORTSC1_SUSP | PORTSC1_PR | PORTSC1_HSP | (3 << 26)
OTGSC_SESSION = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11)   # ID, AVV, ASV, BSV
USBMODE_CM_MASK, USBMODE_DEVICE = 0x3, 0x2
EPCTRL_RXS, EPCTRL_RXE, EPCTRL_TXS, EPCTRL_TXE = 1 << 0, 1 << 7, 1 << 16, 1 << 23
EPCTRL0_FIXED = EPCTRL_RXE | EPCTRL_TXE      # endpoint 0 is always enabled, control

# Queue head (dQH) and transfer descriptor (dTD) layout.
QH_SIZE, QH_CURRENT, QH_OVERLAY, QH_SETUP = 64, 4, 8, 0x28
QH_IOS, QH_ZLT = 1 << 15, 1 << 29
DTD_SIZE, TERMINATE = 28, 1
TOKEN_ACTIVE, TOKEN_HALTED, TOKEN_BUFFER_ERROR, TOKEN_TRANSACTION_ERROR = \
    1 << 7, 1 << 6, 1 << 5, 1 << 3
TOKEN_IOC, TOKEN_TOTAL_SHIFT, TOKEN_TOTAL_MASK = 1 << 15, 16, 0x7FFF

OUT, IN = 0, 1
ACK, NAK, STALL = "ACK", "NAK", "STALL"


def bit(number, direction):
    """The endpoint's bit in ENDPTPRIME/STAT/COMPLETE/FLUSH (IN from bit 16)."""
    return 1 << (number + 16 * direction)


class Transfer:
    """A dTD being worked on: where it is and how many bytes it has moved."""

    def __init__(self, address, words):
        self.address = address
        self.next, self.token = words[0], words[1]
        self.pages = words[2:7]
        self.length = (self.token >> TOKEN_TOTAL_SHIFT) & TOKEN_TOTAL_MASK
        self.done = 0
        self.zlp_due = False         # a full last packet, ZLT off: a zero-length one follows

    @property
    def remaining(self):
        return self.length - self.done

    def address_of(self, index):
        """The memory address of byte `index` of the transfer (the page list)."""
        offset = (self.pages[0] & 0xFFF) + index
        page = offset >> 12
        if page > 4:
            return None
        return (self.pages[page] & ~0xFFF) + (offset & 0xFFF)


class ChipIdea(RegisterBlock):
    """USB OTG1. `memory`: read(address, size) -> bytes, write(address, data),
    the RAM the controller reaches by DMA. `on_status_read()`: called on
    every USBSTS read, before its value is formed (the host's turn)."""

    def __init__(self, name, base, size, memory, on_status_read=lambda: None):
        super().__init__(name, base, size)
        self.memory = memory
        self.on_status_read = on_status_read
        self.attached = True          # the cable: VBUS and the host's port
        self._reset()

    def _reset(self):
        """USBCMD.RST: operational registers to their reset values."""
        for offset in range(USBCMD, ENDPTCTRL[-1] + 4, 4):
            self.store(offset, 0)
        self.store(USBCMD, USBCMD_RESET)
        self.store(ENDPTCTRL[0], EPCTRL0_FIXED)
        self.address = 0              # the address the device answers to
        self._pending_address = None  # USBADRA: takes effect after the next EP0 IN
        self.transfers = {}           # (endpoint, direction) -> Transfer

    # --- what the host sees ------------------------------------------------------------------
    @property
    def running(self):
        """The pull-up is on: RS in device mode, with the cable in."""
        return (self.attached and self.load(USBCMD) & USBCMD_RS
                and self.load(USBMODE) & USBMODE_CM_MASK == USBMODE_DEVICE)

    @property
    def high_speed(self):
        return not self.load(PORTSC1) & PORTSC1_PFSC

    def bus_reset(self):
        """The host drives SE0: the port reset the device sees (URI, PCI),
        address 0, every endpoint but 0 disabled, as after a USB reset."""
        self.address, self._pending_address = 0, None
        self.store(DEVICEADDR, 0)
        for number in range(1, ENDPOINTS):
            self.store(ENDPTCTRL[number], self.load(ENDPTCTRL[number])
                       & ~(EPCTRL_RXE | EPCTRL_TXE))
        speed = SPEED_HIGH if self.high_speed else SPEED_FULL
        portsc = self.load(PORTSC1) & ~PORTSC1_STATUS
        portsc |= PORTSC1_CCS | speed << PORTSC1_PSPD_SHIFT
        if speed == SPEED_HIGH:
            portsc |= PORTSC1_HSP
        self.store(PORTSC1, portsc)
        self._raise(STS_URI | STS_PCI)

    @property
    def reset_pending(self):
        """The device has not acknowledged the last bus reset yet."""
        return bool(self.load(USBSTS) & STS_URI)

    def disconnect(self):
        """The cable is pulled: the port loses its connection; the device
        sees a port change with CCS clear (TinyUSB: unplugged)."""
        self.attached = False
        self.store(PORTSC1, self.load(PORTSC1) & ~PORTSC1_STATUS)
        self.store(ENDPTSTAT, 0)
        self.store(ENDPTSETUPSTAT, 0)
        self.transfers.clear()
        self.address, self._pending_address = 0, None
        self._raise(STS_URI | STS_PCI)

    def connect(self):
        self.attached = True

    def setup(self, address, packet):
        """A SETUP transaction to endpoint 0: the controller always takes it
        (into the OUT queue head's setup buffer), ENDPTSETUPSTAT bit 0 says
        so, and a pending stall of endpoint 0 ends."""
        if not self._answers(address):
            return None
        self.memory.write(self._queue_head(0, OUT) + QH_SETUP, bytes(packet))
        self.store(ENDPTCTRL[0], self.load(ENDPTCTRL[0]) & ~(EPCTRL_RXS | EPCTRL_TXS))
        self.store(ENDPTSETUPSTAT, self.load(ENDPTSETUPSTAT) | 1)
        if self._capabilities(0, OUT) & QH_IOS:
            self._raise(STS_UI)
        return ACK

    def in_token(self, address, number):
        """An IN transaction: a data packet (bytes), NAK, STALL or None."""
        answer = self._endpoint_answer(address, number, IN)
        if answer is not None:
            return answer
        transfer = self.transfers[(number, IN)]
        packet_size = self._max_packet(number, IN)
        if transfer.zlp_due:
            data = b""
        else:
            count = min(packet_size, transfer.remaining)
            data = self._read_buffer(transfer, count)
            transfer.done += count
        if transfer.remaining == 0:
            # A full last packet ends the transfer only with ZLT set (zero-length
            # termination off); else a zero-length packet follows first.
            full = len(data) == packet_size and not transfer.zlp_due
            if full and not self._capabilities(number, IN) & QH_ZLT:
                transfer.zlp_due = True
            else:
                self._complete(number, IN, 0)
        if number == 0 and self._pending_address is not None:
            self.address, self._pending_address = self._pending_address, None
        return data

    def out_token(self, address, number, data):
        """An OUT transaction with `data` (at most one packet): ACK, NAK,
        STALL or None."""
        answer = self._endpoint_answer(address, number, OUT)
        if answer is not None:
            return answer
        transfer = self.transfers[(number, OUT)]
        packet_size = self._max_packet(number, OUT)
        error = 0
        count = min(len(data), transfer.remaining)
        if len(data) > count or len(data) > packet_size:
            error = TOKEN_BUFFER_ERROR       # more than the dTD or a packet can hold
        self._write_buffer(transfer, data[:count])
        transfer.done += count
        if error or transfer.remaining == 0 or len(data) < packet_size:
            self._complete(number, OUT, error)
        return ACK

    # --- registers ---------------------------------------------------------------------------
    def read_register(self, offset):
        if offset in READ_ONLY:
            return READ_ONLY[offset]
        if offset == USBSTS:
            self.on_status_read()
            self.store(FRINDEX, (self.load(FRINDEX) + 8) & 0x3FFF)   # a frame a poll
        if offset == OTGSC:
            return self.load(OTGSC) | (OTGSC_SESSION if self.attached else 0)
        return self.load(offset)

    def write_register(self, offset, value):
        if offset in READ_ONLY or offset == ENDPTSTAT:
            return
        if offset == USBCMD:
            if value & USBCMD_RST:
                self._reset()
                return
            self.store(USBCMD, value)
        elif offset in (USBSTS, ENDPTSETUPSTAT, ENDPTCOMPLETE, ENDPTNAK):
            self.store(offset, self.load(offset) & ~value)          # write 1 to clear
        elif offset == DEVICEADDR:
            self.store(DEVICEADDR, value & 0xFF000000)
            if value & DEVICEADDR_USBADRA:
                self._pending_address = value >> 25
            else:
                self.address = value >> 25
        elif offset == ENDPTLISTADDR:
            self.store(ENDPTLISTADDR, value & ~0x7FF)
        elif offset == PORTSC1:
            self.store(PORTSC1, (self.load(PORTSC1) & PORTSC1_STATUS) | (value & ~PORTSC1_STATUS))
        elif offset == ENDPTPRIME:
            self._prime(value)
        elif offset == ENDPTFLUSH:
            self._flush(value)
        elif offset == ENDPTCTRL[0]:
            self.store(offset, value | EPCTRL0_FIXED)
        else:
            self.store(offset, value)

    # --- the queue heads -----------------------------------------------------------------------
    def _queue_head(self, number, direction):
        return self.load(ENDPTLISTADDR) + QH_SIZE * (2 * number + direction)

    def _capabilities(self, number, direction):
        return self._word(self._queue_head(number, direction))

    def _max_packet(self, number, direction):
        return (self._capabilities(number, direction) >> 16) & 0x7FF

    def _word(self, address):
        return struct.unpack("<I", self.memory.read(address, 4))[0]

    def _prime(self, mask):
        for number in range(ENDPOINTS):
            for direction in (OUT, IN):
                if mask & bit(number, direction):
                    self._load(number, direction)

    def _load(self, number, direction):
        """Start the dTD the queue head's overlay links to (if it is active)."""
        head = self._queue_head(number, direction)
        address = self._word(head + QH_OVERLAY)
        while not address & TERMINATE:
            words = struct.unpack("<7I", self.memory.read(address & ~0x1F, DTD_SIZE))
            if words[1] & TOKEN_ACTIVE:
                self.transfers[(number, direction)] = Transfer(address & ~0x1F, words)
                self.memory.write(head + QH_CURRENT, struct.pack("<I", address & ~0x1F))
                self.memory.write(head + QH_OVERLAY, struct.pack("<7I", *words))
                self.store(ENDPTSTAT, self.load(ENDPTSTAT) | bit(number, direction))
                return
            address = words[0]
        self.transfers.pop((number, direction), None)
        self.store(ENDPTSTAT, self.load(ENDPTSTAT) & ~bit(number, direction))

    def _flush(self, mask):
        for number in range(ENDPOINTS):
            for direction in (OUT, IN):
                if mask & bit(number, direction):
                    self.transfers.pop((number, direction), None)
        self.store(ENDPTSTAT, self.load(ENDPTSTAT) & ~mask)

    def _complete(self, number, direction, error):
        """Retire the dTD: write its token back, report, go to the next."""
        transfer = self.transfers.pop((number, direction))
        token = transfer.token & ~(TOKEN_ACTIVE | (TOKEN_TOTAL_MASK << TOKEN_TOTAL_SHIFT))
        token |= error | transfer.remaining << TOKEN_TOTAL_SHIFT
        self.memory.write(transfer.address + 4, struct.pack("<I", token))
        head = self._queue_head(number, direction)
        self.memory.write(head + QH_OVERLAY, struct.pack("<II", transfer.next, token))
        self.store(ENDPTSTAT, self.load(ENDPTSTAT) & ~bit(number, direction))
        if token & TOKEN_IOC or error:
            self.store(ENDPTCOMPLETE, self.load(ENDPTCOMPLETE) | bit(number, direction))
            self._raise(STS_UI | (STS_UEI if error else 0))
        if not transfer.next & TERMINATE:
            self._load(number, direction)

    def _endpoint_answer(self, address, number, direction):
        """The handshake when the endpoint cannot move data now, else None."""
        if not self._answers(address) or number >= ENDPOINTS:
            return None
        control = self.load(ENDPTCTRL[number])
        stall, enable = (EPCTRL_RXS, EPCTRL_RXE) if direction == OUT else (EPCTRL_TXS,
                                                                          EPCTRL_TXE)
        if not control & enable:
            return None
        if control & stall:
            return STALL
        if number == 0 and self.load(ENDPTSETUPSTAT) & 1:
            return NAK                     # setup lockout: the setup is not read yet
        if (number, direction) not in self.transfers:
            return NAK
        return None

    def _answers(self, address):
        return self.running and address == self.address

    def _read_buffer(self, transfer, count):
        return self._chunks(transfer, count, None)

    def _write_buffer(self, transfer, data):
        self._chunks(transfer, len(data), data)

    def _chunks(self, transfer, count, data):
        """Read (data None) or write `count` bytes at the transfer's position,
        page by page."""
        out, index = bytearray(), 0
        while index < count:
            address = transfer.address_of(transfer.done + index)
            piece = min(count - index, 0x1000 - (address & 0xFFF))
            if data is None:
                out += self.memory.read(address, piece)
            else:
                self.memory.write(address, bytes(data[index:index + piece]))
            index += piece
        return bytes(out)

    def _raise(self, flags):
        self.store(USBSTS, self.load(USBSTS) | flags)
