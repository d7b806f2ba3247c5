"""Program through PJRC's teensy_loader_cli (Debian package teensy-loader-cli).

The tool reads the HEX before it looks for a board, then waits for HalfKay
with -w (forever: we stop it after TIMEOUT), prints a dot per block written
and "Booting". Its output is streamed (the dots become a progress bar) and its
exit status and known messages become UserErrors that say what to do.
Ctrl-C and SIGTERM end the tool (teensyml.interrupts): no child is left.
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import time

from .. import interrupts
from ..errors import UserError
from .halfkay import no_bootloader_error, partly_written, permission_error
from .halfkay_protocol import BLOCK_SIZE

TOOL = "teensy_loader_cli"
INSTALL = "sudo apt-get install teensy-loader-cli"
MCU = "TEENSY40"
FOUND = "Found HalfKay Bootloader"
PROGRAMMING = "Programming"
# Printed while it keeps waiting: a board it cannot use, so waiting is pointless.
NO_PERMISSION = ("Unable to claim interface, check USB permissions",
                 "Found device but unable to open")
IN_USE = "Device is in use by"


def find_tool():
    return shutil.which(TOOL)


def command(tool, hex_path):
    """The command line: the Teensy 4.0, wait for the board, verbose (we parse
    its progress). Not its soft reboot (-s): REBOOT= does that before, for both
    back ends (flash/reboot.py)."""
    return [tool, f"--mcu={MCU}", "-w", "-v", hex_path]


class _Transcript:
    """Prints the tool's lines as they come; its dots drive a progress bar."""

    def __init__(self, block_count, out):
        self.block_count, self.out = block_count, out
        self.lines, self.partial, self.dots, self.bar = [], "", 0, None

    def feed(self, text):
        self.partial += text
        *complete, self.partial = self.partial.split("\n")
        for line in complete:
            line = line.rstrip("\r")
            if line.startswith(PROGRAMMING):
                # A failure message lands on the dots' line (stderr, no newline).
                line = line[len(PROGRAMMING) + self._progress(line):]
            self._close_bar()
            if line:
                self.lines.append(line)
                print(line, file=self.out, flush=True)
        if self.partial.startswith(PROGRAMMING):
            self._progress(self.partial)

    def _progress(self, line):
        """Advance the bar to the dots on `line`; return how many there are."""
        from tqdm import tqdm
        if self.bar is None:
            self.bar = tqdm(total=self.block_count * BLOCK_SIZE, unit="B", unit_scale=True,
                            unit_divisor=1024, desc="Flashing", file=self.out, disable=None,
                            leave=False)
        body = line[len(PROGRAMMING):]
        dots = len(body) - len(body.lstrip("."))
        self.bar.update((dots - self.dots) * BLOCK_SIZE)
        self.dots = dots
        return dots

    def _close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self):
        if self.partial:
            self.feed("\n")
        self._close_bar()

    def saw(self, text):
        return any(text in line for line in self.lines)

    def line_with(self, text):
        return next((line for line in self.lines if text in line), "")


def program(hex_path, block_count, timeout=60.0, out=None):
    """Run teensy_loader_cli on a checked HEX of `block_count` blocks."""
    out = out or sys.stdout
    tool = find_tool()
    if tool is None:
        raise UserError(f"{TOOL} is not installed (or not on PATH). Install it with "
                        f"`{INSTALL}`, or use the Python uploader: FLASHER=halfkay.")
    transcript = _Transcript(block_count, out)
    started = time.monotonic()
    process = subprocess.Popen(command(tool, hex_path), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        problem = _follow(process, transcript, timeout)
    finally:
        if process.poll() is None:
            process.kill()
        status = process.wait()
        process.stdout.close()
        transcript.finish()
    problem = problem or _interrupted(status, transcript, block_count)
    if problem is not None:
        raise problem
    if status != 0:
        raise _failure(status, transcript, hex_path, block_count)
    print(f"Programmed {transcript.dots} blocks ({transcript.dots * BLOCK_SIZE // 1024} KB) "
          f"with {TOOL} in {time.monotonic() - started:.1f} s.", file=out, flush=True)


def _follow(process, transcript, timeout):
    """Stream the output until the tool exits; a UserError when it must be
    stopped (no board in time, a board it cannot open)."""
    deadline = time.monotonic() + timeout
    descriptor = process.stdout.fileno()
    while interrupts.received() is None:
        ready, _, _ = select.select([descriptor], [], [], 0.1)
        if ready:
            chunk = os.read(descriptor, 4096)
            if not chunk:
                return None
            transcript.feed(chunk.decode("utf-8", "replace"))
        if any(transcript.saw(text) for text in NO_PERMISSION):
            return permission_error("The Teensy")
        if transcript.saw(IN_USE):
            return UserError(f"The Teensy bootloader is held by another program "
                             f"({transcript.line_with(IN_USE).strip()}); close the Teensy "
                             f"Loader application or any other flasher and run again.")
        if not transcript.saw(FOUND) and time.monotonic() >= deadline:
            return no_bootloader_error(timeout)
    return None


def _interrupted(status, transcript, block_count):
    """The Interrupted for a tool we stopped on a signal (or that the same
    Ctrl-C ended); None when none came or the tool finished its work."""
    signum = interrupts.received()
    if signum is None or status == 0:
        return None
    if not transcript.saw(FOUND):
        return interrupts.Interrupted(signum, "while waiting for the Teensy bootloader; "
                                              "nothing was written")
    return interrupts.Interrupted(signum, partly_written(transcript.dots, block_count))


def _failure(status, transcript, hex_path, block_count):
    """The UserError for a non-zero exit, from what the tool said."""
    if status < 0:
        return UserError(f"{TOOL} was stopped by signal {-status} "
                         f"({signal.Signals(-status).name}); nothing more was written. "
                         f"Run the flash again.")
    if transcript.saw("error reading intel hex file"):
        detail = transcript.line_with("HEX parse error") or transcript.line_with("error reading")
        return UserError(f"{TOOL} could not read {hex_path} ({detail.strip()}), although "
                         f"it passed our Teensy 4.0 checks; rebuild it (scons) and try "
                         f"again, or use FLASHER=halfkay.")
    if transcript.saw("error writing to Teensy"):
        return UserError(f"{TOOL} lost the board while writing block "
                         f"{transcript.dots} of {block_count}: it was unplugged or reset. "
                         f"The flash is only partly written, so the board will not run it. "
                         f"Run the flash again (press the button if the bootloader is "
                         f"gone): every run starts over from the first block.")
    if transcript.saw("Unknown MCU type") or transcript.saw("MCU type must be specified"):
        return UserError(f"This {TOOL} does not know the Teensy 4.0 (--mcu={MCU}); it is "
                         f"too old. Install a current one (`{INSTALL}`, version 2.1 or "
                         f"later), or use FLASHER=halfkay.")
    last = next((line.strip() for line in reversed(transcript.lines) if line.strip()),
                "no output")
    return UserError(f"{TOOL} failed with exit status {status} ({last}). Run the flash "
                     f"again; if it keeps failing, try FLASHER=halfkay.")
