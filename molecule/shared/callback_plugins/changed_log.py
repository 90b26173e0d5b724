# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Appends one JSON line per playbook run to $KVMCLOUD_CHANGED_LOG: whether it ran in check
mode, and the tasks and handlers that reported a change on each host. Molecule's check and
converge steps print to the terminal only; verify compares them from this file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: changed_log
type: aggregate
short_description: Records the changed tasks of each run, for the tests
description:
  - Test helper of kvmcloud.hypervisor's Molecule scenarios; not part of the collection.
requirements:
  - the environment variable KVMCLOUD_CHANGED_LOG names the file to append to
'''

import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'changed_log'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.changed = {}

    def _record(self, result):
        if result._result.get('changed'):
            self.changed.setdefault(result._host.get_name(), set()).add(result._task.get_name())

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_item_on_ok(self, result):
        self._record(result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('KVMCLOUD_CHANGED_LOG')
        if not path:
            return
        entry = {'check': bool(context.CLIARGS.get('check')),
                 'changed': dict((host, sorted(tasks)) for host, tasks in self.changed.items())}
        with open(path, 'a') as handle:
            handle.write(json.dumps(entry) + '\n')
