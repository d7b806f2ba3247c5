"""The counters as text (--stats) and as JSON (--stats-json)."""
import json

from ... import memory_map as mm
from .counters import REGION_NAMES


def _region_table(counts, indent="  "):
    simple = counts.timing is None
    lines = [f"{indent}{'region':<7}{'fetches':>14}{'data accesses':>16}"
             + (f"{'wait states fetch/data':>25}" if simple else "")]
    for name, (fetches, data) in counts.by_region().items():
        fetch_wait, data_wait = counts.wait_states.table()[name]
        lines.append(f"{indent}{name:<7}{fetches:>14,}"
                     f"{'-' if data is None else f'{data:,}':>16}"
                     + (f"{f'{fetch_wait}/{data_wait}':>25}" if simple else ""))
    return lines + _calibrated_lines(counts, indent)


def _calibrated_lines(counts, indent):
    """Where the calibrated model's cycles went."""
    b = counts.breakdown()
    if b is None:
        return []

    def rate(hits, misses):
        return f"{misses:,} misses of {hits + misses:,}" if hits + misses else "unused"
    return [f"{indent}cycles: core {b['static']:,} + branches {b['branch_stall']:,} + "
            f"instruction fetch {b['fetch_stall']:,} + data {b['data_stall']:,}",
            f"{indent}I-cache {rate(b['icache_hits'], b['icache_misses'])}; D-cache "
            f"{rate(b['dcache_hits'], b['dcache_misses'])}, {b['write_backs']:,} "
            f"write-backs; flash {b['flash_lines']:,} lines in {b['flash_bursts']:,} bursts; "
            f"{b['uncached']:,} uncached accesses; {b['mispredicts']:,} of "
            f"{b['conditionals']:,} conditional branches mispredicted"]


def _cycles_line(counts):
    milliseconds = counts.cycles / mm.CORE_CLOCK_HZ * 1e3
    if counts.timing is not None:
        model = " (calibrated model)"
    elif counts.data is not None:
        model = " (simple model)"
    else:
        model = " (simple model, no data wait states: MEASURE=1 / --measure counts them)"
    return (f"{counts.instructions:,} instructions, {counts.cycles:,} modelled cycles "
            f"= {milliseconds:.3f} ms at {mm.CORE_CLOCK_HZ // 1_000_000} MHz{model}")


def stats_lines(machine, top=0):
    counts = machine.counts()
    busy = max(machine.run_seconds - machine.idle_seconds, 1e-9)
    hooks = machine.counters.kind
    if machine.counters.native_unavailable:
        hooks += f" ({machine.counters.native_unavailable})"
    lines = [f"total: {_cycles_line(counts)}",
             f"host: {machine.run_seconds:.2f} s ({machine.idle_seconds:.2f} s waiting for "
             f"input), {counts.instructions / busy / 1e6:.2f} M instructions/s, counted by "
             f"{hooks}"]
    lines += _region_table(counts)
    for marker in machine.markers:
        between = marker.counts()
        calls = f"{between.calls} call{'s' if between.calls != 1 else ''}"
        lines.append(f"between entry and return of {marker.name} ({calls}): "
                     f"{_cycles_line(between)}")
        if between.instructions:
            lines.append(f"  {between.share('FLASH'):.3%} of these instructions were "
                         f"fetched from flash")
        lines += _region_table(between)
    if top and machine.symbols is not None:
        source = machine.markers[0] if machine.markers else None
        executions = source.executions if source else machine.counters.executions()
        profile = machine.counters.profile(executions, _function_namer(machine.symbols))
        total = sum(profile.values()) or 1
        scope = f" between entry and return of {source.name}" if source else ""
        lines.append(f"top functions by instructions{scope}:")
        for name, instructions in profile.most_common(top):
            lines.append(f"  {instructions / total:7.2%} {instructions:>14,}  {name}")
    if machine.vfp.executed:
        emulated = ", ".join(f"{mnemonic} {count:,}"
                             for mnemonic, count in machine.vfp.executed.most_common())
        lines.append(f"VFP instructions executed by the emulator (Unicorn lacks them): "
                     f"{emulated}")
    return lines


def _function_namer(symbols):
    def name_of(address):
        found = symbols.function_at(address)
        return found[1] if found else f"0x{address:08X} (no symbol)"
    return name_of


def stats_json(machine, stop=None):
    counts = machine.counts()
    busy = max(machine.run_seconds - machine.idle_seconds, 1e-9)
    return json.dumps({
        "stop": None if stop is None else {"reason": stop.reason, "message": stop.message,
                                           "exit_status": stop.exit_status},
        "host_seconds": machine.run_seconds,
        "idle_seconds": machine.idle_seconds,
        "instructions_per_second": counts.instructions / busy,
        "counted_by": machine.counters.kind,
        "core_clock_hz": mm.CORE_CLOCK_HZ,
        "regions": list(REGION_NAMES),
        "total": counts.as_dict(),
        "between": {marker.name: marker.counts().as_dict() for marker in machine.markers},
        "vfp_emulated": dict(machine.vfp.executed),
    }, indent=2)
