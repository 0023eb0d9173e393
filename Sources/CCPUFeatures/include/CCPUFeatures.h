#ifndef CCPUFEATURES_H
#define CCPUFEATURES_H

/// Whether the running CPU has AVX-512F: 32 vector registers of 16 floats (else AVX2's 16 of
/// 8 on x86-64). The kernels' register tiles are sized by it.
int ccpufeatures_has_avx512f(void);

#endif
