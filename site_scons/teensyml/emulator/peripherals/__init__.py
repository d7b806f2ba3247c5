"""The i.MX RT1062 peripherals the firmware touches, each a register block on
the peripheral bus; plus the console, the host end of LPUART2.

    registers  RegisterBlock (plain storage, override read/write_register)
               and SetClearToggleBlock (NXP's SET/CLR/TOG aliases)
    bus        PeripheralBus (address slot -> block; unmodelled slots act as
               memory and are reported once) and standard_models(): the
               clock, power, IOMUXC and watchdog blocks the SDK's bring-up needs
    flexram    IOMUXC_GPR14/16/17: the FlexRAM bank split, remapping memory
    lpuart     LPUART2, the console UART
    idle       when a polling firmware waits for the host (LPUART and USB alike)
    system     the Cortex-M7 private peripheral bus (SCB, DWT, NVIC, MPU, ...)
    console    what the host puts on and reads from the console (scripted, stdio,
               pty), over LPUART2 or over USB
    usb/       USB OTG1: the ChipIdea device controller (queue heads and
               transfer descriptors in RAM), the emulated host that enumerates
               it and checks its descriptors, bridging CDC-ACM to the console

Adding a peripheral (usb/ is a worked example):

1. Its base address (and size, if not one 16 KB slot) goes into the one
   memory map, memory_map.py, next to the others (e.g. USB1_BASE); it must
   lie in mm.PERIPHERAL_WINDOWS, which the machine maps to the bus.
2. A module here with a RegisterBlock subclass: reset values as a dict of
   word offsets, behaviour in read_register / write_register (they see
   aligned 32-bit words; byte and halfword accesses are merged for you).
   Keep what it does not model as plain storage.
3. Register it: a block with no link to the rest of the machine goes into
   bus.standard_models(); one that talks to the host or the machine (as
   Lpuart calls machine.transmit / receive / idle) is built in
   machine/board.py's Machine._map_memory and added to the PeripheralBus
   there, with its host side beside console.py.
4. A test in tests/ driving its registers through PeripheralBus, as
   tests/test_emulator_models.py does for the standard models.

There is no interrupt delivery (system.py: NVIC enables are stored only), so
a peripheral's status is polled by the firmware.
"""
