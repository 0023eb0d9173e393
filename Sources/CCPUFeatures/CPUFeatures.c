#include "CCPUFeatures.h"

int ccpufeatures_has_avx512f(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
#else
  return 0;
#endif
}
