#ifndef IPET_CPUS_H
#define IPET_CPUS_H

/// Number of CPUs in this process's affinity mask (sched_getaffinity), or 0 when it cannot be read.
/// In C because glibc declares sched_getaffinity and CPU_COUNT only under _GNU_SOURCE.
int ipet_affinity_cpu_count(void);

/// 1 when the CPU reports `feature` (a /proc/cpuinfo flag name such as "avx512_vnni"), else 0.
int ipet_cpu_supports(const char *feature);

#endif
