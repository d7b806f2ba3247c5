#!/usr/bin/env python3
"""Program a Teensy 4.0 without SCons, with the options `scons flash` takes:

    tools/flash.py build/int8-reference/firmware.hex FLASHER=halfkay TIMEOUT=30
"""
import argparse
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml import flash  # noqa: E402
from teensyml.errors import cli  # noqa: E402
from teensyml.option_values import from_assignments, options_help  # noqa: E402

KEYS = flash.Settings.option_keys()


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check a Teensy 4.0 firmware image and program it.",
        epilog="settings (KEY=VALUE, as for `scons flash`):\n" + options_help(KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("firmware", help="the firmware image: .hex (or .elf)")
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE")
    arguments = parser.parse_intermixed_args(argv)
    settings = flash.Settings.from_options(from_assignments(arguments.options, KEYS))
    flash.run(arguments.firmware, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
