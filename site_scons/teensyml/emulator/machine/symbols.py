"""Function names of an ELF for the emulator: where an address is, and which
function a user means by "Invoke".

The symbol table comes from elf_image (the project's one ELF reader); C++
names are demangled in one batch by the toolchain's c++filt when a query
needs them; source lines come from addr2line.AddressDecoder.
"""
import bisect
import shutil
import subprocess

from ...image import elf_image
from ...errors import UserError


def demangle_all(names):
    """{mangled: demangled} for every name, in one c++filt run (names that
    are not mangled, or with no c++filt installed, map to themselves)."""
    mangled = sorted({name for name in names if name.startswith("_Z")})
    result = {name: name for name in names}
    tool = shutil.which("arm-none-eabi-c++filt") or shutil.which("c++filt")
    if mangled and tool:
        completed = subprocess.run([tool], input="\n".join(mangled) + "\n",
                                   capture_output=True, text=True)
        lines = completed.stdout.splitlines()
        if completed.returncode == 0 and len(lines) == len(mangled):
            result.update(zip(mangled, lines))
    return result


def _strip_parameters(name):
    """'ns::f(int) const' -> 'ns::f' (parentheses inside the name, such as
    '(anonymous namespace)', are kept)."""
    text = name.strip()
    for suffix in (" const", " volatile", " &&", " &"):
        if text.endswith(suffix):
            text = text[:-len(suffix)]
    if not text.endswith(")"):
        return text
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[:index]
    return text


def _last_component(qualified):
    depth, start = 0, 0
    for index, char in enumerate(qualified):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif depth == 0 and qualified.startswith("::", index):
            start = index + 2
    return qualified[start:]


class Symbols:
    def __init__(self, elf_path):
        self.path = str(elf_path)
        image = elf_image.read(elf_path)
        self.values = image.values
        functions = {}
        for symbol in image.symbols:
            if symbol.kind == "FUNC":
                functions.setdefault(symbol.address, (symbol.address + symbol.size, symbol.name))
        self._functions = sorted((start, end, name) for start, (end, name) in functions.items())
        self._starts = [start for start, _, _ in self._functions]
        self._objects = {symbol.name: symbol for symbol in image.symbols
                         if symbol.kind == "OBJECT"}
        self._demangled = None
        self._decoder = None

    # --- names --------------------------------------------------------------------------
    def demangled(self, name):
        if self._demangled is None:
            self._demangled = demangle_all([name for _, _, name in self._functions])
        return self._demangled.get(name, name)

    def function_at(self, address):
        """(start, demangled name) of the function holding `address`, or None."""
        address &= ~1
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0:
            start, end, name = self._functions[index]
            if start <= address < end:
                return start, self.demangled(name)
        return None

    def describe(self, address):
        """'name+0x1c', or '?' outside every function."""
        found = self.function_at(address)
        if found is None:
            return "?"
        start, name = found
        offset = (address & ~1) - start
        return f"{name}+0x{offset:x}" if offset else name

    def location(self, address):
        """'file:line' of a code address, or ''."""
        from ...image.addr2line import AddressDecoder
        if self._decoder is None:
            self._decoder = AddressDecoder(self.path)
        found = self._decoder.lookup(address)
        return f"{found.file}:{found.line}" if found is not None and found.file else ""

    def object_address(self, name):
        symbol = self._objects.get(name)
        return None if symbol is None else symbol.address

    # --- what a user means --------------------------------------------------------------
    def resolve_function(self, query):
        """(start, demangled name) of the one function `query` names: a mangled
        or demangled name, the demangled name without its parameters
        (tflite::MicroInterpreter::Invoke), its last component (Invoke), or an
        address (0x...)."""
        query = query.strip()
        if query.lower().startswith("0x"):
            found = self.function_at(int(query, 16))
            if found is None or found[0] != int(query, 16) & ~1:
                raise UserError(f"{query} is not the start of a function in {self.path}.")
            return found
        tiers = ([], [], [])
        for start, _, name in self._functions:
            full = self.demangled(name)
            bare = _strip_parameters(full)
            if query in (name, full):
                tiers[0].append((start, full))
            elif query == bare:
                tiers[1].append((start, full))
            elif query == _last_component(bare):
                tiers[2].append((start, full))
        for matches in tiers:
            unique = sorted(set(matches))
            if len(unique) == 1:
                return unique[0]
            if len(unique) > 1:
                listed = "; ".join(name for _, name in unique[:8])
                more = f" (and {len(unique) - 8} more)" if len(unique) > 8 else ""
                raise UserError(f"{query!r} names {len(unique)} functions in {self.path}: "
                                f"{listed}{more}. Give a fuller name, e.g. the qualified "
                                f"one, or an address.")
        raise UserError(f"No function named {query!r} in {self.path}. Give a function "
                        f"name as the symbol table or c++filt spells it (for example "
                        f"tflite::MicroInterpreter::Invoke, or just Invoke), or the "
                        f"function's address.")
