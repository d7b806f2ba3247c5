/*
 * CMSIS-NN's own versions of the files this directory replaces: the build
 * compiles each replaced file as well, with its function renamed upstream_*,
 * for the cases ours hands back (the convolution's) and for the tests to
 * compare with (the pooling's hands nothing back: the link drops it).
 */
#ifndef TEENSYML_CMSIS_NN_UPSTREAM_H
#define TEENSYML_CMSIS_NN_UPSTREAM_H

#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"

extern __typeof__(arm_convolve_s8) upstream_arm_convolve_s8;
extern __typeof__(arm_nn_mat_mult_kernel_s8_s16) upstream_arm_nn_mat_mult_kernel_s8_s16;
extern __typeof__(arm_max_pool_s8) upstream_arm_max_pool_s8;

#endif
