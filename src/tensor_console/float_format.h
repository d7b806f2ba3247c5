/* Floats as printf("%.9g") prints them, without newlib's float printf. */
#ifndef TEENSYML_FLOAT_FORMAT_H
#define TEENSYML_FLOAT_FORMAT_H

#ifdef __cplusplus
extern "C" {
#endif

/* "-1.17549435e-38" is the longest: sign, 9 digits, point, exponent. */
#define FLOAT_G9_SIZE 20

/* Writes the text of `value` into `out` and returns `out`. */
char *format_float_g9(float value, char out[FLOAT_G9_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
