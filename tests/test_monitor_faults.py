"""Fault-address decoding: the PC= and LR= fields of a fault line become the
function and source line, from the ELF, as binutils' addr2line says."""
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pty_peer import PtyPeer
from teensyml.image.addr2line import AddressDecoder

MONITOR = Path(__file__).resolve().parent.parent / "tools" / "monitor.py"

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                reason="arm-none-eabi-gcc is not installed")

C_SOURCE = """\
int helper(int value)
{
    return value * 3 + 1;
}

int compute(int value)
{
    int sum = 0;
    for (int i = 0; i < value; ++i)
        sum += helper(i);
    return sum;
}

void Reset_Handler(void)
{
    volatile int result = compute(10);
    (void)result;
    for (;;) {
    }
}
"""

CXX_SOURCE = """\
namespace tflite {
__attribute__((noinline)) int EvalQuantized(int input, int scale)
{
    return input * scale >> 4;
}
}

extern "C" int cxx_entry(int x)
{
    return tflite::EvalQuantized(x, 3);
}
"""

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x60000000, LENGTH = 1984K
         ITCM (rwx) : ORIGIN = 0x00000000, LENGTH = 512K }
SECTIONS {
    .itcm 0x20 : { *(.text.helper) } > ITCM AT> FLASH
    .text : { *(.text*) } > FLASH
}
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    directory = tmp_path_factory.mktemp("faults")
    (directory / "app.c").write_text(C_SOURCE)
    (directory / "model.cc").write_text(CXX_SOURCE)
    (directory / "app.ld").write_text(LINKER_SCRIPT)
    flags = ["-mcpu=cortex-m7", "-mthumb", "-g", "-O1", "-ffunction-sections", "-c"]
    subprocess.run(["arm-none-eabi-gcc", *flags, "app.c", "-o", "app.o"], cwd=directory,
                   check=True)
    subprocess.run(["arm-none-eabi-g++", *flags, "model.cc", "-o", "model.o"], cwd=directory,
                   check=True)
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mthumb", "-nostdlib",
                    "-T", "app.ld", "app.o", "model.o", "-o", "app.elf"], cwd=directory,
                   check=True)
    return directory / "app.elf"


def symbols(elf):
    listed = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True,
                            text=True, check=True).stdout
    found = {}
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            found[parts[3]] = (int(parts[0], 16) & ~1, int(parts[1], 16))
    return found


def reference(elf, address):
    """binutils' answer: (function, file base name, line)."""
    function, where = subprocess.run(
        ["arm-none-eabi-addr2line", "-f", "-C", "-e", str(elf), f"0x{address:x}"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    path, line = where.split(" ")[0].rsplit(":", 1)
    return function, Path(path).name, int(line)


def test_decoder_agrees_with_addr2line(elf):
    decoder = AddressDecoder(elf)
    table = symbols(elf)
    checked = 0
    for name in ("helper", "compute", "Reset_Handler", "_ZN6tflite13EvalQuantizedEii"):
        start, size = table[name]
        for address in range(start, start + size, 2):
            location = decoder.lookup(address)
            function, file, line = reference(elf, address)
            assert (location.function, Path(location.file).name, location.line) == \
                (function, file, line), hex(address)
            checked += 1
    assert checked > 20
    assert table["helper"][0] < 0x1000            # the ITCM copy, below flash


def test_addresses_outside_code_are_not_decoded(elf):
    decoder = AddressDecoder(elf)
    assert decoder.lookup(0x20001000) is None
    assert decoder.lookup(0x00000000) is None     # ITCM below the code: nothing there
    start, size = symbols(elf)["compute"]
    assert decoder.lookup(start + size + 0x1000) is None
    assert decoder.decode(f"CFSR=0x{start:08X} ADDR=0x{start:08X}") == []


def test_monitor_prints_function_and_line_for_a_fault_line(elf, tmp_path):
    table = symbols(elf)
    pc = table["_ZN6tflite13EvalQuantizedEii"][0] + 2
    lr = table["compute"][0] + 5                          # Thumb bit set, as LR has
    fault = (f"*** HardFault PC=0x{pc:08X} LR=0x{lr:08X} CFSR=0x00008200 "
             f"ADDR=0x20080000\r\n").encode()
    port = tmp_path / "ttyFAULT"

    def answer(line):
        # The line arrives in two parts: EXPECT matches the first, and the
        # monitor still shows the whole line and its decoding.
        threading.Timer(0.2, peer.send, [fault[20:]]).start()
        return fault[:20]

    peer = PtyPeer(port, answer=answer)
    try:
        result = subprocess.run([sys.executable, str(MONITOR), f"PORT={port}", "SEND=f",
                                 "EXPECT=HardFault", "TIMEOUT=10", "--elf", str(elf)],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=30)
    finally:
        peer.close()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(fault.decode().rstrip())
    function, file, line = reference(elf, pc)
    assert function == "tflite::EvalQuantized(int, int)"
    assert lines[at + 1] == f"--- PC 0x{pc:08X}: {function} at model.cc:{line}"
    function, file, line = reference(elf, lr & ~1)
    assert lines[at + 2] == f"--- LR 0x{lr:08X}: compute at app.c:{line}"


def test_fixture_firmware_fault_handler_is_found(fixture_firmware):
    """The project's own firmware: its fault handler decodes to fault.c."""
    decoder = AddressDecoder(fixture_firmware["elf"])
    notes = decoder.decode("*** HardFault PC=0x{:08X} LR=0xFFFFFFF9 CFSR=0x00000400"
                           .format(symbols(fixture_firmware["elf"])["fault_report"][0]))
    assert len(notes) == 1                         # LR is an EXC_RETURN value, not code
    assert notes[0].startswith("--- PC 0x") and ": fault_report at " in notes[0]
    assert notes[0].split(" at ")[1].startswith("src/board/core/fault.c:")
