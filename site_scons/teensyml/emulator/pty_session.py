"""The emulator in a child process with its console on a pseudo-terminal, for
host tools that talk to a board over a serial port (run-model): they talk to
the emulated board through the very same code.

    with emulated_port("build/int8-reference/firmware.hex") as port:
        link = SerialLink(port, 115200, notice)
"""
import contextlib
import re
import signal
import subprocess
import sys
import tempfile

from ..errors import UserError
from ..paths import SITE_SCONS
STARTUP = re.compile(r"emulate: console on (\S+)")
# The emulator runs its own main(): the same as tools/emulate.py.
LAUNCH = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
          "from teensyml.emulator.cli import main; sys.exit(main())")


@contextlib.contextmanager
def emulated_port(firmware, elf=None, max_seconds=0):
    """The path of the emulated board's console, for the duration of the block."""
    command = [sys.executable, "-c", LAUNCH, SITE_SCONS, str(firmware), "--pty"]
    if elf:
        command += ["--elf", str(elf)]
    if max_seconds:
        command += ["--max-seconds", str(max_seconds)]
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            line = process.stdout.readline()
            match = STARTUP.match(line)
            if not match:
                process.wait()
                errors.seek(0)
                raise UserError(f"The emulator did not start on {firmware}: "
                                f"{(line + errors.read()).strip() or 'no output'}")
            yield match.group(1)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()
