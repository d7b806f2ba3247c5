"""Linked firmware images: what the link produced and whether it boots.

    elf_image      sections and sized symbols of an ELF, placed in the memory
                   map's regions (the one answer to "which region")
    hexfile        ELF -> Intel HEX, byte for byte objcopy's (`python -m`)
    map_file       which object or archive member each input section came from
    region_usage   how full each region is, and whether the image fits
    link_guard     the link command wrapped: overflow explained, size line printed
    teensy_image   a HEX or ELF loaded and checked as the boot ROM reads it
                   (FCB, IVT, boot data): the flasher and the emulator use it
    addr2line      code addresses to function and source line (fault reports)

They change together when the image format or the memory map does; the
size report (size_report/) and the emulator read images through them.
"""
