/* The console on LPUART2 through the NXP SDK: TX on pin 14 (GPIO_AD_B1_02),
   RX on pin 15 (GPIO_AD_B1_03), 115200 8N1. */
#include "fsl_clock.h"
#include "fsl_iomuxc.h"
#include "fsl_lpuart.h"

#include "board.h"
#include "console.h"
#include "memory_map.h"

#define UART_PAD_CONFIG 0x10B0u  /* 100 kohm pull-up, medium speed, drive R0/6 */

void console_init(void)
{
    CLOCK_EnableClock(kCLOCK_Iomuxc);
    IOMUXC_SetPinMux(IOMUXC_GPIO_AD_B1_02_LPUART2_TX, 0);
    IOMUXC_SetPinMux(IOMUXC_GPIO_AD_B1_03_LPUART2_RX, 0);
    IOMUXC_SetPinConfig(IOMUXC_GPIO_AD_B1_02_LPUART2_TX, UART_PAD_CONFIG);
    IOMUXC_SetPinConfig(IOMUXC_GPIO_AD_B1_03_LPUART2_RX, UART_PAD_CONFIG);

    lpuart_config_t config;
    LPUART_GetDefaultConfig(&config);
    config.baudRate_Bps = CONSOLE_BAUD;
    config.enableTx = true;
    config.enableRx = true;
    LPUART_Init(LPUART2, &config, BOARD_UART_CLOCK_HZ);
}

void console_write(const char *text, size_t length)
{
    LPUART_WriteBlocking(LPUART2, (const uint8_t *)text, length);
}

int console_read_byte(void)
{
    if (!(LPUART_GetStatusFlags(LPUART2) & (uint32_t)kLPUART_RxDataRegFullFlag))
        return -1;
    return (int)LPUART_ReadByte(LPUART2);
}
