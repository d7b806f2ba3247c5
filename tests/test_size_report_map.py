"""The map-file reader and the component rules, on the forms GNU ld writes."""
import pytest

from teensyml import components
from teensyml.image import map_file
from teensyml.errors import UserError

# The forms of a GNU ld 2.40 map: a wrapped (long) input-section name, a wrapped
# output-section name, fill with and without a pattern, LONG statements, a
# relaxed size, COMMON, an archive member, an empty output section, symbol
# and assignment lines that must not count as bytes, and the discarded list
# before the memory map that must be ignored.
MAP = """\
Discarded input sections

 .text.unused   0x00000000       0x40 build/v/app/main.o

Memory Configuration

Name             Origin             Length             Attributes
FLASH            0x60000000         0x001f0000         xr

Linker script and memory map

LOAD build/v/app/main.o
.text           0x60002000      0x1a0
 *(.text .text.*)
 .text._ZN6tflite12_GLOBAL__N_14EvalEP13TfLiteContextP10TfLiteNode
                0x60002000      0x120 build/v/third_party/libtflm_kernels.a(conv.o)
                0x60002001                _ZN6tflite12_GLOBAL__N_14EvalEP13TfLiteContextP10TfLiteNode
 .text.main     0x60002120       0x40 build/v/app/main.o
                                 0x44 (size before relaxing)
                0x60002121                main
 *fill*         0x60002160       0x20 00
 .text          0x60002180       0x20 /opt/arm/lib/thumb/v7e-m+dp/hard/libc_nano.a(lib_a-memset.o)
                0x600021a0                . = ALIGN (0x4)
.itcm           0x00000000       0x28 load address 0x600021a0
 *fill*         0x00000000       0x20
 .text.__stub   0x00000020        0x8 linker stubs
.copy_table     0x600021c8        0xc
                0x600021c8        0x4 LONG 0x600021a0 LOADADDR (.itcm)
                0x600021cc        0x4 LONG 0x0 ADDR (.itcm)
                0x600021d0        0x4 LONG 0x28 SIZEOF (.itcm)
.ARM.extab
 *(.ARM.extab* .gnu.linkonce.armextab.*)
.a_rather_long_output_section_name
                0x20000000       0x10
 COMMON         0x20000000       0x10 build/v/board_core/startup.o
OUTPUT(build/v/firmware.elf elf32-littlearm)
LOAD linker stubs
"""


@pytest.fixture(scope="module")
def sections():
    return map_file.parse_text(MAP)


def pieces(sections, name, address):
    return [(p.kind, p.address, p.size, p.name, p.origin)
            for p in sections[(name, address)].pieces]


def test_output_sections_with_addresses_sizes_and_load_addresses(sections):
    assert {key: (s.size, s.load_address) for key, s in sections.items()} == {
        (".text", 0x60002000): (0x1A0, None),
        (".itcm", 0): (0x28, 0x600021A0),
        (".copy_table", 0x600021C8): (0xC, None),
        (".ARM.extab", 0): (0, None),
        (".a_rather_long_output_section_name", 0x20000000): (0x10, None),
    }


def test_input_sections_fill_and_wrapped_names(sections):
    kernel = "_ZN6tflite12_GLOBAL__N_14EvalEP13TfLiteContextP10TfLiteNode"
    assert pieces(sections, ".text", 0x60002000) == [
        ("input", 0x60002000, 0x120, f".text.{kernel}",
         "build/v/third_party/libtflm_kernels.a(conv.o)"),
        ("input", 0x60002120, 0x40, ".text.main", "build/v/app/main.o"),
        ("fill", 0x60002160, 0x20, "", ""),
        ("input", 0x60002180, 0x20, ".text",
         "/opt/arm/lib/thumb/v7e-m+dp/hard/libc_nano.a(lib_a-memset.o)"),
    ]


def test_statements_and_stubs_are_the_linker_s(sections):
    assert [p[0] for p in pieces(sections, ".copy_table", 0x600021C8)] == ["statement"] * 3
    assert pieces(sections, ".itcm", 0)[1] == ("input", 0x20, 8, ".text.__stub",
                                               map_file.LINKER_STUBS)
    assert pieces(sections, ".a_rather_long_output_section_name", 0x20000000) == [
        ("input", 0x20000000, 0x10, "COMMON", "build/v/board_core/startup.o")]


def test_not_a_map_is_a_clear_error(tmp_path):
    path = tmp_path / "firmware.map"
    path.write_text("hello\n")
    with pytest.raises(UserError, match="is not a GNU ld map file"):
        map_file.read(path)
    with pytest.raises(UserError, match="does not exist: .*Relink"):
        map_file.read(tmp_path / "missing.map")


@pytest.mark.parametrize("origin,section,component", [
    ("build/v/third_party/libtflm_kernels.a(conv.o)", ".text.x", "tflm-kernels"),
    ("build/v/third_party/libtflm_core.a(micro_interpreter.o)", ".text.x", "tflm-core"),
    ("build/v/third_party/libcmsis_nn.a(arm_convolve_s8.o)", ".text.x", "cmsis-nn"),
    ("build/v/third_party/libnxp_sdk.a(fsl_clock.o)", ".text.x", "nxp-sdk"),
    ("build/v/third_party/mcux-sdk/devices/MIMXRT1062/gcc/startup_MIMXRT1062.o",
     ".isr_vector", "nxp-sdk"),
    ("build/v/board/libboard.a(clock.o)", ".text.x", "board"),
    ("build/v/board_core/startup.o", ".boot_text", "board"),
    ("build/fixture/board_core/startup.o", ".boot_text", "board"),   # not the fixture's app
    ("build/fixture/fixture/main.o", ".text.main", "app"),
    ("build/v/app/inference.o", ".text.x", "app"),
    ("build/v/app/model_data.o", ".model_data", "model"),
    ("build/v/app/model_data.o", ".rodata.g_model_len", "app"),
    ("/usr/lib/arm-none-eabi/lib/libc_nano.a(lib_a-memcpy.o)", ".text", "newlib"),
    ("/usr/lib/arm-none-eabi/lib/libm.a(lib_a-sf_exp.o)", ".text", "newlib"),
    ("/usr/lib/arm-none-eabi/lib/libnosys.a(sbrk.o)", ".text", "newlib"),
    ("/usr/lib/arm-none-eabi/lib/libstdc++_nano.a(new_op.o)", ".text", "libstdc++"),
    ("/usr/lib/arm-none-eabi/lib/libsupc++_nano.a(eh_personality.o)", ".text", "libstdc++"),
    ("/usr/lib/gcc/arm-none-eabi/12.2.1/libgcc.a(_udivmoddi4.o)", ".text", "libgcc"),
    ("linker stubs", ".text.__stub", "linker"),
    ("build/v/somewhere/else.o", ".text", "other"),
])
def test_component_rules(origin, section, component):
    assert components.classify(origin, section) == component


def test_every_component_has_a_distinct_key_and_label():
    keys = [c.key for c in components.ALL]
    assert len(keys) == len(set(keys)) and all(c.label for c in components.ALL)


# Strings merged away: ld lists the section with its size before merging, at
# the address of the piece after it (here the vtable), holding no byte itself.
MERGED = """\
Linker script and memory map

.rodata         0x60001000       0x40
 .rodata._ZN6tflite19LinearMemoryPlanner9AddBufferEiii.str1.1
                0x60001000       0x1d build/v/third_party/libtflm_core.a(linear_memory_planner.o)
 .rodata._ZTVN6tflite19LinearMemoryPlannerE
                0x60001000       0x30 build/v/third_party/libtflm_core.a(linear_memory_planner.o)
 .rodata.str1.1 0x60001030        0xd build/v/app/main.o
                                 0x2a (size before relaxing)
 *fill*         0x6000103d        0x3
"""


def test_merged_strings_count_once():
    from teensyml.image import elf_image, region_usage
    section = elf_image.Section(".rodata", 1, 0x60001000, 0x60001000, 0x40, nobits=False,
                                executable=False)
    image = elf_image.Image("test.elf", [section], [], {})
    usage = region_usage.usage_of(image)
    attribution = components.attribute(image, usage, map_file.parse_text(MERGED))
    # padding: the fill, and the flash before the section (the region's gap)
    assert attribution.regions["FLASH"] == {"tflm-core": 0x30, "app": 0xD,
                                            "padding": 3 + 0x1000}
    assert attribution.owners[1] == [(0x60001000, 0x60001030, "tflm-core"),
                                     (0x60001030, 0x6000103D, "app")]


def test_a_map_of_another_link_is_refused():
    from teensyml.image import elf_image, region_usage
    section = elf_image.Section(".rodata", 1, 0x60001000, 0x60001000, 0x44, nobits=False,
                                executable=False)
    image = elf_image.Image("test.elf", [section], [], {})
    with pytest.raises(UserError, match=r"the map as 64 bytes at 0x60001000\. The map is "
                                        r"stale or from another link"):
        components.attribute(image, region_usage.usage_of(image), map_file.parse_text(MERGED))
