"""The monitor's serial port: which one to open, and a connection that
survives the board going away.

A USB-UART adapter disappears when unplugged, a board's own USB serial when
it resets or is flashed, an emulator's pseudo-terminal when the emulator
stops. SerialLink notices (a failed read or write, or the port's path gone or
naming another device), says so, waits for the path to exist again and
reopens it; a Teensy's USB serial port picked by its USB id is found again
by that id and its serial number, under whatever name it comes back.
"""
import errno
import os
import threading
import time

import serial
from serial.tools import list_ports

from . import interrupts, teensy_usb
from .errors import UserError

READ_TIMEOUT = 0.1       # seconds a read waits: how fast the monitor reacts
POLL_INTERVAL = 0.2      # seconds between looks for a port that is gone
IDENTITY_INTERVAL = 0.5  # seconds between checks that the path is still our port
APPEAR_WAIT = 10.0       # seconds to wait for a first USB serial port to appear


def candidate_ports(listed=None):
    """The ports the monitor may pick without PORT=: the USB serial ports
    (a USB-UART adapter, a board's own USB serial) among those pyserial
    lists, `listed` or the machine's. Ports without a USB vendor and product
    id, such as the legacy on-board /dev/ttyS*, are never picked: on most
    machines nothing is attached to them. Pseudo-terminals (the emulator's)
    are not listed by pyserial: they are named with PORT=."""
    listed = list_ports.comports() if listed is None else listed
    return sorted((port for port in listed if port.vid is not None and port.pid is not None),
                  key=lambda port: port.device)


def wait_for_candidates(notice, wait=APPEAR_WAIT, lister=None):
    """candidate_ports(), waiting up to `wait` seconds while there is none:
    a board just flashed or reset enumerates within about a second (`scons
    flash monitor`). `lister` lists the machine's ports (tests replace it);
    `notice(text)` says that it waits."""
    def listed():
        return candidate_ports(lister() if lister else None)
    found, deadline = listed(), time.monotonic() + wait
    if not found and wait > 0:
        notice(f"--- waiting up to {wait:g} s for a USB serial port to appear")
    while not found and time.monotonic() < deadline:
        if interrupts.wait(POLL_INTERVAL) is not None:
            interrupts.check("while waiting for a serial port")
        found = listed()
    return found


def pick_port(requested, candidates):
    """PORT= when given; else the Teensy's own USB serial port (16c0:0483)
    when one board has it, whatever else is attached; else the only
    candidate (a USB-UART adapter); else a UserError that lists them."""
    if requested:
        return requested
    boards = teensy_usb.serial_ports(candidates)
    if len(boards) == 1:
        return boards[0].device
    if len(boards) > 1:
        candidates = boards
    elif len(candidates) == 1:
        return candidates[0].device
    if not candidates:
        raise UserError(f"No USB serial port found (legacy ports such as /dev/ttyS0 are "
                        f"never picked on their own). Connect the Teensy with its USB cable "
                        f"(our firmware's console is a USB serial port, "
                        f"{teensy_usb.SERIAL_USB_ID}, unless built with CONSOLE=uart), or "
                        f"the USB-UART adapter wired to its pins 14 (TX) and 15 (RX) for "
                        f"CONSOLE=uart, or name the port with PORT=<device> (e.g. "
                        f"PORT=/dev/ttyACM0, or the pseudo-terminal `scons emulate PTY=1` "
                        f"prints).")
    listing = "; ".join(f"{port.device} ({port.description})" for port in candidates)
    raise UserError(f"Several serial ports could be the board: {listing}. Choose one with "
                    f"PORT=<device>.")


def board_locator(device, candidates, lister=teensy_usb.listed_ports):
    """For `device` picked as a Teensy's USB serial port: a function that
    says where that board's port is now, or None. The port goes away when
    the board resets or is flashed and may come back under another name
    (/dev/ttyACM1 when /dev/ttyACM0 was still held open); the board is found
    again by its USB id and serial number. None for any other port (PORT=
    given, an adapter): its path is followed as it is. `lister` lists the
    machine's ports (tests replace it)."""
    board = next((port for port in teensy_usb.serial_ports(candidates)
                  if port.device == device), None)
    if board is None:
        return None

    def locate():
        found = teensy_usb.serial_ports(lister(), board.serial_number or "")
        return found[0].device if len(found) == 1 else None
    return locate


def _open_error(port, error):
    if getattr(error, "errno", None) == errno.EACCES:
        return UserError(f"{port} exists but cannot be opened: permission denied. Add "
                         f"yourself to the group that owns it (usually `sudo usermod -aG "
                         f"dialout $USER`, then log in again).")
    return UserError(f"{port} cannot be opened as a serial port ({error}). Check PORT=; "
                     f"`python -m serial.tools.list_ports` lists the serial ports.")


def _device_id(stat_result):
    return stat_result.st_rdev, stat_result.st_ino


class SerialLink:
    """A serial port that reopens itself. `notice(text)` reports what happens
    to it. read() runs in one thread, write() may come from another."""

    def __init__(self, port, baud, notice, locate=None):
        self.port, self.baud, self.notice = port, baud, notice
        self._locate = locate        # board_locator(): where the board's port is now
        self._serial = None
        self._lock = threading.Lock()
        self._identity = None
        self._checked = 0.0
        self._was_connected = False

    def connect(self, stop, deadline=None):
        """Open the port, waiting for its path to exist. False when `stop` is
        set or `deadline` (time.monotonic()) passes first."""
        announced = False
        while not stop.is_set():
            if self._locate is not None and self._was_connected:
                self.port = self._locate() or self.port
            if self._present():
                try:
                    port = serial.Serial(self.port, self.baud, timeout=READ_TIMEOUT)
                except (serial.SerialException, OSError) as error:
                    # After a replug the node can exist before udev has set its
                    # permissions: retry then. A port never opened is an error.
                    if not self._was_connected and self._present() \
                            and getattr(error, "errno", None) != errno.ENOENT:
                        raise _open_error(self.port, error) from None
                else:
                    with self._lock:
                        self._serial = port
                        self._identity = self._stat_identity(port)
                        self._checked = time.monotonic()
                    if self._was_connected:
                        self.notice(f"--- reconnected to {self.port}")
                    self._was_connected = True
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not announced and not self._was_connected:
                self.notice(f"--- waiting for {self.port} to appear")
                announced = True
            stop.wait(POLL_INTERVAL)
        return False

    def _present(self):
        # Windows names ports (COM3) with no file to look for: just try them.
        return os.name == "nt" or os.path.exists(self.port)

    def _stat_identity(self, port):
        try:
            return _device_id(os.fstat(port.fileno()))
        except (AttributeError, OSError, ValueError):
            return None     # no file descriptor (not POSIX): rely on read errors

    def _still_ours(self):
        """Whether the path still names the device we have open (an unplugged
        adapter's path can come back as another device while we still hold the
        old one)."""
        if self._identity is None:
            return True
        try:
            return _device_id(os.stat(self.port)) == self._identity
        except OSError:
            return False

    def _lost(self):
        with self._lock:
            port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
            self.notice(f"--- {self.port} went away; waiting for it to come back")

    def read(self, stop, deadline=None):
        """Bytes received (b"" when none came within READ_TIMEOUT). Reconnects
        first when the port is gone."""
        if self._serial is None and not self.connect(stop, deadline):
            return b""
        try:
            data = self._serial.read(max(1, self._serial.in_waiting))
        except (serial.SerialException, OSError, TypeError, ValueError, AttributeError):
            # A vanished device raises SerialException or OSError; a port
            # closed meanwhile by the other thread may raise the others.
            self._lost()
            return b""
        if not data and time.monotonic() - self._checked >= IDENTITY_INTERVAL:
            self._checked = time.monotonic()
            if not self._still_ours():
                self._lost()
        return data

    def write(self, data):
        """Send bytes; False when the port is not there (nothing was sent)."""
        with self._lock:
            port = self._serial
        if port is None:
            return False
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError):
            return False
        return True

    def discard_input(self):
        """Drop what arrived before now (scripted mode matches only answers)."""
        with self._lock:
            if self._serial is not None:
                self._serial.reset_input_buffer()

    def close(self):
        with self._lock:
            port, self._serial = self._serial, None
        if port is not None:
            port.close()
