#!/usr/bin/env python3
"""Where every byte of a Teensy 4.0 firmware goes, without SCons, with the
options `scons size-report` takes:

    tools/size_report.py build/int8-reference/firmware.elf TOP=20 FORMAT=json
    tools/size_report.py build/fixture/fixture/fixture.elf DIFF=prev
"""
import argparse
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml import size_report  # noqa: E402
from teensyml.errors import cli  # noqa: E402
from teensyml.option_values import from_assignments, options_help  # noqa: E402

KEYS = size_report.Settings.option_keys()


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Size report of a linked firmware: per region (teensy_size's and the "
                    "memory map's names), per component, largest symbols; or, with DIFF=, "
                    "the change from an earlier json report.",
        epilog="options (KEY=VALUE, as for `scons size-report`):\n" + options_help(KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("elf", help="the firmware ELF (its .map must lie next to it)")
    parser.add_argument("--map", help="the link's map file (default: NAME.map)")
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE")
    arguments = parser.parse_args(argv)
    settings = size_report.Settings.from_options(from_assignments(arguments.options, KEYS))
    return size_report.run(arguments.elf, settings, map_path=arguments.map)


if __name__ == "__main__":
    sys.exit(main())
