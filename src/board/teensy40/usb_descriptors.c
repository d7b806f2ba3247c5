/*
 * The USB serial console's descriptors: the device enumerates as
 * Teensyduino's "USB Serial" does (VID 0x16C0, PID 0x0483, the same strings,
 * bcdDevice 0x0280 of a Teensy 4.0), so the host tools people use with the
 * board (teensy_loader_cli -s, Teensyduino's port finder, PlatformIO)
 * recognise it. One CDC-ACM function: an interface association, the
 * communication interface with its interrupt-IN notification endpoint, the
 * data interface with a bulk OUT/IN pair; 512-byte packets at high speed,
 * 64 at full speed. The arrays have external names so that
 * tests/test_usb_descriptors.py can read them out of the ELF.
 */
#include <string.h>

#include "fsl_device_registers.h"
#include "tusb.h"

#include "usb_console.h"

enum { ITF_COMM, ITF_DATA, ITF_COUNT };
enum { STR_LANGUAGE, STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL, STR_COUNT };

#define EP_NOTIFY 0x82u           /* as Teensyduino: notification on EP2 IN, */
#define EP_DATA_OUT 0x03u         /* data from the host on EP3 OUT, */
#define EP_DATA_IN 0x84u          /* data to the host on EP4 IN */
#define NOTIFY_PACKET 16u
#define HS_BULK_PACKET 512u
#define FS_BULK_PACKET 64u
#define CONFIG_LENGTH (TUD_CONFIG_DESC_LEN + TUD_CDC_DESC_LEN)
#define POWER_MA 100u

const uint8_t usb_device_descriptor[18] = {
    18, TUSB_DESC_DEVICE, U16_TO_U8S_LE(0x0200),
    /* Miscellaneous / common class / interface association: the functions
       are described by the interface association descriptor. */
    TUSB_CLASS_MISC, MISC_SUBCLASS_COMMON, MISC_PROTOCOL_IAD,
    CFG_TUD_ENDPOINT0_SIZE,
    U16_TO_U8S_LE(USB_CONSOLE_VID), U16_TO_U8S_LE(USB_CONSOLE_PID),
    U16_TO_U8S_LE(0x0280),
    STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL,
    1,
};

/* What a high-speed device answers about its full-speed self, and back. */
const uint8_t usb_qualifier_descriptor[10] = {
    10, TUSB_DESC_DEVICE_QUALIFIER, U16_TO_U8S_LE(0x0200),
    TUSB_CLASS_MISC, MISC_SUBCLASS_COMMON, MISC_PROTOCOL_IAD,
    CFG_TUD_ENDPOINT0_SIZE, 1, 0,
};

const uint8_t usb_config_descriptor_hs[CONFIG_LENGTH] = {
    TUD_CONFIG_DESCRIPTOR(1, ITF_COUNT, 0, CONFIG_LENGTH, 0x00, POWER_MA),
    TUD_CDC_DESCRIPTOR(ITF_COMM, 0, EP_NOTIFY, NOTIFY_PACKET, EP_DATA_OUT, EP_DATA_IN,
                       HS_BULK_PACKET),
};

const uint8_t usb_config_descriptor_fs[CONFIG_LENGTH] = {
    TUD_CONFIG_DESCRIPTOR(1, ITF_COUNT, 0, CONFIG_LENGTH, 0x00, POWER_MA),
    TUD_CDC_DESCRIPTOR(ITF_COMM, 0, EP_NOTIFY, NOTIFY_PACKET, EP_DATA_OUT, EP_DATA_IN,
                       FS_BULK_PACKET),
};

const char usb_manufacturer_string[] = "Teensyduino";
const char usb_product_string[] = "USB Serial";

uint8_t const *tud_descriptor_device_cb(void)
{
    return usb_device_descriptor;
}

uint8_t const *tud_descriptor_device_qualifier_cb(void)
{
    return usb_qualifier_descriptor;
}

static const uint8_t *config_for(tusb_speed_t speed)
{
    return speed == TUSB_SPEED_HIGH ? usb_config_descriptor_hs : usb_config_descriptor_fs;
}

uint8_t const *tud_descriptor_configuration_cb(uint8_t index)
{
    (void)index;
    return config_for(tud_speed_get());
}

uint8_t const *tud_descriptor_other_speed_configuration_cb(uint8_t index)
{
    /* The configuration at the speed we are not running at, typed as such. */
    static uint8_t other[CONFIG_LENGTH];
    (void)index;
    memcpy(other, config_for(tud_speed_get() == TUSB_SPEED_HIGH ? TUSB_SPEED_FULL
                                                                : TUSB_SPEED_HIGH),
           sizeof other);
    other[1] = TUSB_DESC_OTHER_SPEED_CONFIG;
    return other;
}

/* Teensyduino's serial number: the low 24 bits of the MAC address fuse, in
   decimal, times ten when under eight digits (its work-around for a macOS
   CDC-ACM bug); teensy_loader_cli and HalfKay report the same number. */
static size_t serial_number(char *text)
{
    uint32_t number = OCOTP->MAC0 & 0xFFFFFFu;
    if (number < 10000000u)
        number *= 10u;
    char digits[10];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + number % 10u);
        number /= 10u;
    } while (number);
    for (size_t i = 0; i < count; i++)
        text[i] = digits[count - 1 - i];
    return count;
}

uint16_t const *tud_descriptor_string_cb(uint8_t index, uint16_t langid)
{
    static uint16_t descriptor[1 + 16];      /* header, then UTF-16LE characters */
    char serial[10];
    const char *text;
    size_t length;
    (void)langid;
    switch (index) {
    case STR_LANGUAGE:
        descriptor[1] = 0x0409;               /* English (United States) */
        length = 1;
        text = NULL;
        break;
    case STR_MANUFACTURER:
        text = usb_manufacturer_string;
        length = sizeof usb_manufacturer_string - 1;
        break;
    case STR_PRODUCT:
        text = usb_product_string;
        length = sizeof usb_product_string - 1;
        break;
    case STR_SERIAL:
        text = serial;
        length = serial_number(serial);
        break;
    default:
        return NULL;                          /* STALL: no such string */
    }
    for (size_t i = 0; text && i < length; i++)
        descriptor[1 + i] = (uint8_t)text[i];
    descriptor[0] = (uint16_t)((TUSB_DESC_STRING << 8) | (2u * length + 2u));
    return descriptor;
}
