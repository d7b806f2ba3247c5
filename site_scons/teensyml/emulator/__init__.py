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

Rooms (each package's docstring lists its modules):
    machine/      the core, memory and run loop (board.Machine), loading an
                  image and its symbols, crash reports, the C and Python hooks
    peripherals/  the register blocks on the peripheral bus, the private
                  peripheral bus (SCB/DWT/MPU/...), the console on LPUART2,
                  usb/ (USB OTG1 and the emulated host that enumerates it);
                  its docstring says how to add a peripheral
    fpu/          double-precision VFP in Python (vfp + fpu64)
    counting/     counters by region, wait states, function markers, the report
    timing/       the calibrated timing model (caches, FlexSPI, dual-issue core)
and, beside them, pty_session (the emulator in a child process, on a
pseudo-terminal) and cli (tools/emulate.py and `scons emulate`).
"""
from .machine.firmware_file import load_firmware
from .peripherals.console import PtyConsole, ScriptedConsole, StdioConsole
from .counting.counters import Counts, WaitStates
from .machine.board import Machine, Stop

__all__ = ["Machine", "Stop", "load_firmware", "ScriptedConsole", "StdioConsole",
           "PtyConsole", "Counts", "WaitStates"]
