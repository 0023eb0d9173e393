import CPUKernels
