/*
 * Image vector table and boot data, read by the boot ROM at flash offsets
 * 0x1000 and 0x1020 (the linker script puts the sections there). The IVT's
 * entry is the vector table: the ROM loads the stack pointer and the reset
 * handler from it.
 */
#include <stdint.h>

#include "memory_map.h"

typedef struct {
    uint32_t header;      /* tag 0xD1, length 0x0020 (big endian), version 0x41 */
    uint32_t entry;
    uint32_t reserved1;
    uint32_t dcd;
    uint32_t boot_data;
    uint32_t self;
    uint32_t csf;
    uint32_t reserved2;
} image_vector_table_t;

typedef struct {
    uint32_t start;       /* where the image starts: the flash base */
    uint32_t size;        /* how many bytes of it the ROM may read */
    uint32_t plugin;
    uint32_t placeholder;
} boot_data_t;

extern const uint32_t __VECTOR_TABLE[];
extern const uint8_t __flash_image_end__[];

__attribute__((section(".boot_hdr.boot_data"), used))
const boot_data_t boot_data = {
    .start = FLEXSPI_FLASH_BASE,
    .size = (uint32_t)__flash_image_end__ - FLEXSPI_FLASH_BASE,
    .plugin = 0,
    .placeholder = 0xFFFFFFFFu,
};

__attribute__((section(".boot_hdr.ivt"), used))
const image_vector_table_t image_vector_table = {
    .header = 0x412000D1u,
    .entry = (uint32_t)__VECTOR_TABLE,
    .boot_data = (uint32_t)&boot_data,
    .self = (uint32_t)&image_vector_table,
};
