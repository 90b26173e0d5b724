# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_host_storage_pools: the checks its argument spec cannot express, each pool's libvirt
XML (and the libvirt secret of an RBD pool), and what the role does to reach the declared
pools from what the host facts say.

Messages start from the variable and the entry's index. A cephx key is never part of a
message, an XML document or a plan: only the secret's UUID is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import collections
import ipaddress
import re
import uuid

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.places import (
    is_system_place, system_place_rule)

VAR = 'kvm_host_storage_pools'
TYPES = ('dir', 'logical', 'netfs', 'iscsi', 'rbd')
STATES = ('present', 'absent')
OCTAL_MODE = re.compile(r'0?[0-7]{3}')
POOL_NAME = re.compile(r'[A-Za-z0-9_.-]+')
SAFE_PATH = re.compile(r'/[A-Za-z0-9_./@-]*')
# LVM's own rule for a VG name, less '+' (it would need quoting in udev's /dev/mapper names).
VG_NAME = re.compile(r'[A-Za-z0-9_.][A-Za-z0-9_.-]*')
# RFC 1123 host names (labels of letters, digits and inner '-').
HOST_LABEL = re.compile(r'[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?')
# RFC 3720/3721 iSCSI names: iqn.YYYY-MM.reversed.domain[:anything], or eui./naa. hex.
IQN = re.compile(r'iqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*'
                 r'(:[A-Za-z0-9._:-]+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?')
# A Ceph pool or cephx user name, as the role passes them on.
CEPH_NAME = re.compile(r'[A-Za-z0-9_.-]+')
# The fields each type takes besides name, type, state; any other is a typo or another type's.
FIELDS = {
    'dir': ('path', 'mode'),
    'logical': ('devices', 'vg_name', 'build', 'wipe'),
    'netfs': ('path', 'mode', 'host', 'export', 'format'),
    'iscsi': ('host', 'port', 'iqn', 'initiator_iqn'),
    'rbd': ('monitors', 'rbd_pool', 'user', 'secret_key'),
}
# Pools whose directory the role makes on the host (a netfs pool's is its mount point).
DIRECTORY_TYPES = ('dir', 'netfs')
ISCSI_TARGET_PATH = '/dev/disk/by-path'
# The namespace of the UUIDs of the role's RBD secrets: the same pool name gives the same UUID
# on every run and every host, so the pool's XML can name its secret before it exists.
SECRET_NAMESPACE = uuid.UUID('5d1e2c7a-8b0f-4b8e-9a57-6f1c3b1a2d90')


def as_bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')


def is_safe_path(path):
    return (isinstance(path, str) and SAFE_PATH.fullmatch(path) is not None
            and '..' not in path.split('/'))


def pool_type(pool):
    return pool.get('type') or 'dir'


def pool_state(pool):
    return pool.get('state') or 'present'


def typed_pools(pools, kind='', state=''):
    """Each declared pool that is a mapping, with type and state filled in; only those of that
    type and state when given. (Entries that are not mappings are the preflight's to refuse.)"""
    typed = [dict(pool, type=pool_type(pool), state=pool_state(pool))
             for pool in pools or [] if isinstance(pool, dict)]
    return [pool for pool in typed if (not kind or pool['type'] == kind) and (not state or pool['state'] == state)]


def vg_name(pool):
    return pool.get('vg_name') or pool.get('name')


def is_host(value):
    """An IP address or an RFC 1123 host name."""
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith('.') else value
    return len(name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in name.split('.'))


def is_port(value):
    return not isinstance(value, bool) and isinstance(value, (int, str)) and str(value).isdigit() \
        and 1 <= int(value) <= 65535


def split_monitor(value):
    """(host, port or None) of a Ceph monitor: HOST, HOST:PORT, [IPv6]:PORT or a bare IPv6
    address; None when it is none of these."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r'\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?', value)
    if match:
        host, port = match.group(1), match.group(2)
    elif value.count(':') == 1:
        host, port = value.split(':')
    else:
        host, port = value, None
    if not is_host(host) or (port is not None and not is_port(port)):
        return None
    return host, port


def is_cephx_key(value):
    """A cephx key as `ceph auth get-key` prints it: base64 of a 12-byte header and a 16-byte
    secret (28 bytes, 40 characters)."""
    if not isinstance(value, str):
        return False
    try:
        return len(base64.b64decode(value.strip(), validate=True)) == 28
    except (binascii.Error, ValueError):
        return False


def secret_uuid(pool):
    return str(uuid.uuid5(SECRET_NAMESPACE, 'kvmcloud.hypervisor rbd pool %s' % pool['name']))


def label(index, pool):
    return '%s[%d] entry %r' % (VAR, index, pool.get('name'))


def dir_errors(index, pool, mode_default):
    """The rules of a pool directory (dir pools, and a netfs pool's mount point): the messages
    the role gave before pools had types."""
    path = str(pool.get('path', ''))
    mode = pool.get('mode') or mode_default
    if (POOL_NAME.fullmatch(str(pool.get('name', ''))) is None or not is_safe_path(path)
            or not isinstance(mode, str) or OCTAL_MODE.fullmatch(mode) is None):
        return ["%s: the name may hold only letters, digits, '.', '_' and '-'; path (%r) must be absolute without "
                "'..', holding only letters, digits and '/._@-'; mode (%s) must be an octal string."
                % (label(index, pool), path, mode)]
    if is_system_place(path) or int(mode, 8) & 0o002:
        # The role creates the pool directory and sets its mode, and libvirt lists every file
        # in it as a volume.
        return ["%s: path (%s) must not be %s, and mode (%s) must not let others write: the role sets the "
                "directory's mode and libvirt makes each file in it a volume. Use a directory of its own, such as "
                '/var/lib/libvirt/images/NAME, mode "0711".' % (label(index, pool), path, system_place_rule(), mode)]
    return []


def logical_errors(index, pool, context):
    errors = []
    where = label(index, pool)
    devices = pool.get('devices')
    if not isinstance(devices, list) or not devices:
        return ['%s: a logical pool needs devices, a list of the block devices its volume group lies on, such as '
                '[/dev/sdb].' % where]
    bad = [device for device in devices if not is_safe_path(device) or not str(device).startswith('/dev/')]
    if bad:
        errors.append("%s: devices %s must be paths under /dev without '..', holding only letters, digits and "
                      "'/._@-', such as /dev/sdb." % (where, ', '.join(repr(d) for d in bad)))
    # libvirt starts a logical pool only when one of its devices is literally a name `pvs`
    # prints for the volume group: the kernel's, never a /dev/disk link (measured on the VM
    # tier: "cannot find any matching source devices").
    links = [device for device in devices if device not in bad and str(device).startswith('/dev/disk/')]
    if links:
        errors.append('%s: devices %s are links under /dev/disk: libvirt finds a logical pool\'s volume group by '
                      'the device names LVM prints (pvs), so give the names they point to, such as /dev/sdb.'
                      % (where, ', '.join(links)))
    name = vg_name(pool)
    if not isinstance(name, str) or VG_NAME.fullmatch(name) is None or name in ('.', '..'):
        errors.append("%s: vg_name %r is not a volume group name LVM takes: letters, digits, '_', '.' and '-', "
                      "not starting with '-'." % (where, name))
    if as_bool(pool.get('wipe', False)) and not as_bool(pool.get('build', False)):
        errors.append('%s: wipe is true but build is false: wipe only says what building may do to devices that '
                      'hold data. Set build: true as well, or drop wipe.' % where)
    if errors or pool.get('name') in context['active']:
        return errors
    # The facts stat every device (kvm_host_facts paths): a device that is not there cannot
    # carry the volume group, whatever build says.
    paths = context['paths']
    missing = [d for d in devices if d in paths and (not paths[d].get('exists') or paths[d].get('isdir'))]
    if missing:
        errors.append('%s: devices %s do not exist on %s (or are directories). Give the block devices the volume '
                      'group lies on, as LVM names them (pvs), such as /dev/sdb.'
                      % (where, ', '.join(missing), context['hostname']))
    vgs = context['vgs']
    if vgs is not None and name not in vgs and not as_bool(pool.get('build', False)):
        errors.append('%s: the volume group %s does not exist on %s, and build is false. Create it (vgcreate %s %s), '
                      'or set build: true to have libvirt make it on those devices: it then refuses any device '
                      'that holds a partition table, a filesystem or LVM data, unless wipe is true as well.'
                      % (where, name, context['hostname'], name, ' '.join(devices)))
    return errors


def netfs_errors(index, pool, context):
    errors = dir_errors(index, pool, context['mode_default'])
    where = label(index, pool)
    if not is_host(pool.get('host')):
        errors.append('%s: host %r must be the NFS server\'s address or host name, such as 192.0.2.20 or '
                      'nfs1.example.org.' % (where, pool.get('host')))
    if not is_safe_path(pool.get('export')) or str(pool.get('export')).rstrip('/') == '':
        errors.append("%s: export %r must be the exported directory's absolute path on the server, without '..', "
                      "holding only letters, digits and '/._@-', such as /srv/nfs/images."
                      % (where, pool.get('export')))
    if (pool.get('format') or 'nfs') != 'nfs':
        errors.append('%s: format %r: the role makes NFS pools only; format must be nfs.' % (where, pool.get('format')))
    return errors


def iscsi_errors(index, pool, context):
    errors = []
    where = label(index, pool)
    if not is_host(pool.get('host')):
        errors.append("%s: host %r must be the iSCSI target's address or host name, such as 192.0.2.30."
                      % (where, pool.get('host')))
    if pool.get('port') is not None and not is_port(pool['port']):
        errors.append('%s: port %r must be a TCP port, 1-65535 (iSCSI listens on 3260).' % (where, pool['port']))
    for key in ('iqn', 'initiator_iqn'):
        value = pool.get(key)
        if (key == 'iqn' or value is not None) and (not isinstance(value, str) or IQN.fullmatch(value) is None):
            errors.append('%s: %s %r is not an iSCSI name: iqn.YYYY-MM.reversed.domain[:name] in lower case (such as '
                          'iqn.2026-01.org.example:storage.lun1), or eui. or naa. with hex digits.'
                          % (where, key, value))
    return errors


def rbd_errors(index, pool, context):
    errors = []
    where = label(index, pool)
    monitors = pool.get('monitors')
    if not isinstance(monitors, list) or not monitors:
        errors.append('%s: an rbd pool needs monitors, a list of the Ceph monitors as HOST or HOST:PORT, such as '
                      '[192.0.2.41, "192.0.2.42:6789"].' % where)
    else:
        bad = [m for m in monitors if split_monitor(m) is None]
        if bad:
            errors.append('%s: monitors %s are not HOST, HOST:PORT or [IPv6]:PORT.'
                          % (where, ', '.join(repr(m) for m in bad)))
    for key, example in (('rbd_pool', 'rbd'), ('user', 'libvirt')):
        value = pool.get(key)
        if not isinstance(value, str) or CEPH_NAME.fullmatch(value) is None:
            errors.append("%s: %s %r must be a Ceph name of letters, digits, '_', '.' and '-', such as %s."
                          % (where, key, value, example))
    if isinstance(pool.get('user'), str) and pool['user'].startswith('client.'):
        errors.append('%s: user %r: give the cephx user without its client. prefix (libvirt adds it), such as %s.'
                      % (where, pool['user'], pool['user'][len('client.'):]))
    # The key itself is never shown: the message names the entry only.
    if not is_cephx_key(pool.get('secret_key')):
        errors.append('%s: secret_key is not a cephx key (40 base64 characters, as `ceph auth get-key client.USER` '
                      'prints it; the value is not shown). Set it from a vaulted variable.' % where)
    return errors


TYPE_CHECKS = {'logical': logical_errors, 'netfs': netfs_errors, 'iscsi': iscsi_errors, 'rbd': rbd_errors}


def pool_errors(params):
    """params: storage_pools, pool_mode_default, and optionally pools_now (the host facts'
    libvirt.pools: {name: {state, autostart, path, type}}), paths (the host facts' paths),
    vgs (the volume groups on the host, or None when not read), pools_info (what
    community.libvirt.virt_pool's info says of each pool, volume_count -1 for an inactive
    one; read when a pool declared absent is defined), hostname."""
    pools = params['storage_pools']
    pools_now = params.get('pools_now') or {}
    context = {'mode_default': params['pool_mode_default'], 'paths': params.get('paths') or {},
               'vgs': params.get('vgs'), 'hostname': params.get('hostname') or 'the host',
               'active': [name for name, info in pools_now.items() if info.get('state') == 'active']}
    errors = []
    present = []
    for index, pool in enumerate(pools):
        kind, state = pool.get('type') or 'dir', pool.get('state') or 'present'
        where = label(index, pool)
        if kind not in TYPES or state not in STATES:
            errors.append('%s: type %r must be one of %s, and state %r present or absent.'
                          % (where, kind, ', '.join(TYPES), state))
            continue
        if state == 'absent':
            if POOL_NAME.fullmatch(str(pool.get('name', ''))) is None:
                errors.append("%s: the name may hold only letters, digits, '.', '_' and '-'." % where)
            volumes = dict((name, info.get('volume_count')) for name, info in (params.get('pools_info') or {}).items())
            errors.extend(absent_errors(index, pool, pools_now, volumes))
            continue
        present.append((index, pool))
        others = sorted(key for key in pool if key not in ('name', 'type', 'state') + FIELDS[kind]
                        and pool[key] is not None)
        if others:
            errors.append('%s: %s %s not for a %s pool (a %s pool takes %s). Remove them, or set the type they '
                          'belong to.' % (where, ', '.join(others), 'is' if len(others) == 1 else 'are', kind, kind,
                                          ', '.join(FIELDS[kind])))
        if kind == 'dir':
            errors.extend(dir_errors(index, pool, params['pool_mode_default']))
            continue
        if POOL_NAME.fullmatch(str(pool.get('name', ''))) is None:
            errors.append("%s: the name may hold only letters, digits, '.', '_' and '-'." % where)
        errors.extend(TYPE_CHECKS[kind](index, pool, context))
    errors.extend(collision_errors(present, pools_now))
    errors.extend(duplicate_errors(pools, present))
    return errors


def absent_errors(index, pool, pools_now, volumes):
    """A pool declared absent is undefined only when libvirt lists no volume in it."""
    name = pool.get('name')
    if name not in pools_now:
        return []
    count = volumes.get(name)
    if count is None:
        return []
    where = label(index, pool)
    if count < 0:
        return ['%s: state is absent, but the pool is inactive, so libvirt cannot list its volumes and the role '
                'cannot tell that it is empty. Start it (virsh pool-start %s) and run again, or undefine it by hand.'
                % (where, name)]
    if count > 0:
        return ['%s: state is absent, but libvirt lists %d volume(s) in it. The role removes only an empty pool: '
                'move or delete its volumes first (virsh vol-list %s), or keep the pool.' % (where, count, name)]
    return []


def collision_errors(present, pools_now):
    """Declared pools that collide with a pool libvirt has: the same name with another type or
    at another path (the role does not redefine a pool), or the same directory under another
    name (libvirt refuses two pools on one directory)."""
    errors = []
    owners = dict((str(info.get('path')).rstrip('/'), name) for name, info in pools_now.items() if info.get('path'))
    for index, pool in present:
        name, kind = pool.get('name'), pool_type(pool)
        there = pools_now.get(name) or {}
        if there.get('type') and there['type'] != kind:
            errors.append('%s: libvirt already has a pool %s of type %s, not %s. The role does not redefine a pool: '
                          'give its type, or another name.' % (label(index, pool), name, there['type'], kind))
            continue
        if kind not in DIRECTORY_TYPES:
            continue
        path = str(pool.get('path', '')).rstrip('/')
        if there.get('path') and there['path'].rstrip('/') != path:
            errors.append("%s: libvirt already has a pool %s at %s, not %s. The role does not move a pool: give that "
                          "path, or another name." % (label(index, pool), name, there['path'], path))
        elif owners.get(path, name) != name:
            errors.append("%s: %s is already the directory of libvirt's pool %s, and libvirt keeps one pool per "
                          "directory. Name the entry %s, or give another path."
                          % (label(index, pool), path, owners[path], owners[path]))
    return errors


def duplicate_errors(pools, present):
    names = [pool.get('name') for pool in pools]
    paths = [str(pool.get('path', '')).rstrip('/') for _i, pool in present if pool_type(pool) in DIRECTORY_TYPES]
    repeated = [key for key, count in collections.Counter(names + paths).items() if count > 1]
    errors = []
    if len(set(names)) != len(names) or len(set(paths)) != len(paths):
        errors.append('%s has duplicate names or paths: %s' % (VAR, ', '.join(map(str, repeated))))
    # One device, one volume group, one iSCSI target: two pools on one would fight over it.
    claims = collections.defaultdict(list)
    for _index, pool in present:
        kind = pool_type(pool)
        if kind == 'logical' and isinstance(pool.get('devices'), list):
            claims[('volume group', str(vg_name(pool)))].append(pool.get('name'))
            for device in pool['devices']:
                claims[('device', str(device))].append(pool.get('name'))
        elif kind == 'iscsi':
            claims[('iSCSI target', '%s %s' % (pool.get('host'), pool.get('iqn')))].append(pool.get('name'))
        elif kind == 'netfs':
            claims[('NFS export', '%s:%s' % (pool.get('host'), pool.get('export')))].append(pool.get('name'))
    for (what, value), owners in sorted(claims.items()):
        if len(owners) > 1:
            errors.append('%s: pools %s share the %s %s; give each pool its own.'
                          % (VAR, ', '.join(map(str, owners)), what, value))
    return errors


# ---------------------------------------------------------------- XML


# xml.sax.saxutils imports urllib and ssl: imported when XML is written, not by every input check.
def _attr(value):
    from xml.sax.saxutils import quoteattr
    return quoteattr(str(value))


def escape(text):
    from xml.sax.saxutils import escape as xml_escape
    return xml_escape(text)


def pool_xml(pool, mode_default='0711'):
    """libvirt's XML of a declared pool (checked by pool_errors first). An rbd pool names its
    secret by UUID; the key is not in it."""
    kind = pool_type(pool)
    name = escape(str(pool['name']))
    lines = ['<pool type=%s>' % _attr(kind), '  <name>%s</name>' % name]
    if kind == 'dir':
        lines += target_lines(pool['path'], pool.get('mode') or mode_default)
    elif kind == 'logical':
        lines.append('  <source>')
        lines += ['    <device path=%s/>' % _attr(device) for device in pool['devices']]
        lines += ['    <name>%s</name>' % escape(vg_name(pool)), '    <format type="lvm2"/>', '  </source>']
        lines += target_lines('/dev/' + vg_name(pool))
    elif kind == 'netfs':
        lines += ['  <source>', '    <host name=%s/>' % _attr(pool['host']),
                  '    <dir path=%s/>' % _attr(pool['export']), '    <format type="nfs"/>', '  </source>']
        # No permissions: the role makes the mount point, and once mounted its owner and mode
        # are the export root's, the server's to set.
        lines += target_lines(pool['path'])
    elif kind == 'iscsi':
        host = '    <host name=%s' % _attr(pool['host'])
        if pool.get('port') is not None:
            host += ' port=%s' % _attr(int(pool['port']))
        lines += ['  <source>', host + '/>', '    <device path=%s/>' % _attr(pool['iqn'])]
        if pool.get('initiator_iqn'):
            lines += ['    <initiator>', '      <iqn name=%s/>' % _attr(pool['initiator_iqn']), '    </initiator>']
        lines.append('  </source>')
        lines += target_lines(ISCSI_TARGET_PATH)
    elif kind == 'rbd':
        lines += ['  <source>', '    <name>%s</name>' % escape(pool['rbd_pool'])]
        for monitor in pool['monitors']:
            host, port = split_monitor(monitor)
            lines.append('    <host name=%s%s/>' % (_attr(host), '' if port is None else ' port=%s' % _attr(port)))
        lines += ['    <auth type="ceph" username=%s>' % _attr(pool['user']),
                  '      <secret uuid=%s/>' % _attr(secret_uuid(pool)), '    </auth>', '  </source>']
    else:
        raise ValueError('unknown pool type %r' % kind)
    lines.append('</pool>')
    return '\n'.join(lines) + '\n'


def target_lines(path, mode=None):
    lines = ['  <target>', '    <path>%s</path>' % escape(path)]
    if mode is not None:
        lines += ['    <permissions>', '      <mode>%s</mode>' % escape(mode), '      <owner>0</owner>',
                  '      <group>0</group>', '    </permissions>']
    return lines + ['  </target>']


def secret_xml(pool):
    """The libvirt secret an rbd pool authenticates with: private (libvirt never hands its
    value back) and persistent (kept, 0600 root, under /etc/libvirt/secrets). No value: the
    role sets it apart, from stdin."""
    usage = 'client.%s kvmcloud pool %s' % (pool['user'], pool['name'])
    return '\n'.join([
        '<secret ephemeral="no" private="yes">',
        '  <uuid>%s</uuid>' % secret_uuid(pool),
        '  <description>cephx key of client.%s for the storage pool %s</description>'
        % (escape(pool['user']), escape(pool['name'])),
        '  <usage type="ceph">',
        '    <name>%s</name>' % escape(usage),
        '  </usage>',
        '</secret>',
    ]) + '\n'


# ---------------------------------------------------------------- plan


def pool_plan(pools, pools_now, mode_default='0711', vgs=None, check_mode=False):
    """What the role does to reach the declared pools from the host facts (checked input):

    define: [{name, xml}] pools libvirt lacks; secrets: [{name, uuid, xml, index}] the secrets
    of the rbd pools among them (index: the pool's place in the list, where the task reads its
    key); build: [{name, mode}] logical pools whose volume group is missing (vgs: the host's
    volume groups; None when not read, then nothing is built); start and autostart: names;
    undefine: pools declared absent that libvirt has. In check mode a pool that would be
    defined is not started, built or marked: libvirt does not have it to act on, and its
    definition already reports the change.
    """
    pools_now = pools_now or {}
    plan = {'define': [], 'secrets': [], 'build': [], 'start': [], 'autostart': [], 'undefine': []}
    for index, pool in enumerate(pools):
        name = pool['name']
        now = pools_now.get(name)
        if pool_state(pool) == 'absent':
            if now is not None:
                plan['undefine'].append(name)
            continue
        if now is None:
            plan['define'].append({'name': name, 'xml': pool_xml(pool, mode_default)})
            if pool_type(pool) == 'rbd':
                plan['secrets'].append({'name': name, 'index': index, 'uuid': secret_uuid(pool),
                                        'xml': secret_xml(pool)})
            if check_mode:
                continue
        active = (now or {}).get('state') == 'active'
        if (pool_type(pool) == 'logical' and not active and as_bool(pool.get('build', False))
                and vgs is not None and vg_name(pool) not in vgs):
            plan['build'].append({'name': name,
                                  'mode': 'overwrite' if as_bool(pool.get('wipe', False)) else 'no_overwrite'})
        if not active:
            plan['start'].append(name)
        if (now or {}).get('autostart') != 'yes':
            plan['autostart'].append(name)
    return plan


def pool_directories(pools, paths, mode_default='0711'):
    """[{name, path, mode}] of the pool directories to make or fix, from the host facts' paths:
    a dir pool's when missing, not root-owned or of another mode; a netfs pool's mount point
    only when missing (mounted, it shows the export's root, which is the server's)."""
    todo = []
    for pool in pools:
        kind = pool_type(pool)
        if pool_state(pool) == 'absent' or kind not in DIRECTORY_TYPES:
            continue
        mode = pool.get('mode') or mode_default
        now = (paths or {}).get(pool['path']) or {}
        if kind == 'netfs':
            wrong = not now.get('exists')
        else:
            wrong = (not now.get('isdir') or [now.get('owner'), now.get('group')] != ['root', 'root']
                     or now.get('mode') is None or int(str(now['mode']), 8) != int(mode, 8))
        if wrong:
            todo.append({'name': pool['name'], 'path': pool['path'], 'mode': mode})
    return todo
