/* Device declaration parsing and NVML discovery (dlopen, no CUDA headers). */
#include "agent/devices.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/units.h"

static int devices_fail(char *err, size_t size, const char *spec, const char *what)
{
  snprintf(err, size, "bad device spec '%s': %s (want vendor:model:count[:memory])",
           spec, what);
  return SC_EPARSE;
}

static int name_ok(const char *s, size_t len, size_t max)
{
  if (len == 0 || len >= max)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("._-+", s[i]))
      return 0;
  return 1;
}

int sc_devices_parse(struct sc_devices *d, const char *spec, char *err, size_t size)
{
  const char *vendor = spec, *model, *count_s, *mem_s;
  char count_buf[16], *end;
  long count;
  int64_t mib = 0;

  if (!(model = strchr(vendor, ':')) || !(count_s = strchr(++model, ':')))
    return devices_fail(err, size, spec, "missing field");
  count_s++;
  mem_s = strchr(count_s, ':');
  if (!name_ok(vendor, (size_t)(model - 1 - vendor), SC_VENDOR_MAX))
    return devices_fail(err, size, spec, "bad vendor");
  if (!name_ok(model, (size_t)(count_s - 1 - model), SC_MODEL_MAX))
    return devices_fail(err, size, spec, "bad model");
  snprintf(count_buf, sizeof count_buf, "%.*s",
           (int)(mem_s ? (size_t)(mem_s - count_s) : strlen(count_s)), count_s);
  count = strtol(count_buf, &end, 10);
  if (!count_buf[0] || *end || !isdigit((unsigned char)count_buf[0]))
    return devices_fail(err, size, spec, "bad count");
  if (count < 1 || count > SC_AGENT_MAX_DEVICES - d->count) {
    snprintf(err, size, "bad device spec '%s': count must be 1..%d in all", spec,
             SC_AGENT_MAX_DEVICES);
    return SC_ERANGE;
  }
  if (mem_s && sc_parse_memory_mib(mem_s + 1, &mib))
    return devices_fail(err, size, spec, "bad memory");
  for (long i = 0; i < count; i++) {
    struct sc_device *dev = &d->dev[d->count];
    dev->index = d->count++;
    snprintf(dev->vendor, sizeof dev->vendor, "%.*s", (int)(model - 1 - vendor), vendor);
    for (char *p = dev->vendor; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    snprintf(dev->model, sizeof dev->model, "%.*s", (int)(count_s - 1 - model), model);
    dev->memory_mib = mib;
  }
  return 0;
}

int sc_devices_vendor_index(const struct sc_devices *d, int index)
{
  int local = 0;

  if (index < 0 || index >= d->count)
    return -1;
  for (int i = 0; i < index; i++)
    if (strcmp(d->dev[i].vendor, d->dev[index].vendor) == 0)
      local++;
  return local;
}

json_t *sc_devices_to_json(const struct sc_devices *d)
{
  json_t *arr = json_array();

  for (int i = 0; arr && i < d->count; i++)
    json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I}", "index", d->dev[i].index,
                                         "vendor", d->dev[i].vendor, "model",
                                         d->dev[i].model, "memory_mib",
                                         (json_int_t)d->dev[i].memory_mib));
  return arr;
}

/* The few NVML entry points we use, declared here (no CUDA headers). */
typedef struct nvml_device *nvml_device_t;
struct nvml_memory {
  unsigned long long total, free, used;
};
struct nvml_api {
  int (*init)(void);
  int (*shutdown)(void);
  int (*count)(unsigned int *);
  int (*handle)(unsigned int, nvml_device_t *);
  int (*name)(nvml_device_t, char *, unsigned int);
  int (*memory)(nvml_device_t, struct nvml_memory *);
};

/* "NVIDIA A100-SXM4-80GB" -> "A100-SXM4-80GB"; spaces become '-'. */
static void nvml_model(const char *name, char *out, size_t size)
{
  size_t n = 0;

  if (strncmp(name, "NVIDIA ", 7) == 0)
    name += 7;
  for (; *name && n + 1 < size; name++)
    out[n++] = isspace((unsigned char)*name) ? '-' : *name;
  out[n] = '\0';
}

static int nvml_load(void *lib, struct nvml_api *api)
{
  *(void **)&api->init = dlsym(lib, "nvmlInit_v2");
  *(void **)&api->shutdown = dlsym(lib, "nvmlShutdown");
  *(void **)&api->count = dlsym(lib, "nvmlDeviceGetCount_v2");
  *(void **)&api->handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
  *(void **)&api->name = dlsym(lib, "nvmlDeviceGetName");
  *(void **)&api->memory = dlsym(lib, "nvmlDeviceGetMemoryInfo");
  return api->init && api->shutdown && api->count && api->handle && api->name &&
         api->memory;
}

int sc_devices_discover_nvml(struct sc_devices *d)
{
  return sc_devices_discover_nvml_lib(d, "libnvidia-ml.so.1");
}

int sc_devices_discover_nvml_lib(struct sc_devices *d, const char *path)
{
  struct nvml_api api;
  unsigned int count = 0;
  int found = 0;
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

  if (!lib)
    return 0;
  if (!nvml_load(lib, &api) || api.init() != 0) {
    dlclose(lib);
    return 0;
  }
  if (api.count(&count) != 0)
    count = 0;
  for (unsigned int i = 0; i < count && d->count < SC_AGENT_MAX_DEVICES; i++) {
    nvml_device_t h;
    struct nvml_memory mem = {0};
    char name[96] = "";
    struct sc_device *dev = &d->dev[d->count];
    if (api.handle(i, &h) != 0)
      continue;
    if (api.name(h, name, sizeof name) != 0)
      snprintf(name, sizeof name, "unknown");
    api.memory(h, &mem);
    dev->index = d->count++;
    snprintf(dev->vendor, sizeof dev->vendor, "nvidia");
    nvml_model(name, dev->model, sizeof dev->model);
    dev->memory_mib = (int64_t)(mem.total / (1024 * 1024));
    found++;
  }
  api.shutdown();
  dlclose(lib);
  return found;
}

/* A vendor's node naming: the per-device node pattern (%d: index among the
 * vendor's devices, plus offset) and its control nodes. */
struct vendor_nodes {
  const char *vendor, *pattern;
  int offset;
  const char *control[5];
};

static const struct vendor_nodes vendor_nodes[] = {
  {"nvidia", "nvidia%d", 0,
   {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", NULL}},
  {"ascend", "davinci%d", 0, {"davinci_manager", "devmm_svm", "hisi_hdc", NULL}},
  {"huawei", "davinci%d", 0, {"davinci_manager", "devmm_svm", "hisi_hdc", NULL}},
  {"amd", "dri/renderD%d", 128, {"kfd", NULL}},
  {"cambricon", "cambricon_dev%d", 0, {"cambricon_ctl", NULL}},
};

int sc_devices_nodes(const struct sc_devices *d, int index, char names[][64], int max)
{
  const struct vendor_nodes *v = NULL;
  int local = sc_devices_vendor_index(d, index), n = 0;
  const char *vendor = NULL;

  for (int i = 0; i < d->count; i++)
    if (d->dev[i].index == index)
      vendor = d->dev[i].vendor;
  if (local < 0 || !vendor || max <= 0)
    return 0;
  for (size_t i = 0; i < sizeof vendor_nodes / sizeof vendor_nodes[0]; i++)
    if (strcmp(vendor_nodes[i].vendor, vendor) == 0)
      v = &vendor_nodes[i];
  if (!v) {
    snprintf(names[n++], 64, "%.40s%d", vendor, local);
    return n;
  }
  snprintf(names[n++], 64, v->pattern, local + v->offset);
  for (int k = 0; v->control[k] && n < max; k++)
    snprintf(names[n++], 64, "%s", v->control[k]);
  return n;
}
