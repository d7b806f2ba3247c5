"""The memory map's FlexRAM arithmetic, at the edges."""
import pytest

from teensyml import memory_map as mm


@pytest.mark.parametrize("size,banks", [(0, 0), (1, 1), (mm.FLEXRAM_BANK_SIZE, 1),
                                        (mm.FLEXRAM_BANK_SIZE + 1, 2),
                                        (mm.FLEXRAM_SIZE, mm.FLEXRAM_BANKS)])
def test_bank_count_edges(size, banks):
    assert mm.bank_count(size) == banks


@pytest.mark.parametrize("itcm_banks", [0, 1, 5, 16])
def test_bank_config_round_trips_through_gpr17(itcm_banks):
    banks = mm.bank_config(itcm_banks)
    assert mm.decode_bank_config(mm.encode_bank_config(banks)) == banks
    itcm, dtcm, ocram = mm.flexram_sizes(banks)
    assert itcm == itcm_banks * mm.FLEXRAM_BANK_SIZE
    assert itcm + dtcm == mm.FLEXRAM_SIZE and ocram == 0


def test_bank_config_matches_the_linker_formula():
    # The linker script computes 0xAAAAAAAA | ((1 << 2n) - 1).
    for n in range(17):
        assert mm.encode_bank_config(mm.bank_config(n)) == \
            (0xAAAAAAAA | ((1 << (2 * n)) - 1)) & 0xFFFFFFFF


def test_regions_do_not_overlap():
    regions = sorted(mm.REGIONS, key=lambda r: r.origin)
    for lower, upper in zip(regions, regions[1:]):
        assert lower.end <= upper.origin


def test_c_header_carries_the_same_numbers():
    header = mm.c_header()
    assert f"#define FLEXSPI_FLASH_BASE 0x{mm.FLASH.origin:08X}u" in header
    assert f"#define IOMUXC_GPR17_ADDR 0x{mm.GPR17:08X}u" in header
