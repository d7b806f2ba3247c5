"""The generated linker script: regions from the memory map, placement options,
FlexRAM bank arithmetic at the edges, and overflow messages, checked on real
links with the cross toolchain."""
import re
import subprocess
import sys

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ROOT, layout, requires_third_party, run_scons
from teensyml import linker_script, memory_map as mm, options
from teensyml.errors import UserError
from teensyml.linker_script import Placement

TEMPLATE = (ROOT / "linker" / "teensy40.ld.in").read_text()
MEMORY_LINE = re.compile(r"^\s*(\w+)\s*\((\w+)\s*\)\s*:\s*ORIGIN = 0x([0-9A-F]+), "
                         r"LENGTH = 0x([0-9A-F]+)", re.M)


def render(**placement):
    return linker_script.render(TEMPLATE, Placement.defaults(**placement))


def output_section(script, name):
    """The text of one output section statement of a rendered script."""
    start = script.index(f"    {name} ")
    end = script.index("    }", start)
    return script[start:script.index("\n", end)]


def test_memory_block_is_the_memory_map():
    regions = {name: (int(origin, 16), int(length, 16))
               for name, _, origin, length in MEMORY_LINE.findall(render())}
    assert regions == {r.name: (r.origin, r.length) for r in mm.REGIONS}


def test_itcm_none_moves_nothing():
    itcm = output_section(render(itcm="none"), ".itcm")
    assert "(.text" not in itcm


def test_itcm_kernels_moves_kernel_archives_and_their_helpers():
    itcm = output_section(render(itcm="kernels"), ".itcm")
    for archive in ("libtflm_kernels.a", "libcmsis_nn.a", "libgcc.a", "libm.a"):
        assert f"*{archive}:*(.text .text.*)" in itcm
    assert "libtflm_core.a" not in itcm


def test_itcm_kernels_leaves_the_kernels_set_up_code_in_flash():
    """Registration, Init and Prepare run once: the flash section placed before
    .itcm takes them from the kernel archives (the linker gives an input
    section to the first output section that names it)."""
    script = render(itcm="kernels")
    setup = output_section(script, ".text.setup")
    assert script.index(".text.setup :") < script.index(".itcm :")
    assert "} > FLASH" in setup
    for archive in ("libtflm_kernels.a", "libcmsis_nn.a"):
        line = next(l for l in setup.splitlines() if f"*{archive}:*(" in l)
        assert ".text.*Prepare*" in line and ".text.*Register_*" in line
    for itcm in ("none", "all"):
        assert "(.text" not in output_section(render(itcm=itcm), ".text.setup")


@requires_third_party
@pytest.mark.firmware
def test_set_up_code_runs_from_flash_and_eval_from_itcm():
    run_scons("USE_CMSIS_NN=1")
    with open(layout(USE_CMSIS_NN=1).firmware["elf"], "rb") as stream:
        symbols = {symbol.name: symbol["st_value"] for symbol in
                   ELFFile(stream).get_section_by_name(".symtab").iter_symbols()}
    in_flash = lambda name: mm.FLASH.contains(symbols[name])     # noqa: E731
    assert in_flash("_ZN6tflite21Register_CONV_2D_INT8Ev")
    assert in_flash("arm_convolve_wrapper_s8_get_buffer_size")
    assert not in_flash("arm_convolve_s8") and not in_flash("arm_nn_mat_mult_kernel_s8_s16")


def test_itcm_all_keeps_the_boot_path_in_flash():
    itcm = output_section(render(itcm="all"), ".itcm")
    assert "EXCLUDE_FILE(*startup.o *flexspi_config.o *boot_header.o)" in itcm


def test_itcm_extra_objects_and_functions():
    itcm = output_section(render(itcm="none", itcm_extra=("conv.o", "arm_nn_mat*")), ".itcm")
    assert "*conv.o(.text .text.*)" in itcm
    assert "*(.text.arm_nn_mat*)" in itcm


@pytest.mark.parametrize("text", ["a b", "x);", "conv.o,}*"])
def test_itcm_extra_refuses_what_would_break_the_script(text):
    with pytest.raises(UserError, match="ITCM_EXTRA"):
        options.resolve({"ITCM_EXTRA": text})


def test_placement_takes_the_resolved_options():
    values = options.resolve({"ITCM": "none", "ITCM_EXTRA": " conv.o, arm_nn_mat*",
                              "MODEL_MEM": "ocram"})
    placement = Placement.from_options(values)
    assert placement == Placement("none", ("conv.o", "arm_nn_mat*"), "ocram", "dtcm")
    assert Placement.defaults() == Placement("kernels", (), "flash", "dtcm")


@pytest.mark.parametrize("model_mem,region,loaded", [("flash", "FLASH", False),
                                                     ("dtcm", "DTCM", True),
                                                     ("ocram", "OCRAM", True)])
def test_model_placement(model_mem, region, loaded):
    script = render(model_mem=model_mem)
    model = output_section(script, ".model_data")
    assert model.rstrip().endswith(f"> {region}" + (" AT> FLASH" if loaded else ""))
    assert ("LONG(LOADADDR(.model_data))" in script) is loaded


@pytest.mark.parametrize("arena_mem,region", [("dtcm", "DTCM"), ("ocram", "OCRAM")])
def test_arena_placement(arena_mem, region):
    assert output_section(render(arena_mem=arena_mem), ".tensor_arena").rstrip() \
        .endswith(f"> {region}")


# --- real links ---------------------------------------------------------------

def link(tmp_path, fixture_firmware, placement, extra_source=""):
    """Link the fixture's objects plus `extra_source` (assembly) with the script
    for `placement`, through the same guard the build uses."""
    objects = sorted(str(p) for p in layout().fixture_objects.rglob("*.o"))
    script = tmp_path / "test.ld"
    script.write_text(linker_script.render(TEMPLATE, placement))
    sources = []
    if extra_source:
        (tmp_path / "extra.S").write_text(extra_source)
        sources.append(str(tmp_path / "extra.S"))
    elf = tmp_path / "test.elf"
    command = ["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard",
               "-mthumb", "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
               "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments", "-T", str(script),
               "-o", str(elf), *objects, *sources, "-lm"]
    result = subprocess.run([sys.executable, "-m", "teensyml.image.link_guard",
                             "--elf", str(elf), "--", *command], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "site_scons"), "PATH": "/usr/bin:/bin"})
    return result, elf


def pad_function(name, size):
    """Assembly for a function of exactly `size` bytes in its own section,
    called from main's file-level constructor list so it is kept."""
    return (f".section .text.{name},\"ax\",%progbits\n.global {name}\n.type {name}, %function\n"
            f"{name}:\n.space {size}\n.size {name}, {size}\n"
            f".section .init_array,\"aw\"\n.word {name}\n")


def symbol(elf_path, name):
    with open(elf_path, "rb") as stream:
        return ELFFile(stream).get_section_by_name(".symtab").get_symbol_by_name(name)[0]["st_value"]


def itcm_size(elf_path):
    with open(elf_path, "rb") as stream:
        return ELFFile(stream).get_section_by_name(".itcm")["sh_size"]


@pytest.mark.parametrize("payload,banks", [(mm.FLEXRAM_BANK_SIZE - 32, 1),
                                           (mm.FLEXRAM_BANK_SIZE - 32 + 1, 2)])
def test_itcm_bank_count_at_the_edges(tmp_path, fixture_firmware, payload, banks):
    """Exactly 32 KB of ITCM takes one bank; one byte more takes two, and the
    stack top and the GPR17 value follow."""
    result, elf = link(tmp_path, fixture_firmware,
                       Placement.defaults(itcm="none", itcm_extra=("pad_hot",)),
                       pad_function("pad_hot", payload))
    assert result.returncode == 0, result.stderr
    assert itcm_size(elf) == (mm.FLEXRAM_BANK_SIZE if banks == 1 else
                              mm.FLEXRAM_BANK_SIZE + 8)
    assert symbol(elf, "__itcm_bank_count__") == banks
    assert symbol(elf, "__flexram_bank_config__") == \
        mm.encode_bank_config(mm.bank_config(banks))
    assert symbol(elf, "__StackTop") == mm.DTCM.origin + (16 - banks) * mm.FLEXRAM_BANK_SIZE
    assert f"{banks} bank(s)" in result.stdout


def test_oversized_itcm_request_is_explained(tmp_path, fixture_firmware):
    result, elf = link(tmp_path, fixture_firmware,
                       Placement.defaults(itcm="none", itcm_extra=("huge_hot",)),
                       pad_function("huge_hot", 600 * 1024))
    assert result.returncode == 2
    message = result.stderr
    assert "ITCM overflows by" in message
    over = int(re.search(r"overflows by ([\d,]+) bytes", message).group(1).replace(",", ""))
    assert over == 600 * 1024 + 32 - mm.ITCM.length
    assert "huge_hot (614,400 B)" in message
    assert "Traceback" not in message and not elf.exists()


def test_itcm_plus_dtcm_over_512k_is_explained(tmp_path, fixture_firmware):
    """Each region fits on its own, together they exceed the FlexRAM."""
    data = (".section .bss.big_buffer,\"aw\",%nobits\n.global big_buffer\n"
            ".type big_buffer, %object\nbig_buffer:\n.space 300*1024\n"
            ".size big_buffer, 300*1024\n.section .init_array,\"aw\"\n.word big_buffer\n")
    result, elf = link(tmp_path, fixture_firmware,
                       Placement.defaults(itcm="none", itcm_extra=("wide_hot",)),
                       pad_function("wide_hot", 250 * 1024) + data)
    assert result.returncode == 2
    assert "overflows DTCM by" in result.stderr
    assert "big_buffer (307,200 B)" in result.stderr
    assert not elf.exists()
