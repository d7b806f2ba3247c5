"""The one description of the Teensy 4.0 (i.MX RT1062) memory map.

The linker-script generator, the size report and the emulator all read these
objects, so the three cannot disagree about where a region starts, how large it
may grow or how FlexRAM banks are handed out.
"""
from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Region:
    """A memory region as the linker and the size report see it."""
    name: str            # name in the linker script's MEMORY block
    origin: int
    length: int          # the most this region can ever hold
    teensy_name: str     # teensy_size vocabulary: FLASH, RAM1 (FlexRAM) or RAM2
    description: str
    executable: bool
    writable: bool
    # Default wait states of the emulator's cycle model, per access, on top of
    # one cycle per instruction. Rough, documented figures, not silicon truth:
    # FlexSPI XIP with no cache hit costs tens of core cycles per fetch, TCM is
    # single-cycle, OCRAM sits behind the AXI bus at a few cycles.
    fetch_wait_states: int
    data_wait_states: int

    @property
    def end(self):
        return self.origin + self.length

    def contains(self, address, size=1):
        return self.origin <= address and address + size <= self.end


# --- FlexSPI NOR flash (Winbond W25Q16JV, executed in place) -----------------
FLASH_DEVICE_SIZE = 2 * MB
# Teensyduino keeps the top 64 KB for EEPROM emulation and the restore image.
FLASH_PROGRAM_SIZE = 1984 * KB

FLASH = Region("FLASH", 0x60000000, FLASH_PROGRAM_SIZE, "FLASH",
               "FlexSPI QSPI NOR flash, execute in place",
               executable=True, writable=False,
               fetch_wait_states=20, data_wait_states=20)

# Offsets of the boot structures the RT1062 boot ROM reads from flash.
FLEXSPI_CONFIG_OFFSET = 0x0000   # 512-byte FlexSPI configuration block, tag "FCFB"
FLEXSPI_CONFIG_SIZE = 0x200
FLEXSPI_CONFIG_TAG = 0x42464346  # "FCFB", little endian
IVT_OFFSET = 0x1000              # image vector table, header tag 0xD1
IVT_TAG = 0xD1
BOOT_DATA_OFFSET = 0x1020        # image start, image size, plugin flag
# The first 1 KB boundary after the boot data: VTOR needs the 1 KB table
# aligned to its size. (NXP's SDK images start at 0x2000, 3 KB of 0xFF more;
# Teensyduino's code follows the boot data directly.)
VECTOR_TABLE_OFFSET = 0x1400

# --- FlexRAM: 512 KB in 16 banks of 32 KB, each ITCM, DTCM or OCRAM ---------
FLEXRAM_BANK_SIZE = 32 * KB
FLEXRAM_BANKS = 16
FLEXRAM_SIZE = FLEXRAM_BANK_SIZE * FLEXRAM_BANKS

ITCM = Region("ITCM", 0x00000000, FLEXRAM_SIZE, "RAM1",
              "FlexRAM banks mapped as instruction TCM",
              executable=True, writable=True,
              fetch_wait_states=0, data_wait_states=0)
DTCM = Region("DTCM", 0x20000000, FLEXRAM_SIZE, "RAM1",
              "FlexRAM banks mapped as data TCM (stack at its top)",
              executable=True, writable=True,
              fetch_wait_states=0, data_wait_states=0)
# OCRAM2 is 512 KB of its own, always present; FlexRAM banks configured as
# OCRAM would follow it at 0x20280000 (this build gives every bank to a TCM).
OCRAM = Region("OCRAM", 0x20200000, 512 * KB, "RAM2",
               "OCRAM2 on the AXI bus (heap)",
               executable=True, writable=True,
               fetch_wait_states=4, data_wait_states=4)
FLEXRAM_OCRAM_BASE = 0x20280000

REGIONS = (FLASH, ITCM, DTCM, OCRAM)
REGIONS_BY_NAME = {region.name: region for region in REGIONS}
WAIT_STATE_REGIONS = tuple(region.name for region in REGIONS)


@dataclass(frozen=True)
class WaitStates:
    """The emulator's simple cycle model: extra cycles per instruction fetch
    and per data access, by region (WAIT_STATE_REGIONS order). WAIT_STATES=
    overrides the regions' defaults; the option table parses it with
    `parse`, once."""
    fetch: tuple
    data: tuple

    @classmethod
    def defaults(cls):
        return cls(tuple(region.fetch_wait_states for region in REGIONS),
                   tuple(region.data_wait_states for region in REGIONS))

    @classmethod
    def parse(cls, text):
        """Defaults overridden by "REGION:fetch/data,..." (e.g. FLASH:30/30)."""
        from .errors import UserError
        fetch, data = map(list, (cls.defaults().fetch, cls.defaults().data))
        for item in filter(None, (part.strip() for part in (text or "").split(","))):
            name, _, values = item.partition(":")
            name = name.strip().upper()
            try:
                index = WAIT_STATE_REGIONS.index(name)
                first, _, second = values.partition("/")
                fetch[index] = int(first)
                data[index] = int(second) if second else int(first)
                if fetch[index] < 0 or data[index] < 0:
                    raise ValueError
            except ValueError:
                raise UserError(
                    f"WAIT_STATES entry {item!r} is not valid; write REGION:fetch/data "
                    f"with REGION one of {', '.join(WAIT_STATE_REGIONS)} and two "
                    f"non-negative integers, e.g. FLASH:30/30,OCRAM:2/2.") from None
        return cls(tuple(fetch), tuple(data))

    def table(self):
        return {name: (self.fetch[i], self.data[i])
                for i, name in enumerate(WAIT_STATE_REGIONS)}

# --- FlexRAM bank configuration registers (IOMUXC_GPR) ----------------------
IOMUXC_GPR_BASE = 0x400AC000
GPR14 = IOMUXC_GPR_BASE + 0x38   # ITCM/DTCM size fields
GPR16 = IOMUXC_GPR_BASE + 0x40   # bit 2: take the bank map from GPR17, not fuses
GPR17 = IOMUXC_GPR_BASE + 0x44   # bank map, 2 bits a bank, bank 0 in bits 1:0
GPR16_FLEXRAM_BANK_CFG_SEL = 1 << 2
# GPR14 size codes (CM7_CFGITCMSZ bits 19:16, CM7_CFGDTCMSZ bits 23:20).
TCM_SIZE_CODES = {0: 0, 4 * KB: 3, 8 * KB: 4, 16 * KB: 5, 32 * KB: 6,
                  64 * KB: 7, 128 * KB: 8, 256 * KB: 9, 512 * KB: 10}

BANK_UNUSED, BANK_OCRAM, BANK_DTCM, BANK_ITCM = 0b00, 0b01, 0b10, 0b11
# What the chip uses before the firmware writes GPR16/17 (fuses at default):
# 128 KB ITCM, 128 KB DTCM, 256 KB OCRAM.
RESET_BANK_CONFIG = (BANK_ITCM,) * 4 + (BANK_DTCM,) * 4 + (BANK_OCRAM,) * 8


def bank_count(size):
    """FlexRAM banks needed to hold `size` bytes (0 bytes need no bank)."""
    if size < 0:
        raise ValueError("size must not be negative")
    return -(-size // FLEXRAM_BANK_SIZE)


def bank_config(itcm_banks):
    """Bank map giving the low `itcm_banks` banks to ITCM and the rest to DTCM,
    as a tuple of per-bank kinds (bank 0 first)."""
    if not 0 <= itcm_banks <= FLEXRAM_BANKS:
        raise ValueError(f"itcm_banks must be 0..{FLEXRAM_BANKS}")
    return (BANK_ITCM,) * itcm_banks + (BANK_DTCM,) * (FLEXRAM_BANKS - itcm_banks)


def encode_bank_config(banks):
    """The GPR17 value of a bank map."""
    value = 0
    for index, kind in enumerate(banks):
        value |= kind << (2 * index)
    return value


def decode_bank_config(value):
    """The bank map a GPR17 value describes."""
    return tuple((value >> (2 * index)) & 0b11 for index in range(FLEXRAM_BANKS))


def flexram_sizes(banks):
    """(itcm, dtcm, ocram) bytes of a bank map."""
    return tuple(sum(FLEXRAM_BANK_SIZE for kind in banks if kind == wanted)
                 for wanted in (BANK_ITCM, BANK_DTCM, BANK_OCRAM))


def region_of(address):
    """The region holding `address`, or None."""
    for region in REGIONS:
        if region.contains(address):
            return region
    return None

# --- Peripherals the board code and the emulator share ----------------------
LPUART2_BASE = 0x40188000        # console: TX pin 14, RX pin 15 (0x4018C000 is LPUART3)
CONSOLE_BAUD = 115200
DWT_CYCCNT = 0xE0001004
CORE_CLOCK_HZ = 600_000_000

# --- Peripherals the emulator models (i.MX RT1060 reference manual, chapter
# "Memory Maps"): what the NXP SDK's bring-up touches. PMU, XTALOSC24M and
# TEMPMON registers live in the CCM_ANALOG block.
CCM_BASE = 0x400FC000
CCM_ANALOG_BASE = 0x400D8000
DCDC_BASE = 0x40080000
IOMUXC_BASE = 0x401F8000
IOMUXC_SNVS_BASE = 0x400A8000
IOMUXC_SNVS_GPR_BASE = 0x400A4000
FLEXRAM_CTRL_BASE = 0x400B0000   # FlexRAM controller registers, not the RAM
WDOG1_BASE = 0x400B8000
WDOG2_BASE = 0x400D0000
RTWDOG_BASE = 0x400BC000         # WDOG3
SRC_BASE = 0x400F8000
GPC_BASE = 0x400F4000
USB_OTG1_BASE = 0x402E0000       # the Teensy's USB port (ChipIdea device controller)
OCOTP_BASE = 0x401F4000          # fuses: MAC0 gives Teensyduino's USB serial number
PERIPHERAL_BLOCK_SIZE = 0x4000   # one peripheral's slot on the AIPS buses
# (base, size): the four AIPS buses, and the fast GPIO6-9 block on AHB.
PERIPHERAL_WINDOWS = ((0x40000000, 0x400000), (0x42000000, 0x10000))

# --- Cortex-M7 private peripheral bus (ARMv7-M architecture) ----------------
PPB_BASE = 0xE0000000
PPB_SIZE = 0x100000
DWT_BASE = 0xE0001000            # DWT_CTRL; DWT_CYCCNT above is DWT_BASE + 4
SCS_BASE = 0xE000E000            # SysTick, NVIC, SCB, MPU, FPU, cache maintenance
SYSTICK_BASE = 0xE000E010
NVIC_BASE = 0xE000E100
SCB_BASE = 0xE000ED00
MPU_BASE = 0xE000ED90
DEMCR = 0xE000EDFC               # bit 24 TRCENA gates the DWT


def c_header():
    """memory_map.h for the firmware: the same facts, for C."""
    constants = {
        "FLEXSPI_FLASH_BASE": FLASH.origin, "FLASH_PROGRAM_SIZE": FLASH_PROGRAM_SIZE,
        "FLEXSPI_CONFIG_TAG": FLEXSPI_CONFIG_TAG,
        "ITCM_BASE": ITCM.origin, "DTCM_BASE": DTCM.origin, "OCRAM_BASE": OCRAM.origin,
        "FLEXRAM_BANK_SIZE": FLEXRAM_BANK_SIZE, "FLEXRAM_BANKS": FLEXRAM_BANKS,
        "IOMUXC_GPR14_ADDR": GPR14, "IOMUXC_GPR16_ADDR": GPR16, "IOMUXC_GPR17_ADDR": GPR17,
        "GPR16_FLEXRAM_BANK_CFG_SEL": GPR16_FLEXRAM_BANK_CFG_SEL,
        # Both TCM size fields at 512 KB: the bank map alone decides the split.
        "GPR14_TCM_SIZES": (TCM_SIZE_CODES[512 * KB] << 16) | (TCM_SIZE_CODES[512 * KB] << 20),
        "CONSOLE_UART_BASE": LPUART2_BASE, "CONSOLE_BAUD": CONSOLE_BAUD,
        "DWT_CYCCNT_ADDR": DWT_CYCCNT,
        "CORE_CLOCK_HZ": CORE_CLOCK_HZ,
    }
    lines = ["/* Generated from site_scons/teensyml/memory_map.py: do not edit. */",
             "#ifndef TEENSYML_MEMORY_MAP_H", "#define TEENSYML_MEMORY_MAP_H", ""]
    lines += [f"#define {name} 0x{value:08X}u" for name, value in constants.items()]
    lines += ["", "#endif", ""]
    return "\n".join(lines)
