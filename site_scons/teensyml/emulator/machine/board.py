"""The emulated Teensy 4.0: Unicorn plus memory, peripherals and counters,
booted from the image's IVT as the i.MX RT1062 boot ROM does.

    image, symbols = load_firmware("build/int8-cmsis_nn/firmware.hex")   # firmware_file.py
    machine = Machine(image, symbols, console=ScriptedConsole(b"2"))
    stop = machine.run(max_seconds=60)       # a Stop: why, and the exit status
    machine.counts()                         # instructions, fetches, data, cycles

The run loop restarts Unicorn every TICK_SECONDS (a timer thread raises the
counters' stop flag; the counting hook stops at the next block boundary, so
counts stay exact) to look at the limits and flush the console. Ctrl-C,
SIGTERM and SIGHUP stop it at such a tick (teensyml.interrupts), with status
128 + the signal.
"""
import signal
import threading
import time
from dataclasses import dataclass

import unicorn
from unicorn import arm_const as uc_arm

from ... import interrupts
from ... import memory_map as mm
from .crash import CrashReport, Fault, capture
from ..peripherals.console import ScriptedConsole
from ..counting.counters import Counters
from ..peripherals.flexram import FlexRam
from ..peripherals.lpuart import Lpuart
from ..counting.markers import FunctionMarker
from ..peripherals.bus import PeripheralBus, standard_models
from ..peripherals.system import PrivatePeripheralBus
from ..peripherals.usb import UcMemory, UsbPort
from ..timing import make_timing
from ..fpu.vfp import VfpEmulator

NEVER = 0xFFFFFFFE              # emu_start's end address: not reachable code
TICK_SECONDS = 0.1              # how often the run loop looks at limits and output
OCRAM2_SIZE = mm.OCRAM.length

# Exit statuses of a run (2 is a user error, as everywhere in the project).
EXIT_OK, EXIT_CRASH, EXIT_TIME_LIMIT, EXIT_INSTRUCTION_LIMIT, EXIT_INTERRUPTED = 0, 1, 3, 4, 130
STATUS = {"idle": EXIT_OK, "until": EXIT_OK, "halt": EXIT_OK, "reset": EXIT_OK,
          "bootloader": EXIT_OK, "crash": EXIT_CRASH, "breakpoint": EXIT_CRASH,
          "usb-error": EXIT_CRASH,
          "time-limit": EXIT_TIME_LIMIT, "instruction-limit": EXIT_INSTRUCTION_LIMIT,
          "interrupted": EXIT_INTERRUPTED}

# Unicorn's ARM exception numbers (QEMU's EXCP_*) as the M7 would name them.
CPU_EXCEPTIONS = {
    1: ("UsageFault", "undefined instruction"),
    2: ("SVCall", "SVC instruction: the emulator takes no exceptions (no OS)"),
    8: ("UsageFault", "exception return (EXC_RETURN in PC) with no exception active"),
    17: ("UsageFault", "coprocessor access with the coprocessor disabled (NOCP)"),
    18: ("UsageFault", "invalid state: a branch to an address with bit 0 clear (INVSTATE)"),
    19: ("UsageFault", "stack overflow (STKOF)"),
    22: ("UsageFault", "unaligned access (UNALIGNED)"),
}
EXCP_BKPT = 7
# Teensyduino's _reboot_Teensyduino_(): BKPT #251 enters the HalfKay bootloader.
BOOTLOADER_BKPT = 251


@dataclass
class Stop:
    """Why a run ended."""
    reason: str                  # a key of STATUS
    message: str
    crash: CrashReport = None
    status: int = None           # instead of STATUS[reason] (a signal's 128 + n)

    @property
    def exit_status(self):
        return self.status if self.status is not None else STATUS[self.reason]


class Machine:
    def __init__(self, image, symbols=None, console=None, wait_states=None, measure=False,
                 report=None, native=None, timing="calibrated", parameters=None):
        """`image`: a teensy_image.FirmwareImage. `report(text)` receives
        one-line notes (unmodelled peripherals, ...); default: kept in notes.
        `native`: count with the C hooks (None: when they build, True: must,
        False: the Python hooks). `timing`: "calibrated" (caches, FlexSPI,
        the dual-issue core; always measures data accesses) or "simple"
        (instructions plus `wait_states`; data only with `measure`);
        `parameters`: the calibrated model's (timing.parameters.DEFAULT)."""
        self.image = image
        self.symbols = symbols
        self.console = console or ScriptedConsole()
        self.notes = []
        self._report = report or self.notes.append
        self._stop = None
        self._fault_access = None
        self._deadline = None
        self.markers = []
        self.run_seconds = 0.0       # host time spent emulating ...
        self.idle_seconds = 0.0      # ... and waiting for console input
        # The board's clock runs on while the firmware waits for the host:
        # those cycles reach DWT CYCCNT (a payload timeout fires as on the
        # board), not the counters of the work done.
        self.waited_cycles = 0

        uc = self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM,
                                  unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(uc_arm.UC_CPU_ARM_CORTEX_M7)
        # The counting hook first: markers rely on running after it.
        self.counters = Counters(uc, wait_states, measure, native,
                                 make_timing(timing, image, parameters))
        self.counters.install()
        self._map_memory()
        self.vfp = VfpEmulator(uc)
        uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, self.vfp.on_invalid)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_exception)
        uc.hook_add(unicorn.UC_HOOK_MEM_INVALID, self._on_bad_access)
        stack, entry = image.reset_state()
        # An odd IVT entry (Teensyduino) is called with the ROM's stack, in OCRAM.
        uc.reg_write(uc_arm.UC_ARM_REG_SP, stack if stack is not None
                     else mm.OCRAM.origin + OCRAM2_SIZE)
        self._pc = entry
        self.entry = entry

    # --- memory -------------------------------------------------------------------------
    def _map_memory(self):
        uc = self.uc
        uc.mem_map(mm.FLASH.origin, mm.FLASH_DEVICE_SIZE,
                   unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
        uc.mem_write(mm.FLASH.origin, b"\xff" * mm.FLASH_DEVICE_SIZE)   # erased NOR
        for segment in self.image.segments:
            uc.mem_write(segment.address, segment.data)
        uc.mem_map(mm.OCRAM.origin, OCRAM2_SIZE)
        self.flexram = FlexRam(uc, on_remap=self._on_remap)
        self.lpuart = Lpuart("LPUART2", mm.LPUART2_BASE, self, mm.PERIPHERAL_BLOCK_SIZE)
        self.usb = UsbPort(UcMemory(uc), self,
                           on_cable=lambda attached: self.console.cable(attached))
        self.bus = PeripheralBus(standard_models(self.flexram) + [self.lpuart,
                                                                  self.usb.controller],
                                 self._on_unmodelled)
        for base, size in mm.PERIPHERAL_WINDOWS:
            uc.mmio_map(base, size, self._bus_read, base, self._bus_write, base)
        self.ppb = PrivatePeripheralBus(self._cycles_now, self._on_reset_request,
                                        self.counters.timing)
        uc.mmio_map(mm.PPB_BASE, mm.PPB_SIZE, self._ppb_read, None, self._ppb_write, None)

    def _bus_read(self, _uc, offset, size, base):
        return self.bus.read(base + offset, size)

    def _bus_write(self, _uc, offset, size, value, base):
        self.bus.write(base + offset, size, value)

    def _ppb_read(self, _uc, offset, size, _data):
        return self.ppb.read(mm.PPB_BASE + offset, size)

    def _ppb_write(self, _uc, offset, size, value, _data):
        self.ppb.write(mm.PPB_BASE + offset, size, value)

    def _cycles_now(self):
        return self.counters.cycles(self.uc.reg_read(uc_arm.UC_ARM_REG_PC)) + self.waited_cycles

    def _on_remap(self, old, new):
        # Code moved under translated blocks: drop their translations.
        for base, size in list(old.values()) + list(new.values()):
            self.uc.ctl_remove_cache(base, base + size)

    def _on_unmodelled(self, address, is_write, size):
        pc = self.uc.reg_read(uc_arm.UC_ARM_REG_PC)
        where = f" in {self.symbols.describe(pc)}" if self.symbols else ""
        self._report(f"note: {'write to' if is_write else 'read of'} unmodelled peripheral "
                     f"register 0x{address:08X} ({size} bytes, PC 0x{pc:08X}{where}); "
                     f"treated as plain memory from now on")

    # --- the UART link (lpuart.Lpuart calls these) -------------------------------------
    def transmit(self, byte):
        self.console.transmit(byte)
        if self.console.matched and self._stop is None:
            self._request_stop(Stop("until", "the console output matched"))

    def receive(self, count):
        return self.console.receive(count)

    def note(self, text):
        self._report(f"note: {text}")

    # --- the USB host's extra link (usb.Host calls these) ------------------------------
    def fail(self, text):
        self._request_stop(Stop("usb-error", text))

    def line_rate(self):
        return self.console.line_rate()

    def seconds(self):
        return self._cycles_now() / mm.CORE_CLOCK_HZ

    def idle(self):
        """The firmware polls an empty receiver: block for host input."""
        self.console.flush()
        if self.console.matched:
            self._request_stop(Stop("until", "the console output matched"))
        elif self.console.exhausted():
            self._request_stop(Stop("idle", "the firmware is waiting for input and "
                                            "there is no more"))
        else:
            began = time.monotonic()
            timeout = TICK_SECONDS
            if self._deadline is not None:
                timeout = max(0.0, min(timeout, self._deadline - began))
            self.console.wait(timeout)
            waited = time.monotonic() - began
            self.idle_seconds += waited
            self.waited_cycles += int(waited * mm.CORE_CLOCK_HZ)

    # --- faults and stops ---------------------------------------------------------------------
    def _request_stop(self, stop, now=False):
        """End the run at the next block boundary, where the counts are exact
        (stopping inside a block would leave its rest counted but not run);
        `now` for exceptions, which must not run on."""
        if self._stop is None:
            self._stop = stop
        self.counters.stop[0] = True
        if now:
            self.uc.emu_stop()

    def _on_reset_request(self):
        self._request_stop(Stop("reset", "the firmware requested a system reset "
                                         "(AIRCR.SYSRESETREQ)"))

    def _on_exception(self, uc, number, _data):
        if number == EXCP_BKPT:
            pc = uc.reg_read(uc_arm.UC_ARM_REG_PC)
            immediate = uc.mem_read(pc, 1)[0]
            if immediate == BOOTLOADER_BKPT:
                self._request_stop(Stop("bootloader", "the firmware asked to reboot into "
                                        "the bootloader (134-baud request)"), now=True)
                return
            fault = Fault("Breakpoint", f"the firmware executed BKPT #{immediate} "
                                              f"(its fault handlers end this way)")
            self._request_stop(Stop("breakpoint", fault.detail, self._capture(fault)), now=True)
            return
        kind, detail = CPU_EXCEPTIONS.get(number, ("HardFault", f"CPU exception {number}"))
        fault = Fault(kind, detail)
        self._request_stop(Stop("crash", detail, self._capture(fault)), now=True)

    def _on_bad_access(self, _uc, access, address, size, value, _data):
        self._fault_access = (access, address, size, value)
        return False

    def _fault_from(self, error):
        """A Fault from the UcError that ended emu_start."""
        access = self._fault_access
        code = error.errno
        if access is not None:
            kind_code, address, size, _ = access
            where = self._describe_address(address)
            if kind_code in (unicorn.UC_MEM_FETCH_UNMAPPED, unicorn.UC_MEM_FETCH_PROT,
                             unicorn.UC_MEM_FETCH):
                return Fault("BusFault", f"instruction fetch from 0x{address:08X}, "
                                               f"where there is no code memory{where} "
                                               f"(IBUSERR)", address)
            verb = "write" if kind_code in (unicorn.UC_MEM_WRITE_UNMAPPED,
                                            unicorn.UC_MEM_WRITE_PROT) else "read"
            if kind_code == unicorn.UC_MEM_WRITE_PROT:
                reason = "the FlexSPI flash is read-only"
            else:
                reason = f"no memory answers there{where}"
            return Fault("BusFault", f"precise data bus error: {verb} of {size} "
                                           f"byte(s) at 0x{address:08X}: {reason} "
                                           f"(PRECISERR, BFAR valid)", address)
        if code == unicorn.UC_ERR_INSN_INVALID:
            detail = "undefined instruction (UNDEFINSTR)"
            if self.vfp.refused:
                detail += f"; the emulator does not execute {self.vfp.refused[1]} either"
            return Fault("UsageFault", detail)
        if code in (unicorn.UC_ERR_READ_UNALIGNED, unicorn.UC_ERR_WRITE_UNALIGNED,
                    unicorn.UC_ERR_FETCH_UNALIGNED):
            return Fault("UsageFault", "unaligned access (UNALIGNED)")
        return Fault("HardFault", f"the emulation stopped: {error}")

    def _describe_address(self, address):
        flexram = self.flexram.describe(address)
        if flexram:
            return f" ({flexram})"
        if mm.FLASH.origin <= address < mm.FLASH.origin + 0x10000000:
            return f" (past the {mm.FLASH_DEVICE_SIZE // mm.MB} MB flash)"
        return ""

    def _capture(self, fault):
        notes = [f"after {self.counters.instructions():,} instructions"]
        return capture(self.uc, fault, self.symbols, notes)

    # --- markers ----------------------------------------------------------------------------
    def add_marker(self, query):
        """Count between entry and return of the function `query` names
        (see Symbols.resolve_function). Returns the FunctionMarker."""
        if self.symbols is None:
            from ...errors import UserError
            raise UserError("Counting between markers needs function names: give the "
                            ".elf (or keep it next to the .hex).")
        start, name = self.symbols.resolve_function(query)
        marker = FunctionMarker(self.uc, self.counters, start, name)
        self.markers.append(marker)
        return marker

    def counts(self):
        return self.counters.counts()

    # --- running ----------------------------------------------------------------------------
    def run(self, max_seconds=None, max_instructions=None):
        """Run until something stops the firmware; returns the Stop. A later
        call continues where this one ended (if the stop allows it). Ctrl-C
        ends it with a Stop too, for callers in the main thread as well (an
        exception raised inside a Unicorn callback would be lost)."""
        with interrupts.listening():
            return self._run(max_seconds, max_instructions)

    def _run(self, max_seconds, max_instructions):
        self._stop = None
        began = time.monotonic()
        self._deadline = began + max_seconds if max_seconds else None
        ticking = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(ticking,), daemon=True)
        ticker.start()
        try:
            while self._stop is None:
                self._run_chunk()
                self.usb.service()
                self.console.flush()
                if self.console.matched and self._stop is None:
                    self._stop = Stop("until", "the console output matched")
                if self._stop is not None:
                    break
                signum = interrupts.received()
                if signum is not None:
                    self._stop = Stop("interrupted", f"interrupted by "
                                      f"{signal.Signals(signum).name}",
                                      status=interrupts.exit_status(signum))
                elif self._deadline is not None and time.monotonic() >= self._deadline:
                    self._stop = Stop("time-limit", f"the time limit of {max_seconds:g} s "
                                                    f"was reached")
                elif max_instructions and self.counters.instructions() >= max_instructions:
                    self._stop = Stop("instruction-limit",
                                      f"the instruction limit of {max_instructions:,} was "
                                      f"reached ({self.counters.instructions():,} executed)")
        finally:
            ticking.set()
            ticker.join()
            self.run_seconds += time.monotonic() - began
            self.console.flush()
        self.notes += self.console.notes
        self.console.notes.clear()
        return self._stop

    def _run_chunk(self):
        self.counters.clear_stop()
        self._fault_access = None
        try:
            self.uc.emu_start(self._pc | 1, NEVER)
        except unicorn.UcError as error:
            if self.counters.error is not None:
                raise self.counters.error
            if self._stop is None:
                fault = self._fault_from(error)
                self._stop = Stop("crash", fault.detail, self._capture(fault))
            return
        if self.counters.error is not None:
            raise self.counters.error
        self._pc = self.uc.reg_read(uc_arm.UC_ARM_REG_PC)
        if self.counters.grow_if_full():
            return
        if self._stop is None and self.counters.stopped_at() is None:
            # emu_start returned by itself: the core executed WFI.
            where = self.symbols.describe(self._pc) if self.symbols else f"0x{self._pc:08X}"
            self._stop = Stop("halt", f"the firmware executed WFI ({where}) and the "
                                      f"emulator delivers no interrupt to wake it")

    def _tick(self, done):
        while not done.wait(TICK_SECONDS):
            self.counters.stop[0] = True
