/*
 * printf("%.9g", (double)value) for a float, exactly, without newlib's float
 * printf (_printf_float and _dtoa_r: about 8 KB of an image that otherwise
 * formats no floating point). Nine significant digits round-trip any
 * float32. The float's exact value m x 2^e becomes a decimal integer with a
 * decimal exponent (m << e, or m x 5^-e x 10^e), is rounded to nine digits
 * half-to-even (as newlib's and CPython's correctly rounded conversions do),
 * then laid out by the %g rules: exponent form when the exponent is below -4
 * or above 8, trailing zeros removed. The same arithmetic prints 64-bit
 * integers (format_uint64) without libgcc's 64-bit division.
 */
#include "float_format.h"

#include <stdint.h>
#include <string.h>

enum { PRECISION = 9, WORDS = 13 };        /* m x 5^149 < 2^24 x 2^347 < 2^416 */

struct big {
    uint32_t word[WORDS];                  /* little endian */
    int used;
};

static void big_multiply(struct big *n, uint32_t factor, uint32_t add)
{
    uint64_t carry = add;
    for (int i = 0; i < n->used; ++i) {
        carry += (uint64_t)n->word[i] * factor;
        n->word[i] = (uint32_t)carry;
        carry >>= 32;
    }
    if (carry)
        n->word[n->used++] = (uint32_t)carry;
}

/* Divides n by `divisor` (at most 65536) in place; returns the remainder.
   Long division by halfwords: every step fits 32 bits, so no image links
   libgcc's 64-bit division (__udivmoddi4, 700 bytes). */
static uint32_t big_divide(struct big *n, uint32_t divisor)
{
    uint32_t remainder = 0;
    for (int i = n->used - 1; i >= 0; --i) {
        const uint32_t high = remainder << 16 | n->word[i] >> 16;
        const uint32_t low = high % divisor << 16 | (n->word[i] & 0xFFFFu);
        n->word[i] = high / divisor << 16 | low / divisor;
        remainder = low % divisor;
    }
    while (n->used > 0 && n->word[n->used - 1] == 0)
        --n->used;
    return remainder;
}

/* The decimal digits of n (most significant first, no leading zero; none
   for 0) into `digits`; returns their count. n ends as 0. */
static int big_digits(struct big *n, char *digits)
{
    char reversed[128];
    int count = 0;
    while (n->used > 0) {
        uint32_t chunk = big_divide(n, 10000u);
        for (int i = 0; i < 4 && (n->used > 0 || chunk); ++i, chunk /= 10)
            reversed[count++] = (char)('0' + chunk % 10);
    }
    for (int i = 0; i < count; ++i)
        digits[i] = reversed[count - 1 - i];
    return count;
}

/* The decimal digits of m x 2^e2 (as big_digits) into `digits`; returns
   their count, and in *exponent10 the power of ten of the last digit. */
static int exact_digits(uint32_t m, int e2, char *digits, int *exponent10)
{
    struct big n = {{m}, 1};
    *exponent10 = 0;
    for (; e2 > 0; --e2)
        big_multiply(&n, 2, 0);
    for (; e2 < 0; ++e2) {                 /* m x 2^-k = m x 5^k x 10^-k */
        big_multiply(&n, 5, 0);
        --*exponent10;
    }
    return big_digits(&n, digits);
}

int format_uint64(uint64_t value, char out[UINT64_TEXT_SIZE])
{
    struct big n = {{(uint32_t)value, (uint32_t)(value >> 32)}, 2};
    while (n.used > 0 && n.word[n.used - 1] == 0)
        --n.used;
    const int count = big_digits(&n, out);
    if (count == 0)
        out[0] = '0';
    return count ? count : 1;
}

/* Rounds digits[0..count) to PRECISION digits, half to even; returns the
   power of ten of the first digit (one more when a carry adds a digit). */
static int round_digits(char *digits, int count, int first_exponent)
{
    if (count <= PRECISION) {
        memset(digits + count, '0', PRECISION - count);
        return first_exponent;
    }
    int up = digits[PRECISION] > '5';
    if (digits[PRECISION] == '5') {
        up = (digits[PRECISION - 1] - '0') & 1;          /* a tie: to even */
        for (int i = PRECISION + 1; i < count; ++i)
            if (digits[i] != '0')
                up = 1;
    }
    for (int i = PRECISION - 1; up && i >= 0; --i) {
        up = digits[i] == '9';
        digits[i] = up ? '0' : (char)(digits[i] + 1);
    }
    if (up) {                                            /* 999999999.5 -> 1000000000 */
        digits[0] = '1';
        return first_exponent + 1;
    }
    return first_exponent;
}

static char *put_exponent(char *out, int exponent)
{
    *out++ = 'e';
    *out++ = exponent < 0 ? '-' : '+';
    if (exponent < 0)
        exponent = -exponent;
    if (exponent >= 100)
        *out++ = (char)('0' + exponent / 100);
    *out++ = (char)('0' + exponent / 10 % 10);
    *out++ = (char)('0' + exponent % 10);
    return out;
}

char *format_float_g9(float value, char out[FLOAT_G9_SIZE])
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    char *p = out;
    if (bits >> 31)
        *p++ = '-';
    uint32_t biased = (bits >> 23) & 0xFF, fraction = bits & 0x7FFFFF;
    if (biased == 0xFF) {
        strcpy(fraction ? out : p, fraction ? "nan" : "inf");
        return out;
    }
    if (biased == 0 && fraction == 0) {
        strcpy(p, "0");
        return out;
    }
    uint32_t m = biased ? fraction | 0x800000 : fraction;
    int e2 = (biased ? (int)biased : 1) - 150;
    char digits[128];
    int exponent10;
    int count = exact_digits(m, e2, digits, &exponent10);
    int exponent = round_digits(digits, count, exponent10 + count - 1);
    int last = PRECISION - 1;                            /* trailing zeros go */
    while (last > 0 && digits[last] == '0')
        --last;
    if (exponent < -4 || exponent >= PRECISION) {
        *p++ = digits[0];
        if (last > 0) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)last);
            p += last;
        }
        p = put_exponent(p, exponent);
    } else if (exponent < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = exponent; i < -1; ++i)
            *p++ = '0';
        memcpy(p, digits, (size_t)last + 1);
        p += last + 1;
    } else {
        memcpy(p, digits, (size_t)exponent + 1);
        p += exponent + 1;
        if (last > exponent) {
            *p++ = '.';
            memcpy(p, digits + exponent + 1, (size_t)(last - exponent));
            p += last - exponent;
        }
    }
    *p = '\0';
    return out;
}
