/*
 * USB OTG1's clocks and PHY, before TinyUSB starts the controller: PLL_USB1
 * at 480 MHz (clock.c already runs it for the UART's 80 MHz; the SDK leaves
 * a running PLL as it is and sets its USB clock outputs), USBPHY1 out of
 * soft reset, ungated and powered, the controller's clock gate on and the
 * 3.0 V regulator the PHY's transceivers need at 3.0 V. The SDK's USB clock
 * call also resets the controller and waits about 1 ms, so that a host sees
 * the device leave the bus when the firmware restarts.
 */
#include "fsl_clock.h"

#include "usb_console.h"

#define XTAL_HZ 24000000u

/* The PHY's high-speed transmitter trim, the values NXP's evaluation board
   set-up uses: D_CAL 12 (the current source), 45 ohm D+/D- terminations 6. */
#define USBPHY_TX_TRIM (USBPHY_TX_D_CAL(0x0C) | USBPHY_TX_TXCAL45DP(0x06) | \
                        USBPHY_TX_TXCAL45DM(0x06))
#define USBPHY_TX_TRIM_MASK (USBPHY_TX_D_CAL_MASK | USBPHY_TX_TXCAL45DP_MASK | \
                             USBPHY_TX_TXCAL45DM_MASK)

void board_usb_init(void)
{
    CLOCK_EnableUsbhs0PhyPllClock(kCLOCK_Usbphy480M, XTAL_HZ);
    CLOCK_EnableUsbhs0Clock(kCLOCK_Usb480M, XTAL_HZ);
    USBPHY1->PWD = 0;                                  /* every PHY block powered */
    USBPHY1->TX = (USBPHY1->TX & ~USBPHY_TX_TRIM_MASK) | USBPHY_TX_TRIM;
}
