# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""virsh against qemu:///system for the guest modules (kvm_guest_snapshots, kvm_guest_backups):
an argument list through module.run_command, never a shell, in the C locale."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

URI = ['--connect', 'qemu:///system']
LANG_C = {'LC_ALL': 'C', 'LANG': 'C'}
PING = json.dumps({'execute': 'guest-ping'})


class Virsh(object):
    def __init__(self, module):
        self.module = module
        self.path = module.get_bin_path('virsh', required=True)

    def run(self, *args, **kwargs):
        return self.module.run_command([self.path] + URI + list(args), environ_update=LANG_C, **kwargs)

    def must(self, *args, **kwargs):
        rc, out, err = self.run(*args, **kwargs)
        if rc != 0:
            self.module.fail_json(msg='virsh %s failed: %s' % (' '.join(args[:2]), (err or out).strip()))
        return out

    def agent_answers(self, guest, timeout):
        """Whether the guest's agent answers a guest-ping within timeout seconds."""
        rc, _out, _err = self.run('qemu-agent-command', guest, PING, '--timeout', str(timeout))
        return rc == 0
