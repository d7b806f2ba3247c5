/*
 * The requantization of our tuned convolution files: the value CMSIS-NN's
 * arm_nn_requantize() gives (double rounding, as TFLM's reference kernels),
 * then the output offset and the activation clamp, in fewer instructions.
 * A channel's constants are prepared once (channel_of) for all its outputs.
 */
#ifndef TEENSYML_CMSIS_NN_REQUANTIZE_H
#define TEENSYML_CMSIS_NN_REQUANTIZE_H

#include <arm_acle.h>

#include "arm_nnsupportfunctions.h"

struct channel
{
    int32_t mask;          /* 2^right - 1 */
    int32_t threshold;     /* the least remainder that rounds up: mask / 2 + 1,
                              one more for a negative value */
    int32_t multiplier;
    int32_t right;         /* shift < 0: divide by 2^-shift, rounding half away from 0 */
    int32_t left;          /* shift > 0: shift the accumulator left first */
};

static inline struct channel channel_of(int32_t multiplier, int32_t shift)
{
    struct channel c;
    c.multiplier = multiplier;
    c.left = LEFT_SHIFT(shift);
    c.right = RIGHT_SHIFT(shift);
    c.mask = (int32_t)((1u << c.right) - 1u);
    c.threshold = (c.mask >> 1) + 1;
    return c;
}

/* arm_nn_requantize(acc, multiplier, shift), offset and clamped. The doubling
 * high multiply, (acc * m + 2^30) >> 31, is SMULL and the rounding bit (bit
 * 30 of the low word) added through the carry (as upstream CMSIS-NN's #171);
 * the division by 2^right is arm_nn_divide_by_power_of_two() with its mask
 * and threshold precomputed. `full_range` (a constant where it is inlined):
 * act_min -128 and act_max 127, so one SSAT clamps. */
static inline __attribute__((always_inline)) int8_t
output_value(int32_t acc, const struct channel *c, int32_t out_offset, int32_t act_min,
             int32_t act_max, const int full_range)
{
    int32_t low, high;
    __asm("smull   %[low], %[high], %[x], %[m]   \n"
          "lsrs    %[low], %[low], #31           \n"
          "adc     %[high], %[low], %[high], lsl #1 \n"
          : [low] "=&r"(low), [high] "=&r"(high)
          : [x] "r"(acc << c->left), [m] "r"(c->multiplier)
          : "cc");
    const int32_t remainder = high & c->mask;
    const int32_t threshold = c->threshold + (int32_t)((uint32_t)high >> 31);
    int32_t value = (high >> c->right) + (remainder >= threshold) + out_offset;
    if (full_range)
    {
        return (int8_t)__ssat(value, 8);
    }
    value = MAX(value, act_min);
    return (int8_t)MIN(value, act_max);
}

#endif
