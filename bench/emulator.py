#!/usr/bin/env python3
"""Host time per emulated inference, and emulated instructions per second.

    bench/emulator.py                         # the four configurations
    bench/emulator.py int8-cmsis_nn --runs 5 --modes fast,measure,calibrated

For each configuration (float32/int8 x reference/CMSIS-NN, default placement)
it builds the firmware (`scons MODEL=... USE_CMSIS_NN=...`, skipped with
--no-build), boots it in the emulator, then times the `2` command (one
inference on the built-in digit, with its per-layer report) several times.
Prints, per configuration and mode (fast: TIMING=simple without data hooks;
measure: TIMING=simple MEASURE=1; calibrated: the calibrated timing model,
the default of `scons emulate`; --python-hooks: the fallback hooks instead of
the C ones, simple model only): instructions inside
tflite::MicroInterpreter::Invoke per inference, host seconds per inference
(best of the runs), emulated instructions per host second and the modelled
cycles. Targets: int8 under 2 s, float32 under 10 s per inference in the fast
mode; an int8 CMSIS-NN inference under 2 s in the calibrated mode.
"""
import argparse
import os
import subprocess
import sys
import time

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import console_protocol, options  # noqa: E402
from teensyml.build_layout import build_layout  # noqa: E402
from teensyml.emulator import Machine, ScriptedConsole, load_firmware  # noqa: E402

CONFIGURATIONS = {
    "int8-reference": {"MODEL": "int8", "USE_CMSIS_NN": "0"},
    "int8-cmsis_nn": {"MODEL": "int8", "USE_CMSIS_NN": "1"},
    "float32-reference": {"MODEL": "float32", "USE_CMSIS_NN": "0"},
    "float32-cmsis_nn": {"MODEL": "float32", "USE_CMSIS_NN": "1"},
}
INVOKE = "tflite::MicroInterpreter::Invoke"
READY = console_protocol.READY.pattern
ANSWER = "(?m)" + console_protocol.RESULT_END.pattern


def firmware_path(settings, build, build_dir):
    if build:
        subprocess.run([sys.executable, "-m", "SCons", "-Q"] +
                       [f"{key}={value}" for key, value in settings.items()],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = build_layout(options.resolve(settings), build_dir).firmware["hex"]
    if not path.is_file():
        raise SystemExit(f"no {path}: build it "
                         f"(scons {' '.join(f'{k}={v}' for k, v in settings.items())})")
    return str(path)


MODES = {"fast": ("simple", False), "measure": ("simple", True),
         "calibrated": ("calibrated", True)}


def bench(path, runs, mode, native):
    image, symbols = load_firmware(path)
    console = ScriptedConsole(until=READY)
    timing, measure = MODES[mode]
    machine = Machine(image, symbols, console, measure=measure, native=native, timing=timing)
    invoke = machine.add_marker(INVOKE)
    stop = machine.run(max_seconds=300)
    if stop.reason != "until":
        raise SystemExit(f"{path} did not boot: {stop.message}\n{console.text()}")
    seconds = []
    for _ in range(runs):
        calls = invoke.calls
        console.send(b"2")
        console.expect(ANSWER)
        started = time.perf_counter()
        stop = machine.run(max_seconds=300)
        seconds.append(time.perf_counter() - started)
        if stop.reason != "until" or invoke.calls != calls + 1:
            raise SystemExit(f"{path}: command 2 did not answer: {stop.message}")
    instructions = invoke.counts().instructions // invoke.calls
    return instructions, min(seconds), invoke.counts()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configurations", nargs="*", default=list(CONFIGURATIONS),
                        help=f"some of {', '.join(CONFIGURATIONS)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="fast,calibrated",
                        help=f"comma-separated, some of {', '.join(MODES)} (default: "
                             f"fast,calibrated)")
    parser.add_argument("--no-build", dest="build", action="store_false",
                        help="use the firmware already built")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                        help="where the variant directories are (default: build/)")
    parser.add_argument("--python-hooks", dest="native", action="store_const", const=False,
                        default=None, help="count with the Python hooks (the fallback "
                        "when no C compiler is at hand)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another option for every configuration (e.g. ITCM=none)")
    arguments = parser.parse_args(argv)
    print(f"{'configuration':<20}{'mode':<11}{'instructions/inference':>24}"
          f"{'host s/inference':>18}{'M instructions/s':>18}{'cycles (model)':>16}")
    extra = dict(item.split("=", 1) for item in arguments.set)
    for name in arguments.configurations:
        path = firmware_path({**CONFIGURATIONS[name], **extra}, arguments.build,
                             arguments.build_dir)
        for mode in arguments.modes.split(","):
            if mode not in MODES:
                raise SystemExit(f"--modes: {mode!r} is not one of {', '.join(MODES)}")
            instructions, seconds, counts = bench(path, arguments.runs, mode,
                                                  arguments.native)
            print(f"{name:<20}{mode:<11}{instructions:>24,}"
                  f"{seconds:>18.3f}{instructions / seconds / 1e6:>18.2f}"
                  f"{counts.cycles // counts.calls:>16,}", flush=True)


if __name__ == "__main__":
    main()
