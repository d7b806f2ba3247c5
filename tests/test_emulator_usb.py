"""USB OTG1 and the emulated host, driven by a Python device (usb_device.py)
that programs the controller model as TinyUSB's ci_hs driver does, with its
queue heads and transfer descriptors in a real Unicorn core's memory:
enumeration and the descriptor checks, bulk data both ways under load,
zero-length packets, the 134-baud bootloader request, unplug and replug."""
import struct

import pytest
import unicorn
from unicorn import arm_const as uc_arm

from teensyml import memory_map as mm
from teensyml.emulator.peripherals.usb import BOOTLOADER_RATE, UcMemory, UsbPort
from teensyml.emulator.peripherals.usb import chipidea as ci
from usb_device import (BULK, BULK_PACKET, IN, OUT, QH_BASE, STRINGS, UsbDevice,
                        configuration_descriptor, device_descriptor, string)


class Link:
    """The console end of the host: what the machine gives it."""

    def __init__(self):
        self.output = bytearray()
        self.input = bytearray()
        self.failures = []
        self.rate = None
        self.idles = 0
        self.clock = 0.0

    def transmit(self, byte):
        self.output.append(byte)

    def receive(self, count):
        taken = bytes(self.input[:count])
        del self.input[:count]
        return taken

    def idle(self):
        self.idles += 1

    def note(self, text):
        pass

    def fail(self, text):
        self.failures.append(text)

    def line_rate(self):
        return self.rate

    def seconds(self):
        self.clock += 0.002          # each look at the clock: 2 ms passed
        return self.clock


def board(**device_arguments):
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(uc_arm.UC_CPU_ARM_CORTEX_M7)
    uc.mem_map(mm.OCRAM.origin, 0x40000)
    memory = UcMemory(uc)
    link = Link()
    port = UsbPort(memory, link)
    device = UsbDevice(port.controller, memory, **device_arguments)
    device.start()
    return port, device, link


def enumerated(**device_arguments):
    port, device, link = board(**device_arguments)
    device.run(lambda: port.host.serial is not None and device.line_state is not None
               or link.failures)
    assert not link.failures, link.failures
    return port, device, link


# --- the controller alone ------------------------------------------------------------------

def test_identification_and_capabilities_read_as_the_rt1062():
    port, _, _ = board()
    controller = port.controller
    assert controller.read(ci.DCCPARAMS, 4) & 0x1F == 8           # TinyUSB: ci_ep_count
    assert controller.read(ci.CAPLENGTH, 1) == 0x40
    controller.write(ci.DCCPARAMS, 4, 0)
    assert controller.read(ci.DCCPARAMS, 4) & 0x1F == 8           # read-only


def test_reset_run_and_write_one_to_clear():
    port, device, _ = board()
    controller = port.controller
    assert controller.read(ci.USBCMD, 4) & ci.USBCMD_RS
    assert controller.running
    controller.bus_reset()
    status = controller.read(ci.USBSTS, 4)
    assert status & ci.STS_URI and status & ci.STS_PCI
    assert controller.read(ci.PORTSC1, 4) >> 26 & 3 == ci.SPEED_HIGH
    controller.write(ci.USBSTS, 4, ci.STS_PCI)
    assert controller.read(ci.USBSTS, 4) & (ci.STS_URI | ci.STS_PCI) == ci.STS_URI
    controller.write(ci.USBCMD, 4, ci.USBCMD_RST)
    assert controller.read(ci.USBCMD, 4) == ci.USBCMD_RESET and not controller.running


def test_no_device_answers_before_run_or_in_host_mode():
    port, device, _ = board()
    controller = port.controller
    controller.write(ci.USBMODE, 4, 3)                       # host mode
    assert controller.setup(0, bytes(8)) is None
    controller.write(ci.USBMODE, 4, ci.USBMODE_DEVICE)
    controller.write(ci.USBCMD, 4, 0)
    assert controller.setup(0, bytes(8)) is None


def test_prime_transfer_complete_and_token_write_back():
    """An IN dTD of 1000 bytes on a 512-byte endpoint: two packets, then
    complete: active cleared, total bytes 0, ENDPTCOMPLETE and UI set."""
    port, device, _ = board()
    controller = port.controller
    controller.bus_reset()
    device.task()
    device.open(0x81, 2, 512)
    payload = bytes(range(256)) * 4
    device.transfer(1, IN, payload[:1000])
    assert controller.read(ci.ENDPTSTAT, 4) == ci.bit(1, IN)
    assert controller.read(ci.ENDPTPRIME, 4) == 0
    first = controller.in_token(0, 1)
    assert first == payload[:512] and not controller.read(ci.ENDPTCOMPLETE, 4)
    assert controller.in_token(0, 1) == payload[512:1000]
    assert controller.read(ci.ENDPTCOMPLETE, 4) == ci.bit(1, IN)
    assert controller.read(ci.USBSTS, 4) & ci.STS_UI
    assert controller.read(ci.ENDPTSTAT, 4) == 0
    assert controller.in_token(0, 1) == ci.NAK               # nothing primed
    count, token = device._transferred(1, IN)
    assert count == 1000 and token >> 16 & 0x7FFF == 0


def test_out_short_packet_ends_the_transfer_and_overflow_is_a_buffer_error():
    port, device, _ = board()
    controller = port.controller
    controller.bus_reset()
    device.task()
    device.open(0x02, 2, 512)
    device.transfer(2, OUT, length=512)
    assert controller.out_token(0, 2, b"abc") == ci.ACK
    assert device._transferred(2, OUT)[0] == 3
    device.transfer(2, OUT, length=4)
    assert controller.out_token(0, 2, b"123456") == ci.ACK
    count, token = device._transferred(2, OUT)
    assert count == 4 and token & ci.TOKEN_BUFFER_ERROR
    assert controller.read(ci.USBSTS, 4) & ci.STS_UEI


def test_transfers_cross_4k_pages_through_the_page_list():
    port, device, _ = board()
    controller = port.controller
    controller.bus_reset()
    device.task()
    device.open(0x81, 2, 512)
    start = QH_BASE + 0x10000 - 100                         # 100 bytes before a page end
    data = bytes((index * 7) & 0xFF for index in range(512))
    device.memory.write(start, data)
    td = QH_BASE + 0x900
    device.memory.write(td, struct.pack("<7I", ci.TERMINATE, ci.TOKEN_ACTIVE | ci.TOKEN_IOC |
                                        512 << 16, start, QH_BASE + 0x10000, 0, 0, 0))
    device.memory.write(QH_BASE + 64 * 3 + ci.QH_OVERLAY, struct.pack("<I", td))
    controller.write(ci.ENDPTPRIME, 4, ci.bit(1, IN))
    assert controller.in_token(0, 1) == data


def test_zero_length_packets_both_ways():
    """ZLT clear: a full last packet is followed by a zero-length one made by
    the controller; a zero-length dTD sends one packet of nothing."""
    port, device, _ = board()
    controller = port.controller
    controller.bus_reset()
    device.task()
    device.open(0x81, 2, 512)
    head = QH_BASE + 64 * 3
    capabilities, = struct.unpack("<I", device.memory.read(head, 4))
    device.memory.write(head, struct.pack("<I", capabilities & ~ci.QH_ZLT))
    device.transfer(1, IN, bytes(512))
    assert len(controller.in_token(0, 1)) == 512
    assert not controller.read(ci.ENDPTCOMPLETE, 4)
    assert controller.in_token(0, 1) == b""
    assert controller.read(ci.ENDPTCOMPLETE, 4) == ci.bit(1, IN)
    controller.write(ci.ENDPTCOMPLETE, 4, 0xFFFFFFFF)
    device.transfer(1, IN, b"")
    assert controller.in_token(0, 1) == b""
    assert controller.read(ci.ENDPTCOMPLETE, 4) == ci.bit(1, IN)


def test_stall_and_flush():
    port, device, _ = board()
    controller = port.controller
    controller.bus_reset()
    device.task()
    device.open(0x81, 2, 512)
    device.transfer(1, IN, b"x")
    controller.write(ci.ENDPTFLUSH, 4, ci.bit(1, IN))
    assert controller.read(ci.ENDPTSTAT, 4) == 0 and controller.read(ci.ENDPTFLUSH, 4) == 0
    assert controller.in_token(0, 1) == ci.NAK
    device.stall(1)
    assert controller.in_token(0, 1) == ci.STALL
    assert controller.read(ci.ENDPTCTRL[0], 4) & ci.EPCTRL0_FIXED == ci.EPCTRL0_FIXED


# --- enumeration ---------------------------------------------------------------------------

def test_the_host_enumerates_a_teensy_usb_serial():
    port, device, link = enumerated()
    host = port.host
    assert host.configured and host.address == 1
    assert port.controller.address == 1                      # SET_ADDRESS took effect
    assert (host.device.vendor, host.device.product) == (0x16C0, 0x0483)
    assert host.strings == {"manufacturer": "Teensyduino", "product": "USB Serial",
                            "serial": "12345"}
    assert (host.serial.bulk_in.address, host.serial.bulk_out.address) == (0x82, 0x02)
    assert host.serial.notification.address == 0x81
    assert device.line_codings == [(115200, 0, 0, 8)]
    assert device.line_state == 0x3                          # DTR and RTS
    assert device.configured and device.resets == 1


BAD_DESCRIPTORS = [
    ({"device": device_descriptor(max_packet0=8)}, "bMaxPacketSize0 is 8"),
    ({"device": device_descriptor(bcd_usb=0x0110)}, "bcdUSB is 0x0110"),
    ({"device": device_descriptor(device_class=(0xEF, 0, 0))}, "bDeviceClass 0xEF"),
    ({"device": device_descriptor(product=0x0486)}, "idVendor:idProduct is 16C0:0486"),
    ({"configuration": configuration_descriptor(bulk_packet=64)},
     "bulk endpoint's wMaxPacketSize must be 512; it is 64"),
    ({"configuration": configuration_descriptor(interval=0)}, "bInterval"),
    ({"configuration": configuration_descriptor(total=70)},
     "(bLength 7) runs past wTotalLength 70"),
    ({"configuration": configuration_descriptor(interfaces=3)}, "bNumInterfaces is 3"),
    ({"configuration": configuration_descriptor(union=(0, 0))}, "bSubordinateInterface0 is 0"),
    ({"strings": {**STRINGS, 2: string("Serial")}}, "the product string (iProduct) is "
                                                    "'Serial'"),
    ({"strings": {**STRINGS, 3: STRINGS[3][:-1]}}, "string descriptor 3: bLength is"),
]


@pytest.mark.parametrize("arguments, field", BAD_DESCRIPTORS,
                         ids=[field.split(" ")[0] for _, field in BAD_DESCRIPTORS])
def test_descriptor_errors_name_the_field(arguments, field):
    port, device, link = board(**arguments)
    device.run(lambda: link.failures)
    assert len(link.failures) == 1 and field in link.failures[0], link.failures
    assert link.failures[0].startswith("USB: ")
    assert not port.host.configured


def test_iad_must_precede_its_interfaces():
    configuration = bytearray(configuration_descriptor())
    iad = configuration[9:17]
    moved = configuration[:9] + configuration[17:] + iad
    port, device, link = board(configuration=bytes(moved))
    device.run(lambda: link.failures)
    assert "must come before the first interface it groups" in link.failures[0]


def test_a_stalled_standard_request_and_a_silent_device_are_reported():
    port, device, link = board(strings={0: STRINGS[0]})        # no string 1
    device.run(lambda: link.failures)
    assert "GET_DESCRIPTOR string descriptor 1: the device stalled" in link.failures[0]
    port, device, link = board()
    device._setup = lambda *request: None                      # never answers
    device.run(lambda: link.failures)
    assert "no answer for 0.5 s of emulated time" in link.failures[0]


# --- the serial port -----------------------------------------------------------------------

def test_784_byte_commands_both_ways_100_times():
    """The console load of the model's tests: a 784-byte image per command;
    the device answers with the image reversed and a line: bit-exact both
    ways, in order, and the host stays within its packet size."""
    images = [bytes((index * 31 + n) & 0xFF for n in range(784)) for index in range(100)]
    pending = bytearray()

    def application(data):
        pending.extend(data)
        if len(pending) < 784:
            return b""
        image = bytes(pending[:784])
        del pending[:784]
        return image[::-1] + f"sum {sum(image)}\n".encode()

    port, device, link = enumerated(application=application)
    expected = bytearray()
    for image in images:
        link.input += image
        expected += image[::-1] + f"sum {sum(image)}\n".encode()
    device.run(lambda: len(link.output) >= len(expected), polls=200_000)
    assert bytes(device.received) == b"".join(images)
    assert bytes(link.output) == bytes(expected)
    assert not link.failures


def test_a_reply_of_whole_packets_ends_with_a_zero_length_packet():
    port, device, link = enumerated(application=lambda data: b"z" * (2 * BULK_PACKET))
    link.input += b"go"
    device.run(lambda: len(link.output) >= 2 * BULK_PACKET and not device._sending[BULK])
    assert bytes(link.output) == b"z" * 1024


def test_an_idle_device_lets_the_host_wait_for_input():
    port, device, link = enumerated()
    device.run(lambda: link.idles >= 3)
    link.input += b"ping"
    device.run(lambda: link.output == b"ping")


def test_134_baud_is_sent_as_a_line_coding():
    port, device, link = enumerated()
    port.request_bootloader()
    device.run(lambda: len(device.line_codings) == 2)
    assert device.line_codings[-1] == (BOOTLOADER_RATE, 0, 0, 8)
    link.rate = 9600                                          # the PTY user sets a rate
    device.run(lambda: port.host.line_rate == 9600)
    assert device.line_codings[-1][0] == 9600


def test_unplug_and_replug_enumerate_again():
    port, device, link = enumerated()
    port.detach()
    assert not port.host.configured and port.host.address == 0
    device.task()
    assert device.unplugged == 1
    assert port.controller.setup(1, bytes(8)) is None            # nobody on the bus
    link.input += b"lost?"
    for _ in range(100):
        device.task()
    assert link.output == b"" and link.input == b"lost?"       # waits for the port
    port.attach()
    device.run(lambda: port.host.configured and device.line_state is not None
               and device.resets == 2)
    device.run(lambda: link.output == b"lost?")
    assert device.line_codings[-1] == (115200, 0, 0, 8)


def test_the_device_disconnecting_itself_is_forgotten_and_found_again():
    port, device, link = enumerated()
    device.set(ci.USBCMD, device.reg(ci.USBCMD) & ~ci.USBCMD_RS)
    device.task()
    assert port.host.serial is None
    device.set(ci.USBCMD, device.reg(ci.USBCMD) | ci.USBCMD_RS)
    device.run(lambda: port.host.configured and device.resets == 2)


# --- the console side ----------------------------------------------------------------------

def test_a_pty_reports_the_rate_its_user_set():
    serial = pytest.importorskip("serial")
    from teensyml.emulator.peripherals.console import PtyConsole
    console = PtyConsole()
    try:
        with serial.Serial(console.path, 134) as client:
            assert console.line_rate() == 134
            client.baudrate = 115200
            assert console.line_rate() == 115200
    finally:
        console.close()


# --- on the emulated board ---------------------------------------------------------------

class BusView:
    """The controller as the CPU reaches it: through the machine's peripheral bus."""

    def __init__(self, machine):
        self.bus, self.port = machine.bus, machine.usb

    def read(self, offset, size):
        return self.bus.read(mm.USB_OTG1_BASE + offset, size)

    def write(self, offset, size, value):
        self.bus.write(mm.USB_OTG1_BASE + offset, size, value)


def polling_machine(assemble, console=None, **device_arguments):
    """A machine whose CPU spins in `b .`, the Python device polled at every
    turn of that loop (as firmware calls tud_int_handler from its loop)."""
    from teensy_images import code_image
    from teensyml.emulator import Machine
    machine = Machine(code_image(assemble("b .")), console=console)
    device = UsbDevice(BusView(machine), UcMemory(machine.uc), **device_arguments)
    device.start()
    machine.uc.hook_add(unicorn.UC_HOOK_BLOCK, lambda *_: device.task())
    return machine, device


def test_the_machine_carries_usb_serial_to_its_console(assemble):
    from teensyml.emulator import ScriptedConsole
    machine, device = polling_machine(assemble, ScriptedConsole(b"hello", until=b"hello"))
    stop = machine.run(max_seconds=30)
    assert stop.reason == "until", stop.message
    assert machine.usb.host.configured and device.received == b"hello"
    machine.usb.request_bootloader()
    machine.console.expect(None)
    stop = machine.run(max_seconds=30)
    assert stop.reason == "idle", stop.message          # the script is over
    assert device.line_codings[-1][0] == BOOTLOADER_RATE


def test_bkpt_251_is_the_bootloader_request_not_a_crash(assemble):
    from teensy_images import code_image
    from teensyml.emulator import Machine
    stop = Machine(code_image(assemble("bkpt #251"))).run(max_seconds=10)
    assert stop.reason == "bootloader" and stop.exit_status == 0 and stop.crash is None
    assert stop.message == ("the firmware asked to reboot into the bootloader "
                            "(134-baud request)")


def test_a_usb_error_stops_the_machine(assemble):
    machine, _ = polling_machine(assemble, device=device_descriptor(max_packet0=16))
    stop = machine.run(max_seconds=30)
    assert stop.reason == "usb-error" and stop.exit_status == 1
    assert "bMaxPacketSize0 is 16" in stop.message


def test_a_serial_program_on_the_pty_talks_through_usb_and_sets_134_baud(assemble):
    """pyserial on the emulator's pseudo-terminal: bytes both ways through the
    bulk endpoints, and its 134-baud setting reaches the device as
    SET_LINE_CODING (what Teensy tools send to reboot the board)."""
    import threading
    serial = pytest.importorskip("serial")
    from teensyml.emulator.peripherals.console import PtyConsole
    console = PtyConsole()
    machine, device = polling_machine(assemble, console)
    answers = []

    def user():
        with serial.Serial(console.path, 115200, timeout=20) as port:
            port.write(b"ping\n")
            answers.append(port.read_until(b"\n"))
            port.baudrate = BOOTLOADER_RATE
            deadline = 200
            while deadline and device.line_codings[-1][0] != BOOTLOADER_RATE:
                threading.Event().wait(0.05)
                deadline -= 1

    thread = threading.Thread(target=user)
    thread.start()
    try:
        while thread.is_alive():
            machine.run(max_seconds=0.5)
    finally:
        thread.join()
        console.close()
    assert answers == [b"ping\n"]
    assert device.line_codings[-1] == (BOOTLOADER_RATE, 0, 0, 8)


def test_a_device_reading_what_it_received_is_not_idle():
    """The host cannot see the device drain its receive buffer: after
    delivering bytes it grants empty turns per byte before calling it idle
    (else a firmware reading a 784-byte image would be made to wait)."""
    from teensyml.emulator.peripherals.usb.host import BUSY_TURNS_PER_BYTE
    port, device, link = enumerated(application=lambda data: b"")
    link.input += bytes(100)
    device.run(lambda: len(device.received) == 100)
    idles = link.idles
    for _ in range(100 * BUSY_TURNS_PER_BYTE - 10):
        device.task()
    assert link.idles == idles
    device.run(lambda: link.idles > idles)
