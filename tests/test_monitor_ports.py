"""Which port the monitor opens when PORT= is not given: the Teensy's own
USB serial port (16c0:0483) first, else the only USB serial port; and how
it finds the board again after it re-enumerates. pyserial cannot list a
pseudo-terminal, so the port lists are made here and handed in."""
import threading
import time

import pytest
from serial.tools.list_ports_common import ListPortInfo

from pty_peer import PtyPeer
from teensyml.errors import UserError
from teensyml.serial_link import (SerialLink, board_locator, candidate_ports, pick_port,
                                  wait_for_candidates)


def port(device, description, vid=None, pid=None, serial_number=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    info.vid, info.pid, info.serial_number = vid, pid, serial_number
    return info


def teensy(device, serial_number="12345670"):
    """A Teensy running a USB serial port, as pyserial lists it on Linux."""
    return port(device, "USB Serial", 0x16C0, 0x0483, serial_number)


ADAPTER = port("/dev/ttyUSB0", "FT232R USB UART", 0x0403, 0x6001)
TEENSY_USB = teensy("/dev/ttyACM0")


def test_the_only_candidate_is_taken():
    assert pick_port("", [ADAPTER]) == "/dev/ttyUSB0"


def test_port_setting_wins():
    assert pick_port("/dev/ttyUSB3", [ADAPTER, TEENSY_USB]) == "/dev/ttyUSB3"


def test_the_teensy_is_taken_before_an_adapter():
    assert pick_port("", [ADAPTER, TEENSY_USB]) == "/dev/ttyACM0"
    assert candidate_ports([ADAPTER, TEENSY_USB]) == [TEENSY_USB, ADAPTER]


def test_a_port_of_another_vendor_on_acm_is_not_the_teensy():
    other = port("/dev/ttyACM0", "Arduino Uno", 0x2341, 0x0043)
    with pytest.raises(UserError, match="Several serial ports could be the board"):
        pick_port("", [ADAPTER, other])


def test_several_candidates_are_listed():
    with pytest.raises(UserError) as caught:
        pick_port("", [ADAPTER, port("/dev/ttyUSB1", "CP2102", 0x10C4, 0xEA60)])
    message = str(caught.value)
    assert "/dev/ttyUSB0 (FT232R USB UART); /dev/ttyUSB1 (CP2102)" in message
    assert "Choose one with PORT=<device>" in message


def test_several_teensy_boards_are_listed_without_the_adapter():
    with pytest.raises(UserError) as caught:
        pick_port("", [ADAPTER, TEENSY_USB, teensy("/dev/ttyACM1", "7654320")])
    message = str(caught.value)
    assert "/dev/ttyACM0 (USB Serial); /dev/ttyACM1 (USB Serial)" in message
    assert "ttyUSB0" not in message


def test_no_candidate():
    with pytest.raises(UserError, match=r"No USB serial port found .*\. Connect the "
                                        r"Teensy with its USB cable .*16c0:0483.*"
                                        r"USB-UART adapter .* PORT=<device>"):
        pick_port("", [])


def test_ports_without_usb_ids_are_never_candidates():
    legacy = port("/dev/ttyS0", "ttyS0")
    assert candidate_ports([legacy, TEENSY_USB]) == [TEENSY_USB]


def test_candidates_come_from_pyserial():
    listed = candidate_ports()
    assert [info.device for info in listed] == sorted(info.device for info in listed)
    assert all(isinstance(info, ListPortInfo) for info in listed)


def test_waits_for_a_board_that_is_still_enumerating():
    """`scons flash monitor`: the flashed board's port appears a moment after
    the monitor starts looking."""
    appears = time.monotonic() + 0.5
    notices = []
    found = wait_for_candidates(notices.append, wait=5.0,
                                lister=lambda: [TEENSY_USB] if time.monotonic() >= appears
                                else [])
    assert found == [TEENSY_USB]
    assert time.monotonic() >= appears
    assert notices == ["--- waiting up to 5 s for a USB serial port to appear"]


def test_gives_up_waiting_after_the_wait():
    started = time.monotonic()
    assert wait_for_candidates(lambda text: None, wait=0.4, lister=list) == []
    assert 0.4 <= time.monotonic() - started < 2.0


def test_an_adapter_is_not_followed_by_usb_id():
    assert board_locator("/dev/ttyUSB0", [ADAPTER, TEENSY_USB]) is None


def test_locator_finds_the_same_board_under_a_new_name():
    after = [ADAPTER, teensy("/dev/ttyACM1"), teensy("/dev/ttyACM2", "7654320")]
    locate = board_locator("/dev/ttyACM0", [TEENSY_USB], lister=lambda: after)
    assert locate() == "/dev/ttyACM1"
    assert board_locator("/dev/ttyACM0", [TEENSY_USB], lister=lambda: [ADAPTER])() is None


def test_the_link_reconnects_to_the_board_re_enumerated_under_another_name(tmp_path):
    """The board resets (a flash): its port goes away and comes back under
    another name, as /dev/ttyACM1 does while /dev/ttyACM0 is still held; the
    link finds it by USB id and serial number and talks to the new one."""
    first_path, second_path = tmp_path / "ttyACM0", tmp_path / "ttyACM1"
    first = PtyPeer(first_path, answer=lambda line: b"first\r\n")
    listing = [teensy(str(first_path))]
    notices = []
    link = SerialLink(str(first_path), 115200, notices.append,
                      board_locator(str(first_path), listing, lister=lambda: listing))
    stop = threading.Event()
    second = None
    try:
        assert link.connect(stop, time.monotonic() + 5)
        first.close()
        listing[:] = []                                 # gone from the bus
        deadline = time.monotonic() + 5
        while link.read(stop, deadline) != b"" or not any("went away" in n for n in notices):
            assert time.monotonic() < deadline
        second = PtyPeer(second_path, answer=lambda line: b"second\r\n")
        listing[:] = [teensy(str(second_path))]         # back, under a new name
        assert link.connect(stop, time.monotonic() + 5)
        assert link.port == str(second_path)
        assert f"--- reconnected to {second_path}" in notices
        assert link.write(b"2\r\n")
        received = b""
        while b"second" not in received:
            assert time.monotonic() < deadline + 5
            received += link.read(stop, time.monotonic() + 1)
        assert second.received == b"2\r\n"
    finally:
        link.close()
        first.close()
        if second:
            second.close()
