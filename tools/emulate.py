#!/usr/bin/env python3
"""Run a Teensy 4.0 image with no board, as `scons emulate` does:

    tools/emulate.py build/fixture/fixture/fixture.hex
    tools/emulate.py build/int8-cmsis_nn/firmware.hex --pty
    tools/emulate.py firmware.elf --headless --send 2 --until 'predicted' --stats \\
        --between tflite::MicroInterpreter::Invoke --max-seconds 60
    tools/emulate.py firmware.hex STATS=1 MEASURE=1        (the scons option words)

The work is teensyml.emulator.cli; `tools/emulate.py -h` lists every flag.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                "site_scons"))

from teensyml.emulator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
