"""The emulator's parts one at a time, on a real Unicorn core: FlexRAM
remapping, the peripheral bus, LPUART2, the DWT cycle counter, wait-state
parsing, function-name matching, markers."""
import pytest
import unicorn
from unicorn import arm_const as uc_arm

from teensyml import memory_map as mm, options
from teensyml.emulator import Machine, ScriptedConsole, WaitStates, load_firmware
from teensyml.emulator.peripherals import lpuart as uart
from teensyml.emulator.peripherals.idle import IDLE_POLLS
from teensyml.emulator.peripherals import system
from teensyml.emulator.peripherals.flexram import FlexRam
from teensyml.emulator.peripherals.bus import PeripheralBus, standard_models
from teensyml.emulator.machine.symbols import _last_component, _strip_parameters
from teensyml.errors import UserError

BANK = mm.FLEXRAM_BANK_SIZE


def core():
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(uc_arm.UC_CPU_ARM_CORTEX_M7)
    return uc


def mapped(uc, address):
    return any(start <= address <= end for start, end, _ in uc.mem_regions())


# --- FlexRAM ------------------------------------------------------------------------------

def test_reset_configuration_is_the_fuse_default():
    uc = core()
    flexram = FlexRam(uc)
    itcm, dtcm, ocram = mm.flexram_sizes(mm.RESET_BANK_CONFIG)
    assert flexram.sizes() == {"ITCM": itcm, "DTCM": dtcm, "OCRAM": ocram}
    assert mapped(uc, mm.DTCM.origin + dtcm - 1) and not mapped(uc, mm.DTCM.origin + dtcm)


def test_bank_map_applies_only_once_selected_and_keeps_contents():
    uc = core()
    flexram = FlexRam(uc)
    # Data in the two DTCM banks of the reset map (banks 4 and 5 are DTCM).
    uc.mem_write(mm.DTCM.origin, b"bank4")
    uc.mem_write(mm.DTCM.origin + BANK, b"bank5")
    new = mm.bank_config(2)                       # banks 0-1 ITCM, 2-15 DTCM
    flexram.write_gpr(mm.GPR17, mm.encode_bank_config(new))
    assert flexram.banks == mm.RESET_BANK_CONFIG  # GPR16 bit 2 not set yet
    flexram.write_gpr(mm.GPR16, flexram.gpr16 | mm.GPR16_FLEXRAM_BANK_CFG_SEL)
    assert flexram.banks == new
    assert flexram.sizes() == {"ITCM": 2 * BANK, "DTCM": 14 * BANK}
    assert mapped(uc, mm.DTCM.origin + 14 * BANK - 1)
    assert not mapped(uc, mm.DTCM.origin + 14 * BANK)
    assert not mapped(uc, mm.FLEXRAM_OCRAM_BASE)
    # Banks 4 and 5 stayed DTCM: their data moved with them (to DTCM positions 2, 3).
    assert bytes(uc.mem_read(mm.DTCM.origin + 2 * BANK, 5)) == b"bank4"
    assert bytes(uc.mem_read(mm.DTCM.origin + 3 * BANK, 5)) == b"bank5"


def test_gpr14_caps_the_tcm_size():
    uc = core()
    flexram = FlexRam(uc)
    flexram.write_gpr(mm.GPR17, mm.encode_bank_config(mm.bank_config(4)))
    flexram.write_gpr(mm.GPR16, mm.GPR16_FLEXRAM_BANK_CFG_SEL)
    flexram.write_gpr(mm.GPR14, mm.TCM_SIZE_CODES[64 * mm.KB] << 20
                      | mm.TCM_SIZE_CODES[128 * mm.KB] << 16)
    assert flexram.sizes() == {"ITCM": 128 * mm.KB, "DTCM": 64 * mm.KB}
    assert "past the end of DTCM" in flexram.describe(mm.DTCM.origin + 64 * mm.KB)


# --- the peripheral bus -------------------------------------------------------------------

def test_unmodelled_peripheral_is_plain_memory_reported_once():
    reports = []
    bus = PeripheralBus(standard_models(FlexRam(core())),
                        lambda address, is_write, size: reports.append(address))
    gpio1 = 0x401B8000
    assert bus.read(gpio1, 4) == 0
    bus.write(gpio1 + 4, 4, 0x1234)
    assert bus.read(gpio1 + 4, 4) == 0x1234
    assert bus.read(gpio1 + 5, 1) == 0x12
    assert reports == [gpio1]
    assert bus.unmodelled() == [gpio1]


def test_bring_up_status_bits_read_done():
    bus = PeripheralBus(standard_models(FlexRam(core())), lambda *_: None)
    pll_arm = mm.CCM_ANALOG_BASE
    bus.write(pll_arm + 0x8, 4, 1 << 12)                  # PLL_ARM_CLR: POWERDOWN
    assert bus.read(pll_arm, 4) & (1 << 31)                # LOCK
    assert bus.read(pll_arm, 4) & 0x7F == 0x63              # reset DIV_SELECT
    bus.write(pll_arm + 0x8, 4, 0x7F)                       # PLL_ARM_CLR: DIV_SELECT
    bus.write(pll_arm + 0x4, 4, 0x64)                       # PLL_ARM_SET: DIV_SELECT
    assert bus.read(pll_arm, 4) & 0x7F == 0x64
    assert bus.read(mm.DCDC_BASE, 4) & (1 << 31)            # STS_DC_OK
    bus.write(mm.CCM_BASE + 0x48, 4, 0xFFFFFFFF)
    assert bus.read(mm.CCM_BASE + 0x48, 4) == 0             # CDHIPR: no handshake busy
    bus.write(mm.WDOG1_BASE, 2, 0x0030 & ~0x4)              # 16-bit watchdog register
    assert bus.read(mm.WDOG1_BASE, 2) == 0x0030


def test_the_boot_rom_leaves_pll3_running_at_480_mhz():
    """A firmware that keeps the ROM's clocks (the SDK's XIP_EXTERNAL_FLASH=1)
    computes its UART clock from PLL3: enabled, powered, not bypassed, DIV_SELECT
    0 (20 x 24 MHz), locked."""
    bus = PeripheralBus(standard_models(FlexRam(core())), lambda *_: None)
    pll_usb1 = bus.read(mm.CCM_ANALOG_BASE + 0x10, 4)
    assert pll_usb1 & (1 << 13) and pll_usb1 & (1 << 12) and pll_usb1 & (1 << 31)
    assert not pll_usb1 & (1 << 16) and pll_usb1 & 0x3 == 0


# --- LPUART2 --------------------------------------------------------------------------------

class Wire:
    """The host end of the UART: what was sent to it, what it sends."""

    def __init__(self, incoming=b""):
        self.sent, self.incoming, self.idled = bytearray(), bytearray(incoming), 0
        self.notes = []

    def transmit(self, byte):
        self.sent.append(byte)

    def receive(self, count):
        taken = bytes(self.incoming[:count])
        del self.incoming[:count]
        return taken

    def idle(self):
        self.idled += 1

    def note(self, text):
        self.notes.append(text)


def port(incoming=b""):
    wire = Wire(incoming)
    return uart.Lpuart("LPUART2", mm.LPUART2_BASE, wire, mm.PERIPHERAL_BLOCK_SIZE), wire


def test_transmit_needs_the_transmitter_enabled():
    device, wire = port()
    device.write(uart.DATA, 4, ord("x"))
    device.write(uart.DATA, 4, ord("x"))
    assert wire.sent == b"" and device.dropped_tx == 2
    assert len(wire.notes) == 1 and "transmitter is off" in wire.notes[0]
    device.write(uart.CTRL, 4, uart.CTRL_TE)
    device.write(uart.DATA, 4, ord("y"))
    assert wire.sent == b"y"
    assert device.read(uart.STAT, 4) & (uart.STAT_TDRE | uart.STAT_TC) == \
        uart.STAT_TDRE | uart.STAT_TC


def test_receive_waits_for_the_receiver_and_honours_the_fifo():
    device, wire = port(b"abcdef")
    assert not device.read(uart.STAT, 4) & uart.STAT_RDRF     # RE off: still on the wire
    device.write(uart.CTRL, 4, uart.CTRL_RE)
    assert device.read(uart.STAT, 4) & uart.STAT_RDRF
    assert device.read(uart.DATA, 4) == ord("a")
    device.write(uart.FIFO, 4, uart.FIFO_RXFE)                # 4-entry FIFO on
    assert device.read(uart.WATER, 4) >> uart.WATER_RXCOUNT_SHIFT == 4
    device.write(uart.FIFO, 4, uart.FIFO_RXFE | uart.FIFO_RXFLUSH)
    assert device.read(uart.FIFO, 4) & uart.FIFO_RXFLUSH == 0
    # The flush dropped "bcde"; "f" was still on the wire.
    assert device.read(uart.DATA, 4) == ord("f")
    assert device.read(uart.DATA, 4) & uart.DATA_RXEMPT


def test_fifo_parameters_read_as_the_sdk_expects():
    device, _ = port()
    assert 1 << (device.read(uart.PARAM, 4) & 0xFF) == uart.FIFO_DEPTH
    device.write(uart.CTRL, 4, uart.CTRL_TE | uart.CTRL_RE)
    device.write(uart.GLOBAL, 4, uart.GLOBAL_RST)            # LPUART_SoftwareReset
    device.write(uart.GLOBAL, 4, 0)
    assert device.read(uart.CTRL, 4) == 0
    assert device.read(uart.FIFO, 4) & uart.FIFO_TXEMPT


def test_tight_polling_is_idle():
    device, wire = port()
    device.write(uart.CTRL, 4, uart.CTRL_RE)
    for _ in range(IDLE_POLLS - 1):
        device.read(uart.STAT, 4)
    assert wire.idled == 0
    device.read(uart.STAT, 4)
    assert wire.idled == 1


# --- DWT ------------------------------------------------------------------------------------

def test_cycle_counter_needs_unlock_trace_enable_and_cyccnt_enable():
    cycles = [1000]
    ppb = system.PrivatePeripheralBus(lambda: cycles[0], lambda: None)
    ctrl, cyccnt = mm.DWT_BASE, mm.DWT_CYCCNT
    ppb.write(ctrl, 4, system.DWT_CYCCNTENA)                 # locked: ignored
    ppb.write(mm.DEMCR, 4, system.DEMCR_TRCENA)
    cycles[0] = 2000
    assert ppb.read(cyccnt, 4) == 0
    ppb.write(mm.DWT_BASE + system.DWT_LAR, 4, system.DWT_UNLOCK_KEY)
    ppb.write(cyccnt, 4, 5)
    ppb.write(ctrl, 4, system.DWT_CYCCNTENA)
    cycles[0] = 2500
    assert ppb.read(cyccnt, 4) == 505
    ppb.write(mm.DEMCR, 4, 0)                                 # TRCENA off: frozen
    cycles[0] = 9000
    assert ppb.read(cyccnt, 4) == 505


def test_cache_geometry_for_the_cmsis_cache_functions():
    ppb = system.PrivatePeripheralBus(lambda: 0, lambda: None)
    ppb.write(mm.SCB_BASE + 0x84, 4, 0)                        # CSSELR: data cache
    ccsidr = ppb.read(mm.SCB_BASE + 0x80, 4)
    sets, ways = ((ccsidr >> 13) & 0x7FFF) + 1, ((ccsidr >> 3) & 0x3FF) + 1
    line = 1 << ((ccsidr & 7) + 4)
    assert sets * ways * line == 32 * mm.KB


def test_reset_request_needs_the_key():
    requests = []
    ppb = system.PrivatePeripheralBus(lambda: 0, lambda: requests.append(1))
    aircr = mm.SCB_BASE + 0x0C
    ppb.write(aircr, 4, system.AIRCR_SYSRESETREQ)
    assert requests == []
    ppb.write(aircr, 4, (system.AIRCR_VECTKEY << 16) | system.AIRCR_SYSRESETREQ)
    assert requests == [1]


# --- options and names ------------------------------------------------------------------------

def test_wait_states_parse():
    defaults = WaitStates.defaults()
    assert defaults.fetch[0] == mm.FLASH.fetch_wait_states
    parsed = options.resolve({"WAIT_STATES": "flash:30/10, OCRAM:2"})["WAIT_STATES"]
    assert parsed.table()["FLASH"] == (30, 10)
    assert parsed.table()["OCRAM"] == (2, 2)
    assert parsed.table()["DTCM"] == (mm.DTCM.fetch_wait_states, mm.DTCM.data_wait_states)
    for bad in ("FLASH", "FLASH:-1/0", "SDRAM:1/1", "FLASH:x/1"):
        with pytest.raises(UserError):
            options.resolve({"WAIT_STATES": bad})


@pytest.mark.parametrize("full, bare, last", [
    ("tflite::MicroInterpreter::Invoke()", "tflite::MicroInterpreter::Invoke", "Invoke"),
    ("tflite::(anonymous namespace)::Eval(TfLiteContext*, TfLiteNode*)",
     "tflite::(anonymous namespace)::Eval", "Eval"),
    ("std::vector<int, std::allocator<int> >::size() const",
     "std::vector<int, std::allocator<int> >::size", "size"),
    ("arm_nn_mat_mult_kernel_s8_s16", "arm_nn_mat_mult_kernel_s8_s16",
     "arm_nn_mat_mult_kernel_s8_s16"),
])
def test_function_name_forms(full, bare, last):
    assert _strip_parameters(full) == bare
    assert _last_component(bare) == last


def test_marker_sums_calls_and_resolves_names(fixture_firmware):
    image, symbols = load_firmware(str(fixture_firmware["elf"]))
    assert symbols.resolve_function("fixture_hot_loop")[1] == "fixture_hot_loop"
    with pytest.raises(UserError, match="No function named"):
        symbols.resolve_function("no_such_function")
    counts = []
    for commands in (b"c", b"ccc"):
        machine = Machine(image, symbols, ScriptedConsole(commands), timing="simple")
        marker = machine.add_marker("fixture_hot_loop")
        machine.run(max_seconds=60)
        counts.append(marker.counts())
    assert counts[0].calls == 1 and counts[1].calls == 3
    assert counts[1].instructions == 3 * counts[0].instructions
    profile = marker.profile(lambda address: symbols.function_at(address)[1])
    assert set(profile) == {"fixture_hot_loop"}


def test_c_table_grows_and_counts_as_the_python_hooks(fixture_firmware, monkeypatch):
    from teensyml.emulator.machine import blocktables
    from teensyml.emulator.machine.native import library
    if library()[0] is None:
        pytest.skip(f"the C hooks cannot be built here: {library()[1]}")
    image, symbols = load_firmware(str(fixture_firmware["elf"]))
    results = []
    for native in (False, True):
        monkeypatch.setattr(blocktables, "INITIAL_CAPACITY", 16)
        machine = Machine(image, symbols, ScriptedConsole(b"hbc"), native=native, timing="simple")
        marker = machine.add_marker("fixture_hot_loop")
        machine.run(max_seconds=60)
        results.append((machine.counters.executions(), marker.counts(),
                        machine.console.text()))
    (python_runs, python_marker, python_text), (c_runs, c_marker, c_text) = results
    assert len(c_runs) > 16                 # it had to grow, several times
    assert c_runs == python_runs and c_marker == python_marker and c_text == python_text


# --- crash classification on tiny hand-written images -------------------------------------

def tiny_image(code):
    """A minimal Teensy 4.0 boot image running `code` (teensy_images.code_image)."""
    from teensy_images import code_image
    return code_image(code)


@pytest.mark.parametrize("source, reason, kind, detail", [
    ("ldr r0, =0x60000000\nstr r1, [r0]", "crash", "BusFault", "FlexSPI flash is read-only"),
    ("ldr r0, =0x30000000\nldr r1, [r0]", "crash", "BusFault", "read of 4 byte(s) at 0x30000000"),
    ("ldr r0, =0x70000001\nbx r0", "crash", "BusFault", "instruction fetch from 0x70000000"),
    ("udf #1", "crash", "UsageFault", "undefined instruction"),
    ("svc #0", "crash", "SVCall", "SVC"),
    ("bkpt #5", "breakpoint", "Breakpoint", "BKPT #5"),
])
def test_crash_kinds(assemble, source, reason, kind, detail):
    machine = Machine(tiny_image(assemble(source)))
    stop = machine.run(max_seconds=10)
    assert stop.reason == reason, stop.message
    assert stop.exit_status == 1
    assert stop.crash.fault.kind == kind
    assert detail in stop.crash.fault.detail


def test_wfi_halts_and_reset_request_ends_the_run(assemble):
    halted = Machine(tiny_image(assemble("movs r0, #1\nwfi\nb .")))
    assert halted.run(max_seconds=10).reason == "halt"
    reset = Machine(tiny_image(assemble("ldr r0, =0xE000ED0C\nldr r1, =0x05FA0004\n"
                                        "str r1, [r0]\nb .")))
    stop = reset.run(max_seconds=10)
    assert stop.reason == "reset" and stop.exit_status == 0


@pytest.mark.parametrize("native", [True, False], ids=["C-hooks", "Python-hooks"])
def test_counting_data_accesses_keeps_it_blocks_right(assemble, native):
    """A counted load inside an IT block must not leave its IT state behind
    (Unicorn bug #2309): the instruction after the next branch must run."""
    from teensyml.emulator.machine.native import library
    if native and library()[0] is None:
        pytest.skip(f"the C hooks cannot be built here: {library()[1]}")
    code = assemble(f"""
        ldr r2, =0x{mm.OCRAM.origin:08X}
        movs r3, #0x20
        strh r3, [r2]
        movs r3, #0x14
        strh r3, [r2, #8]
        movs r4, #7
        movs r0, #0x14
        movs r1, #8
        bl func
        cbz r0, skip
        adds r3, r4, r0
    skip:
        bkpt #0
    func:
        ldrh r3, [r2]
        cmp r3, r1
        ite hi
        ldrhhi r0, [r2, r1]
        movls r0, #0
        bx lr
    """)
    machine = Machine(tiny_image(code), measure=True, native=native, timing="simple")
    assert machine.run(max_seconds=10).reason == "breakpoint"
    assert machine.uc.reg_read(unicorn.arm_const.UC_ARM_REG_R3) == 7 + 0x14
    assert machine.counts().data[3] == 4          # OCRAM: two stores, two loads


@pytest.mark.parametrize("native", [True, False], ids=["C-hooks", "Python-hooks"])
def test_marker_survives_a_stop_request_at_its_entry_and_return(fixture_firmware, native):
    """The run loop's timer asks for a stop at any moment, for instance right
    after the counting hook let the marker's entry (or return) block through:
    the marker must still open (close) its window there."""
    from teensyml.emulator.machine.fasthooks import block_hook
    from teensyml.emulator.machine.native import library
    if native and library()[0] is None:
        pytest.skip(f"the C hooks cannot be built here: {library()[1]}")
    image, symbols = load_firmware(str(fixture_firmware["elf"]))
    start, _ = symbols.resolve_function("fixture_hot_loop")
    results = []
    for inject in (False, True):
        machine = Machine(image, symbols, ScriptedConsole(b"ccc"), native=native, timing="simple")
        if inject:       # between the counting hook and the marker's hooks
            block_hook(machine.uc, lambda *_: machine.counters.stop.__setitem__(0, 1))
        marker = machine.add_marker("fixture_hot_loop")
        machine.run(max_seconds=60)
        # (Not the run's total instructions: how many empty polls the idle
        # firmware makes before the end of input is noticed is host timing.)
        results.append((marker.counts(), machine.console.text()))
    assert results[0] == results[1]
    assert results[1][0].calls == 3 and start in machine.counters.executions()


def test_the_emulator_package_loads_no_command_line_or_serial_code():
    """Tools and tests that only emulate import neither argparse nor pyserial."""
    import subprocess
    import sys
    from conftest import ROOT
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import teensyml.emulator; "
             "print(sorted(name for name in ('argparse', 'serial') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe, str(ROOT / "site_scons")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
