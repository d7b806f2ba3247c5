"""The calibrated timing model, piece by piece and on hand-written programs
whose cycle counts are derived here by hand from the model's documented
constants (timing/parameters.py): FlexSPI timing from a configuration
block, memory attributes, the dual-issue schedule, and micro-benchmarks on
the emulated core (loops smaller and larger than the I-cache run from flash,
strided reads over 64 KB of flash and of OCRAM, an invalidate between two
passes, a run with the D-cache off)."""
import struct

import pytest

from teensyml import memory_map as mm
from teensyml.emulator import Machine
from teensyml.emulator.machine.native import library
from teensyml.emulator.timing import attributes, flexspi
from teensyml.emulator.timing.core import BlockCoster
from teensyml.emulator.timing.parameters import DEFAULT
from teensy_images import CODE, code_image

CORE = DEFAULT.core
MEMORY = DEFAULT.memory
SCB_CCR, DCISW, ICIALLU = 0xE000ED14, 0xE000EF60, 0xE000EF50
CCR_DC, CCR_IC = 1 << 16, 1 << 17
LINE = 32


def lut(opcode, pads, operand):
    return (opcode << 10) | (pads << 8) | operand


def configuration_block(serial_clock=3, ddr=False):
    """A FlexSPI NOR configuration block with the quad I/O fast read (0xEB,
    24-bit address on 4 pads, 6 dummy cycles), written out by hand."""
    read = 0x29 if ddr else 0x09
    block = bytearray(b"\xff" * 0x200)
    block[0:4] = struct.pack("<I", mm.FLEXSPI_CONFIG_TAG)
    block[0x46] = serial_clock
    block[0x80:0x90] = struct.pack("<4I",
                                   lut(0x01, 0, 0xEB) | lut(0x02, 2, 24) << 16,
                                   lut(0x0C, 2, 6) | lut(read, 2, 4) << 16, 0, 0)
    return bytes(block)


# --- FlexSPI timing from the image's configuration block ---------------------------------

def test_quad_sdr_read_at_60_mhz_costs_by_hand():
    timing = flexspi.read_timing(configuration_block(serial_clock=3))
    # command 8 clocks on one pad, 24 address bits on 4 pads = 6, 6 dummy clocks;
    # a 32-byte line = 256 bits over 4 pads = 64 clocks; 600 MHz / 60 MHz = 10.
    assert (timing.serial_clock_mhz, timing.setup_clocks, timing.line_clocks) == (60, 20, 64)
    assert (timing.setup_cycles, timing.line_cycles) == (200, 640)


def test_ddr_and_a_faster_clock_shorten_the_line():
    timing = flexspi.read_timing(configuration_block(serial_clock=6, ddr=True))
    assert timing.serial_clock_mhz == 100
    assert timing.line_clocks == 32 and timing.line_cycles == 192      # 2 bits/pad/clock


def test_an_unknown_clock_setting_falls_back_to_the_roms_30_mhz():
    assert flexspi.read_timing(configuration_block(serial_clock=0xFF)).serial_clock_mhz == 30


# --- memory attributes -------------------------------------------------------------------

def page(table, address):
    return int(table[address >> attributes.PAGE_SHIFT])


def test_default_map_caches_flash_and_ocram_never_tcm_or_peripherals():
    table = attributes.build()
    cached = attributes.ICACHEABLE | attributes.DCACHEABLE | attributes.WRITE_ALLOCATE
    assert page(table, mm.FLASH.origin) & 0xF == cached
    assert page(table, mm.OCRAM.origin) & 0xF == cached
    assert page(table, mm.DTCM.origin) & 0xF == 0
    assert page(table, mm.ITCM.origin) & 0xF == 0
    assert page(table, mm.LPUART2_BASE) & 0xF == 0
    assert page(table, mm.DTCM.origin) >> attributes.KIND_SHIFT == attributes.KIND_TCM


def rasr(size_log2, tex, c, b, s=0):
    return 1 | (size_log2 - 1) << 1 | b << 16 | c << 17 | s << 18 | tex << 19


def test_mpu_regions_override_the_default_map_highest_number_wins():
    mpu = attributes.Mpu()
    mpu.write(attributes.MPU_RBAR, mm.FLASH.origin | 0x10 | 1)         # region 1, VALID
    mpu.write(attributes.MPU_RASR, rasr(29, tex=2, c=0, b=0))          # 512 MB device
    mpu.write(attributes.MPU_RBAR, mm.FLASH.origin | 0x10 | 2)
    mpu.write(attributes.MPU_RASR, rasr(23, tex=0, c=1, b=1))          # 8 MB WB, no WA
    mpu.write(attributes.MPU_RBAR, mm.OCRAM.origin | 0x10 | 3)
    mpu.write(attributes.MPU_RASR, rasr(19, tex=1, c=1, b=1, s=1))     # shareable
    mpu.write(attributes.MPU_CTRL, attributes.MPU_ENABLE | attributes.MPU_PRIVDEFENA)
    table = attributes.build(mpu)
    assert page(table, mm.FLASH.origin) & 0xF == attributes.ICACHEABLE | attributes.DCACHEABLE
    assert page(table, mm.FLASH.origin + 0x800000) & 0xF == 0          # region 1 only
    assert page(table, mm.OCRAM.origin) & 0xF == 0                     # shareable: uncached
    assert page(table, 0x80000000) & 0xF == attributes.ICACHEABLE | attributes.DCACHEABLE


# --- the dual-issue schedule, by hand ------------------------------------------------------

@pytest.mark.parametrize("source, cycles", [
    ("adds r0, r1, r2\nadds r3, r4, r5", 1),          # independent ALU pair: one cycle
    ("adds r0, r1, r2\nadds r3, r0, r5", 2),          # dependent: the second waits a cycle
    ("ldr r0, [r1]\nadds r2, r0, #1", 2),             # a load feeds the late ALU next cycle
    ("ldr r0, [r1]\nldr r2, [r0]", 3),               # ... an address a cycle later
    ("ldr r0, [r1]\nlsls r2, r0, #1", 3),            # ... and a shifted operand too
    ("ldr r0, [r1]\nldr r2, [r3]", 1),                # two loads pair (two DTCM ports)
    ("str r0, [r1]\nstr r2, [r3]", 2),                # two stores do not
    ("mul r0, r1, r2\nmul r3, r4, r5", 2),            # one multiplier
    ("lsls r0, r1, #2\nlsls r3, r4, #2", 2),          # one shifted operand a cycle
    ("adds r0, r1, r2\nsadd16 r3, r4, r5", 2),        # SIMD only as the older of a pair
    ("sadd16 r3, r4, r5\nadds r0, r1, r2", 1),
    ("sdiv r0, r1, r2\nadds r3, r4, r5", CORE.divide_cycles + 1),
])
def test_block_schedule_by_hand(assemble, source, cycles):
    code = assemble(source)
    assert BlockCoster(CORE).cost(code, 0x1000).cost == cycles


# --- micro-benchmarks on the emulated core --------------------------------------------------

def timed_image(code):
    """A boot image with the configuration block above and `code` at CODE."""
    return code_image(code, configuration_block(), size=0x40000)


def load(register, value):
    return (f"movw {register}, #0x{value & 0xFFFF:04X}\n"
            f"movt {register}, #0x{value >> 16:04X}\n")


def enable_caches(bits):
    return load("r6", SCB_CCR) + load("r7", bits) + "str r7, [r6]\n"


def strided_reads(base, lines, passes=1):
    """Read one word in each of `lines` lines from `base`, `passes` times."""
    return (f"movs r5, #{passes}\n"
            "1:\n" + load("r0", base) + load("r1", lines) +
            "2:\nldr r2, [r0], #32\nsubs r1, #1\nbne 2b\n"
            "subs r5, #1\nbne 1b\n")


def run(code):
    if library()[0] is None:
        pytest.skip(f"the calibrated model needs the C hooks: {library()[1]}")
    machine = Machine(timed_image(code), timing="calibrated")
    stop = machine.run(max_seconds=60)
    assert stop.reason == "halt", stop.message
    return machine.counts()


def test_strided_ocram_reads_miss_every_line_of_64_kb_each_pass(assemble):
    lines = 64 * 1024 // LINE
    counts = run(assemble(enable_caches(CCR_DC) + strided_reads(mm.OCRAM.origin, lines, 2)
                          + "wfi"))
    stats = counts.breakdown()
    # 64 KB is twice the D-cache, read in order: LRU keeps none of it for the
    # second pass, and each miss is one OCRAM line fill.
    assert stats["dcache_misses"] == 2 * lines and stats["dcache_hits"] == 0
    assert stats["data_stall"] == 2 * lines * MEMORY.ocram_line_fill
    # The loop: ldr and subs pair (cycle 0), bne waits for the flags (cycle 1).
    loop = BlockCoster(CORE).cost(assemble("ldr r2, [r0], #32\nsubs r1, #1\nbne .-4"), 0)
    assert loop.cost == 2
    core = stats["static"] + stats["branch_stall"]
    assert 2 * 2 * lines <= core <= 2 * 2 * lines + 2 * CORE.mispredict_cycles + 60


def test_a_working_set_that_fits_misses_once_unless_invalidated(assemble):
    lines = 16 * 1024 // LINE
    fits = run(assemble(enable_caches(CCR_DC) + strided_reads(mm.OCRAM.origin, lines, 2)
                        + "wfi")).breakdown()
    assert (fits["dcache_misses"], fits["dcache_hits"]) == (lines, lines)
    invalidate_all = (load("r6", DCISW) + "movs r3, #0\n" + load("r4", 1024) +
                      "3:\nlsls r7, r3, #30\nlsrs r2, r3, #2\norr r7, r7, r2, lsl #5\n"
                      "str r7, [r6]\nadds r3, #1\ncmp r3, r4\nbne 3b\n")
    again = run(assemble(enable_caches(CCR_DC) + strided_reads(mm.OCRAM.origin, lines)
                         + invalidate_all + strided_reads(mm.OCRAM.origin, lines)
                         + "wfi")).breakdown()
    assert (again["dcache_misses"], again["dcache_hits"]) == (2 * lines, 0)


def test_with_the_d_cache_off_every_ocram_read_goes_to_the_bus(assemble):
    lines = 64 * 1024 // LINE
    stats = run(assemble(strided_reads(mm.OCRAM.origin, lines) + "wfi")).breakdown()
    assert stats["dcache_misses"] == stats["dcache_hits"] == 0
    assert stats["data_stall"] == lines * MEMORY.ocram_uncached_access


def test_strided_flash_reads_stream_at_the_serial_rate(assemble):
    lines = 64 * 1024 // LINE
    base = mm.FLASH.origin + 0x10000
    # The I-cache on too: code fetches would otherwise interrupt the burst.
    stats = run(assemble(enable_caches(CCR_DC | CCR_IC) + strided_reads(base, lines, 2)
                         + "wfi")).breakdown()
    assert stats["dcache_misses"] == 2 * lines
    # Code comes from flash only until the loop is in the I-cache: each of
    # those reads breaks the burst; then each pass is one FlexSPI burst.
    code_reads = stats["uncached"] + stats["icache_misses"]
    assert stats["flash_bursts"] == 2 + code_reads
    assert stats["flash_lines"] == 2 * lines + code_reads
    # A pass's first line waits for the command (200 cycles + the fixed
    # clocks), its 64 data clocks (640 cycles) and the hand-over; then the
    # prefetch streams one line per 640 cycles while the reader spends its 2
    # cycles a line and the hand-over overlaps the next line's transfer.
    first = 200 + MEMORY.flexspi_fixed_clocks * 10 + 640 + MEMORY.flexspi_ahb_latency
    expected = 2 * first + (2 * lines - 2) * (640 - 2)
    assert expected <= stats["data_stall"] <= expected * 1.001


def nops(count):
    return "nop\n" * count


def loop_lines(assemble, setup, body, passes):
    """(code, lines run once, lines of the loop): `setup` (shorter than a
    line, so it runs before the cache is on), then a loop of `body` aligned
    to a line, run `passes` times, then WFI (in a line of its own or not)."""
    # The branch ends the translated block, so the loop starts with the
    # cache as the set-up left it (a block is fetched as a whole when it starts).
    head = setup + f"movs r5, #{passes}\nb 1f\n"
    code = assemble(head + ".balign 32\n1:\n" + body + "subs r5, #1\nbne.w 1b\nwfi")
    loop_start = CODE + -(-len(assemble(head + "1:")) // LINE) * LINE
    wfi = CODE + len(code) - 2
    assert loop_start == CODE + LINE
    once = int(wfi // LINE != (wfi - 1) // LINE)
    return code, once, (wfi - 1) // LINE - loop_start // LINE + 1


def test_a_loop_smaller_than_the_i_cache_misses_only_on_its_first_pass(assemble):
    code, once, loop = loop_lines(assemble, enable_caches(CCR_IC), nops(4096), passes=4)
    assert loop * LINE >= 8 * 1024                                  # 8 KB of nops
    stats = run(code).breakdown()
    assert stats["icache_misses"] == once + loop
    assert stats["icache_hits"] >= 3 * loop                        # the other passes


def test_a_loop_larger_than_the_i_cache_misses_every_line_every_pass(assemble):
    passes = 3
    code, once, loop = loop_lines(assemble, enable_caches(CCR_IC), nops(24 * 1024), passes)
    assert loop * LINE >= 48 * 1024                                 # 1.5 x the cache
    stats = run(code).breakdown()
    # 2-way LRU, three lines or more per set, run in order: every line misses.
    assert stats["icache_misses"] == once + passes * loop
    # Streamed from flash: a line per 640 cycles (64 clocks at 60 MHz), less
    # what the core executes while the prefetch runs; at most each line's
    # hand-over more, and a command per pass (and the set-up).
    per_line = 640 + MEMORY.flexspi_ahb_latency
    setup = 200 + MEMORY.flexspi_fixed_clocks * 10
    assert passes * loop * 640 - stats["static"] <= stats["fetch_stall"] <= \
        (once + passes * loop) * per_line + (passes + 2) * setup


def test_with_the_i_cache_off_flash_code_is_fetched_through_the_flexspi_buffer(assemble):
    code, once, loop = loop_lines(assemble, "", nops(64), passes=100)
    stats = run(code).breakdown()
    assert stats["icache_misses"] == stats["icache_hits"] == 0
    # Every line of every pass is an uncached read; after the first pass the
    # lines are still in the FlexSPI buffer (8 lines deep): a hand-over each.
    assert stats["uncached"] >= 100 * loop
    assert stats["flash_lines"] <= once + loop + MEMORY.flexspi_prefetch_lines
