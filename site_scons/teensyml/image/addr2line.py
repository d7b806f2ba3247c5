"""Firmware code addresses to function and source line, from the ELF.

The monitor decodes the fault lines the firmware prints (src/board/core/fault.c):

    *** HardFault PC=0x60001234 LR=0x60005679 CFSR=0x00008200 ADDR=0x20080000

Every `PC=0x........` and `LR=0x........` field (8 hex digits) whose address
lies in a function of the ELF becomes a line such as

    --- PC 0x60001234: fixture_fault at src/fixture/main.c:97

Functions come from the symbol table (elf_image), source lines from the DWARF
line programs (pyelftools); only the compilation unit holding the address is read,
so a large TFLM ELF costs little.
"""
import bisect
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

FAULT_FIELD = re.compile(r"\b(PC|LR)=0x([0-9A-Fa-f]{8})\b")


@dataclass(frozen=True)
class Location:
    address: int
    function: str
    file: str = ""
    line: int = 0

    def __str__(self):
        where = f"{self.file}:{self.line}" if self.file else "?? (no line information)"
        return f"{self.function} at {where}"


class AddressDecoder:
    def __init__(self, elf_path):
        from .elf_image import read
        self._functions = sorted({(symbol.address, symbol.address + symbol.size, symbol.name)
                                  for symbol in read(elf_path).symbols
                                  if symbol.kind == "FUNC"})
        self._starts = [start for start, _, _ in self._functions]
        with open(elf_path, "rb") as stream:
            elf = ELFFile(io.BytesIO(stream.read()))
        self._dwarf = elf.get_dwarf_info() if elf.has_dwarf_info() else None
        self._aranges = None
        self._line_tables = {}        # CU offset -> sorted [(start, end, file, line)]
        self._demangled = {}

    def function_at(self, address):
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0:
            start, end, name = self._functions[index]
            if start <= address < end:
                return self._demangle(name)
        return None

    def lookup(self, address):
        """The Location of a code address, or None when it is not in a function."""
        address &= ~1
        function = self.function_at(address)
        if function is None:
            return None
        file, line = self._line_at(address)
        return Location(address, function, file, line)

    def decode(self, text):
        """The notes for the fault fields in one received line."""
        notes = []
        for match in FAULT_FIELD.finditer(text):
            location = self.lookup(int(match.group(2), 16))
            if location is not None:
                notes.append(f"--- {match.group(1)} 0x{match.group(2).upper()}: {location}")
        return notes

    # --- DWARF ---------------------------------------------------------------
    def _line_at(self, address):
        if self._dwarf is None:
            return "", 0
        for offset in self._candidate_units(address):
            table = self._line_table(offset)
            index = bisect.bisect_right(table, (address, float("inf"))) - 1
            if index >= 0 and table[index][0] <= address < table[index][1]:
                return table[index][2], table[index][3]
        return "", 0

    def _candidate_units(self, address):
        if self._aranges is None:
            aranges = self._dwarf.get_aranges()
            # Entries at 0 are functions --gc-sections removed (see _line_table).
            self._aranges = [(entry.begin_addr, entry.begin_addr + entry.length,
                              entry.info_offset) for entry in (aranges.entries if aranges else ())
                             if entry.begin_addr != 0]
        units = [offset for start, end, offset in self._aranges if start <= address < end]
        return units or [unit.cu_offset for unit in self._dwarf.iter_CUs()]

    def _line_table(self, offset):
        if offset not in self._line_tables:
            unit = self._dwarf.get_CU_at(offset)
            program = self._dwarf.line_program_for_CU(unit)
            rows, previous, sequence_start = [], None, None
            if program is not None:
                for entry in program.get_entries():
                    state = entry.state
                    if state is None:
                        continue
                    if sequence_start is None:
                        sequence_start = state.address
                    # ld puts functions that --gc-sections removed at address 0:
                    # their sequences would shadow ITCM code, which starts after
                    # the null guard, never at 0.
                    if previous is not None and state.address > previous.address \
                            and sequence_start != 0:
                        rows.append((previous.address, state.address,
                                     self._file_name(program, previous.file), previous.line))
                    previous = None if state.end_sequence else state
                    if state.end_sequence:
                        sequence_start = None
            self._line_tables[offset] = sorted(rows)
        return self._line_tables[offset]

    @staticmethod
    def _file_name(program, index):
        version = program.header["version"]
        files = program.header["file_entry"]
        entry = files[index if version >= 5 else index - 1]
        name = entry.name.decode(errors="replace")
        directories = program.header["include_directory"]
        directory_index = entry.dir_index if version >= 5 else entry.dir_index - 1
        if not os.path.isabs(name) and 0 <= directory_index < len(directories) \
                and (version < 5 or directory_index > 0):
            name = os.path.join(directories[directory_index].decode(errors="replace"), name)
        return os.path.normpath(name)

    def _demangle(self, name):
        if not name.startswith("_Z"):
            return name
        if name not in self._demangled:
            tool = shutil.which("arm-none-eabi-c++filt") or shutil.which("c++filt")
            result = name
            if tool:
                completed = subprocess.run([tool, name], capture_output=True, text=True)
                result = completed.stdout.strip() or name
            self._demangled[name] = result
        return self._demangled[name]
