"""The USB serial console's descriptors, read out of the built firmware
(CONSOLE=usb, the default) and checked against the USB 2.0 specification's
chapter 9 layouts (device, device qualifier, configuration, interface,
endpoint, string descriptors), the interface association ECN, and the CDC
1.2 / PSTN 1.2 class (communication interface 02/02/01 with its functional
descriptors, data interface 0A): lengths, types, the totals, the USB id
Teensyduino's USB serial has, and the endpoint attributes. The layouts are
decoded here with their own literal numbers, not with the firmware's
macros. Also: TinyUSB's controller memory lies where the D-cache does not
reach (DTCM), and the LPUART console is what CONSOLE=uart still links."""
import struct
import sys

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ROOT, layout, requires_third_party, run_scons

sys.path.insert(0, str(ROOT / "site_scons"))
from teensyml import memory_map as mm            # noqa: E402
from teensyml import teensy_usb                  # noqa: E402

pytestmark = requires_third_party

DEVICE, CONFIGURATION, STRING, INTERFACE, ENDPOINT, QUALIFIER, OTHER_SPEED, IAD = \
    1, 2, 3, 4, 5, 6, 7, 11
CS_INTERFACE = 0x24
BULK, INTERRUPT = 2, 3


class Firmware:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            self.symbols = {symbol.name: symbol for symbol in elf.get_section_by_name(".symtab")
                            .iter_symbols() if symbol.name}
            self.sections = [(section["sh_addr"], section.data()) for section in
                             elf.iter_sections() if section["sh_type"] == "SHT_PROGBITS"
                             and section["sh_flags"] & 2]    # SHF_ALLOC

    def address(self, name):
        return self.symbols[name]["st_value"]

    def bytes_of(self, name):
        symbol = self.symbols[name]
        address, size = symbol["st_value"], symbol["st_size"]
        for start, data in self.sections:
            if start <= address and address + size <= start + len(data):
                return data[address - start:address - start + size]
        raise AssertionError(f"{name} is in no loaded section")


@pytest.fixture(scope="module")
def firmware():
    run_scons()
    return Firmware(layout().firmware["elf"])


@pytest.fixture(scope="module")
def uart_firmware():
    run_scons("CONSOLE=uart")
    return Firmware(layout(CONSOLE="uart").firmware["elf"])


def split(descriptors):
    """The descriptors of a configuration, each checked to fit."""
    found, offset = [], 0
    while offset < len(descriptors):
        length = descriptors[offset]
        assert length >= 2 and offset + length <= len(descriptors), f"descriptor at {offset}"
        found.append(descriptors[offset:offset + length])
        offset += length
    return found


def test_device_descriptor_is_teensyduinos_usb_serial(firmware):
    device = firmware.bytes_of("usb_device_descriptor")
    (length, kind, bcd_usb, device_class, subclass, protocol, packet0, vendor, product,
     bcd_device, manufacturer, product_string, serial, configurations) = \
        struct.unpack("<BBHBBBBHHHBBBB", device)
    assert (length, kind, bcd_usb) == (18, DEVICE, 0x0200)
    # Miscellaneous / common class / interface association (the IAD ECN).
    assert (device_class, subclass, protocol) == (0xEF, 0x02, 0x01)
    assert packet0 == 64                       # high speed: ep0 must be 64
    assert (vendor, product) == (0x16C0, 0x0483)
    assert (vendor, product) == (teensy_usb.VENDOR_ID, teensy_usb.SERIAL_PRODUCT_ID)
    assert bcd_device == 0x0280                # Teensyduino's Teensy 4.0
    assert (manufacturer, product_string, serial) == (1, 2, 3) and configurations == 1


def test_qualifier_matches_the_device(firmware):
    qualifier = firmware.bytes_of("usb_qualifier_descriptor")
    device = firmware.bytes_of("usb_device_descriptor")
    assert struct.unpack("<BBHBBBBBB", qualifier) == \
        (10, QUALIFIER, 0x0200, 0xEF, 0x02, 0x01, 64, 1, 0)
    assert qualifier[2:8] == device[2:8]


@pytest.mark.parametrize("name, bulk_packet", [("usb_config_descriptor_hs", 512),
                                               ("usb_config_descriptor_fs", 64)])
def test_configuration_is_one_cdc_acm_function(firmware, name, bulk_packet):
    descriptors = firmware.bytes_of(name)
    parts = split(descriptors)
    length, kind, total, interfaces, value, string, attributes, power = \
        struct.unpack("<BBHBBBBB", parts[0])
    assert (length, kind, total) == (9, CONFIGURATION, len(descriptors))
    assert (interfaces, value, string) == (2, 1, 0)
    assert attributes & 0x80 and not attributes & 0x1F       # bit 7 reserved as one
    assert 0 < power * 2 <= 500
    kinds = [part[1] for part in parts[1:]]
    assert kinds == [IAD, INTERFACE, CS_INTERFACE, CS_INTERFACE, CS_INTERFACE, CS_INTERFACE,
                     ENDPOINT, INTERFACE, ENDPOINT, ENDPOINT]
    iad, comm, header, call, acm, union, notify, data, out, into = parts[1:]
    # The association: both interfaces, the function's class is the CDC ACM.
    assert tuple(iad) == (8, IAD, 0, 2, 0x02, 0x02, 0x01, 0)
    # Communication interface: class 02, subclass 02 (ACM), protocol 01 (AT
    # commands, V.250, as Teensyduino's), one endpoint.
    assert struct.unpack("<xxBBBBBBx", comm) == (0, 0, 1, 0x02, 0x02, 0x01) and len(comm) == 9
    # PSTN functional descriptors: header (CDC 1.20), call management, ACM, union.
    assert len(header) == 5 and header[2] == 0x00 and \
        struct.unpack("<H", header[3:5])[0] in (0x0110, 0x0120)
    assert len(call) == 5 and call[2] == 0x01 and call[4] == 1      # data interface 1
    assert len(acm) == 4 and acm[2] == 0x02 and acm[3] & 0x02       # line coding requests
    assert tuple(union) == (5, CS_INTERFACE, 0x06, 0, 1)
    # Notification: interrupt IN.
    address, attributes, packet, interval = struct.unpack("<xxBBHB", notify)
    assert len(notify) == 7 and address & 0x80 and attributes & 0x03 == INTERRUPT
    assert 8 <= packet <= 64
    # High speed: 2^(n-1) microframes, n in 1..16; full speed: 1..255 ms.
    assert 1 <= interval <= (16 if bulk_packet == 512 else 255)
    # Data interface: class 0A, two bulk endpoints, one each way.
    number, alternate, endpoints, cls, subclass, protocol = struct.unpack("<xxBBBBBBx", data)
    assert (len(data), number, alternate, endpoints, cls, subclass, protocol) == \
        (9, 1, 0, 2, 0x0A, 0, 0)
    bulk = [struct.unpack("<xxBBHB", part) for part in (out, into)]
    assert sorted(address & 0x80 for address, *_ in bulk) == [0, 0x80]
    for address, attributes, packet, interval in bulk:
        assert attributes & 0x03 == BULK and packet == bulk_packet
    endpoint_numbers = [address & 0x0F for address, *_ in
                        [struct.unpack("<xxB", part[:3]) for part in (notify, out, into)]]
    assert 0 not in endpoint_numbers and len(set(endpoint_numbers)) == 3


def test_strings_are_teensyduinos(firmware):
    assert firmware.bytes_of("usb_manufacturer_string") == b"Teensyduino\0"
    assert firmware.bytes_of("usb_product_string") == b"USB Serial\0"


def test_usb_memory_is_not_cached(firmware):
    """The controller reads queue heads, transfer descriptors and buffers by
    DMA; tusb_config.h turns TinyUSB's cache maintenance off because they
    all lie in DTCM, which the D-cache does not cover."""
    for name in ("_dcd_data", "_ctrl_epbuf", "_cdcd_itf"):
        address = firmware.address(name)
        assert mm.DTCM.origin <= address < mm.DTCM.origin + mm.DTCM.length, name
    assert firmware.address("_dcd_data") % 2048 == 0        # ENDPTLISTADDR alignment


def test_the_usb_interrupt_stays_disabled(firmware):
    """TinyUSB enables the USB interrupt around each tud_task(); the link
    wraps that call into one that does nothing: no NVIC enable, no handler."""
    assert "__wrap_dcd_int_enable" in firmware.symbols
    assert "dcd_int_enable" not in firmware.symbols
    assert "USB_OTG1_IRQHandler" not in firmware.symbols or \
        firmware.address("USB_OTG1_IRQHandler") == firmware.address("DefaultISR")


def test_uart_console_links_no_usb(uart_firmware, firmware):
    assert "LPUART_Init" in uart_firmware.symbols and "tud_task_ext" not in uart_firmware.symbols
    assert "tud_task_ext" in firmware.symbols and "LPUART_Init" not in firmware.symbols


def test_the_bootloader_is_entered_with_bkpt_251(firmware):
    """The instruction the Teensy's bootloader chip acts on (and the
    emulator recognises): BKPT #251, Thumb encoding 0xBEFB."""
    symbol = firmware.symbols["board_enter_bootloader"]
    address = symbol["st_value"] & ~1                       # Thumb bit
    code = next(data[address - start:address - start + symbol["st_size"]]
                for start, data in firmware.sections
                if start <= address < start + len(data))
    halfwords = struct.unpack(f"<{len(code) // 2}H", code[:len(code) // 2 * 2])
    assert 0xBEFB in halfwords
