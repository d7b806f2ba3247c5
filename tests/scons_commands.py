"""A throwaway SCons project that wires `flash` and `monitor` with the
project's tools (site_scons/site_tools/teensy_flash.py, teensy_monitor.py),
its firmware "built" by copying a given ELF and HEX, so the tests see SCons
build what is out of date before flashing."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCONSTRUCT = """
import os, shutil
from teensyml import options
env = Environment(tools=["teensy_flash", "teensy_monitor"], ENV={"PATH": os.environ["PATH"]})
env["TEENSY_OPTIONS"] = options.resolve(ARGUMENTS)
def copy(target, source, env):
    shutil.copyfile(str(source[0]), str(target[0]))
firmware = {"elf": env.Command("build/firmware.elf", "firmware.elf.in", copy)[0],
            "hex": env.Command("build/firmware.hex", "firmware.hex.in", copy)[0],
            "map": File("build/firmware.map")}
env.FlashCommand(firmware)
env.MonitorCommand(firmware)
"""


def make_project(directory, elf, hex_file):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "SConstruct").write_text(SCONSTRUCT)
    shutil.copyfile(elf, directory / "firmware.elf.in")
    shutil.copyfile(hex_file, directory / "firmware.hex.in")
    return directory


def scons_command(*arguments):
    return [sys.executable, "-m", "SCons", "-Q", f"--site-dir={ROOT / 'site_scons'}",
            *arguments]


def run_scons(directory, *arguments, timeout=60):
    return subprocess.run(scons_command(*arguments), cwd=directory, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout,
                          env=dict(os.environ))
