/*
 * Core clock to 600 MHz, as Teensyduino runs the Teensy 4.0: the ARM PLL at
 * 1200 MHz divided by 2 for the core and AHB, IPG at 150 MHz. 600 MHz needs
 * VDD_SOC at 1.25 V first. The console's UART root is PLL3's 80 MHz output.
 * The FlexSPI clock the boot ROM set up is left alone: code runs from there.
 */
#include "fsl_clock.h"

#include "board.h"

#define VDD_SOC_1V25 0x12u           /* 0.8 V + 18 x 25 mV */
#define ARM_PLL_LOOP_DIVIDER 100u    /* 24 MHz x 100 / 2 = 1200 MHz */

static void raise_core_voltage(void)
{
    DCDC->REG3 = (DCDC->REG3 & ~DCDC_REG3_TRG_MASK) | DCDC_REG3_TRG(VDD_SOC_1V25);
    while (!(DCDC->REG0 & DCDC_REG0_STS_DC_OK_MASK)) {
    }
}

void board_clock_init(void)
{
    raise_core_voltage();

    /* Run from the 24 MHz oscillator while the ARM PLL is reprogrammed. */
    CLOCK_SetDiv(kCLOCK_PeriphClk2Div, 0);
    CLOCK_SetMux(kCLOCK_PeriphClk2Mux, 1);
    CLOCK_SetMux(kCLOCK_PeriphMux, 1);

    const clock_arm_pll_config_t arm_pll = {.loopDivider = ARM_PLL_LOOP_DIVIDER, .src = 0};
    CLOCK_InitArmPll(&arm_pll);
    CLOCK_SetDiv(kCLOCK_ArmDiv, 1);   /* 1200 / 2 = 600 MHz */
    CLOCK_SetDiv(kCLOCK_AhbDiv, 0);   /* 600 MHz */
    CLOCK_SetDiv(kCLOCK_IpgDiv, 3);   /* 150 MHz */
    CLOCK_SetMux(kCLOCK_PrePeriphMux, 3);
    CLOCK_SetMux(kCLOCK_PeriphMux, 0);

    if (!(CCM_ANALOG->PLL_USB1 & CCM_ANALOG_PLL_USB1_LOCK_MASK)) {
        const clock_usb_pll_config_t usb1_pll = {.loopDivider = 0, .src = 0};
        CLOCK_InitUsb1Pll(&usb1_pll);
    }
    CLOCK_SetMux(kCLOCK_UartMux, 0);  /* pll3_80m */
    CLOCK_SetDiv(kCLOCK_UartDiv, 0);

    SystemCoreClock = BOARD_CORE_CLOCK_HZ;
}
