// Host allocator tuning for the trainer and the sampler. glibc hands every block above its mmap
// threshold (at most 32 MiB) straight back to the kernel on free, and BASE activations are
// 32.5 MiB each ([4, 128, 15872] floats): every step would map fresh pages, fault them in and
// zero them. Measured on the 2-core CPU: ~1 s of a 6 s BASE step (docs/benchmarks.md).
#pragma once

namespace diffwave {

// Serves blocks up to 1 GiB from the heap and keeps up to 2 GiB of freed memory at the heap's
// top for reuse. Leaves glibc's settings alone when the user set MALLOC_MMAP_THRESHOLD_ or
// MALLOC_TRIM_THRESHOLD_, or DIFFWAVE_MALLOC_TUNING=0. Returns whether it changed anything.
bool tune_host_allocator();

}  // namespace diffwave
