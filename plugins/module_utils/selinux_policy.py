# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SELinux local customisations: readers of the policy store's files and of getsebool, semodule
and restorecon output, what to change, and the text of the diff. Pure functions on text;
plugins/modules/selinux_local.py reads the files and runs the commands.

The store's files are read directly because semanage takes about 5 s (more under emulation)
to load the policy before it prints anything, while the files hold the same records:
booleans.local and file_contexts.local are what `semanage export` prints, file_contexts the
policy's own rules, modules/<priority>/<name>/cil what `semodule --extract --cil` writes.
(semodule --extract itself is of no use here: on Debian 12 semodule runs as semanage_t, which
the policy lets write only its own directories, not a temporary or home directory.)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bz2
import re
import stat

# semanage's -f letters and the second field of a file_contexts line.
FTYPE_FIELDS = {'a': '', 'f': '--', 'd': '-d', 'c': '-c', 'b': '-b', 's': '-s', 'l': '-l', 'p': '-p'}
FTYPE_NAMES = {'a': 'all files', 'f': 'regular file', 'd': 'directory', 'c': 'character device',
               'b': 'block device', 's': 'socket', 'l': 'symbolic link', 'p': 'named pipe'}
_FTYPE_OF_FIELD = dict((field, letter) for letter, field in FTYPE_FIELDS.items() if field)

NAME = re.compile(r'^[A-Za-z0-9_]+\Z')
# semanage import splits its lines at white space and strips quotes, so a rule cannot hold either.
_UNQUOTABLE = re.compile(r'''[\s'"]''')
_RESTORECON_LINE = re.compile(r'^(?:Relabeled|Would relabel) (.+) from (\S+) to (\S+)\Z')

DEFAULT_STORE_ROOT = '/var/lib/selinux'
# Where `semodule --install` puts a module unless told otherwise.
INSTALL_PRIORITY = 400


class PolicyError(Exception):
    """Input or host state the module cannot work with; the message names the item."""


def on_off(value):
    return 'on' if value else 'off'


def config_value(text, key):
    """The value of `key=value` (or `key = value`) in /etc/selinux/config or semanage.conf, the
    last one winning; None when the key is not set."""
    value = None
    for line in (text or '').splitlines():
        name, sep, rest = line.partition('=')
        if sep and not name.strip().startswith('#') and name.strip() == key:
            value = rest.strip().strip('"')
    return value


def store_path(selinux_config, semanage_conf):
    """The directory of the active policy store, <store-root>/<SELINUXTYPE>/active."""
    policy = config_value(selinux_config, 'SELINUXTYPE')
    if not policy:
        raise PolicyError('/etc/selinux/config names no policy (SELINUXTYPE): is SELinux set up on this host?')
    root = config_value(semanage_conf, 'store-root') or DEFAULT_STORE_ROOT
    return '%s/%s/active' % (root.rstrip('/'), policy)


def parse_getsebool(text):
    """{name: bool} from `getsebool -a` (lines `name --> on`)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition(' --> ')
        if sep:
            values[name.strip()] = value.strip() == 'on'
    return values


def parse_booleans_local(text):
    """{name: bool} from the store's booleans.local (lines `name=1`): the values setsebool -P and
    semanage boolean -m recorded, which the policy gets at every rebuild and boot."""
    values = {}
    for line in (text or '').splitlines():
        name, sep, value = line.strip().partition('=')
        if sep and not name.startswith('#'):
            values[name.strip()] = value.strip().lower() in ('1', 'true', 'on')
    return values


def parse_file_contexts(text):
    """{(regex, ftype letter): setype} from a file_contexts file (lines `regex [-d|--|...] context`),
    the last line for a regex and file type winning."""
    rules = {}
    for line in (text or '').splitlines():
        fields = line.split()
        if not fields or fields[0].startswith('#') or len(fields) not in (2, 3):
            continue
        ftype = _FTYPE_OF_FIELD.get(fields[1], 'a') if len(fields) == 3 else 'a'
        context = fields[-1]
        setype = context if context == '<<none>>' else (context.split(':') + ['', '', ''])[2]
        rules[(fields[0], ftype)] = setype
    return rules


def parse_semodule_list(text):
    """{name: [(priority, enabled), ...]} from `semodule --list-modules=full`, highest priority
    (the one in effect) first. Lines: `400 kvmcloud_libvirt cil` with `disabled` at the end when so."""
    modules = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit():
            modules.setdefault(fields[1], []).append((int(fields[0]), 'disabled' not in fields[3:]))
    for versions in modules.values():
        versions.sort(reverse=True)
    return modules


def module_source(data):
    """The text of a module as the store keeps it: bzip2-compressed, unless semanage.conf turned
    compression off (bzip-blocksize=0)."""
    return bz2.decompress(data) if data[:3] == b'BZh' else data


def parse_restorecon(text):
    """[(path, old context, new context)] from `restorecon -v` (`Relabeled`) or `-n -v` (`Would relabel`)."""
    changes = []
    for line in text.splitlines():
        match = _RESTORECON_LINE.match(line.strip())
        if match:
            changes.append(match.groups())
    return changes


def check_booleans(booleans, active):
    """Refuses names the loaded policy does not have; booleans: {name: bool}."""
    unknown = sorted(name for name in booleans if name not in active)
    if unknown:
        raise PolicyError('booleans: the loaded policy has no boolean %s (getsebool -a)' % ', '.join(unknown))


def boolean_plan(booleans, active, persistent):
    """The names whose active value or persistent (local) value differs from booleans, sorted.
    A boolean with no local value counts as not persistent: the store's files do not hold the
    policy's default, and setsebool -P records it either way."""
    return sorted(name for name, value in booleans.items()
                  if active.get(name) != value or persistent.get(name) != value)


def describe_booleans(booleans, active, persistent):
    """One line per wanted boolean: `name: on (persistent: off)`."""
    lines = []
    for name in sorted(booleans):
        kept = on_off(persistent[name]) if name in persistent else 'no local value'
        lines.append('%s: %s (persistent: %s)\n' % (name, on_off(active.get(name)), kept))
    return ''.join(lines)


def normalize_fcontexts(fcontexts):
    """The rules as given, checked: [{target, setype, ftype, state}], one per target and file type
    (a rule given twice the same way counts once; twice differently is refused)."""
    rules = {}
    for index, rule in enumerate(fcontexts):
        target, setype, state = rule.get('target') or '', rule.get('setype'), rule.get('state') or 'present'
        ftype = rule.get('ftype') or 'a'
        label = 'fcontexts[%d] (%s)' % (index, target)
        if not target.startswith('/') or _UNQUOTABLE.search(target):
            raise PolicyError('%s: target must be a path regex starting with / and without spaces or quotes' % label)
        if ftype not in FTYPE_FIELDS:
            raise PolicyError('%s: ftype must be one of %s' % (label, ', '.join(sorted(FTYPE_FIELDS))))
        if state == 'present' and not (setype and (NAME.match(setype) or setype == '<<none>>')):
            raise PolicyError('%s: state=present needs setype, a type name such as virt_image_t' % label)
        entry = dict(target=target, ftype=ftype, setype=setype if state == 'present' else None, state=state)
        key = (target, ftype)
        if key in rules and rules[key] != entry:
            raise PolicyError('%s: given twice for %s, differently' % (label, FTYPE_NAMES[ftype]))
        rules[key] = entry
    return list(rules.values())


def fcontext_plan(rules, local, policy):
    """[(action, rule)] with action 'add', 'modify' or 'delete', for semanage fcontext -a/-m/-d.
    A rule the policy itself has with the wanted type needs nothing; with another type it gets a
    local rule over it (-m: semanage refuses -a for a regex the policy has). Only local rules
    are deleted: the policy's cannot be."""
    plan = []
    for rule in rules:
        key = (rule['target'], rule['ftype'])
        if rule['state'] == 'absent':
            if key in local:
                plan.append(('delete', rule))
        elif key in local:
            if local[key] != rule['setype']:
                plan.append(('modify', rule))
        elif key in policy:
            if policy[key] != rule['setype']:
                plan.append(('modify', rule))
        else:
            plan.append(('add', rule))
    return plan


def import_text(plan):
    """The lines `semanage import` applies in one transaction."""
    lines = []
    for action, rule in plan:
        if action == 'delete':
            lines.append("fcontext -d -f %s '%s'" % (rule['ftype'], rule['target']))
        else:
            flag = '-a' if action == 'add' else '-m'
            lines.append("fcontext %s -f %s -t %s '%s'" % (flag, rule['ftype'], rule['setype'], rule['target']))
    return ''.join(line + '\n' for line in lines)


def apply_fcontext_plan(local, plan):
    """The local rules after plan: what the store holds once semanage import ran."""
    after = dict(local)
    for action, rule in plan:
        key = (rule['target'], rule['ftype'])
        if action == 'delete':
            after.pop(key, None)
        else:
            after[key] = rule['setype']
    return after


def describe_fcontexts(rules, local, policy):
    """One line per wanted rule: `regex (file type): type, local rule | policy rule | no rule`."""
    lines = []
    for rule in rules:
        key = (rule['target'], rule['ftype'])
        if key in local:
            state = '%s, local rule' % local[key]
        elif key in policy:
            state = '%s, policy rule' % policy[key]
        else:
            state = 'no rule'
        lines.append('%s (%s): %s\n' % (rule['target'], FTYPE_NAMES[rule['ftype']], state))
    return ''.join(lines)


def check_policy_modules(policy_modules):
    """Refuses entries semodule could not install under their name; returns them checked."""
    checked = []
    for index, entry in enumerate(policy_modules):
        name, path, state = entry.get('name') or '', entry.get('path'), entry.get('state') or 'present'
        label = 'policy_modules[%d] (%s)' % (index, name)
        if not NAME.match(name):
            raise PolicyError('%s: name must be a module name (letters, digits, _)' % label)
        if state == 'present':
            if not path or not path.endswith('.cil'):
                raise PolicyError('%s: state=present needs path, a .cil file on the target' % label)
            # semodule names a CIL module after its file.
            if path.rsplit('/', 1)[-1][:-len('.cil')] != name:
                raise PolicyError('%s: semodule would install %s as module %s: name the file %s.cil'
                                  % (label, path, path.rsplit('/', 1)[-1][:-len('.cil')], name))
        checked.append(dict(name=name, path=path, state=state))
    return checked


def module_plan(policy_modules, installed, sources, files):
    """[(name, before, after, semodule arguments)], one per module, the arguments empty when it
    stays as it is.

    installed: parse_semodule_list's answer. sources: {name: text of the module in effect}.
    files: {path: bytes, or None when the file is not there (check mode: an earlier task writes it)}."""
    plan = []
    for entry in policy_modules:
        name, path = entry['name'], entry['path']
        versions = installed.get(name, [])
        if entry['state'] == 'absent':
            if any(priority == INSTALL_PRIORITY for priority, _enabled in versions):
                plan.append((name, 'installed', 'not installed', ['--remove', name]))
            else:
                # Another priority is not where semodule --install put it: not this module's to remove.
                left = 'not installed' if not versions else 'installed at priority %d only' % versions[0][0]
                plan.append((name, left, left, []))
            continue
        after = 'installed as in %s' % path
        if not versions:
            plan.append((name, 'not installed', after, ['--install', path]))
            continue
        if files.get(path) is None:
            before, args = 'installed, %s not written yet' % path, ['--install', path]
        elif sources.get(name) != files[path]:
            before, args = 'installed, differs from %s' % path, ['--install', path]
        else:
            before, args = after, []
        if not versions[0][1]:
            before += ', disabled'
            args += ['--enable', name]
        plan.append((name, before, after, args))
    return plan


def file_type_letter(mode):
    """semanage's file type letter for a stat mode."""
    for test, letter in ((stat.S_ISDIR, 'd'), (stat.S_ISREG, 'f'), (stat.S_ISLNK, 'l'), (stat.S_ISCHR, 'c'),
                         (stat.S_ISBLK, 'b'), (stat.S_ISSOCK, 's'), (stat.S_ISFIFO, 'p')):
        if test(mode):
            return letter
    return 'a'


def rule_for_path(plan, path, ftype):
    """The type a rule that plan adds or changes gives path, or None. For check mode: restorecon -n
    still sees the old rules. The last matching rule wins, as local rules do in libselinux."""
    setype = None
    for action, rule in plan:
        if action == 'delete' or rule['ftype'] not in ('a', ftype):
            continue
        try:
            if re.match('^(?:%s)$' % rule['target'], path):
                setype = rule['setype']
        except re.error:
            continue
    return setype


def with_type(context, setype):
    """context (user:role:type:level) with its type replaced."""
    fields = context.split(':')
    if len(fields) < 3:
        return context
    fields[2] = setype
    return ':'.join(fields)
