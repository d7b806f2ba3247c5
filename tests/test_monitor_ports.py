"""Which port the monitor opens when PORT= is not given."""
import pytest
from serial.tools.list_ports_common import ListPortInfo

from teensyml.errors import UserError
from teensyml.serial_link import candidate_ports, pick_port


def port(device, description):
    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    return info


ADAPTER = port("/dev/ttyUSB0", "FT232R USB UART")
TEENSY_USB = port("/dev/ttyACM0", "USB Serial")


def test_the_only_candidate_is_taken():
    assert pick_port("", [ADAPTER]) == "/dev/ttyUSB0"


def test_port_setting_wins():
    assert pick_port("/dev/ttyUSB3", [ADAPTER, TEENSY_USB]) == "/dev/ttyUSB3"


def test_several_candidates_are_listed():
    with pytest.raises(UserError) as caught:
        pick_port("", [ADAPTER, TEENSY_USB])
    message = str(caught.value)
    assert "/dev/ttyUSB0 (FT232R USB UART); /dev/ttyACM0 (USB Serial)" in message
    assert "Choose one with PORT=<device>" in message


def test_no_candidate():
    with pytest.raises(UserError, match=r"No USB serial port found .*\. Connect the "
                                        r"USB-UART adapter .* PORT=<device>"):
        pick_port("", [])


def test_candidates_come_from_pyserial():
    listed = candidate_ports()
    assert [info.device for info in listed] == sorted(info.device for info in listed)
    assert all(isinstance(info, ListPortInfo) for info in listed)
