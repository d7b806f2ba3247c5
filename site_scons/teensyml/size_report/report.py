"""The size report of one linked image, as a plain dict (the json schema).

    {"schema": "teensyml-size-report/1", "elf": path, "map": path,
     "teensy": {"FLASH": {code, data, headers, padding, used, size, free},
                "RAM1": {code, padding, variables, used, size, free},
                "RAM2": {variables, used, size, free}},
     "flexram": {bank_size, banks, itcm_banks, dtcm_banks},
     "stack": {reserved, room, margin, warning (text or null)},
     "regions": {"FLASH" | "ITCM" | "DTCM" | "OCRAM": {
         teensy_name, origin, length, capacity, used, free,
         section_bytes, gap_bytes,            # used = section_bytes + gap_bytes
         sections: [{name, address, size}],   # address: where this region holds it
         components: {key: bytes},            # largest first; sum == used
         symbols: [{name, demangled, address, size, kind, component, section}],
         symbol_count, symbol_bytes}},        # all the filters pass; bytes they
                                              # cover, aliases counted once
     "filters": {top, component: [...], symbol},
     "other_origins": [...], "unplaced_sections": [...]}

All sizes are bytes. `teensy` speaks teensy_size's vocabulary; `regions` the
memory map's. Symbols lists are the top N after the filters; components are
never filtered, so totals always add up and any report can be diffed.
"""
import fnmatch
import os
import shutil
import subprocess

from .. import components as comp
from ..image import map_file, region_usage
from .. import memory_map as mm
from ..options import OPTIONS_BY_KEY

SCHEMA = "teensyml-size-report/1"
DEFAULT_TOP = int(OPTIONS_BY_KEY["TOP"].default)
DEFAULT_STACK_MARGIN = int(OPTIONS_BY_KEY["STACK_MARGIN"].default)


def map_path_of(elf_path):
    """The map the link writes next to the ELF (name.map for name.elf)."""
    return os.path.splitext(str(elf_path))[0] + ".map"


def build(elf_path, map_path=None, **settings):
    """The report of an ELF and its map (default: next to the ELF)."""
    usage = region_usage.measure(elf_path)
    return from_usage(usage, map_path or map_path_of(elf_path), **settings)


def from_usage(usage, map_path, top=DEFAULT_TOP, component=(), symbol="",
               stack_margin=DEFAULT_STACK_MARGIN, attribution=None):
    """The report of an image already measured (the link guard has one, and
    the attribution of its map)."""
    attribution = attribution or attribute(usage, map_path)
    wanted = comp.check_keys(component)
    demangle = Demangler()
    regions = {}
    for name, use in usage.regions.items():
        region = use.region
        capacity = usage.capacity(region)
        counts = attribution.regions[name]
        symbols = _symbols(usage, region, attribution, wanted, symbol, demangle)
        regions[name] = {
            "teensy_name": region.teensy_name, "origin": region.origin,
            "length": region.length, "capacity": capacity, "used": use.used,
            "free": capacity - use.used,
            "section_bytes": use.section_bytes, "gap_bytes": use.gap_bytes,
            "sections": [{"name": s.name, "address": address, "size": s.size}
                         for s, address in use.sections],
            "components": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
            "symbols": symbols[:top] if top else symbols,
            "symbol_count": len(symbols),
            "symbol_bytes": _covered(symbols),
        }
    _add_demangled(regions, demangle)
    return {
        "schema": SCHEMA, "elf": str(usage.image.path), "map": str(map_path),
        "teensy": teensy_summary(usage),
        "flexram": {"bank_size": mm.FLEXRAM_BANK_SIZE, "banks": mm.FLEXRAM_BANKS,
                    "itcm_banks": usage.itcm_banks, "dtcm_banks": usage.dtcm_banks},
        "stack": {"reserved": usage.stack_reserved, "room": usage.stack_room,
                  "margin": stack_margin,
                  "warning": region_usage.stack_warning(usage, stack_margin, attribution)},
        "regions": regions,
        "filters": {"top": top, "component": list(wanted), "symbol": symbol},
        "other_origins": sorted(attribution.other_origins),
        "unplaced_sections": [s.name for s in usage.image.unplaced()],
    }


def attribute(usage, map_path):
    """Bytes per component in each region of a measured image."""
    return comp.attribute(usage.image, usage, map_file.read(map_path))


def teensy_summary(usage):
    """The numbers teensy_size prints, for this image. FLASH headers are the
    boot structures before the vector table; RAM1 is the 512 KB of FlexRAM:
    ITCM code rounded up to whole banks, DTCM variables, and the stack's share."""
    flash = usage.regions[mm.FLASH.name]
    headers_end = mm.FLASH.origin + mm.VECTOR_TABLE_OFFSET
    kinds = {"code": 0, "data": 0, "headers": 0}
    for section, address in flash.sections:
        kind = "headers" if address < headers_end else \
            "code" if section.executable else "data"
        kinds[kind] += section.size
    itcm_bytes = usage.itcm_banks * mm.FLEXRAM_BANK_SIZE
    return {
        "FLASH": {**kinds, "padding": flash.gap_bytes, "used": flash.used,
                  "size": mm.FLASH.length, "free": mm.FLASH.length - flash.used},
        "RAM1": {"code": usage.itcm, "padding": itcm_bytes - usage.itcm,
                 "variables": usage.dtcm, "used": itcm_bytes + usage.dtcm,
                 "size": mm.FLEXRAM_SIZE, "free": usage.stack_room},
        "RAM2": {"variables": usage.ocram, "used": usage.ocram, "size": mm.OCRAM.length,
                 "free": mm.OCRAM.length - usage.ocram},
    }


def _symbols(usage, region, attribution, wanted, pattern, demangle):
    """Every sized symbol in the region that passes the filters, largest first."""
    entries = []
    for symbol, section in region_usage.symbols_in(usage.image, region):
        component = comp.owner(attribution, symbol)
        if wanted and component not in wanted:
            continue
        address = symbol.address
        if region is not section.run_region:     # the copy the flash image holds
            address += section.load_address - section.address
        entries.append({"name": symbol.name, "demangled": symbol.name, "address": address,
                        "size": symbol.size, "kind": symbol.kind, "component": component,
                        "section": section.name})
    if pattern:
        demangle.prepare(entry["name"] for entry in entries)
        entries = [entry for entry in entries
                   if _matches(pattern, entry["name"], demangle)]
    return sorted(entries, key=lambda entry: (-entry["size"], entry["name"], entry["address"]))


def _covered(entries):
    """Bytes the symbols cover, aliases (__aeabi_dadd and __adddf3) once."""
    total, end = 0, None
    for start, stop in sorted((e["address"], e["address"] + e["size"]) for e in entries):
        if end is None or start >= end:
            total, end = total + stop - start, stop
        elif stop > end:
            total, end = total + stop - end, stop
    return total


def _matches(pattern, name, demangle):
    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    glob = glob.lower()
    return any(fnmatch.fnmatchcase(text.lower(), glob) for text in (name, demangle(name)))


def _add_demangled(regions, demangle):
    listed = [entry for region in regions.values() for entry in region["symbols"]]
    demangle.prepare(entry["name"] for entry in listed)
    for entry in listed:
        entry["demangled"] = demangle(entry["name"])


class Demangler:
    """C++ names as people read them, from the toolchain's c++filt: one
    process for all the names a report lists. Without c++filt names stay
    mangled."""
    TOOLS = ("arm-none-eabi-c++filt", "c++filt")

    def __init__(self):
        self.names = {}

    def prepare(self, names):
        todo = sorted({name for name in names if name.startswith("_Z")} - set(self.names))
        tool = next(filter(None, map(shutil.which, self.TOOLS)), None)
        if not todo or tool is None:
            return
        result = subprocess.run([tool], input="\n".join(todo) + "\n", capture_output=True,
                                text=True)
        lines = result.stdout.splitlines()
        if result.returncode == 0 and len(lines) == len(todo):
            self.names.update(zip(todo, lines))

    def __call__(self, name):
        return self.names.get(name, name)
