/*
 * Our arm_convolve_s8() for a Cortex-M7 without MVE (CMSIS-NN's declaration,
 * arm_nnfunctions.h), compiled instead of CMSIS-NN's file of the same name
 * (TUNED_KERNELS=1; docs/kernels.md). CMSIS-NN's own version stays in the
 * build as upstream_arm_convolve_s8(); grouped and upscaled (transpose)
 * convolutions go to it unchanged.
 *
 * What differs from CMSIS-NN's is the im2col step, which CMSIS-NN does with a
 * memcpy call per kernel position (per byte when the input has one channel,
 * as a first layer on an image does). Here, with the channel count a multiple
 * of 4, each column is written as int16 directly, four channels at a time with
 * SXTAB16, in the layout arm_nn_mat_mult_kernel_s8_s16() reads (see that
 * file); otherwise the int8 values are gathered with plain loops and widened
 * by CMSIS-NN's arm_s8_to_s16_unordered_with_offset(). Windows with no
 * padding skip the bounds checks. The sums, requantization and clamping are
 * CMSIS-NN's, so the outputs are the same bit for bit
 * (tests/test_cmsis_nn_tuned.py).
 */
#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"
#include "upstream.h"

#if !defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)
#error "arm_convolve_s8 here is for DSP cores without MVE (Cortex-M7)"
#endif

/* The int16 im2col column of output position (out_x, out_y): input + offset,
 * 0 where the kernel reaches into the padding. */
static void write_column(int16_t *column, const int8_t *input, int32_t input_x, int32_t input_y,
                         int32_t channels, int32_t kernel_x, int32_t kernel_y, int32_t base_x,
                         int32_t base_y, int32_t dilation_x, int32_t dilation_y, int16_t offset)
{
    const int32_t cols = kernel_x * kernel_y * channels;
    const int inside = base_x >= 0 && base_y >= 0 &&
                       base_x + dilation_x * (kernel_x - 1) < input_x &&
                       base_y + dilation_y * (kernel_y - 1) < input_y;
    if (inside)
    {
        /* No padding (the common case): no bounds checks per position. */
        const int32_t row_step = dilation_y * input_x * channels;
        const int32_t position_step = dilation_x * channels;
        const int8_t *row = input + (base_y * input_x + base_x) * channels;
        if ((channels & 3) == 0)
        {
            const int32_t offset_x2 = PKHBT(offset, offset, 16);
            int32_t *dst = (int32_t *)column;
            for (int32_t ky = 0; ky < kernel_y; ky++, row += row_step)
            {
                const int8_t *position = row;
                for (int32_t kx = 0; kx < kernel_x; kx++, position += position_step)
                {
                    const int8_t *src = position;
                    for (int32_t c = channels >> 2; c > 0; c--)
                    {
                        const int32_t in = arm_nn_read_s8x4_ia(&src);
                        *dst++ = SXTAB16(offset_x2, in);
                        *dst++ = SXTAB16(offset_x2, ROR((uint32_t)in, 8));
                    }
                }
            }
            return;
        }
        int8_t *gathered = (int8_t *)column + ((cols + 3) & ~3);
        int8_t *dst = gathered;
        for (int32_t ky = 0; ky < kernel_y; ky++, row += row_step)
        {
            const int8_t *position = row;
            for (int32_t kx = 0; kx < kernel_x; kx++, position += position_step)
            {
                for (int32_t c = 0; c < channels; c++)
                {
                    *dst++ = position[c];
                }
            }
        }
        arm_s8_to_s16_unordered_with_offset(gathered, column, cols, offset);
        return;
    }
    if ((channels & 3) == 0)
    {
        const int32_t offset_x2 = PKHBT(offset, offset, 16);
        int32_t *dst = (int32_t *)column;
        for (int32_t ky = 0; ky < kernel_y; ky++)
        {
            const int32_t y = base_y + dilation_y * ky;
            for (int32_t kx = 0; kx < kernel_x; kx++)
            {
                const int32_t x = base_x + dilation_x * kx;
                if (y < 0 || y >= input_y || x < 0 || x >= input_x)
                {
                    for (int32_t c = 0; c < channels; c += 4)
                    {
                        *dst++ = 0;
                        *dst++ = 0;
                    }
                    continue;
                }
                const int8_t *src = input + (y * input_x + x) * channels;
                for (int32_t c = 0; c < channels; c += 4)
                {
                    const int32_t in = arm_nn_read_s8x4_ia(&src);
                    *dst++ = SXTAB16(offset_x2, in);
                    *dst++ = SXTAB16(offset_x2, ROR((uint32_t)in, 8));
                }
            }
        }
        return;
    }
    /* Otherwise: gather the int8 values (the padding as -offset, which widens
     * to 0) into the column's second half, then widen them in place, front to
     * back: each word read is written as two words no further on. */
    int8_t *gathered = (int8_t *)column + ((cols + 3) & ~3);
    int8_t *dst = gathered;
    for (int32_t ky = 0; ky < kernel_y; ky++)
    {
        const int32_t y = base_y + dilation_y * ky;
        for (int32_t kx = 0; kx < kernel_x; kx++)
        {
            const int32_t x = base_x + dilation_x * kx;
            if (y < 0 || y >= input_y || x < 0 || x >= input_x)
            {
                for (int32_t c = 0; c < channels; c++)
                {
                    *dst++ = (int8_t)-offset;
                }
                continue;
            }
            const int8_t *src = input + (y * input_x + x) * channels;
            for (int32_t c = 0; c < channels; c++)
            {
                *dst++ = src[c];
            }
        }
    }
    arm_s8_to_s16_unordered_with_offset(gathered, column, cols, offset);
}

/* The outputs of one column alone (an odd last position): CMSIS-NN's sums. */
static int8_t *single_column(const int8_t *filter, const int16_t *column, int32_t output_ch,
                             int32_t cols, const int32_t *bias, const int32_t *mult,
                             const int32_t *shift, int32_t out_offset, int32_t act_min,
                             int32_t act_max, int8_t *out)
{
    for (int32_t ch = 0; ch < output_ch; ch++)
    {
        int32_t sum = bias ? bias[ch] : 0;
        const int16_t *b = column;
        for (int32_t n = cols >> 2; n > 0; n--)
        {
            int32_t a1, a2;
            filter = read_and_pad_reordered(filter, &a1, &a2);
            sum = SMLAD(a1, arm_nn_read_q15x2_ia(&b), sum);
            sum = SMLAD(a2, arm_nn_read_q15x2_ia(&b), sum);
        }
        for (int32_t n = cols & 3; n > 0; n--)
        {
            sum += *filter++ * *b++;
        }
        sum = arm_nn_requantize(sum, mult[ch], shift[ch]) + out_offset;
        sum = MAX(sum, act_min);
        *out++ = (int8_t)MIN(sum, act_max);
    }
    return out;
}

arm_cmsis_nn_status arm_convolve_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_conv_params *conv_params,
                                    const cmsis_nn_per_channel_quant_params *quant_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *input_data,
                                    const cmsis_nn_dims *filter_dims,
                                    const int8_t *filter_data,
                                    const cmsis_nn_dims *bias_dims,
                                    const int32_t *bias_data,
                                    const cmsis_nn_dims *upscale_dims,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *output_data)
{
    const int upscaled = upscale_dims && (upscale_dims->h != 1 || upscale_dims->w != 1);
    if (ctx->buf == NULL || input_dims->c != filter_dims->c || upscaled)
    {
        return upstream_arm_convolve_s8(ctx, conv_params, quant_params, input_dims, input_data,
                                        filter_dims, filter_data, bias_dims, bias_data,
                                        upscale_dims, output_dims, output_data);
    }
    const int32_t channels = input_dims->c;
    const int32_t cols = filter_dims->w * filter_dims->h * channels;
    const int32_t aligned_cols = (cols + 3) & ~3;
    const int32_t output_ch = output_dims->c;
    const int16_t offset = (int16_t)conv_params->input_offset;
    int16_t *columns = (int16_t *)ctx->buf;    /* two columns of aligned_cols */

    for (int32_t batch = 0; batch < input_dims->n; batch++)
    {
        int8_t *out = output_data;
        int32_t filled = 0;
        for (int32_t out_y = 0; out_y < output_dims->h; out_y++)
        {
            for (int32_t out_x = 0; out_x < output_dims->w; out_x++)
            {
                write_column(columns + filled * aligned_cols, input_data, input_dims->w,
                             input_dims->h, channels, filter_dims->w, filter_dims->h,
                             conv_params->stride.w * out_x - conv_params->padding.w,
                             conv_params->stride.h * out_y - conv_params->padding.h,
                             conv_params->dilation.w, conv_params->dilation.h, offset);
                if (++filled == 2)
                {
                    out = arm_nn_mat_mult_kernel_s8_s16(filter_data, columns, output_ch,
                                                        quant_params->shift,
                                                        quant_params->multiplier,
                                                        conv_params->output_offset,
                                                        conv_params->activation.min,
                                                        conv_params->activation.max, cols,
                                                        aligned_cols, bias_data, out);
                    filled = 0;
                }
            }
        }
        if (filled)
        {
            out = single_column(filter_data, columns, output_ch, cols, bias_data,
                                quant_params->multiplier, quant_params->shift,
                                conv_params->output_offset, conv_params->activation.min,
                                conv_params->activation.max, out);
        }
        input_data += input_dims->w * input_dims->h * channels;
        output_data += output_dims->w * output_dims->h * output_ch;
    }
    return ARM_CMSIS_NN_SUCCESS;
}
