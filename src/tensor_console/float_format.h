/* Floats as printf("%.9g") prints them, without newlib's float printf, and
   64-bit integers in decimal without libgcc's 64-bit division. */
#ifndef TEENSYML_FLOAT_FORMAT_H
#define TEENSYML_FLOAT_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "-1.17549435e-38" is the longest: sign, 9 digits, point, exponent. */
#define FLOAT_G9_SIZE 20

/* Writes the text of `value` into `out` and returns `out`. */
char *format_float_g9(float value, char out[FLOAT_G9_SIZE]);

/* 18446744073709551615: 20 digits. */
#define UINT64_TEXT_SIZE 20

/* Writes the decimal digits of `value` (no terminator) into `out`; returns
   their count. */
int format_uint64(uint64_t value, char out[UINT64_TEXT_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
