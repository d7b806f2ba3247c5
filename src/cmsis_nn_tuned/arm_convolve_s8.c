/*
 * Our arm_convolve_s8() for a Cortex-M7 without MVE (CMSIS-NN's declaration,
 * arm_nnfunctions.h), compiled instead of CMSIS-NN's file of the same name
 * (TUNED_KERNELS=1; docs/kernels.md). CMSIS-NN's own version stays in the
 * build as upstream_arm_convolve_s8(); grouped and upscaled (transpose)
 * convolutions, and a scratch buffer that is not word aligned, go to it
 * unchanged.
 *
 * Two paths:
 * - One input channel and a 3x3 kernel (a first layer on an image):
 *   single_channel_3x3() below, no im2col.
 * - Otherwise im2col and arm_nn_mat_mult_kernel_s8_s16(), as CMSIS-NN does,
 *   but CMSIS-NN builds each column with a memcpy call per kernel position.
 *   Here, with the channel count a multiple of 4, each column is written as
 *   int16 directly, four channels at a time with SXTAB16, interleaved with
 *   the other column of its pair for mat_mult_kernel_s8_s16_interleaved()
 *   (mat_mult.h); otherwise the int8 values are gathered with plain loops and
 *   widened by CMSIS-NN's arm_s8_to_s16_unordered_with_offset() for CMSIS-NN's
 *   layout. Windows with no padding skip the bounds checks.
 * The sums, requantization and clamping are CMSIS-NN's, so the outputs are
 * the same bit for bit (tests/test_cmsis_nn_tuned.py).
 */
#include <string.h>

#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"
#include "mat_mult.h"
#include "requantize.h"
#include "upstream.h"

#if !defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)
#error "arm_convolve_s8 here is for DSP cores without MVE (Cortex-M7)"
#endif

/* The int16 im2col column of output position (out_x, out_y): input + offset,
 * 0 where the kernel reaches into the padding. With `channels` a multiple of
 * 4, each four values (two words) are `step` words after the previous four:
 * 2 to write them in a row, 4 to interleave them with another column's (see
 * mat_mult.h); otherwise they are in a row. */
static void write_column(int16_t *column, const int8_t *input, int32_t input_x, int32_t input_y,
                         int32_t channels, int32_t kernel_x, int32_t kernel_y, int32_t base_x,
                         int32_t base_y, int32_t dilation_x, int32_t dilation_y, int16_t offset,
                         int32_t step)
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
                    for (int32_t c = channels >> 2; c > 0; c--, dst += step)
                    {
                        const int32_t in = arm_nn_read_s8x4_ia(&src);
                        dst[0] = SXTAB16(offset_x2, in);
                        dst[1] = SXTAB16(offset_x2, ROR((uint32_t)in, 8));
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
                    for (int32_t c = 0; c < channels; c += 4, dst += step)
                    {
                        dst[0] = 0;
                        dst[1] = 0;
                    }
                    continue;
                }
                const int8_t *src = input + (y * input_x + x) * channels;
                for (int32_t c = 0; c < channels; c += 4, dst += step)
                {
                    const int32_t in = arm_nn_read_s8x4_ia(&src);
                    dst[0] = SXTAB16(offset_x2, in);
                    dst[1] = SXTAB16(offset_x2, ROR((uint32_t)in, 8));
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

/* The outputs of one column alone (an odd last position) in CMSIS-NN's
 * layout: CMSIS-NN's sums. */
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

/* The outputs of one column alone (an odd last position) in the interleaved
 * layout: the matrix kernel runs on the pair (the second place holds the
 * previous pair's column) up to LAST_COLUMN_CHANNELS channels at a time into
 * a buffer, and the first column's outputs are kept. Twice the MACs, but in
 * the kernel's loop rather than one at a time. The groups go backwards with
 * the channels when `backwards` (see mat_mult.h). */
enum { LAST_COLUMN_CHANNELS = 32 };

static int8_t *last_column_interleaved(const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const int8_t *filter, const int32_t *bias,
                                       const int16_t *columns, int32_t output_ch, int32_t cols,
                                       int backwards, int8_t *out)
{
    int8_t both[2 * LAST_COLUMN_CHANNELS];
    const int32_t groups = (output_ch + LAST_COLUMN_CHANNELS - 1) / LAST_COLUMN_CHANNELS;
    for (int32_t g = 0; g < groups; g++)
    {
        const int32_t first = LAST_COLUMN_CHANNELS * (backwards ? groups - 1 - g : g);
        const int32_t count = MIN(LAST_COLUMN_CHANNELS, output_ch - first);
        mat_mult_kernel_s8_s16_interleaved(filter + first * cols, columns, count,
                                           quant_params->shift + first,
                                           quant_params->multiplier + first,
                                           conv_params->output_offset,
                                           conv_params->activation.min,
                                           conv_params->activation.max, cols,
                                           bias ? bias + first : NULL, both, backwards);
        memcpy(out + first, both, count);
    }
    return out + output_ch;
}

/* One input channel and a 3x3 kernel (a first layer on an image): 9 MACs per
 * output, so the per-output work decides. A window's 9 inputs stay in
 * registers as int16 pairs while every output channel's weights, bias and
 * requantization constants, prepared once per call in `window_channel`, are
 * streamed past them: 5 SMLAD and one requantization per output. */
enum { WINDOW_PAIRS = 5, WINDOW_CHANNELS = 32 };

struct window_channel
{
    struct channel q;                /* q.left is 0: folded into bias and weights */
    int32_t bias;
    int32_t weights[WINDOW_PAIRS];   /* int16 pairs (w0, w1) .. (w6, w7), (w8, 0) */
};

/* window_outputs_full_range() reads the table by these offsets. */
_Static_assert(sizeof(struct window_channel) == 44 &&
                   __builtin_offsetof(struct window_channel, q.mask) == 0 &&
                   __builtin_offsetof(struct window_channel, q.threshold) == 4 &&
                   __builtin_offsetof(struct window_channel, q.multiplier) == 8 &&
                   __builtin_offsetof(struct window_channel, q.right) == 12 &&
                   __builtin_offsetof(struct window_channel, bias) == 20 &&
                   __builtin_offsetof(struct window_channel, weights) == 24,
               "window_channel layout");

/* The table of output channels [first, first + count). An accumulator shifted
 * left by q.left is the same sum (modulo 2^32) of the weights and bias shifted
 * left, so the shift is done here (the weights still fit in int16: the caller
 * checked that no left shift is over 7). */
static void window_table(struct window_channel *table, int32_t first, int32_t count,
                         const int8_t *filter_data, const int32_t *bias_data,
                         const cmsis_nn_per_channel_quant_params *quant_params)
{
    for (int32_t i = 0; i < count; i++)
    {
        const int32_t ch = first + i;
        struct window_channel *entry = &table[i];
        entry->q = channel_of(quant_params->multiplier[ch], quant_params->shift[ch]);
        const int32_t left = entry->q.left;
        entry->q.left = 0;
        const int8_t *w = filter_data + 9 * ch;
        for (int32_t k = 0; k < 4; k++)
        {
            entry->weights[k] = PKHBT(w[2 * k] << left, w[2 * k + 1] << left, 16);
        }
        entry->weights[4] = (uint16_t)(w[8] << left);
        entry->bias = (int32_t)((uint32_t)(bias_data ? bias_data[ch] : 0) << left);
    }
}

/* The outputs of one window for every channel of the table, clamped by
 * output_value(): the specification of the loop below. */
static int8_t *window_outputs(const struct window_channel *table,
                              const struct window_channel *end,
                              const int32_t x[WINDOW_PAIRS], int32_t out_offset, int32_t act_min,
                              int32_t act_max, int8_t *out)
{
    for (; table < end; table++)
    {
        int32_t acc = table->bias;
        for (int32_t k = 0; k < WINDOW_PAIRS; k++)
        {
            acc = SMLAD(x[k], table->weights[k], acc);
        }
        *out++ = output_value(acc, &table->q, out_offset, act_min, act_max, 0);
    }
    return out;
}

/* The same with the full int8 range (no clamp but the saturation) for an
 * even number of channels, two a pass, in 22 instructions and 21 modelled
 * cycles per output where GCC makes 33 and 29: the table read with LDRD, the
 * sums in two chains (a SMLAD's result is ready two cycles on), and the
 * rounding bit added through the carry with the output offset. Never
 * inlined: its 14 registers are all there are. */
static __attribute__((noinline)) int8_t *
window_outputs_full_range(const struct window_channel *table, const struct window_channel *end,
                          const int32_t x[WINDOW_PAIRS], int32_t out_offset, int8_t *out)
{
    int32_t acc, a, b, c, e;
#define OUTPUT                                                                                 \
    "   ldrd    %[acc], %[a], [%[t], #20]     \n" /* bias, w0 */                              \
    "   ldrd    %[b], %[c], [%[t], #28]       \n" /* w1, w2 */                                \
    "   smlad   %[acc], %[x0], %[a], %[acc]   \n"                                             \
    "   smuad   %[e], %[x1], %[b]             \n"                                             \
    "   ldrd    %[a], %[b], [%[t], #36]       \n" /* w3, w4 */                                \
    "   smlad   %[acc], %[x2], %[c], %[acc]   \n"                                             \
    "   smlad   %[e], %[x3], %[a], %[e]       \n"                                             \
    "   smlad   %[acc], %[x4], %[b], %[acc]   \n"                                             \
    "   ldrd    %[a], %[b], [%[t], #8]        \n" /* multiplier, right */                     \
    "   add     %[acc], %[acc], %[e]          \n"                                             \
    "   smull   %[c], %[acc], %[acc], %[a]    \n" /* high = (acc * m + 2^30) >> 31 */         \
    "   lsrs    %[c], %[c], #31               \n"                                             \
    "   adc     %[acc], %[c], %[acc], lsl #1  \n"                                             \
    "   ldrd    %[a], %[c], [%[t]], #44       \n" /* mask, threshold; t to the next */        \
    "   and     %[a], %[a], %[acc]            \n" /* remainder */                             \
    "   add     %[c], %[c], %[acc], lsr #31   \n" /* one more if high < 0 */                  \
    "   asr     %[acc], %[acc], %[b]          \n"                                             \
    "   cmp     %[a], %[c]                    \n" /* carry: remainder >= threshold */         \
    "   adc     %[acc], %[acc], %[offset]     \n"                                             \
    "   ssat    %[acc], #8, %[acc]            \n"                                             \
    "   strb    %[acc], [%[out]], #1          \n"
    __asm volatile(
        "1:                                       \n" OUTPUT OUTPUT
        "   cmp     %[t], %[end]                  \n"
        "   bne     1b                            \n"
        : [acc] "=&r"(acc), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [e] "=&r"(e),
          [t] "+&r"(table), [out] "+&r"(out)
        : [x0] "r"(x[0]), [x1] "r"(x[1]), [x2] "r"(x[2]), [x3] "r"(x[3]), [x4] "r"(x[4]),
          [offset] "r"(out_offset), [end] "r"(end)
        : "cc", "memory");
#undef OUTPUT
    return out;
}

/* The window of the output at (base_x, base_y) as int16 pairs: input +
 * offset, 0 in the padding. */
static void window_pairs(int32_t pairs[WINDOW_PAIRS], const int8_t *input, int32_t input_x,
                         int32_t input_y, int32_t base_x, int32_t base_y, int32_t dilation_x,
                         int32_t dilation_y, int32_t offset)
{
    const int32_t last_x = base_x + 2 * dilation_x, last_y = base_y + 2 * dilation_y;
    if (base_x >= 0 && base_y >= 0 && last_x < input_x && last_y < input_y)
    {
        const int32_t offset_x2 = PKHBT(offset, offset, 16);
        const int8_t *r0 = input + base_y * input_x + base_x;
        const int8_t *r1 = r0 + dilation_y * input_x, *r2 = r1 + dilation_y * input_x;
        const int32_t dx = dilation_x, dx2 = 2 * dilation_x;
        pairs[0] = SADD16(PKHBT(r0[0], r0[dx], 16), offset_x2);
        pairs[1] = SADD16(PKHBT(r0[dx2], r1[0], 16), offset_x2);
        pairs[2] = SADD16(PKHBT(r1[dx], r1[dx2], 16), offset_x2);
        pairs[3] = SADD16(PKHBT(r2[0], r2[dx], 16), offset_x2);
        pairs[4] = r2[dx2] + offset;
        return;
    }
    int16_t values[2 * WINDOW_PAIRS] = {0};
    int16_t *value = values;
    for (int32_t y = base_y; y <= last_y; y += dilation_y)
    {
        for (int32_t x = base_x; x <= last_x; x += dilation_x, value++)
        {
            if (y >= 0 && y < input_y && x >= 0 && x < input_x)
            {
                *value = (int16_t)(input[y * input_x + x] + offset);
            }
        }
    }
    for (int32_t i = 0; i < WINDOW_PAIRS; i++)
    {
        pairs[i] = PKHBT(values[2 * i], values[2 * i + 1], 16);
    }
}

/* Returns 0, having written nothing, when a left shift is over 7 (TFLite
 * models have none): shifted weights would not fit in int16 (window_table()). */
static int single_channel_3x3(const cmsis_nn_conv_params *conv_params,
                              const cmsis_nn_per_channel_quant_params *quant_params,
                              const cmsis_nn_dims *input_dims, const int8_t *input_data,
                              const int8_t *filter_data, const int32_t *bias_data,
                              const cmsis_nn_dims *output_dims, int8_t *output_data)
{
    /* Copies the loops keep (in registers where they fit) across the calls. */
    const int32_t batches = input_dims->n, input_x = input_dims->w, input_y = input_dims->h;
    const int32_t output_x = output_dims->w, output_y = output_dims->h, output_ch = output_dims->c;
    const int32_t stride_x = conv_params->stride.w, stride_y = conv_params->stride.h;
    const int32_t pad_x = conv_params->padding.w, pad_y = conv_params->padding.h;
    const int32_t dilation_x = conv_params->dilation.w, dilation_y = conv_params->dilation.h;
    const int32_t input_offset = conv_params->input_offset;
    const int32_t output_offset = conv_params->output_offset;
    const int32_t act_min = conv_params->activation.min, act_max = conv_params->activation.max;
    const int full_range = act_min == INT8_MIN && act_max == INT8_MAX;
    for (int32_t ch = 0; ch < output_ch; ch++)
    {
        if (LEFT_SHIFT(quant_params->shift[ch]) > 7)
        {
            return 0;
        }
    }
    struct window_channel table[WINDOW_CHANNELS];
    /* Output channels in groups the table holds; each group visits every window. */
    for (int32_t first = 0; first < output_ch; first += WINDOW_CHANNELS)
    {
        const int32_t count = MIN(WINDOW_CHANNELS, output_ch - first);
        window_table(table, first, count, filter_data, bias_data, quant_params);
        const int8_t *input = input_data;
        int8_t *out = output_data + first;
        for (int32_t batch = 0; batch < batches; batch++, input += input_x * input_y)
        {
            for (int32_t base_y = -pad_y, out_y = 0; out_y < output_y; out_y++, base_y += stride_y)
            {
                for (int32_t base_x = -pad_x, out_x = 0; out_x < output_x;
                     out_x++, base_x += stride_x, out += output_ch)
                {
                    int32_t pairs[WINDOW_PAIRS];
                    window_pairs(pairs, input, input_x, input_y, base_x, base_y, dilation_x,
                                 dilation_y, input_offset);
                    /* The assembly loop takes the channels in pairs; the rest here. */
                    const int32_t fast = full_range ? count & ~1 : 0;
                    if (fast)
                    {
                        window_outputs_full_range(table, table + fast, pairs, output_offset, out);
                    }
                    window_outputs(table + fast, table + count, pairs, output_offset, act_min,
                                   act_max, out + fast);
                }
            }
        }
    }
    return 1;
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
    /* The columns are read and written a word (LDRD: two) at a time. */
    const int unaligned = ((uintptr_t)ctx->buf & 3) != 0;
    if (ctx->buf == NULL || unaligned || input_dims->c != filter_dims->c || upscaled)
    {
        return upstream_arm_convolve_s8(ctx, conv_params, quant_params, input_dims, input_data,
                                        filter_dims, filter_data, bias_dims, bias_data,
                                        upscale_dims, output_dims, output_data);
    }
    if (input_dims->c == 1 && filter_dims->w == 3 && filter_dims->h == 3 &&
        single_channel_3x3(conv_params, quant_params, input_dims, input_data, filter_data,
                           bias_data, output_dims, output_data))
    {
        return ARM_CMSIS_NN_SUCCESS;
    }
    const int32_t channels = input_dims->c;
    const int32_t cols = filter_dims->w * filter_dims->h * channels;
    const int32_t aligned_cols = (cols + 3) & ~3;
    const int32_t output_ch = output_dims->c;
    const int16_t offset = (int16_t)conv_params->input_offset;
    int16_t *columns = (int16_t *)ctx->buf;    /* two columns of aligned_cols */
    /* Columns of a multiple of 4 values are interleaved (mat_mult.h). */
    const int interleaved = (channels & 3) == 0;
    const int32_t step = interleaved ? 4 : 2;

    for (int32_t batch = 0; batch < input_dims->n; batch++)
    {
        int8_t *out = output_data;
        int32_t filled = 0;
        int32_t passes = 0;     /* over the weights: every other one backwards */
        for (int32_t out_y = 0; out_y < output_dims->h; out_y++)
        {
            for (int32_t out_x = 0; out_x < output_dims->w; out_x++)
            {
                write_column(columns + filled * (interleaved ? 4 : aligned_cols), input_data,
                             input_dims->w, input_dims->h, channels, filter_dims->w,
                             filter_dims->h,
                             conv_params->stride.w * out_x - conv_params->padding.w,
                             conv_params->stride.h * out_y - conv_params->padding.h,
                             conv_params->dilation.w, conv_params->dilation.h, offset, step);
                if (++filled < 2)
                {
                    continue;
                }
                filled = 0;
                const int32_t *shift = quant_params->shift, *mult = quant_params->multiplier;
                const int32_t act_min = conv_params->activation.min;
                const int32_t act_max = conv_params->activation.max;
                out = interleaved
                    ? mat_mult_kernel_s8_s16_interleaved(filter_data, columns, output_ch, shift,
                                                         mult, conv_params->output_offset,
                                                         act_min, act_max, cols, bias_data, out,
                                                         (passes++) & 1)
                    : arm_nn_mat_mult_kernel_s8_s16(filter_data, columns, output_ch, shift,
                                                    mult, conv_params->output_offset, act_min,
                                                    act_max, cols, aligned_cols, bias_data, out);
            }
        }
        if (filled && interleaved)
        {
            out = last_column_interleaved(conv_params, quant_params, filter_data, bias_data,
                                          columns, output_ch, cols, passes & 1, out);
        }
        else if (filled)
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
