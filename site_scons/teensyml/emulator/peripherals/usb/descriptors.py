"""The emulated host's checks of what the device reports about itself,
against USB 2.0 chapter 9, the IAD ECN and CDC 1.2 (PSTN 1.2 for ACM).

Each check raises DescriptorError with one sentence naming the descriptor,
the field, what it holds and what the specification asks for.
"""
import struct
from dataclasses import dataclass, field

DEVICE, CONFIGURATION, STRING, INTERFACE, ENDPOINT, IAD = 1, 2, 3, 4, 5, 11
CS_INTERFACE = 0x24
CDC_CLASS, CDC_ACM, CDC_DATA = 0x02, 0x02, 0x0A
HEADER, CALL_MANAGEMENT, ACM, UNION = 0x00, 0x01, 0x02, 0x06
CONTROL, ISOCHRONOUS, BULK, INTERRUPT = 0, 1, 2, 3
LANGID_US_ENGLISH = 0x0409


class DescriptorError(Exception):
    """A descriptor breaks the specification: the message says where and how."""


def check(condition, message):
    if not condition:
        raise DescriptorError(message)


@dataclass
class Device:
    usb_version: int
    device_class: tuple             # (class, subclass, protocol)
    max_packet0: int
    vendor: int
    product: int
    strings: dict                   # "manufacturer"/"product"/"serial" -> index
    configurations: int


@dataclass
class Endpoint:
    address: int
    kind: int                       # CONTROL ... INTERRUPT
    max_packet: int
    interval: int

    @property
    def is_in(self):
        return bool(self.address & 0x80)

    @property
    def number(self):
        return self.address & 0x0F


@dataclass
class Interface:
    number: int
    alternate: int
    triple: tuple                   # (class, subclass, protocol)
    declared: int                   # bNumEndpoints
    endpoints: list = field(default_factory=list)
    functional: list = field(default_factory=list)     # CDC (subtype, bytes)


@dataclass
class Configuration:
    value: int
    total_length: int
    interfaces: list
    associations: list              # (first interface, count, function triple)

    def interface(self, number):
        return next((i for i in self.interfaces if i.number == number and i.alternate == 0),
                    None)


def parse_device(data, high_speed=True):
    """The 18-byte device descriptor, checked (USB 2.0 9.6.1)."""
    where = "device descriptor"
    check(len(data) >= 2, f"{where}: the device returned {len(data)} bytes; it needs 18")
    check(data[0] == 18, f"{where}: bLength is {data[0]}; it must be 18 (USB 2.0 9.6.1)")
    check(len(data) == 18, f"{where}: the device returned {len(data)} bytes, bLength says 18")
    check(data[1] == DEVICE, f"{where}: bDescriptorType is {data[1]}; it must be 1 (DEVICE)")
    (bcd_usb, klass, subclass, protocol, max_packet0, vendor, product, _bcd_device,
     manufacturer, product_string, serial, configurations) = \
        struct.unpack("<HBBBBHHHBBBB", data[2:18])
    check(bcd_usb in (0x0200, 0x0201, 0x0210),
          f"{where}: bcdUSB is 0x{bcd_usb:04X}; a USB 2.0 device says 0x0200 (or 0x0210)")
    if high_speed:
        check(max_packet0 == 64, f"{where}: bMaxPacketSize0 is {max_packet0}; a high-speed "
                                 f"device must use 64 (USB 2.0 5.5.3)")
    else:
        check(max_packet0 in (8, 16, 32, 64), f"{where}: bMaxPacketSize0 is {max_packet0}; "
                                              f"it must be 8, 16, 32 or 64")
    check(configurations >= 1, f"{where}: bNumConfigurations is 0; it needs at least one")
    if klass == 0xEF:
        check((subclass, protocol) == (0x02, 0x01),
              f"{where}: bDeviceClass 0xEF (miscellaneous) needs bDeviceSubClass 0x02 and "
              f"bDeviceProtocol 0x01 for interface associations; it has 0x{subclass:02X}/"
              f"0x{protocol:02X} (IAD ECN)")
    return Device(bcd_usb, (klass, subclass, protocol), max_packet0, vendor, product,
                  {"manufacturer": manufacturer, "product": product_string, "serial": serial},
                  configurations)


def parse_configuration(data, high_speed=True):
    """The whole configuration descriptor set (wTotalLength bytes), checked
    (USB 2.0 9.6.3-9.6.6, IAD ECN, CDC 1.2 5.2.3)."""
    where = "configuration descriptor"
    check(len(data) >= 9, f"{where}: the device returned {len(data)} bytes; the header "
                          f"alone is 9")
    check(data[0] == 9, f"{where}: bLength is {data[0]}; it must be 9 (USB 2.0 9.6.3)")
    check(data[1] == CONFIGURATION, f"{where}: bDescriptorType is {data[1]}; it must be 2")
    total, interface_count, value, _string, attributes, _power = \
        struct.unpack("<HBBBBB", data[2:9])
    check(total == len(data), f"{where}: wTotalLength is {total} but the device returned "
                              f"{len(data)} bytes for it")
    check(value >= 1, f"{where}: bConfigurationValue is 0; 0 means 'not configured' "
                      f"(USB 2.0 9.4.7)")
    check(attributes & 0x80 and not attributes & 0x1F,
          f"{where}: bmAttributes is 0x{attributes:02X}; bit 7 must be set and bits 4..0 "
          f"clear (USB 2.0 9.6.3)")
    interfaces, associations, current, offset = [], [], None, 9
    addresses = set()
    while offset < len(data):
        length = data[offset]
        check(length >= 2, f"{where}: the descriptor at byte {offset} has bLength {length}")
        check(offset + length <= len(data),
              f"{where}: the descriptor at byte {offset} (bLength {length}) runs past "
              f"wTotalLength {total}: wTotalLength must count every descriptor of the "
              f"configuration (USB 2.0 9.6.3)")
        kind, body = data[offset + 1], bytes(data[offset:offset + length])
        if kind == INTERFACE:
            current = _interface(body, offset, interfaces)
            interfaces.append(current)
        elif kind == ENDPOINT:
            check(current is not None, f"{where}: an endpoint descriptor at byte {offset} "
                                       f"comes before any interface")
            endpoint = _endpoint(body, offset, high_speed)
            check(endpoint.address not in addresses,
                  f"endpoint descriptor at byte {offset}: bEndpointAddress "
                  f"0x{endpoint.address:02X} is used twice in the configuration")
            addresses.add(endpoint.address)
            current.endpoints.append(endpoint)
        elif kind == IAD:
            check(length == 8, f"interface association descriptor at byte {offset}: bLength "
                               f"is {length}; it must be 8 (IAD ECN)")
            associations.append((body[2], body[3], tuple(body[4:7]), offset))
        elif kind == CS_INTERFACE:
            check(current is not None, f"{where}: a class-specific descriptor at byte "
                                       f"{offset} comes before any interface")
            current.functional.append((body[2], body, offset))
        offset += length
    for interface in interfaces:
        check(len(interface.endpoints) == interface.declared,
              f"interface {interface.number}: bNumEndpoints is {interface.declared} but "
              f"{len(interface.endpoints)} endpoint descriptors follow it")
    numbers = sorted({i.number for i in interfaces})
    check(interface_count == len(numbers),
          f"{where}: bNumInterfaces is {interface_count} but the descriptors define "
          f"{len(numbers)} interface(s) ({numbers})")
    check(numbers == list(range(len(numbers))),
          f"{where}: interface numbers are {numbers}; they must run from 0 without gaps "
          f"(USB 2.0 9.6.5)")
    configuration = Configuration(value, total, interfaces, [])
    for first, count, triple, at in associations:
        _check_association(configuration, data, first, count, triple, at)
        configuration.associations.append((first, count, triple))
    return configuration


def _interface(body, offset, interfaces):
    where = f"interface descriptor at byte {offset}"
    check(len(body) == 9, f"{where}: bLength is {len(body)}; it must be 9 (USB 2.0 9.6.5)")
    number, alternate, endpoints, klass, subclass, protocol = body[2:8]
    check(not any(i.number == number and i.alternate == alternate for i in interfaces),
          f"{where}: interface {number} alternate setting {alternate} is defined twice")
    return Interface(number, alternate, (klass, subclass, protocol), endpoints)


def _endpoint(body, offset, high_speed):
    where = f"endpoint descriptor at byte {offset}"
    check(len(body) == 7, f"{where}: bLength is {len(body)}; it must be 7 (USB 2.0 9.6.6)")
    address, attributes, max_packet, interval = struct.unpack("<BBHB", body[2:7])
    check(not address & 0x70 and address & 0x0F,
          f"{where}: bEndpointAddress 0x{address:02X} is not valid: bits 6..4 must be zero "
          f"and the number 1..15")
    kind, size = attributes & 0x3, max_packet & 0x7FF
    name = f"{where} (0x{address:02X})"
    if kind == BULK:
        limit = (512,) if high_speed else (8, 16, 32, 64)
        check(size in limit and not max_packet >> 11,
              f"{name}: a {'high' if high_speed else 'full'}-speed bulk endpoint's "
              f"wMaxPacketSize must be {' or '.join(map(str, limit))}; it is {max_packet} "
              f"(USB 2.0 5.8.3)")
    elif kind == INTERRUPT:
        check(1 <= size <= (1024 if high_speed else 64),
              f"{name}: interrupt wMaxPacketSize {size} is out of range (USB 2.0 5.7.3)")
        if high_speed:
            check(1 <= interval <= 16, f"{name}: a high-speed interrupt endpoint's bInterval "
                                       f"is an exponent 1..16; it is {interval} (USB 2.0 "
                                       f"9.6.6)")
        else:
            check(1 <= interval <= 255, f"{name}: bInterval {interval} must be 1..255")
    elif kind == CONTROL:
        raise DescriptorError(f"{name}: bmAttributes says control; only endpoint 0 is a "
                              f"control endpoint here")
    check(not attributes & 0xC0, f"{name}: bmAttributes 0x{attributes:02X} has reserved bits "
                                 f"7..6 set")
    return Endpoint(address, kind, size, interval)


def _check_association(configuration, data, first, count, triple, at):
    where = f"interface association descriptor at byte {at}"
    check(count >= 1, f"{where}: bInterfaceCount is 0")
    members = [configuration.interface(n) for n in range(first, first + count)]
    check(all(members), f"{where}: it groups interfaces {first}..{first + count - 1}, "
                        f"which do not all exist")
    first_offset = _offset_of_interface(data, first)
    check(first_offset is not None and at < first_offset,
          f"{where}: it must come before the first interface it groups ({first})")
    check(triple[0] == members[0].triple[0],
          f"{where}: bFunctionClass is 0x{triple[0]:02X} but its first interface's class is "
          f"0x{members[0].triple[0]:02X}")


def _offset_of_interface(data, number):
    offset = 9
    while offset < len(data) and data[offset] >= 2:
        if data[offset + 1] == INTERFACE and data[offset + 2] == number:
            return offset
        offset += data[offset]
    return None


@dataclass
class SerialFunction:
    """The CDC-ACM function found in a configuration."""
    control: int                     # interface numbers
    data: int
    notification: Endpoint
    bulk_in: Endpoint
    bulk_out: Endpoint


def cdc_acm(configuration):
    """The configuration's CDC-ACM serial port, checked (CDC 1.2 5.2.3,
    PSTN 1.2 5.3): the communications interface with Header, Call Management,
    ACM and Union functional descriptors and an interrupt IN endpoint; the
    data interface with one bulk IN and one bulk OUT endpoint."""
    control = next((i for i in configuration.interfaces
                    if i.triple[:2] == (CDC_CLASS, CDC_ACM) and i.alternate == 0), None)
    check(control is not None, "configuration: no CDC ACM communications interface "
                               "(bInterfaceClass 0x02, bInterfaceSubClass 0x02)")
    where = f"CDC communications interface {control.number}"
    functional = {subtype: (body, at) for subtype, body, at in control.functional}
    check(control.functional and control.functional[0][0] == HEADER,
          f"{where}: the first functional descriptor must be the Header (CDC 1.2 5.2.3)")
    header = functional[HEADER][0]
    check(len(header) == 5, f"{where}: Header functional descriptor bLength is "
                            f"{len(header)}; it must be 5")
    version = struct.unpack("<H", header[3:5])[0]
    check(version in (0x0110, 0x0120), f"{where}: Header bcdCDC is 0x{version:04X}; it must "
                                       f"be 0x0110 or 0x0120")
    check(ACM in functional, f"{where}: no Abstract Control Management functional "
                             f"descriptor (PSTN 1.2 5.3.2)")
    check(len(functional[ACM][0]) == 4, f"{where}: ACM functional descriptor bLength is "
                                        f"{len(functional[ACM][0])}; it must be 4")
    if CALL_MANAGEMENT in functional:
        check(len(functional[CALL_MANAGEMENT][0]) == 5,
              f"{where}: Call Management functional descriptor bLength must be 5")
    check(UNION in functional, f"{where}: no Union functional descriptor (CDC 1.2 5.2.3.2)")
    union = functional[UNION][0]
    check(len(union) >= 5, f"{where}: Union functional descriptor bLength {len(union)} "
                           f"is under 5")
    check(union[3] == control.number,
          f"{where}: Union bControlInterface is {union[3]}; it must be this interface")
    data = configuration.interface(union[4])
    check(data is not None and data.triple[0] == CDC_DATA,
          f"{where}: Union bSubordinateInterface0 is {union[4]}, which is not a CDC data "
          f"interface (bInterfaceClass 0x0A)")
    notification = [e for e in control.endpoints if e.kind == INTERRUPT and e.is_in]
    check(len(control.endpoints) == 1 and notification,
          f"{where}: needs exactly one endpoint, interrupt IN, for notifications")
    bulk_in = [e for e in data.endpoints if e.kind == BULK and e.is_in]
    bulk_out = [e for e in data.endpoints if e.kind == BULK and not e.is_in]
    check(len(data.endpoints) == 2 and bulk_in and bulk_out,
          f"CDC data interface {data.number}: needs one bulk IN and one bulk OUT endpoint")
    if configuration.associations:
        grouped = [(first, count) for first, count, _ in configuration.associations
                   if first <= control.number < first + count]
        check(grouped and grouped[0][0] <= data.number < sum(grouped[0]),
              f"{where}: its interface association does not include data interface "
              f"{data.number}")
    return SerialFunction(control.number, data.number, notification[0], bulk_in[0],
                          bulk_out[0])


def parse_string(data, index):
    """A string descriptor: the text (index 0: the LANGID list)."""
    where = f"string descriptor {index}"
    check(len(data) >= 2, f"{where}: the device returned {len(data)} bytes")
    check(data[1] == STRING, f"{where}: bDescriptorType is {data[1]}; it must be 3 (STRING)")
    check(data[0] == len(data), f"{where}: bLength is {data[0]} but the device returned "
                                f"{len(data)} bytes")
    check(data[0] % 2 == 0 and data[0] >= 2,
          f"{where}: bLength {data[0]} is odd; the string is UTF-16LE (USB 2.0 9.6.7)")
    if index == 0:
        languages = list(struct.unpack(f"<{(len(data) - 2) // 2}H", data[2:]))
        check(languages, f"{where}: the LANGID list is empty")
        return languages
    try:
        return bytes(data[2:]).decode("utf-16-le")
    except UnicodeDecodeError:
        raise DescriptorError(f"{where}: the text is not valid UTF-16LE") from None
