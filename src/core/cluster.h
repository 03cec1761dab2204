/*
 * The cluster model of the scheduling core: nodes with CPU (milli), memory
 * (MiB) and accelerators, each device of a model and with a free share in
 * milli (1000 = one whole device), and task shapes. A node's devices of one
 * model are a group; a task's devices come from one group. Pure data plus
 * the feasibility rules every policy shares. Invariant: 0 <= gpu_left[i] <=
 * SC_MILLI, cpu_left <= cpu_cap, mem_left <= mem_cap, model is the model of
 * every device or SC_MODEL_MIXED (docs/design.md, "Nodes of several models").
 */
#ifndef SC_CORE_CLUSTER_H
#define SC_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_MILLI 1000
#define SC_MAX_GPUS 16    /* devices per node */
#define SC_MAX_MODELS 64  /* distinct accelerator models per cluster */
#define SC_NAME_MAX 64
#define SC_MAX_REGIONS 64 /* distinct regions per cluster */
#define SC_MODEL_MIXED (-2) /* sc_node.model when its devices are of several models */

/* Affinity tags of the tasks on a node (GpuClustering): bit 0 = share-gpu,
 * bit k = a task using k whole devices (1 <= k <= SC_MAX_GPUS). */
#define SC_TAG_SHARE 1u

struct sc_node {
  char name[SC_NAME_MAX];
  int64_t cpu_cap, cpu_left;   /* milli-CPU */
  int64_t mem_cap, mem_left;   /* MiB */
  int gpu_count;               /* devices on the node */
  int model;                   /* model id of every device, SC_MODEL_MIXED
                                  when they are of several, -1 when none */
  int16_t gpu_left[SC_MAX_GPUS]; /* free milli per device, by index */
  int8_t dev_model[SC_MAX_GPUS]; /* model id per device, by index */
  uint32_t tags;               /* SC_TAG_* of the tasks placed here */
  uint16_t tag_count[SC_MAX_GPUS + 1]; /* tasks per tag bit */
  int32_t tasks;               /* tasks placed here */
  uint32_t rank;               /* tie-break among equal scores: lower wins */
  int klass;                   /* equivalence class (sc_sched), -1 if none */
  uint8_t region;              /* 0: no region label; else 1 + region id */
};

/* What one task asks for. Memory is checked for feasibility only. */
struct sc_shape {
  int64_t cpu;         /* milli-CPU */
  int64_t mem;         /* MiB */
  int gpu_count;       /* devices; 0 for a CPU-only task */
  int gpu_milli;       /* milli per device: 1..1000, 0 for CPU-only */
  bool any_model;      /* true: no model constraint */
  uint64_t models;     /* allowed model ids when !any_model (may be 0) */
  uint64_t regions;    /* 0: no residency rule (any node); else the region
                          ids allowed (bit r: region r); an unlabelled node
                          then never fits */
  int id;              /* score-cache slot in [0, nshapes) or -1 */
};

struct sc_cluster {
  struct sc_node *nodes;
  size_t nnodes, cap;
  char models[SC_MAX_MODELS][SC_NAME_MAX];
  int nmodels;
  char regions[SC_MAX_REGIONS][SC_NAME_MAX];
  int nregions;
};

void sc_cluster_init(struct sc_cluster *c);
void sc_cluster_release(struct sc_cluster *c);

/* Returns the id of model name, adding it when new; SC_ERANGE when full. */
int sc_cluster_model_id(struct sc_cluster *c, const char *name);
/* Returns the id of region name, adding it when new; SC_ERANGE when full. */
int sc_cluster_region_id(struct sc_cluster *c, const char *name);
/* The region mask of a '|'-separated list of region names (names the
 * cluster has no node in are left out: 0 then still means "a rule, nothing
 * allowed" only when ruled is true; see sc_shape.regions). */
uint64_t sc_cluster_regions_mask(const struct sc_cluster *c, const char *list);
/* True when node n may take a task of shape s as far as residency goes. */
bool sc_node_region_ok(const struct sc_node *n, const struct sc_shape *s);

/* Returns the id of model name or -1 when the cluster has no such model. */
int sc_cluster_model_find(const struct sc_cluster *c, const char *name);

/* Appends a node with all resources free and gpu_count devices of one
 * model. The name is copied (truncated to SC_NAME_MAX - 1). Returns the node
 * index or a negative SC_E* code. */
int sc_cluster_add_node(struct sc_cluster *c, const char *name, int64_t cpu_milli,
                        int64_t mem_mib, int gpu_count, const char *model);
/* The same for a node whose device i is of model models[i] (i < gpu_count),
 * which may differ from device to device. The names are copied. */
int sc_cluster_add_node_models(struct sc_cluster *c, const char *name, int64_t cpu_milli,
                               int64_t mem_mib, int gpu_count, const char *const *models);

/* Sets shape->any_model/models from a '|'-separated model list as the OpenB
 * trace writes it ("" = any model; unknown names match nothing). */
void sc_shape_set_models(struct sc_shape *shape, const struct sc_cluster *c,
                         const char *spec);

/* The affinity tag bit of a shape (0 for a CPU-only task). */
uint32_t sc_shape_tag(const struct sc_shape *shape);
/* Total milli-GPU a shape asks for: gpu_count * gpu_milli. */
int64_t sc_shape_total_milli(const struct sc_shape *shape);

/* True when model id model is allowed for the shape. */
bool sc_shape_model_ok(const struct sc_shape *s, int model);
/* True when a model of the node's devices is allowed for the shape. */
bool sc_node_model_ok(const struct sc_node *n, const struct sc_shape *s);
/* Sum of free milli over the node's devices. */
int64_t sc_node_gpu_left(const struct sc_node *n);
/* Number of devices with at least milli free. */
int sc_node_gpus_with(const struct sc_node *n, int milli);
/* Full feasibility: CPU, memory, model and devices (see docs/simulator.md);
 * on a node of several models, the devices of one group must fit the task. */
bool sc_node_fits(const struct sc_node *n, const struct sc_shape *s);
/* Feasibility without the memory test (memory is not part of scoring). */
bool sc_node_fits_nomem(const struct sc_node *n, const struct sc_shape *s);

/*
 * The devices of one model on a node: its model id and the device indices
 * as a bit set. A node of one model is one group; the groups of a node of
 * several models come in the order of their first device.
 */
struct sc_group {
  int model;
  uint32_t devs;
};

/* Fills groups with the node's groups; returns how many (0 without devices). */
int sc_node_groups(const struct sc_node *n, struct sc_group groups[SC_MAX_GPUS]);

/*
 * A node of one model made of group g of node n: n's CPU, memory, tags and
 * counters with only g's devices, in index order. pos[k] gets the index on n
 * of the view's device k. Policies score and choose devices on a view as on
 * any node; nothing in the view is applied back to n.
 */
void sc_node_view(const struct sc_node *n, const struct sc_group *g, struct sc_node *view,
                  int8_t pos[SC_MAX_GPUS]);

/* A decision: which node and devices a task gets. */
struct sc_placement {
  int node;                 /* node index, -1 when none */
  int ndev;                 /* devices used (0 for CPU-only) */
  int8_t dev[SC_MAX_GPUS];  /* device indices */
};

/* Applies / undoes a placement on a node (no checks beyond asserts). */
void sc_node_apply(struct sc_node *n, const struct sc_shape *s,
                   const struct sc_placement *p);
void sc_node_unapply(struct sc_node *n, const struct sc_shape *s,
                     const struct sc_placement *p);

/* Checks the invariants of a node, its devices' models included; returns 0
 * or SC_ESTATE. */
int sc_node_check(const struct sc_node *n);

#endif
