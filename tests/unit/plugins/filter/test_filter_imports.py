# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""To find one filter of a collection, Ansible's filter loader imports every filter file of it
(ansible.plugins.loader.Jinja2Loader), in the worker process of each task on each host. The files
must stay cheap to import: the code they call is imported when a filter is called."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import ansible_collections.kvmcloud.hypervisor.plugins.filter as filters

# Imported by none of the filter files: the collection's own shared code, and the standard
# library's and cryptography's modules that cost the most to import.
COSTLY = ('ansible_collections.kvmcloud.hypervisor.plugins.module_utils', 'cryptography.x509', 'xml.sax.saxutils',
          'urllib.request')

IMPORT_ALL = """
import json, os, pkgutil, sys
import ansible.plugins.loader, ansible.template
before = set(sys.modules)
import ansible_collections.kvmcloud.hypervisor.plugins.filter as filters
names = [name for _, name, ispkg in pkgutil.iter_modules(filters.__path__) if not ispkg]
for name in names:
    __import__(filters.__name__ + "." + name)
print(json.dumps({"files": names, "new": sorted(set(sys.modules) - before)}))
"""


def test_importing_every_filter_file_imports_none_of_the_code_the_filters_call():
    # A fresh interpreter: this test run has imported the module_utils already.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    found = json.loads(subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, env=env,
                                      check=True).stdout)
    assert len(found["files"]) == len([name for name in os.listdir(list(filters.__path__)[0])
                                       if name.endswith(".py") and name != "__init__.py"])
    costly = [name for name in found["new"] if name.startswith(COSTLY)]
    assert costly == [], costly
