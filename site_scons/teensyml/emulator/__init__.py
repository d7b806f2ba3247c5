"""An emulated Teensy 4.0 (i.MX RT1062, Cortex-M7) on the Unicorn engine.

It boots the very image `scons flash` programs, from its IVT, with the
FlexRAM banks the firmware configures, the peripherals the NXP SDK's bring-up
needs, the console on LPUART2 or on USB (the host emulated), double-precision VFP executed in Python where
Unicorn lacks it, and counters with a timing model for DWT CYCCNT: calibrated
(caches, FlexSPI, the dual-issue core; timing/) or simple (wait states).

    from teensyml.emulator import Machine, load_firmware, ScriptedConsole
    image, symbols = load_firmware("build/int8-cmsis_nn/firmware.hex")
    machine = Machine(image, symbols, ScriptedConsole(b"2", until=rb"predicted \\d"))
    invoke = machine.add_marker("tflite::MicroInterpreter::Invoke")
    stop = machine.run(max_seconds=60)
    print(stop.reason, invoke.counts().instructions, machine.console.text())

Modules: machine (the board and the run loop), flexram, peripherals, lpuart,
system (SCB/DWT/MPU/...), usb/ (USB OTG1 and the emulated host), counters (+ markers), timing/ (the calibrated model),
vfp (+ fpu64), console, crash, symbols, firmware_file (load_firmware), report,
pty_session (the emulator in a child process, on a pseudo-terminal), cli
(tools/emulate.py and `scons emulate`).
"""
from .firmware_file import load_firmware
from .console import PtyConsole, ScriptedConsole, StdioConsole
from .counters import Counts, WaitStates
from .machine import Machine, Stop

__all__ = ["Machine", "Stop", "load_firmware", "ScriptedConsole", "StdioConsole",
           "PtyConsole", "Counts", "WaitStates"]
