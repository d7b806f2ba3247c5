/*
 * Our arm_max_pool_s8() for a Cortex-M7 without MVE (CMSIS-NN's declaration,
 * arm_nnfunctions.h), compiled instead of CMSIS-NN's file of the same name
 * (TUNED_KERNELS=1; docs/kernels.md). TFLM's CMSIS-NN MAX_POOL_2D calls it
 * for int8.
 *
 * The same result as CMSIS-NN's, which compares the channels one byte at a
 * time: here four channels of a word at once, SSUB8 setting a GE flag per
 * byte and SEL picking the larger byte, and each output pixel clamped as soon
 * as it is done rather than in a pass over the whole output at the end (the
 * same values: the input and output do not overlap). An output whose window
 * lies wholly in the padding is left as it was and then clamped, as CMSIS-NN
 * does (it never writes such an output).
 */
#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"

#if !defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)
#error "arm_max_pool_s8 here is for DSP cores without MVE (Cortex-M7)"
#endif

/* The larger and the smaller of each of the four int8 lanes of a and b:
 * SSUB8 sets the GE flag of each lane where a >= b, SEL takes those lanes
 * from its first operand and the others from its second. */
static inline int32_t max_s8x4(int32_t a, int32_t b)
{
    int32_t difference, result;
    __asm("ssub8   %[d], %[a], %[b]  \n"
          "sel     %[r], %[a], %[b]  \n"
          : [d] "=&r"(difference), [r] "=r"(result) : [a] "r"(a), [b] "r"(b) : "cc");
    (void)difference;
    return result;
}

static inline int32_t min_s8x4(int32_t a, int32_t b)
{
    int32_t difference, result;
    __asm("ssub8   %[d], %[a], %[b]  \n"
          "sel     %[r], %[b], %[a]  \n"
          : [d] "=&r"(difference), [r] "=r"(result) : [a] "r"(a), [b] "r"(b) : "cc");
    (void)difference;
    return result;
}

/* dst[c] = max(a[c], b[c]) for c < channels; dst may be a. */
static void max_of(int8_t *dst, const int8_t *a, const int8_t *b, int32_t channels)
{
    for (int32_t n = channels >> 2; n > 0; n--)
    {
        const int32_t larger = max_s8x4(arm_nn_read_s8x4_ia(&a), arm_nn_read_s8x4_ia(&b));
        arm_nn_write_s8x4_ia(&dst, larger);
    }
    for (int32_t n = channels & 3; n > 0; n--)
    {
        const int8_t x = *a++, y = *b++;
        *dst++ = MAX(x, y);
    }
}

/* dst[c] clamped to [act_min, act_max] for c < channels. */
static void clamp(int8_t *dst, int32_t channels, int32_t act_min, int32_t act_max)
{
    const int32_t min4 = (int32_t)(0x01010101u * (uint8_t)act_min);
    const int32_t max4 = (int32_t)(0x01010101u * (uint8_t)act_max);
    for (int32_t n = channels >> 2; n > 0; n--)
    {
        arm_nn_write_s8x4_ia(&dst, min_s8x4(max_s8x4(arm_nn_read_s8x4(dst), min4), max4));
    }
    for (int32_t n = channels & 3; n > 0; n--, dst++)
    {
        *dst = (int8_t)MIN(MAX(*dst, act_min), act_max);
    }
}

arm_cmsis_nn_status arm_max_pool_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_pool_params *pool_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *src,
                                    const cmsis_nn_dims *filter_dims,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *dst)
{
    const int32_t input_y = input_dims->h, input_x = input_dims->w;
    const int32_t output_y = output_dims->h, output_x = output_dims->w;
    const int32_t stride_y = pool_params->stride.h, stride_x = pool_params->stride.w;
    const int32_t kernel_y = filter_dims->h, kernel_x = filter_dims->w;
    const int32_t pad_y = pool_params->padding.h, pad_x = pool_params->padding.w;
    (void)ctx;
    if (input_dims->n < 1)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t channels = input_dims->c;
    const int32_t act_min = pool_params->activation.min, act_max = pool_params->activation.max;
    const int full_range = act_min <= INT8_MIN && act_max >= INT8_MAX;
    for (int32_t batch = 0; batch < input_dims->n; batch++)
    {
        for (int32_t out_y = 0, base_y = -pad_y; out_y < output_y; out_y++, base_y += stride_y)
        {
            /* A window wholly in the padding ends where it starts: no position. */
            const int32_t y_start = MAX(0, base_y);
            const int32_t y_end = MAX(y_start, MIN(base_y + kernel_y, input_y));
            for (int32_t out_x = 0, base_x = -pad_x; out_x < output_x;
                 out_x++, base_x += stride_x, dst += channels)
            {
                const int32_t x_start = MAX(0, base_x);
                const int32_t x_end = MAX(x_start, MIN(base_x + kernel_x, input_x));
                /* The window's first position against the second, then the larger
                 * (in dst) against each next one; a window of one position against
                 * itself, which copies it. */
                const int32_t width = x_end - x_start;
                const int32_t positions = (y_end - y_start) * width;
                const int8_t *larger = src + (y_start * input_x + x_start) * channels;
                for (int32_t i = positions > 1; i < positions; i++, larger = dst)
                {
                    const int32_t y = y_start + i / width, x = x_start + i % width;
                    max_of(dst, larger, src + (y * input_x + x) * channels, channels);
                }
                if (!full_range)
                {
                    clamp(dst, channels, act_min, act_max);
                }
            }
        }
        src += input_y * input_x * channels;
    }
    return ARM_CMSIS_NN_SUCCESS;
}
