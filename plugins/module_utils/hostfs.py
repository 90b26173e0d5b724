# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only access to a host's files below a root path.

Every probe reads through a HostFS so that unit tests can point it at a
small recorded directory tree instead of the live /proc, /sys and /etc.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import mmap
import os
import stat


BIN_DIRS = ('/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/libexec', '/usr/lib/libvirt')


class HostFS:
    def __init__(self, root='/'):
        self.root = root

    def path(self, path):
        if self.root in ('', '/'):
            return path
        return os.path.join(self.root, path.lstrip('/'))

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def isdir(self, path):
        return os.path.isdir(self.path(path))

    def read(self, path, default=None):
        """File content as text, or default when it cannot be read."""
        try:
            with open(self.path(path), 'rb') as handle:
                return handle.read().decode('utf-8', 'replace')
        except (IOError, OSError):
            return default

    def read_bytes(self, path, default=None):
        try:
            with open(self.path(path), 'rb') as handle:
                return handle.read()
        except (IOError, OSError):
            return default

    def find_after(self, path, marker, length=80):
        """The bytes that follow the first `marker` in a file, as text, or None. Maps the file
        instead of reading it: a program binary is tens of MiB."""
        try:
            with open(self.path(path), 'rb') as handle:
                # An empty file cannot be mapped (ValueError, below).
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    start = mapped.find(marker)
                    if start < 0:
                        return None
                    start += len(marker)
                    return mapped[start:start + length].decode('utf-8', 'replace')
                finally:
                    mapped.close()
        except (IOError, OSError, ValueError):
            return None

    def read_strip(self, path, default=None):
        content = self.read(path)
        if content is None:
            return default
        return content.strip()

    def read_int(self, path, default=None):
        content = self.read_strip(path)
        try:
            return int(content)
        except (TypeError, ValueError):
            return default

    def listdir(self, path):
        try:
            return sorted(os.listdir(self.path(path)))
        except (IOError, OSError):
            return []

    def lstat(self, path):
        try:
            return os.lstat(self.path(path))
        except (IOError, OSError):
            return None

    def stat(self, path):
        try:
            return os.stat(self.path(path))
        except (IOError, OSError):
            return None

    def readlink(self, path):
        try:
            return os.readlink(self.path(path))
        except (IOError, OSError):
            return None

    def find_bin(self, name):
        """Absolute path (as seen on the host) of an installed program, or None."""
        for directory in BIN_DIRS:
            candidate = directory + '/' + name
            st = self.stat(candidate)
            if st is not None and stat.S_ISREG(st.st_mode):
                return candidate
        return None

    def owner_info(self, path, follow=True):
        """Owner, group and octal mode of a path, or None when it is absent."""
        st = self.stat(path) if follow else self.lstat(path)
        if st is None:
            return None
        return {
            'owner': self.user_name(st.st_uid),
            'group': self.group_name(st.st_gid),
            'uid': st.st_uid,
            'gid': st.st_gid,
            'mode': '%04o' % stat.S_IMODE(st.st_mode),
        }

    def _id_map(self, path):
        names = {}
        for line in (self.read(path) or '').splitlines():
            fields = line.split(':')
            if len(fields) >= 3:
                try:
                    names.setdefault(int(fields[2]), fields[0])
                except ValueError:
                    continue
        return names

    def user_name(self, uid):
        # /etc/passwd of the (possibly fixture) root, not the pwd module: the
        # controller's user database says nothing about a recorded host.
        return self._id_map('/etc/passwd').get(uid, str(uid))

    def group_name(self, gid):
        return self._id_map('/etc/group').get(gid, str(gid))

    def group_members(self, name):
        for line in (self.read('/etc/group') or '').splitlines():
            fields = line.split(':')
            if len(fields) >= 4 and fields[0] == name:
                return [member for member in fields[3].split(',') if member]
        return None


class CommandRunner:
    """Runs programs through AnsibleModule.run_command; tests pass a fake."""

    def __init__(self, module):
        self.module = module

    def run(self, argv):
        rc, out, err = self.module.run_command(argv, environ_update={'LC_ALL': 'C'})
        return rc, out, err
