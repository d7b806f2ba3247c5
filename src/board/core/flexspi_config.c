/*
 * FlexSPI NOR configuration block for the Teensy 4.0's 2 MB Winbond W25Q16JV,
 * read by the i.MX RT1062 boot ROM from the first 512 bytes of flash before it
 * executes anything in place. Layout and field meanings: i.MX RT1060 reference
 * manual, "FlexSPI NOR Configuration Block". Only the read sequence matters for
 * execute-in-place; the status and write-enable sequences are what the ROM's
 * flash helpers expect to find.
 */
#include <stdint.h>

#include "memory_map.h"

/* One LUT instruction is 16 bits: opcode (6) | pads (2) | operand (8). */
#define LUT_INSTR(opcode, pads, operand) \
    ((uint32_t)(((opcode) << 10) | ((pads) << 8) | (operand)))
#define LUT_SEQ(op0, pads0, arg0, op1, pads1, arg1) \
    (LUT_INSTR(op0, pads0, arg0) | (LUT_INSTR(op1, pads1, arg1) << 16))

enum lut_opcode { CMD_SDR = 0x01, RADDR_SDR = 0x02, WRITE_SDR = 0x08, READ_SDR = 0x09,
                  DUMMY_SDR = 0x0C, STOP = 0x00 };
enum lut_pads { PADS_1 = 0, PADS_2 = 1, PADS_4 = 2 };

enum { LUT_SEQ_READ = 0, LUT_SEQ_READ_STATUS = 1, LUT_SEQ_WRITE_ENABLE = 3 };

typedef struct {
    uint32_t tag;                     /* 0x000 "FCFB" */
    uint32_t version;                 /* 0x004 */
    uint32_t reserved0;               /* 0x008 */
    uint8_t read_sample_clk_src;      /* 0x00C: 1 = loopback from the DQS pad */
    uint8_t cs_hold_time;
    uint8_t cs_setup_time;
    uint8_t column_address_width;
    uint8_t device_mode_cfg_enable;   /* 0x010 */
    uint8_t device_mode_type;
    uint16_t wait_time_cfg_commands;
    uint32_t device_mode_seq;         /* 0x014 */
    uint32_t device_mode_arg;         /* 0x018 */
    uint8_t config_cmd_enable;        /* 0x01C */
    uint8_t config_mode_type[3];
    uint32_t config_cmd_seqs[3];      /* 0x020 */
    uint32_t reserved1;               /* 0x02C */
    uint32_t config_cmd_args[3];      /* 0x030 */
    uint32_t reserved2;               /* 0x03C */
    uint32_t controller_misc_option;  /* 0x040 */
    uint8_t device_type;              /* 0x044: 1 = serial NOR */
    uint8_t sflash_pad_type;          /* 4 = quad */
    uint8_t serial_clk_freq;          /* 3 = 60 MHz */
    uint8_t lut_custom_seq_enable;
    uint32_t reserved3[2];            /* 0x048 */
    uint32_t sflash_a1_size;          /* 0x050 */
    uint32_t sflash_a2_size;
    uint32_t sflash_b1_size;
    uint32_t sflash_b2_size;
    uint32_t cs_pad_setting_override; /* 0x060 */
    uint32_t sclk_pad_setting_override;
    uint32_t data_pad_setting_override;
    uint32_t dqs_pad_setting_override;
    uint32_t timeout_ms;              /* 0x070 */
    uint32_t command_interval;        /* 0x074 */
    uint16_t data_valid_time[2];      /* 0x078 */
    uint16_t busy_offset;             /* 0x07C */
    uint16_t busy_bit_polarity;
    uint32_t lookup_table[64];        /* 0x080: 16 sequences of 4 words */
    uint32_t lut_custom_seq[12];      /* 0x180 */
    uint32_t reserved4[4];            /* 0x1B0 */
    /* Serial NOR specific part. */
    uint32_t page_size;               /* 0x1C0 */
    uint32_t sector_size;             /* 0x1C4 */
    uint8_t ipcmd_serial_clk_freq;    /* 0x1C8 */
    uint8_t is_uniform_block_size;
    uint8_t reserved5[2];
    uint8_t serial_nor_type;          /* 0x1CC */
    uint8_t need_exit_no_cmd_mode;
    uint8_t half_clk_for_non_read_cmd;
    uint8_t need_restore_no_cmd_mode;
    uint32_t block_size;              /* 0x1D0 */
    uint32_t reserved6[11];           /* 0x1D4 */
} flexspi_nor_config_t;

_Static_assert(sizeof(flexspi_nor_config_t) == 512, "FCFB block must be 512 bytes");
_Static_assert(__builtin_offsetof(flexspi_nor_config_t, lookup_table) == 0x80, "LUT offset");
_Static_assert(__builtin_offsetof(flexspi_nor_config_t, page_size) == 0x1C0, "NOR part offset");

__attribute__((section(".boot_hdr.conf"), used))
const flexspi_nor_config_t flexspi_nor_config = {
    .tag = FLEXSPI_CONFIG_TAG,
    .version = 0x56010400,            /* 'V' 1.4.0 */
    .read_sample_clk_src = 1,
    .cs_hold_time = 3,
    .cs_setup_time = 3,
    .controller_misc_option = 0,
    .device_type = 1,
    .sflash_pad_type = 4,
    .serial_clk_freq = 3,
    .sflash_a1_size = 2u * 1024u * 1024u,
    .lookup_table = {
        /* Quad I/O fast read: 0xEB, 24-bit address on 4 pads, 6 dummy cycles. */
        [4 * LUT_SEQ_READ + 0] = LUT_SEQ(CMD_SDR, PADS_1, 0xEB, RADDR_SDR, PADS_4, 24),
        [4 * LUT_SEQ_READ + 1] = LUT_SEQ(DUMMY_SDR, PADS_4, 6, READ_SDR, PADS_4, 4),
        /* Read status register 1. */
        [4 * LUT_SEQ_READ_STATUS + 0] = LUT_SEQ(CMD_SDR, PADS_1, 0x05, READ_SDR, PADS_1, 4),
        [4 * LUT_SEQ_WRITE_ENABLE + 0] = LUT_SEQ(CMD_SDR, PADS_1, 0x06, STOP, PADS_1, 0),
    },
    .page_size = 256,
    .sector_size = 4096,
    .ipcmd_serial_clk_freq = 1,
    .block_size = 64 * 1024,
};
