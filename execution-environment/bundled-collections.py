"""Print the directories, in the `ansible` package's bundle, of the galaxy-type collections of a
requirements file and of everything they depend on, for `ansible-galaxy collection install`.

The EE's galaxy stage runs this (see execution-environment.yml): Galaxy is not reachable here,
and an `--offline` install counts collections found in the bundle as installed already.
Fails when the bundle lacks a collection or holds another version than the pinned one.
"""

import json
import os
import sys

import ansible_collections
import yaml

bundle = next(p for p in ansible_collections.__path__ if os.path.isdir(os.path.join(p, "community")))
with open(sys.argv[1], encoding="utf-8") as requirements:
    wanted = {
        c["name"]: c.get("version")
        for c in yaml.safe_load(requirements)["collections"]
        if c.get("type", "galaxy") == "galaxy"
    }
seen = {}
while wanted:
    name, pin = wanted.popitem()
    if name in seen:
        continue
    path = os.path.join(bundle, *name.split("."))
    with open(os.path.join(path, "MANIFEST.json"), encoding="utf-8") as manifest:
        info = json.load(manifest)["collection_info"]
    if pin and info["version"] != pin:
        sys.exit(f"{name}: the bundle has {info['version']}, requirements pin {pin}")
    seen[name] = path
    wanted.update({dep: None for dep in info.get("dependencies") or {} if dep not in seen})
print(*sorted(seen.values()))
