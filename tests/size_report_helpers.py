"""What binutils says about an ELF, for checking the size report against an
implementation it does not share: `size -A`, `objdump -h`, `nm -S`."""
import re
import subprocess
import sys
from collections import Counter

from conftest import ROOT
from teensyml import memory_map as mm

SIZE_REPORT_TOOL = ROOT / "tools" / "size_report.py"
OBJDUMP_SECTION = re.compile(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+"
                             r"[0-9a-f]+\s+2\*\*\d+\s*\n\s+(.*)$", re.M)


def binutils(tool, *arguments):
    return subprocess.run([f"arm-none-eabi-{tool}", *map(str, arguments)],
                          capture_output=True, text=True, check=True).stdout


def size_a(elf):
    """{section: size} as `arm-none-eabi-size -A` lists it."""
    sizes = {}
    for line in binutils("size", "-A", elf).splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            sizes[fields[0]] = int(fields[1])
    return sizes


def objdump_sections(elf):
    """[(name, vma, lma, flags)] of `objdump -h`."""
    return [(name, int(vma, 16), int(lma, 16), flags)
            for name, _, vma, lma, flags in OBJDUMP_SECTION.findall(binutils("objdump", "-h",
                                                                               elf))]


def expected_regions(elf):
    """Per region: {section: bytes} from size -A, placed by objdump's VMA (where
    it runs) and LMA (what the flash image carries for the reset handler),
    and the extent from the region origin to the end of its last section."""
    sizes = size_a(elf)
    sections = {region.name: {} for region in mm.REGIONS}
    extent = Counter()
    for name, vma, lma, flags in objdump_sections(elf):
        if "ALLOC" not in flags or not sizes.get(name):
            continue
        places = [vma] + ([lma] if "LOAD" in flags and lma != vma else [])
        for address in places:
            region = mm.region_of(address)
            sections[region.name][name] = sizes[name]
            extent[region.name] = max(extent[region.name],
                                      address + sizes[name] - region.origin)
    return sections, extent


def nm_sizes(elf):
    """{(name, address): size} of every sized symbol `nm -S` lists."""
    found = {}
    for line in binutils("nm", "-S", elf).splitlines():
        fields = line.split()
        if len(fields) == 4:
            address, size, _, name = fields
            found[(name, int(address, 16))] = int(size, 16)
    return found


def nm_value(elf, symbol):
    for line in binutils("nm", elf).splitlines():
        fields = line.split()
        if fields[-1] == symbol:
            return int(fields[0], 16)
    raise AssertionError(f"{symbol} not in {elf}")


def run_tool(*arguments):
    return subprocess.run([sys.executable, str(SIZE_REPORT_TOOL), *map(str, arguments)],
                          capture_output=True, text=True, cwd=ROOT)
