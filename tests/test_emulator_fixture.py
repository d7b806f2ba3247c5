"""The emulator on the CI fixture firmware (our own code, no third-party
sources): boot from the IVT, FlexRAM, the console over a real pseudo-terminal,
the crash report, limits, the cycle model, bad images."""
import os
import re
import resource
import signal
import subprocess
import sys
import time

import capstone
import pytest
import serial
from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

from conftest import ROOT, layout, run_scons
from teensyml import memory_map as mm
from teensyml.image import teensy_image
from teensyml.image.elf_image import read as read_elf
from teensyml.emulator import Machine, ScriptedConsole, WaitStates, load_firmware
from teensyml.emulator.counting.counters import (REGION_RANGES, clear_stale_it_state,
                                                 region_index)
from teensyml.emulator.machine.native import library as native_library

EMULATE = [sys.executable, str(ROOT / "tools" / "emulate.py")]
HOT_FUNCTION = "fixture_hot_loop"
HOT_LINE = re.compile(r"hot result=0x([0-9A-F]{8}) cycles=(\d+)")


@pytest.fixture(params=[True, False], ids=["C-hooks", "Python-hooks"])
def native(request):
    """Both counting back ends must give the same counts."""
    if request.param and native_library()[0] is None:
        pytest.skip(f"the C hooks cannot be built here: {native_library()[1]}")
    return request.param


@pytest.fixture(scope="session")
def fixture_in_itcm():
    """The fixture with its hot function placed in ITCM."""
    extra = f"{HOT_FUNCTION}*"
    run_scons("fixture", f"ITCM_EXTRA={extra}")
    return layout(ITCM_EXTRA=extra).fixture


def elf_symbol(path, name):
    """The value of any ELF symbol (sized or not, absolute or not)."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as stream:
        symbols = ELFFile(stream).get_section_by_name(".symtab").get_symbol_by_name(name)
        return symbols[0]["st_value"]


def boot(firmware, send=b"", kind="elf", **machine_options):
    image, symbols = load_firmware(str(firmware[kind]))
    machine = Machine(image, symbols, ScriptedConsole(send), **machine_options)
    stop = machine.run(max_seconds=60)
    return machine, stop


def emulate(*arguments, timeout=60):
    return subprocess.run(EMULATE + [str(argument) for argument in arguments],
                          capture_output=True, text=True, timeout=timeout)


# --- boot ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hex", "elf"])
def test_boots_from_the_ivt(fixture_firmware, kind, native):
    machine, stop = boot(fixture_firmware, b"h", kind, native=native, timing="simple")
    assert stop.reason == "idle", stop.message
    assert machine.console.text().startswith("fixture: boot ok data ok\r\n")
    assert "fixture: hello" in machine.console.text()
    # The entry is the reset handler the vector table at the IVT's entry names.
    image = teensy_image.load_image(str(fixture_firmware["hex"]))
    vector_table = image.word_at(mm.FLASH.origin + mm.IVT_OFFSET + 4)
    reset_handler = {s.name: s.address for s in read_elf(fixture_firmware["elf"]).symbols}
    assert machine.entry == image.word_at(vector_table + 4) & ~1
    assert machine.entry == reset_handler["Reset_Handler"]
    assert machine.counters.executions()[machine.entry] == 1


def test_flexram_as_the_elf_configures_it(fixture_firmware):
    machine, stop = boot(fixture_firmware, b"b")
    match = re.search(r"banks GPR17=0x([0-9A-F]{8}) itcm=(\d+) dtcm=(\d+) "
                      r"stack_top=0x([0-9A-F]{8})", machine.console.text())
    assert match, machine.console.text()
    gpr17, itcm, dtcm, stack_top = (int(match.group(1), 16), int(match.group(2)),
                                    int(match.group(3)), int(match.group(4), 16))
    assert gpr17 == elf_symbol(fixture_firmware["elf"], "__flexram_bank_config__")
    assert stack_top == elf_symbol(fixture_firmware["elf"], "__StackTop")
    # The emulator's banks are the ones the firmware wrote, not the fuse default.
    assert machine.flexram.gpr17 == gpr17
    assert machine.flexram.banks == mm.decode_bank_config(gpr17) != mm.RESET_BANK_CONFIG
    assert machine.flexram.sizes() == {"ITCM": itcm * mm.FLEXRAM_BANK_SIZE,
                                       "DTCM": dtcm * mm.FLEXRAM_BANK_SIZE}
    assert stack_top == mm.DTCM.origin + dtcm * mm.FLEXRAM_BANK_SIZE


def test_the_initial_data_was_copied_from_flash(fixture_firmware):
    machine, _ = boot(fixture_firmware)
    assert "DATA BAD" not in machine.console.text()
    data_word = elf_symbol(fixture_firmware["elf"], "data_word")
    assert bytes(machine.uc.mem_read(data_word, 4)) == (0xC0FFEE00).to_bytes(4, "little")


# --- the console ---------------------------------------------------------------------------

def read_until(port, pattern, timeout=20):
    received, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        received += port.read(port.in_waiting or 1)
        match = re.search(pattern, received)
        if match:
            return match
    raise AssertionError(f"{pattern!r} did not arrive; got {received!r}")


def test_console_on_a_pseudo_terminal_with_pyserial(fixture_firmware):
    process = subprocess.Popen(EMULATE + [str(fixture_firmware["hex"]), "--pty",
                                          "--max-seconds", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"emulate: console on (\S+)\n", line)
        assert match, line
        with serial.Serial(match.group(1), 115200, timeout=0.2) as port:
            port.write(b"h")
            read_until(port, rb"fixture: hello\r\n")
            port.write(b"c")
            first = read_until(port, rb"hot result=0x([0-9A-F]{8}) cycles=(\d+)\r\n")
        # A client may leave and come back, as with a board.
        with serial.Serial(match.group(1), 115200, timeout=0.2) as port:
            port.write(b"c")
            again = read_until(port, rb"hot result=0x([0-9A-F]{8}) cycles=(\d+)\r\n")
        assert first.group(1) == again.group(1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    finally:
        process.kill()
        process.wait()


def test_an_idle_firmware_costs_little_host_cpu(fixture_firmware):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = emulate(fixture_firmware["hex"], "--pty", "--max-seconds", "3")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert result.returncode == 3
    # Start-up (imports) costs well under a second; three idle seconds cost little.
    assert cpu < 0.5 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s"


# --- faults ----------------------------------------------------------------------------------

def test_deliberate_fault_gives_a_crash_report(fixture_firmware):
    machine, stop = boot(fixture_firmware, b"f")
    stack_top = elf_symbol(fixture_firmware["elf"], "__StackTop")
    assert stop.reason == "crash" and stop.exit_status == 1
    report = stop.crash
    assert report.fault.kind == "BusFault"
    assert report.fault.address == stack_top            # just past the end of DTCM
    assert report.function("pc") == "main"
    assert report.instruction.startswith("ldr")
    assert "past the end of DTCM" in report.fault.detail
    assert "fault: reading past DTCM" in machine.console.text()


def test_crash_report_from_the_command_line(fixture_firmware):
    result = emulate(fixture_firmware["hex"], "--headless", "--send", "f")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("emulate: crash: BusFault: ")
    assert re.search(r"PC   0x6000[0-9A-F]{4}  main\+0x[0-9a-f]+ \(.*main\.c:\d+\)\s+ldr",
                     result.stderr), result.stderr
    assert re.search(r"LR   0x[0-9A-F]{8}  ", result.stderr)
    assert "fault: reading past DTCM" in result.stdout


# --- limits ------------------------------------------------------------------------------------

def test_time_limit(fixture_firmware):
    result = emulate(fixture_firmware["hex"], "--pty", "--max-seconds", "1")
    assert result.returncode == 3
    assert "emulate: stopped: the time limit of 1 s was reached" in result.stderr


def test_instruction_limit(fixture_firmware):
    # 5000 hot loops of 6,000 instructions: far more than the limit.
    result = emulate(fixture_firmware["hex"], "--headless", "--send", "c" * 5000,
                     "--max-instructions", "100000")
    assert result.returncode == 4, result.stderr
    executed = int(re.search(r"limit of 100,000 was reached \(([\d,]+) executed\)",
                             result.stderr).group(1).replace(",", ""))
    assert executed >= 100_000
    assert result.stdout.count("hot result") < 5000


def test_headless_run_ends_when_input_is_used_up(fixture_firmware):
    result = emulate(fixture_firmware["elf"], "--headless", "--send", "hh")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("fixture: hello") == 2


def test_until_stops_at_the_pattern(fixture_firmware):
    result = emulate(fixture_firmware["hex"], "--pty", "--send", "h", "--until", "hello",
                     "--max-seconds", "30")
    assert result.returncode == 0, result.stderr


# --- the cycle model ---------------------------------------------------------------------------

class CycleOracle:
    """An independent count for the cycle model: Unicorn's per-instruction
    hook (slow, misses IT-skipped instructions: none on this path) charging
    1 + fetch wait states per instruction and the data wait states per
    access, sampled at every read of DWT_CYCCNT."""

    def __init__(self, machine, wait_states, data=True):
        self.total, self.samples = 0, []
        self.fetch_cost = [1 + wait for wait in wait_states.fetch] + [1]
        uc = machine.uc
        uc.hook_add(UC_HOOK_CODE, self._instruction)
        uc.hook_add(UC_HOOK_MEM_READ, self._cycle_counter_read, begin=mm.DWT_CYCCNT,
                    end=mm.DWT_CYCCNT + 3)
        if data:
            for index, (start, end) in enumerate(REGION_RANGES):
                uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, self._data(
                    wait_states.data[index]), begin=start, end=end - 1)

    def _instruction(self, _uc, address, _size, _data):
        self.total += self.fetch_cost[region_index(address)]

    def _data(self, wait):
        def count(uc, *_arguments):
            self.total += wait
            clear_stale_it_state(uc)          # as the emulator's own hooks do
        return count

    def _cycle_counter_read(self, *_arguments):
        self.samples.append(self.total)


@pytest.mark.parametrize("measure", [False, True], ids=["fast", "measure"])
def test_firmware_cycles_are_instructions_plus_wait_states(fixture_firmware, measure, native):
    image, symbols = load_firmware(str(fixture_firmware["elf"]))
    wait_states = WaitStates.defaults()
    machine = Machine(image, symbols, ScriptedConsole(b"c"), wait_states, measure=measure,
                      native=native, timing="simple")
    oracle = CycleOracle(machine, wait_states, data=measure)
    machine.run(max_seconds=60)
    reported = int(HOT_LINE.search(machine.console.text()).group(2))
    start, end = oracle.samples[-2:]
    assert reported == end - start


def test_wait_states_are_configurable(fixture_firmware):
    flat = emulate(fixture_firmware["hex"], "--headless", "--send", "c",
                   "--timing", "simple", "--wait-states", "FLASH:0/0,OCRAM:0/0", "--between", HOT_FUNCTION,
                   "--stats")
    slow = emulate(fixture_firmware["hex"], "--headless", "--send", "c",
                   "--timing", "simple", "--wait-states", "FLASH:40/40", "--between", HOT_FUNCTION, "--stats")
    assert flat.returncode == slow.returncode == 0, flat.stderr + slow.stderr
    flat_cycles = int(HOT_LINE.search(flat.stdout).group(2))
    slow_cycles = int(HOT_LINE.search(slow.stdout).group(2))
    instructions = int(re.search(rf"{HOT_FUNCTION} \(1 call\): ([\d,]+) instructions",
                                 flat.stderr).group(1).replace(",", ""))
    # With no wait states a cycle is an instruction: the function plus the few
    # instructions around the call. All of them run from flash in this build.
    assert instructions <= flat_cycles < instructions + 10
    assert slow_cycles == 41 * flat_cycles


def test_bad_wait_state_spec_is_refused():
    result = emulate("unused.hex", "--wait-states", "SDRAM:1/1")
    assert result.returncode == 2
    assert result.stderr.startswith("error: WAIT_STATES entry 'SDRAM:1/1' is not valid")


def hot_loop_counts(firmware, native):
    image, symbols = load_firmware(str(firmware["elf"]))
    machine = Machine(image, symbols, ScriptedConsole(b"c"), native=native, timing="simple")
    marker = machine.add_marker(HOT_FUNCTION)
    machine.run(max_seconds=60)
    return marker.counts(), int(HOT_LINE.search(machine.console.text()).group(2))


def test_hot_function_in_itcm_fetches_nothing_from_flash(fixture_firmware, fixture_in_itcm,
                                                         native):
    in_flash, flash_cycles = hot_loop_counts(fixture_firmware, native)
    in_itcm, itcm_cycles = hot_loop_counts(fixture_in_itcm, native)
    assert in_flash.calls == in_itcm.calls == 1
    assert in_itcm.instructions == in_flash.instructions > 1000
    by_region = in_itcm.by_region()
    assert by_region["FLASH"][0] == 0
    assert by_region["ITCM"][0] == in_itcm.instructions
    assert in_flash.by_region()["FLASH"][0] == in_flash.instructions
    assert in_itcm.cycles == in_itcm.instructions        # TCM: no wait states
    assert itcm_cycles < flash_cycles
    assert flash_cycles - itcm_cycles >= 20 * in_itcm.instructions * 0.99


class InstructionOracle:
    """Unicorn's per-instruction hook, plus the instructions of IT blocks it
    does not report because their condition failed (the core still issues
    them): when the next reported address is not the next instruction of
    the IT block, that one was skipped."""

    def __init__(self, uc):
        self.uc, self.count, self.skipped, self._it_block = uc, 0, 0, []
        self._disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB
                                         | capstone.CS_MODE_MCLASS)
        uc.hook_add(UC_HOOK_CODE, self._instruction)

    def _instruction(self, uc, address, size, _data):
        self.count += 1
        while self._it_block and self._it_block[0] != address:
            self._it_block.pop(0)
            self.skipped += 1
        if self._it_block:
            self._it_block.pop(0)
        insn = next(self._disassembler.disasm(bytes(uc.mem_read(address, size)), address), None)
        if insn is not None and re.fullmatch(r"it[te]{0,3}", insn.mnemonic):
            following = self._disassembler.disasm(bytes(uc.mem_read(address + size, 16)),
                                                  address + size)
            self._it_block = [next(following).address for _ in range(len(insn.mnemonic) - 1)]


def test_counts_agree_with_an_instruction_by_instruction_count(fixture_firmware, native):
    image, symbols = load_firmware(str(fixture_firmware["elf"]))
    machine = Machine(image, symbols, ScriptedConsole(b"hbch"), native=native, timing="simple")
    oracle = InstructionOracle(machine.uc)
    machine.run(max_seconds=60)
    assert oracle.skipped > 0            # the path does have failing IT conditions
    assert machine.counters.instructions() == oracle.count + oracle.skipped


# --- bad images ----------------------------------------------------------------------------------

def corrupted_hex(fixture_firmware, tmp_path, name, address, data):
    image = teensy_image.load_image(str(fixture_firmware["hex"]))
    segments = []
    for segment in image.segments:
        content = bytearray(segment.data)
        if segment.address <= address < segment.end:
            offset = address - segment.address
            content[offset:offset + len(data)] = data
        segments.append(teensy_image.Segment(segment.address, bytes(content)))
    path = tmp_path / f"{name}.hex"
    teensy_image.FirmwareImage(segments).write_hex(str(path))
    return path


@pytest.mark.parametrize("name, offset, data, message", [
    ("no_fcfb", mm.FLEXSPI_CONFIG_OFFSET, b"XXXX", "FlexSPI configuration block"),
    ("no_ivt", mm.IVT_OFFSET, b"\x00\x00\x00\x00", "image vector table"),
    ("entry_outside_flash", mm.IVT_OFFSET + 4, (0x00001000).to_bytes(4, "little"),
     "entry 0x00001000 is not in program flash"),
])
def test_not_a_teensy_image_is_refused(fixture_firmware, tmp_path, name, offset, data,
                                       message):
    path = corrupted_hex(fixture_firmware, tmp_path, name, mm.FLASH.origin + offset, data)
    result = emulate(path, "--headless")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1                 # one paragraph


def test_image_linked_elsewhere_is_refused(tmp_path):
    path = tmp_path / "ram.hex"
    teensy_image.FirmwareImage([teensy_image.Segment(0x20000000, b"\x00" * 64)]) \
        .write_hex(str(path))
    result = emulate(path)
    assert result.returncode == 2
    assert "outside the Teensy 4.0 program flash" in result.stderr


def test_scons_emulate_fixture_alias():
    result = run_scons("emulate-fixture", "SEND=hb", "MAX_SECONDS=60")
    assert "fixture: hello" in result.stdout
    assert re.search(r"banks GPR17=0x[0-9A-F]{8}", result.stdout)
    failed = run_scons("emulate-fixture", "SEND=f", check=False)
    assert failed.returncode != 0
    assert "emulate: crash: BusFault" in failed.stderr


@pytest.mark.skipif(not os.path.exists("/dev/ptmx"), reason="no pseudo-terminals here")
def test_pty_link_names_the_terminal(fixture_firmware, tmp_path):
    link = tmp_path / "teensy"
    process = subprocess.Popen(EMULATE + [str(fixture_firmware["hex"]), "--pty",
                                          "--pty-link", str(link), "--max-seconds", "30"],
                               stdout=subprocess.PIPE, text=True)
    try:
        path = process.stdout.readline().split(" on ", 1)[1].strip()
        assert os.path.realpath(link) == os.path.realpath(path)
        with serial.Serial(str(link), 115200, timeout=0.2) as port:
            port.write(b"h")
            read_until(port, rb"hello")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert not link.exists()


def calibrated_hot_loop(firmware):
    from teensyml.emulator.machine.native import library
    if library()[0] is None:
        pytest.skip(f"the calibrated model needs the C hooks: {library()[1]}")
    image, symbols = load_firmware(str(firmware["elf"]))
    machine = Machine(image, symbols, ScriptedConsole(b"c"), timing="calibrated")
    marker = machine.add_marker(HOT_FUNCTION)
    assert machine.run(max_seconds=60).reason == "idle"
    return marker.counts(), int(HOT_LINE.search(machine.console.text()).group(2))


def test_calibrated_cycle_counter_reads_the_model_to_the_instruction(fixture_firmware,
                                                                    fixture_in_itcm):
    """The firmware's DWT window (around the call) holds the marker's window
    (entry to return), a few instructions more and at most three reads of code
    from flash (main's line after the call, the next one when an instruction
    straddles the two, and the veneer's or cycle_counter_read's, in other
    lines; the fixture leaves the caches off: each a new FlexSPI burst,
    200 + 640 cycles at its 60 MHz, the fixed clocks, the hand-over).
    Its loop in flash is fetched through the FlexSPI buffer on every pass; in
    ITCM it never waits."""
    in_flash, flash_cycles = calibrated_hot_loop(fixture_firmware)
    in_itcm, itcm_cycles = calibrated_hot_loop(fixture_in_itcm)
    caller_line = 200 + 640 + 40 + 12
    for counts, reported in ((in_flash, flash_cycles), (in_itcm, itcm_cycles)):
        assert counts.model == "calibrated"
        assert counts.cycles <= reported < counts.cycles + 60 + 3 * caller_line
    assert in_itcm.breakdown()["fetch_stall"] == 0
    flash = in_flash.breakdown()
    assert flash["icache_hits"] == flash["icache_misses"] == 0
    # Every block of the loop is an uncached fetch that the FlexSPI buffer
    # already holds: a hand-over (12 cycles) each and nothing more, but for
    # the function's first line (it starts one, aligned): one new burst.
    # (The other uncached accesses are the function's data reads from flash.)
    fetches = flash["uncached"] - in_flash.data[0]
    assert fetches > 1000 and flash["fetch_stall"] == fetches * 12 + caller_line - 12
    assert itcm_cycles < flash_cycles
