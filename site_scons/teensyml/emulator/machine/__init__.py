"""The machine: the emulated core, its memory and the run loop, and the
hook machinery the other rooms plug into.

    board          Machine: maps memory, wires the peripherals, runs, stops
    firmware_file  load_firmware: the image (image.teensy_image) and its symbols
    symbols        addresses to function names, from the ELF
    crash          what a crash report says (registers, faulting access)
    fasthooks      Unicorn hooks registered without its per-call Python wrapper
    native         the C hooks (hooks.c here, timing/timing.c), built on first use
    blocktables    per-block decoding for the hooks: in C, or in Python
"""
