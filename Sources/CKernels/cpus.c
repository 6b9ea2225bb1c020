#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "ipet_cpus.h"

int ipet_affinity_cpu_count(void) {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
#else
    return 0;
#endif
}

int ipet_cpu_supports(const char *feature) {
    // The kernel's own list (/proc/cpuinfo "flags"), which also says what the OS enabled (AVX-512 state saving).
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    size_t n = strlen(feature);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        for (char *p = strstr(line, feature); p; p = strstr(p + 1, feature)) {
            if ((p == line || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == 0)) { found = 1; break; }
        }
        break;
    }
    fclose(f);
    return found;
}
