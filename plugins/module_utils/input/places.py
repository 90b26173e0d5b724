# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a role may keep directories it creates, chmods or removes: not at the top level and
not in a system tree, so a mistyped path cannot take /etc or /usr along."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

SYSTEM_TREES = ('/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin',
                '/sys', '/usr')


def inside(path, parent):
    return path == parent or path.startswith(parent + '/')


def is_system_place(path):
    """True for '/', a top-level directory or anything in a system tree."""
    path = path.rstrip('/') or '/'
    return path.count('/') < 2 or any(inside(path, tree) for tree in SYSTEM_TREES)


def system_place_rule():
    return 'a top-level directory or inside %s' % ', '.join(SYSTEM_TREES)
