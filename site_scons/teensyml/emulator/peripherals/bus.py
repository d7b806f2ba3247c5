"""The i.MX RT1062 peripherals the NXP SDK's bring-up touches, and the bus
that routes the peripheral address windows to them.

Models are as small as the bring-up allows: registers keep what is written,
and the status bits the SDK polls read as "done" (PLLs locked, DC-DC ok,
clock handshakes finished, watchdog reconfigured). Everything in the
peripheral windows without a model behaves as plain memory (a read returns
what was last written, initially 0) and is reported once per peripheral slot,
so a firmware that starts using a new peripheral is noticed, not silently
mis-emulated.
"""
from ... import memory_map as mm
from .registers import RegisterBlock, SetClearToggleBlock

SLOT = mm.PERIPHERAL_BLOCK_SIZE


class Ccm(RegisterBlock):
    """Clock controller: dividers and muxes are plain registers; CDHIPR (the
    divider/mux handshake busy bits) always reads 0."""
    CDHIPR = 0x48
    # Reset values of the RT1060 reference manual (clock gates all on).
    RESET = {0x00: 0x040116FF, 0x08: 0x00000020, 0x0C: 0x00000100, 0x10: 0x00000001,
             0x14: 0x000A8200, 0x18: 0x2DAE8324, 0x1C: 0x04900080, 0x20: 0x03192C06,
             0x24: 0x06490B00, **{0x68 + 4 * index: 0xFFFFFFFF for index in range(8)}}

    def __init__(self):
        super().__init__("CCM", mm.CCM_BASE, SLOT, self.RESET)

    def read_register(self, offset):
        return 0 if offset == self.CDHIPR else self.load(offset)


class CcmAnalog(SetClearToggleBlock):
    """PLLs, PFDs, PMU regulators, 24 MHz oscillator: the lock, ok and ready
    status bits read as set (everything locks at once)."""
    PLL_REGISTERS = (0x00, 0x10, 0x20, 0x30, 0x70, 0xA0, 0xE0)   # ARM USB1 USB2 SYS AUDIO
    PLL_LOCK = 1 << 31                                            # VIDEO ENET
    READY_BITS = {0x110: 1 << 17, 0x120: 1 << 17, 0x130: 1 << 17,  # PMU REG_1P1/3P0/2P5 OK
                  0x150: 1 << 15,                                  # MISC0 OSC_XTALOK
                  0x270: 1 << 16}                                  # LOWPWR_CTRL PWRUP_STAT

    # The state the boot ROM hands over (RT1060 reference manual reset values,
    # chapter CCM_ANALOG), with PLL3 (USB1 PLL) powered, enabled, its USB
    # clocks on and locked at 480 MHz: the ROM starts it for FlexSPI and the
    # serial downloader, and SDK firmware that leaves clocks to the ROM
    # (XIP_EXTERNAL_FLASH=1) computes its UART and FlexSPI clocks from it.
    RESET = {0x00: 0x00013063,                  # PLL_ARM: bypassed, powered down
             0x10: 0x80003040,                  # PLL_USB1: LOCK, ENABLE, POWER, EN_USB_CLKS
             0x20: 0x00012000,                  # PLL_USB2
             0x30: 0x00013001,                  # PLL_SYS
             0x70: 0x00011006, 0xA0: 0x0001100C, 0xE0: 0x00011001,   # AUDIO VIDEO ENET
             0xF0: 0x0F1A2318, 0x100: 0x1018101B}                     # PFD_480 PFD_528

    def __init__(self):
        super().__init__("CCM_ANALOG", mm.CCM_ANALOG_BASE, SLOT, self.RESET)

    def read_register(self, offset):
        register = offset & ~0xF
        value = self.load(register)
        if register in self.PLL_REGISTERS:
            value |= self.PLL_LOCK
        return value | self.READY_BITS.get(register, 0)


class Dcdc(RegisterBlock):
    """DC-DC converter: REG0.STS_DC_OK reads as set (the new voltage is there)."""
    REG0, STS_DC_OK = 0x00, 1 << 31

    def __init__(self):
        super().__init__("DCDC", mm.DCDC_BASE, SLOT)

    def read_register(self, offset):
        value = self.load(offset)
        return value | self.STS_DC_OK if offset == self.REG0 else value


class IomuxcGpr(RegisterBlock):
    """IOMUXC_GPR: plain, except GPR14/16/17, which configure FlexRAM."""

    def __init__(self, flexram):
        super().__init__("IOMUXC_GPR", mm.IOMUXC_GPR_BASE, SLOT)
        self.flexram = flexram
        self._flexram_registers = {address - self.base for address in (mm.GPR14, mm.GPR16,
                                                                        mm.GPR17)}

    def read_register(self, offset):
        if offset in self._flexram_registers:
            return self.flexram.read_gpr(self.base + offset)
        return self.load(offset)

    def write_register(self, offset, value):
        if offset in self._flexram_registers:
            self.flexram.write_gpr(self.base + offset, value)
        else:
            self.store(offset, value)


class RtWatchdog(RegisterBlock):
    """WDOG3: CS reads with ULK (unlocked) and RCS (reconfiguration done) set."""
    CS, ULK, RCS = 0x00, 1 << 11, 1 << 10
    RESET = {0x00: 0x00002980, 0x08: 0x00000400}     # CS (CMD32EN, EN, ...), TOVAL

    def __init__(self):
        super().__init__("RTWDOG", mm.RTWDOG_BASE, SLOT, self.RESET)

    def read_register(self, offset):
        value = self.load(offset)
        return value | self.ULK | self.RCS if offset == self.CS else value


def plain(name, base, reset=None):
    """A peripheral the bring-up writes and reads back, with no behaviour."""
    return RegisterBlock(name, base, SLOT, reset)


def standard_models(flexram):
    """Every modelled peripheral but the console UART."""
    return [
        Ccm(), CcmAnalog(), Dcdc(), IomuxcGpr(flexram), RtWatchdog(),
        plain("IOMUXC", mm.IOMUXC_BASE),
        plain("IOMUXC_SNVS", mm.IOMUXC_SNVS_BASE),
        plain("IOMUXC_SNVS_GPR", mm.IOMUXC_SNVS_GPR_BASE),
        plain("FLEXRAM", mm.FLEXRAM_CTRL_BASE),
        plain("SRC", mm.SRC_BASE),
        plain("GPC", mm.GPC_BASE),
        # MAC0's low 24 bits are the board's serial number (the USB serial
        # string): this emulated board's is 12345678.
        plain("OCOTP", mm.OCOTP_BASE, {0x620: 0x00BC614E}),
        # 16-bit registers: WCR (enable, ...) and WMCR (power-down counter).
        plain("WDOG1", mm.WDOG1_BASE, {0x0: 0x0030, 0x8: 0x0001}),
        plain("WDOG2", mm.WDOG2_BASE, {0x0: 0x0030, 0x8: 0x0001}),
    ]


class PeripheralBus:
    """Routes accesses in the peripheral windows to the block of their slot."""

    def __init__(self, blocks, on_unmodelled):
        self.on_unmodelled = on_unmodelled    # (address, is_write, size) on first access
        self._slots = {}
        for block in blocks:
            self.add(block)

    def add(self, block):
        for base in range(block.base, block.base + block.size, SLOT):
            self._slots[base // SLOT] = block

    def block_at(self, address):
        block = self._slots.get(address // SLOT)
        if block is None:
            base = address - address % SLOT
            block = RegisterBlock(f"peripheral at 0x{base:08X}", base, SLOT)
            block.modelled = False
            self._slots[address // SLOT] = block
        return block

    def read(self, address, size):
        block = self.block_at(address)
        if not block.modelled:
            self._first_touch(block, address, False, size)
        return block.read(address - block.base, size)

    def write(self, address, size, value):
        block = self.block_at(address)
        if not block.modelled:
            self._first_touch(block, address, True, size)
        block.write(address - block.base, size, value)

    def _first_touch(self, block, address, is_write, size):
        if not getattr(block, "reported", False):
            block.reported = True
            self.on_unmodelled(address, is_write, size)

    def unmodelled(self):
        return sorted(block.base for block in set(self._slots.values()) if not block.modelled)
