#!/usr/bin/env python3
"""Run a model on the firmware with inputs from a file, as `scons run-model`:

    tools/run_model.py INPUT=x.npz                       (emulates build/<variant>/)
    tools/run_model.py INPUT=x.npy MODEL=path/to/m.tflite USE_CMSIS_NN=1 COMPARE=1
    tools/run_model.py INPUT=x.npz PORT=/dev/ttyUSB0 COMPARE=1     (a board)
    tools/run_model.py INPUT=x.npz --firmware build/fixture/fixture/fixture.hex

Without PORT= the emulator runs the configuration's image (build it first
with `scons` and the same options), or --firmware's. Exit status: 0 when the
outputs were printed (and, with COMPARE=1, agree with TFLM's host runtime),
1 when they differ, 2 for a bad option, input or answer.
"""
import argparse
import os
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml import run_model  # noqa: E402
from teensyml.errors import UserError, cli  # noqa: E402
from teensyml.option_values import from_assignments, keys_of, options_help  # noqa: E402

# The firmware's configuration names the image to emulate and the model to
# compare with; then run_model.Settings' options.
KEYS = tuple(dict.fromkeys(keys_of("configuration") + run_model.Settings.option_keys()))


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run the model on the firmware (a board, or the emulator) with inputs "
                    "from a .npy/.npz file; compare with TFLM's host runtime.",
        epilog="settings (KEY=VALUE, as for `scons run-model`):\n" + options_help(KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--firmware", help="the image to emulate (.hex; default: the "
                                           "configuration's build/<variant>/firmware.hex)")
    arguments = parser.parse_intermixed_args(argv)
    values = from_assignments(arguments.options, KEYS)
    from teensyml.model import firmware_model
    from teensyml.build_layout import build_layout
    from teensyml.paths import ROOT
    model = firmware_model.resolve(values["MODEL"], os.path.join(ROOT, "models")).path
    firmware = arguments.firmware or str(build_layout(values).firmware["hex"])
    elf = os.path.splitext(firmware)[0] + ".elf"
    if not values["PORT"] and not os.path.isfile(firmware):
        raise UserError(f"There is no {os.path.relpath(firmware)} to emulate: build it with "
                        f"`scons` and the same options, or give --firmware or PORT=.")
    settings = run_model.Settings.from_options(
        values, firmware=firmware, elf=elf if os.path.isfile(elf) else "", model=model)
    return run_model.run(settings)


if __name__ == "__main__":
    sys.exit(main())
