/*
 * Accelerators of one node: declared with --devices vendor:model:count[:memory]
 * or discovered through NVML loaded with dlopen at run time. Devices are
 * numbered 0..n-1 across the node in declaration order; the visibility
 * variable of a task uses the index among devices of the same vendor.
 */
#ifndef SC_AGENT_DEVICES_H
#define SC_AGENT_DEVICES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SC_AGENT_MAX_DEVICES 64
#define SC_VENDOR_MAX 32
#define SC_MODEL_MAX 64

struct sc_device {
  int index;                  /* node-wide index */
  char vendor[SC_VENDOR_MAX]; /* lowercase: nvidia, ascend, amd, cambricon ... */
  char model[SC_MODEL_MAX];
  int64_t memory_mib;         /* 0 when unknown */
};

struct sc_devices {
  struct sc_device dev[SC_AGENT_MAX_DEVICES];
  int count;
};

/* Appends the devices of one spec "vendor:model:count[:memory]" (memory in
 * units such as 80Gi). Returns 0, or SC_EPARSE / SC_ERANGE with a message
 * in err naming the bad part; nothing is appended on error. */
int sc_devices_parse(struct sc_devices *d, const char *spec, char *err, size_t size);

/* Appends the NVIDIA devices NVML reports, when libnvidia-ml.so.1 loads.
 * Returns the number of devices found (0 when NVML is absent or fails). */
int sc_devices_discover_nvml(struct sc_devices *d);

/* The same with the library at path (tests load a stand-in NVML). */
int sc_devices_discover_nvml_lib(struct sc_devices *d, const char *path);

/* The index of node device index among devices of its vendor, or -1. */
int sc_devices_vendor_index(const struct sc_devices *d, int index);

/* Returns a new JSON array of {"index","vendor","model","memory_mib"}. */
json_t *sc_devices_to_json(const struct sc_devices *d);

#define SC_DEVICE_NODES_MAX 8

/*
 * The device nodes a task using node device index needs, relative to the
 * device directory: the device's own node (by its index among the
 * vendor's devices: nvidiaN, davinciN, dri/renderD(128+N), cambricon_devN,
 * <vendor>N for others) and the vendor's control nodes (nvidiactl,
 * nvidia-uvm ...; davinci_manager ...; kfd). Returns how many were written
 * to names (each up to 64 bytes), 0 for an unknown index.
 */
int sc_devices_nodes(const struct sc_devices *d, int index, char names[][64], int max);

#endif
