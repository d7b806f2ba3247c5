#!/usr/bin/env python3
"""The serial console without SCons, with the options `scons monitor` takes:

    tools/monitor.py PORT=/dev/ttyUSB0 --elf build/int8-reference/firmware.elf
    tools/monitor.py PORT=/dev/pts/3 SEND=2 EXPECT=predicted TIMEOUT=10
"""
import argparse
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml import monitor  # noqa: E402
from teensyml.errors import cli  # noqa: E402
from teensyml.option_values import from_assignments, options_help  # noqa: E402

KEYS = monitor.Settings.option_keys()


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Serial console to the Teensy: interactive (quit with Ctrl+]), or "
                    "scripted with SEND=/EXPECT= (status 0 only if EXPECT arrived).",
        epilog="settings (KEY=VALUE, as for `scons monitor`):\n" + options_help(KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elf", help="firmware ELF: decode fault addresses with it")
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE")
    arguments = parser.parse_intermixed_args(argv)
    settings = monitor.Settings.from_options(from_assignments(arguments.options, KEYS))
    return monitor.run(settings, elf=arguments.elf)


if __name__ == "__main__":
    sys.exit(main())
