# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a guest's disk lives: its own directory, or a storage pool of kvm_host.

A disk without a pool is a file in the guest's directory, as before pools. On a file pool
(dir, netfs) it is a file NAME-diskN.FORMAT in the pool's directory, a qcow2 overlay of its
base image like the others. On a logical pool it is the logical volume NAME-diskN, raw, and
a base image is copied onto it when the role makes it. On an iSCSI pool it is an existing LUN:
the target owns it, so the role neither makes it nor writes a base image onto it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.storage_pools import (
    typed_pools, vg_name)

FILE_POOLS = ('dir', 'netfs')
BLOCK_POOLS = ('logical', 'iscsi')
ISCSI_PORT = 3260
LUN_RE = re.compile(r'^[0-9]{1,5}\Z')


def pools_by_name(pools):
    """{name: entry with type and state} of the pools declared present."""
    return dict((str(pool.get('name')), pool) for pool in typed_pools(pools, state='present'))


def default_format(pool_name, pools):
    """raw on block pools, where the disk is a device; qcow2 everywhere else."""
    pool = pools.get(str(pool_name)) if pool_name else None
    return 'raw' if pool is not None and pool['type'] in BLOCK_POOLS else 'qcow2'


def iscsi_lun_path(pool, lun):
    """The udev link of a LUN of an iSCSI pool, as libvirt lists its volumes."""
    port = pool.get('port') or ISCSI_PORT
    return '/dev/disk/by-path/ip-%s:%s-iscsi-%s-lun-%s' % (pool.get('host'), port, pool.get('iqn'), lun)


def disk_place(disk, pools, guest_name, guest_dir):
    """path, kind (file or block), pool_type, volume (its name in the pool), overlay (a qcow2
    overlay of its base image) and creatable (the role makes it when missing) of one disk.
    disk: index, format, base_image, pool, lun. A pool that is not declared gives no path."""
    place = {'pool_type': '', 'volume': '', 'kind': 'file', 'creatable': True,
             'overlay': disk['base_image'] != ''}
    if not disk['pool']:
        place['path'] = '%s/disk%d.%s' % (guest_dir, disk['index'], disk['format'])
        return place
    pool = pools.get(disk['pool'])
    if pool is None:
        place.update(path='', creatable=False)
        return place
    place['pool_type'] = pool['type']
    place['volume'] = '%s-disk%d' % (guest_name, disk['index'])
    if pool['type'] in FILE_POOLS:
        place['volume'] += '.' + str(disk['format'])
        place['path'] = '%s/%s' % (str(pool.get('path', '')).rstrip('/'), place['volume'])
    elif pool['type'] == 'logical':
        place.update(path='/dev/%s/%s' % (vg_name(pool), place['volume']), kind='block', overlay=False)
    elif pool['type'] == 'iscsi':
        place.update(volume='', path=iscsi_lun_path(pool, disk['lun']), kind='block', overlay=False,
                     creatable=False)
    else:
        place.update(path='', creatable=False, overlay=False)
    return place


def pool_disk_errors(disk, pools):
    """What is wrong with where a disk is declared to live, each with the fix."""
    if not disk['pool']:
        if disk['lun'] is not None:
            return ['lun (%s) is for a disk on an iSCSI pool: give pool too, or leave lun out' % disk['lun']]
        return []
    pool = pools.get(disk['pool'])
    if pool is None:
        return ['pool %s must name a pool of kvm_host_storage_pools declared present (have: %s)'
                % (disk['pool'], ', '.join(sorted(pools)) or 'none')]
    kind = pool['type']
    if kind not in FILE_POOLS + BLOCK_POOLS:
        return ['pool %s is of type %s, which cannot hold guest disks yet: use a dir, netfs, logical or iscsi pool'
                % (disk['pool'], kind)]
    problems = []
    if kind in BLOCK_POOLS and disk['format'] != 'raw':
        problems.append('format must be raw on %s pool %s (got %s): the disk is a block device'
                        % (kind, disk['pool'], disk['format']))
    if kind == 'iscsi':
        if not LUN_RE.match(str(disk['lun'] if disk['lun'] is not None else '')):
            problems.append('lun (%s) must be the number of a LUN of the target of iSCSI pool %s, such as 0'
                            % (disk['lun'], disk['pool']))
        if disk['base_image']:
            problems.append('base_image %s cannot go onto a LUN of iSCSI pool %s: the target owns the LUN, and'
                            ' kvm_guests writes only onto volumes it makes. Put the boot disk on a logical or'
                            ' file pool' % (disk['base_image'], disk['pool']))
    elif disk['lun'] is not None:
        problems.append('lun (%s) is for a disk on an iSCSI pool, and pool %s is of type %s: leave lun out'
                        % (disk['lun'], disk['pool'], kind))
    return problems
