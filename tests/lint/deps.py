#!/usr/bin/env python3
"""Dependency loops in the controller and the agent (src/server, src/agent).

Two graphs, both must be free of cycles:
- calls: one node per object file of libsc_server.a / libsc_agent.a, an
  edge A -> B when A uses a symbol B defines (read with nm). This is how
  files really depend on each other: a file that calls back into its
  caller is a loop even when the includes look fine.
- includes: one node per module (a file's name up to its first '_', .c and
  .h together: ctl_agent.c and ctl.h are the controller, codec.c and
  codec.h the codec), an edge when a file includes another module's
  header from the same folder.
Usage: deps.py SOURCE_DIR BUILD_DIR. Prints each loop found; exit 1 if any.
"""
import os
import re
import subprocess
import sys


def objects(archive):
    """{object: (defined, undefined)} of a static library, from nm."""
    out = subprocess.run(["nm", "-A", "--defined-only", "-g", archive],
                         capture_output=True, text=True, check=True).stdout
    und = subprocess.run(["nm", "-A", "-u", archive],
                         capture_output=True, text=True, check=True).stdout
    objs = {}
    for text, idx in ((out, 0), (und, 1)):
        for line in text.splitlines():
            # archive:object.o: [address] TYPE symbol
            m = re.match(r"^[^:]+:([^:]+):\s*(?:[0-9a-f]+\s+)?(\w)\s+(\S+)$", line)
            if not m:
                continue
            obj = m.group(1).replace(".c.o", "").replace(".o", "")
            objs.setdefault(obj, (set(), set()))[idx].add(m.group(3))
    return objs


def call_graph(archive):
    objs = objects(archive)
    owner = {}
    for obj, (defined, _) in objs.items():
        for sym in defined:
            owner[sym] = obj
    graph = {obj: set() for obj in objs}
    for obj, (_, undefined) in objs.items():
        for sym in undefined:
            if sym in owner and owner[sym] != obj:
                graph[obj].add(owner[sym])
    return graph


def include_graph(folder, prefix):
    graph = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".c", ".h")):
            continue
        mod = name.split(".")[0].split("_")[0]
        graph.setdefault(mod, set())
        with open(os.path.join(folder, name)) as f:
            for inc in re.findall(r'^#include "%s/([^"]+)\.h"' % prefix, f.read(), re.M):
                dep = inc.split("_")[0]
                if dep != mod:
                    graph[mod].add(dep)
    return graph


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    src, build = sys.argv[1], sys.argv[2]
    bad = 0
    for lib, folder in (("sc_server", "server"), ("sc_agent", "agent")):
        archive = os.path.join(build, "lib%s.a" % lib)
        for loop in cycles(call_graph(archive)):
            print("calls loop in src/%s: %s" % (folder, " <-> ".join(loop)))
            bad += 1
        for loop in cycles(include_graph(os.path.join(src, "src", folder), folder)):
            print("include loop in src/%s: %s" % (folder, " <-> ".join(loop)))
            bad += 1
    if not bad:
        print("lint/deps: no dependency loop in src/server or src/agent")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
