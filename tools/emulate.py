#!/usr/bin/env python3
"""Run a Teensy 4.0 image with no board, as `scons emulate` does:

    tools/emulate.py build/fixture/fixture/fixture.hex
    tools/emulate.py build/int8-cmsis_nn/firmware.hex --pty
    tools/emulate.py firmware.elf --headless --send 2 --until 'predicted' --stats \\
        --between tflite::MicroInterpreter::Invoke --max-seconds 60
    tools/emulate.py firmware.hex STATS=1 MEASURE=1        (the scons option words)

The work is teensyml.emulator.cli; `tools/emulate.py -h` lists every flag.
"""
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml.emulator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
