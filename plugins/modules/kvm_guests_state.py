#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_guests_state
short_description: Read the guests, networks, images and files of a KVM host in one call
version_added: 0.4.0
description:
  - Reads what the kvmcloud.hypervisor.kvm_guests role needs to know about a host, so the role can decide on the
    controller what to create, import, define and start.
  - Asks libvirt with C(virsh) which of O(domains) are defined, running and started with the host, and for the
    current XML of the defined ones (the live XML of a running guest); which networks exist; and, with
    O(domcapabilities), which machine type and firmware libvirt offers and the CPU its C(host-model) stands for.
  - With O(cpu_baseline), asks libvirt for the CPU model that runs on every one of the given host CPUs and on
    this host's hypervisor (C(virsh hypervisor-cpu-baseline --migratable)).
  - Reads each of O(images) with C(qemu-img info --output=json -U), and its checksum when asked; and the type,
    owner, mode and modification time of each of O(paths); and the restart markers in O(restart_marker_dir).
  - Never changes the host.
author:
  - kvmcloud.hypervisor maintainers (@kvmcloud)
options:
  uri:
    description: The libvirt connection C(virsh) uses.
    type: str
    default: qemu:///system
  domains:
    description: Names of the guests to read. Names libvirt does not know are reported as not defined.
    type: list
    elements: str
    default: []
  all_domains:
    description: Read every guest libvirt has, besides the names of O(domains).
    type: bool
    default: false
  networks:
    description: Read the names of the libvirt networks, active or not.
    type: bool
    default: false
  domcapabilities:
    description:
      - Read C(virsh domcapabilities) for this domain type, architecture and machine type.
    type: dict
    suboptions:
      # The domain type, architecture and machine type, shared with cpu_baseline (GUEST_KIND).
      <<: &guest_kind
        virttype:
          description: The domain type, C(kvm) or C(qemu).
          type: str
          required: true
        arch:
          description: The guest architecture.
          type: str
          default: x86_64
        machine:
          description: The machine type, for example C(q35).
          type: str
          default: q35
      host_cpu:
        description: Also return the CPU libvirt's C(host-model) stands for on this host (C(host_cpu) of RV(domcapabilities)).
        type: bool
        default: false
  cpu_baseline:
    description:
      - Ask libvirt for the CPU model that runs on every one of O(cpu_baseline.cpus) and on this host's
        hypervisor (C(virsh hypervisor-cpu-baseline --migratable)), returned as RV(cpu_baseline).
    type: dict
    suboptions:
      cpus:
        description:
          - Host CPUs, each a C(<cpu>) element as C(host_cpu) of RV(domcapabilities) returns it, from this host or
            others. An empty list asks nothing.
          - Features a guest cannot take along in a live migration are left out of the baseline.
        type: list
        elements: str
        required: true
      <<: *guest_kind
  images:
    description:
      - Disk images to read with C(qemu-img info). A missing file is reported as not existing.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the image.
        type: path
        required: true
      checksum_algorithm:
        description: Also return the image's checksum with this algorithm.
        type: str
        choices: [sha256, sha384, sha512]
  paths:
    description: Files and directories to stat, without following a final symlink.
    type: list
    elements: path
    default: []
  restart_marker_dir:
    description: A directory whose C(*.restart) files are returned; a missing directory holds none.
    type: path
  moved_record_dir:
    description:
      - A directory of records C(playbooks/migrate.yml) leaves for the guests it moved away from this host, one
        file per guest, named after it, whose first line names the host it went to. A missing directory holds none.
    type: path
extends_documentation_fragment:
  - kvmcloud.hypervisor.read_only
notes:
  - Standard library only on the target; needs C(virsh) (libvirt-clients) when O(domains), O(networks) or
    O(domcapabilities) are given, and C(qemu-img) when O(images) is. It does not need the libvirt Python binding.
  - C(-U) lets C(qemu-img) read the header of an image a running guest holds locked.
  - The checksum of an image reads the whole file.
seealso:
  - module: community.libvirt.virt
'''

EXAMPLES = r'''
- name: Read the guests, networks, images, disks and seeds the host has
  kvmcloud.hypervisor.kvm_guests_state:
    domains: [web1, db1]
    networks: true
    domcapabilities:
      virttype: kvm
    images:
      - path: /var/lib/libvirt/images/base/debian-13.qcow2
        checksum_algorithm: sha512
      - path: /var/lib/libvirt/images/guests/web1/disk0.qcow2
    paths:
      - /var/lib/libvirt/images/guests/web1
      - /var/lib/libvirt/images/guests/web1/seed.iso
    restart_marker_dir: /run/kvmcloud/guests
  register: guests_state

- name: Show whether web1 runs
  ansible.builtin.debug:
    msg: "{{ guests_state.domains.web1.running }}"
'''

RETURN = r'''
domains:
  description:
    - One entry per name of O(domains). C(xml) is C(virsh dumpxml) of a defined guest (its live XML while it
      runs, with the domain id), otherwise empty. C(running) follows C(virsh list --state-running) (a paused
      guest does not run).
  returned: always
  type: dict
  sample: {"web1": {"defined": true, "running": true, "autostart": true, "xml": "<domain type='kvm' id='3'>..."}}
networks:
  description: Names of the libvirt networks, active or not. Empty unless O(networks) is true.
  returned: always
  type: list
  elements: str
  sample: [br-guest]
domcapabilities:
  description:
    - The versioned machine type and the firmware kinds libvirt offers. Empty without O(domcapabilities).
    - C(host_cpu) is the CPU libvirt's C(host-model) stands for on this host, as a C(<cpu>) element for
      O(cpu_baseline.cpus), with O(domcapabilities.host_cpu); empty without it or when libvirt offers no
      C(host-model) for the domain type. C(virttype) is the domain type it was read for.
  returned: always
  type: dict
  sample: {"machine": "pc-q35-10.0", "firmware": ["bios", "efi"], "virttype": "qemu",
           "host_cpu": "<cpu mode='custom' match='exact'><model fallback='forbid'>EPYC</model>...</cpu>"}
cpu_baseline:
  description:
    - The baseline of O(cpu_baseline.cpus) as libvirt printed it (C(xml)) and read from it (C(model), C(vendor),
      C(features) with their C(policy), C(require) or C(disable)). Empty without O(cpu_baseline).
  returned: always
  type: dict
  sample: {"xml": "<cpu mode='custom' match='exact'>...</cpu>", "model": "EPYC", "vendor": "AMD",
           "features": [{"policy": "require", "name": "x2apic"}, {"policy": "disable", "name": "vme"}]}
images:
  description:
    - One entry per path of O(images). C(info) is the JSON C(qemu-img info) printed (C(format), C(virtual-size),
      C(backing-filename), ...), or null for a missing file. C(checksum) (hex, lower case) only when asked for.
  returned: always
  type: dict
  sample: {"/var/lib/libvirt/images/guests/web1/disk0.qcow2": {"exists": true, "info": {"format": "qcow2"}}}
paths:
  description:
    - One entry per path of O(paths). C(mode) is the octal permission string, C(mtime) the modification time in
      seconds (float).
  returned: always
  type: dict
  sample: {"/var/lib/libvirt/images/guests/web1": {"exists": true, "isdir": true, "isreg": false,
           "islnk": false, "mode": "0711", "uid": 0, "gid": 0, "mtime": 1733222400.5}}
restart_markers:
  description: Names of the C(*.restart) files in O(restart_marker_dir), sorted.
  returned: always
  type: list
  elements: str
  sample: [web1@3.restart]
moved:
  description: Guest name to the host its record in O(moved_record_dir) names.
  returned: always
  type: dict
  sample: {"web1": "hv02"}
'''

import hashlib
import json
import os
import stat
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

CHUNK = 1024 * 1024
# Which guests libvirt is asked about: domain type, architecture, machine type.
GUEST_KIND = dict(
    virttype=dict(type='str', required=True),
    arch=dict(type='str', default='x86_64'),
    machine=dict(type='str', default='q35'),
)
LANG_C = {'LANG': 'C', 'LC_ALL': 'C'}


class ReadError(Exception):
    pass


class Reader:
    """Runs virsh and qemu-img through a module's run_command."""

    def __init__(self, module, uri):
        self.module = module
        self.uri = uri
        self._virsh = None
        self._qemu_img = None

    def run(self, argv, data=None):
        rc, out, err = self.module.run_command(argv, environ_update=LANG_C, data=data)
        if rc != 0:
            raise ReadError('%s failed (rc %s): %s' % (' '.join(argv), rc, (err or out).strip()))
        return out

    def virsh(self, *args, **kwargs):
        if self._virsh is None:
            self._virsh = self.module.get_bin_path('virsh', required=True)
        return self.run([self._virsh, '--connect', self.uri] + list(args), data=kwargs.get('data'))

    def qemu_img(self, *args):
        if self._qemu_img is None:
            self._qemu_img = self.module.get_bin_path('qemu-img', required=True)
        return self.run([self._qemu_img] + list(args))


def names(output):
    return [line.strip() for line in output.splitlines() if line.strip()]


def read_domains(reader, wanted, every=False):
    if not wanted and not every:
        return {}
    defined = names(reader.virsh('list', '--all', '--name'))
    if every:
        wanted = list(wanted) + [name for name in defined if name not in wanted]
    running = names(reader.virsh('list', '--state-running', '--name'))
    autostart = names(reader.virsh('list', '--all', '--autostart', '--name'))
    domains = {}
    for name in wanted:
        domains[name] = {
            'defined': name in defined,
            'running': name in running,
            'autostart': name in autostart,
            'xml': reader.virsh('dumpxml', name) if name in defined else '',
        }
    return domains


def parse_xml(text, command):
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReadError('virsh %s printed no XML: %s' % (command, exc))


def parse_domcapabilities(text):
    root = parse_xml(text, 'domcapabilities')
    firmware = []
    for enum in root.iter('enum'):
        if enum.get('name') == 'firmware':
            firmware.extend((value.text or '').strip() for value in enum.findall('value'))
    return {'machine': (root.findtext('machine') or '').strip(), 'firmware': firmware,
            'host_cpu': host_model_cpu(root)}


def host_model_cpu(root):
    """The host-model mode of domcapabilities as the <cpu> element it stands for (what virsh
    itself makes of a domcapabilities document given to hypervisor-cpu-baseline)."""
    for mode in root.findall('./cpu/mode'):
        if mode.get('name') == 'host-model' and mode.get('supported') == 'yes' and mode.find('model') is not None:
            cpu = ET.Element('cpu', {'mode': 'custom', 'match': 'exact'})
            cpu.extend(list(mode))
            return ET.tostring(cpu, encoding='unicode')
    return ''


def read_domcapabilities(reader, spec):
    if not spec:
        return {}
    caps = parse_domcapabilities(reader.virsh('domcapabilities', '--virttype', spec['virttype'],
                                              '--arch', spec['arch'], '--machine', spec['machine']))
    caps['virttype'] = spec['virttype']
    if not spec['host_cpu']:
        caps['host_cpu'] = ''
    return caps


def parse_cpu(text):
    root = parse_xml(text, 'hypervisor-cpu-baseline')
    model = root.find('model')
    if root.tag != 'cpu' or model is None or not (model.text or '').strip():
        raise ReadError('virsh hypervisor-cpu-baseline printed no CPU model: %s' % text[:200])
    return {'xml': text, 'model': model.text.strip(), 'vendor': (root.findtext('vendor') or '').strip(),
            'features': [{'policy': feature.get('policy', 'require'), 'name': feature.get('name')}
                         for feature in root.findall('feature')]}


def read_cpu_baseline(reader, spec):
    """The baseline of the given CPUs on this host's hypervisor. virsh reads the CPUs from a
    file: /dev/stdin keeps them off the disk."""
    if not spec or not spec['cpus']:
        return {}
    out = reader.virsh('hypervisor-cpu-baseline', '--virttype', spec['virttype'], '--arch', spec['arch'],
                       '--machine', spec['machine'], '--migratable', '/dev/stdin', data='\n'.join(spec['cpus']))
    return parse_cpu(out)


def file_checksum(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def read_image(reader, path, algorithm):
    if not os.path.exists(path):
        return {'exists': False, 'info': None}
    out = reader.qemu_img('info', '--output=json', '-U', path)
    try:
        info = json.loads(out)
    except ValueError:
        raise ReadError('qemu-img info %s printed no JSON: %s' % (path, out[:200]))
    found = {'exists': True, 'info': info}
    if algorithm:
        found['checksum'] = file_checksum(path, algorithm)
    return found


def stat_path(path):
    try:
        st = os.lstat(path)
    except OSError:
        return {'exists': False}
    return {
        'exists': True,
        'isdir': stat.S_ISDIR(st.st_mode),
        'isreg': stat.S_ISREG(st.st_mode),
        'islnk': stat.S_ISLNK(st.st_mode),
        'mode': '%04o' % stat.S_IMODE(st.st_mode),
        'uid': st.st_uid,
        'gid': st.st_gid,
        'mtime': st.st_mtime,
    }


def restart_markers(directory):
    if not directory or not os.path.isdir(directory):
        return []
    return sorted(name for name in os.listdir(directory)
                  if name.endswith('.restart') and os.path.isfile(os.path.join(directory, name)))


def moved_records(directory):
    if not directory or not os.path.isdir(directory):
        return {}
    records = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path) as handle:
                records[name] = (handle.readline().strip() or '?')
    return records


def read_state(reader, params):
    return {
        'domains': read_domains(reader, params['domains'], params['all_domains']),
        'networks': names(reader.virsh('net-list', '--all', '--name')) if params['networks'] else [],
        'domcapabilities': read_domcapabilities(reader, params['domcapabilities']),
        'cpu_baseline': read_cpu_baseline(reader, params['cpu_baseline']),
        'images': dict((image['path'], read_image(reader, image['path'], image['checksum_algorithm']))
                       for image in params['images']),
        'paths': dict((path, stat_path(path)) for path in params['paths']),
        'restart_markers': restart_markers(params['restart_marker_dir']),
        'moved': moved_records(params['moved_record_dir']),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type='str', default='qemu:///system'),
            domains=dict(type='list', elements='str', default=[]),
            all_domains=dict(type='bool', default=False),
            networks=dict(type='bool', default=False),
            domcapabilities=dict(type='dict', options=dict(GUEST_KIND, host_cpu=dict(type='bool', default=False))),
            cpu_baseline=dict(type='dict', options=dict(GUEST_KIND, cpus=dict(type='list', elements='str', required=True))),
            images=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='path', required=True),
                checksum_algorithm=dict(type='str', choices=['sha256', 'sha384', 'sha512']),
            )),
            paths=dict(type='list', elements='path', default=[]),
            restart_marker_dir=dict(type='path'),
            moved_record_dir=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    try:
        result = read_state(Reader(module, module.params['uri']), module.params)
    except (ReadError, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
