# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The domain XML of kvm_guests (roles/kvm_guests/templates/domain.xml.j2), for every profile.

The template uses plain Jinja2 only, so it is rendered here the way Ansible's template lookup
renders it (trim_blocks), with the role's own profiles from vars/main.yml. Each rendering must
carry the virtio devices of controls G1-G5 and none of the excluded ones, and pass libvirt's
schema: with virt-xml-validate when it is installed, or with xmllint and the schemas named by
KVMCLOUD_LIBVIRT_SCHEMA_DIR (the directory holding domain.rng, e.g. extracted from Debian's
libvirt0 package).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import jinja2
import pytest
import yaml

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'kvm_guests')

with open(os.path.join(ROLE, 'vars', 'main.yml')) as handle:
    ROLE_VARS = yaml.safe_load(handle)

PROFILE_DEFAULTS = ROLE_VARS['__kvm_guests_profile_defaults']
# The built-in profiles, plus the variants the built-in ones leave out: a virtio-scsi profile
# with VNC and no Secure Boot, and one spreading disks over two iothreads.
PROFILES = dict(
    (name, dict(PROFILE_DEFAULTS, **overrides))
    for name, overrides in list(ROLE_VARS['__kvm_guests_builtin_profiles'].items()) + [
        ('scsi-vnc-no-secure-boot', {'disk_bus': 'scsi', 'graphics': 'vnc', 'secure_boot': False}),
        ('two-iothreads-no-log', {'iothreads': 2, 'console_log': False}),
    ])

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, 'templates')),
                         trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)

GUEST = {
    'name': 'web1',
    'profile': 'general',
    'vcpus': 4,
    'cpu_mode': 'host-passthrough',
    'memory_mib': 2048,
    'disks': [
        {'path': '/var/lib/libvirt/images/guests/web1/disk0.qcow2', 'format': 'qcow2', 'kind': 'file'},
        {'path': '/srv/pool/web1-disk1.qcow2', 'format': 'qcow2', 'kind': 'file'},
        # A volume of a logical pool.
        {'path': '/dev/vg0/web1-disk2', 'format': 'raw', 'kind': 'block'},
    ],
    'nics': [
        {'network': 'br-guest', 'portgroup': '', 'nwfilter': 'clean-traffic'},
        {'network': 'tenant-nat', 'portgroup': 'web', 'nwfilter': ''},
    ],
    'seed_path': '/var/lib/libvirt/images/guests/web1/seed.iso',
}
IDENTITY = {'uuid': '0f8e3b8a-5d0c-5a43-9d3e-3c1f5c1a2b7e', 'machine': 'q35',
            'macs': ['52:54:00:12:34:56', '52:54:00:12:34:57']}


def host(domain_type='kvm', **overrides):
    values = {'domain_type': domain_type, 'fleet_cpu': {}, 'emulated_cpu_model': 'qemu64', 'emulated_tb_cache_mib': 256,
              'nosharepages': True,
              'nwfilter_ip_learning': 'any', 'console_log_dir': '/var/log/libvirt/qemu'}
    values.update(overrides)
    return values


def render(profile, guest=None, **host_overrides):
    return ENV.get_template('domain.xml.j2').render(
        guest=dict(GUEST, **(guest or {})), profile=profile, identity=IDENTITY, host=host(**host_overrides))


def parse(text):
    return ET.fromstring(text)


CASES = [(name, domain_type) for name in sorted(PROFILES) for domain_type in ('kvm', 'qemu')]
IDS = ['%s-%s' % case for case in CASES]


Rendered = collections.namedtuple('Rendered', 'profile domain_type text dom')


@pytest.fixture(params=CASES, ids=IDS)
def rendered(request):
    name, domain_type = request.param
    text = render(PROFILES[name], domain_type=domain_type)
    return Rendered(PROFILES[name], domain_type, text, parse(text))


def test_machine_and_domain_type(rendered):
    domain_type = rendered.domain_type
    dom = rendered.dom
    assert dom.get('type') == domain_type
    assert dom.find('os/type').get('machine') == 'q35'
    assert dom.findtext('uuid') == IDENTITY['uuid']
    assert dom.find('vcpu').text == '4'
    assert dom.find('memory').get('unit') == 'MiB' and dom.findtext('memory') == '2048'


def test_cpu_is_host_passthrough_on_kvm_and_a_named_model_under_tcg(rendered):
    domain_type = rendered.domain_type
    dom = rendered.dom
    cpu = dom.find('cpu')
    if domain_type == 'kvm':
        assert cpu.get('mode') == 'host-passthrough'
        assert cpu.find('model') is None
        assert dom.find('features/tcg') is None
    else:
        assert cpu.get('mode') == 'custom'
        assert cpu.findtext('model') == 'qemu64'
        tb_cache = dom.find('features/tcg/tb-cache')
        assert (tb_cache.get('unit'), tb_cache.text) == ('MiB', '256')
    topology = cpu.find('topology')
    assert int(topology.get('sockets')) * int(topology.get('dies')) * int(topology.get('cores')) \
        * int(topology.get('threads')) == 4


def test_a_host_model_guest_gets_the_host_model_cpu_under_kvm():
    cpu = parse(render(PROFILES['general'], guest={'cpu_mode': 'host-model'}, domain_type='kvm')).find('cpu')
    assert (cpu.get('mode'), cpu.get('check'), cpu.get('migratable')) == ('host-model', 'partial', None)
    assert cpu.find('topology').get('cores') == '4'
    # Under TCG the named model stays, whatever the mode says.
    cpu = parse(render(PROFILES['general'], guest={'cpu_mode': 'host-model'}, domain_type='qemu')).find('cpu')
    assert (cpu.get('mode'), cpu.findtext('model')) == ('custom', 'qemu64')


FLEET_CPU = {'model': 'EPYC', 'vendor': 'AMD',
             'features': [{'policy': 'require', 'name': 'x2apic'}, {'policy': 'disable', 'name': 'vme'}]}


@pytest.mark.parametrize('domain_type', ['kvm', 'qemu'])
def test_a_fleet_guest_gets_the_fleet_cpu_model_and_features(domain_type):
    cpu = parse(render(PROFILES['general'], guest={'cpu_mode': 'fleet'}, domain_type=domain_type,
                       fleet_cpu=FLEET_CPU)).find('cpu')
    assert (cpu.get('mode'), cpu.get('match')) == ('custom', 'exact')
    assert (cpu.findtext('model'), cpu.find('model').get('fallback'), cpu.findtext('vendor')) == ('EPYC', 'forbid', 'AMD')
    assert [(feature.get('policy'), feature.get('name')) for feature in cpu.findall('feature')] == [
        ('require', 'x2apic'), ('disable', 'vme')]
    assert cpu.find('topology').get('cores') == '4'


def test_a_named_fleet_model_has_no_vendor_or_features():
    cpu = parse(render(PROFILES['general'], guest={'cpu_mode': 'fleet'},
                       fleet_cpu={'model': 'Skylake-Server-IBRS', 'vendor': '', 'features': []})).find('cpu')
    assert cpu.findtext('model') == 'Skylake-Server-IBRS'
    assert cpu.find('vendor') is None and cpu.findall('feature') == []


def test_uefi_secure_boot_as_the_profile_says(rendered):
    profile = rendered.profile
    dom = rendered.dom
    os_element = dom.find('os')
    assert os_element.get('firmware') == 'efi'
    features = dict((f.get('name'), f.get('enabled')) for f in os_element.findall('firmware/feature'))
    wanted = 'yes' if profile['secure_boot'] else 'no'
    assert features == {'secure-boot': wanted, 'enrolled-keys': wanted}
    assert os_element.find('loader').get('secure') == wanted
    smm = dom.find('features/smm')
    if profile['secure_boot']:
        assert smm is not None and smm.get('state') == 'on'
    else:
        assert smm is None
    # No path: libvirt picks the OVMF build from QEMU's firmware descriptors.
    assert not (os_element.findtext('loader') or '').strip()
    assert os_element.find('nvram') is None


def test_disks_are_virtio_with_iothreads_and_explicit_format(rendered):
    profile = rendered.profile
    dom = rendered.dom
    disks = [d for d in dom.findall('devices/disk') if d.find('readonly') is None]
    assert len(disks) == 3
    bus = 'virtio' if profile['disk_bus'] == 'virtio' else 'scsi'
    for index, disk in enumerate(disks):
        driver = disk.find('driver')
        assert driver.get('type') == GUEST['disks'][index]['format']
        # A file is a file source, a volume of a block pool a device.
        kind = GUEST['disks'][index]['kind']
        assert disk.get('type') == kind
        assert disk.find('source').attrib == {'file' if kind == 'file' else 'dev': GUEST['disks'][index]['path']}
        assert (driver.get('cache'), driver.get('io'), driver.get('discard')) == ('none', 'native', 'unmap')
        assert disk.find('target').get('bus') == bus
        if bus == 'virtio':
            assert driver.get('iothread') == str(index % profile['iothreads'] + 1)
        else:
            assert driver.get('iothread') is None
    assert disks[0].find('boot').get('order') == '1'
    assert all(d.find('boot') is None for d in disks[1:])
    assert dom.findtext('iothreads') == str(profile['iothreads'])
    scsi = dom.findall("devices/controller[@type='scsi']")
    if bus == 'scsi':
        assert [c.get('model') for c in scsi] == ['virtio-scsi']
        assert scsi[0].find('driver').get('iothread') == '1'
    else:
        assert scsi == []
    targets = [d.find('target').get('dev') for d in dom.findall('devices/disk')]
    assert len(set(targets)) == len(targets)


def test_the_seed_is_a_read_only_virtio_disk(rendered):
    dom = rendered.dom
    seeds = [d for d in dom.findall('devices/disk') if d.find('readonly') is not None]
    assert len(seeds) == 1
    assert seeds[0].find('source').get('file') == GUEST['seed_path']
    assert seeds[0].find('target').get('bus') == 'virtio'
    assert seeds[0].find('boot') is None
    assert dom.find("devices/disk[@device='cdrom']") is None


def test_nics_are_virtio_vhost_multiqueue_with_the_filter(rendered):
    dom = rendered.dom
    nics = dom.findall('devices/interface')
    assert [n.find('mac').get('address') for n in nics] == IDENTITY['macs']
    for nic, spec in zip(nics, GUEST['nics']):
        assert nic.get('type') == 'network'
        assert nic.find('source').get('network') == spec['network']
        assert nic.find('source').get('portgroup') == (spec['portgroup'] or None)
        assert nic.find('model').get('type') == 'virtio'
        assert nic.find('driver').get('name') == 'vhost'
        assert nic.find('driver').get('queues') == '4'
        assert nic.find('rom').get('enabled') == 'no'
    assert nics[0].find('filterref').get('filter') == 'clean-traffic'
    assert nics[0].find('filterref/parameter') is None
    assert nics[1].find('filterref') is None


def test_rng_balloon_agent_and_serial_console(rendered):
    profile = rendered.profile
    dom = rendered.dom
    rng = dom.findall('devices/rng')
    assert len(rng) == 1 and rng[0].get('model') == 'virtio'
    assert rng[0].find('backend').get('model') == 'random'
    assert rng[0].findtext('backend') == '/dev/urandom'
    balloon = dom.findall('devices/memballoon')
    assert len(balloon) == 1
    if profile['memballoon']:
        assert balloon[0].get('model') == 'virtio'
        assert balloon[0].find('stats').get('period') == str(profile['memballoon_stats_period_seconds'])
    else:
        assert balloon[0].get('model') == 'none'
    agent = dom.findall("devices/channel/target[@name='org.qemu.guest_agent.0']")
    assert len(agent) == 1 and agent[0].get('type') == 'virtio'
    assert [c.get('model') for c in dom.findall("devices/controller[@type='virtio-serial']")] == [None]
    serial = dom.find('devices/serial')
    assert serial.get('type') == 'pty'
    assert dom.find('devices/console').get('type') == 'pty'
    log = serial.find('log')
    if profile['console_log']:
        assert log.get('file') == '/var/log/libvirt/qemu/web1-console.log'
    else:
        assert log is None


def test_no_excluded_devices(rendered):
    text = rendered.text
    dom = rendered.dom
    devices = dom.find('devices')
    for tag in ('sound', 'audio', 'redirdev', 'redirfilter', 'smartcard', 'hostdev', 'shmem',
                'filesystem', 'parallel', 'hub', 'watchdog', 'input'):
        assert devices.find(tag) is None, tag
    assert dom.find("devices/disk[@device='floppy']") is None
    assert [c.get('model') for c in dom.findall("devices/controller[@type='usb']")] == ['none']
    assert 'qemu:commandline' not in text and 'qemu/1.0' not in text
    assert dom.find('features/vmport').get('state') == 'off'
    assert dom.find('pm/suspend-to-mem').get('enabled') == 'no'


def test_graphics_off_or_on_loopback_only(rendered):
    profile = rendered.profile
    dom = rendered.dom
    graphics = dom.findall('devices/graphics')
    if profile['graphics'] == 'none':
        assert graphics == [] and dom.find('devices/video') is None
    else:
        assert [g.get('type') for g in graphics] == ['vnc']
        assert graphics[0].get('listen') == '127.0.0.1'
        assert [listen.get('address') for listen in graphics[0].findall('listen')] == ['127.0.0.1']


def test_vtpm_only_when_the_profile_asks(rendered):
    profile = rendered.profile
    dom = rendered.dom
    tpm = dom.findall('devices/tpm')
    if profile['tpm']:
        assert len(tpm) == 1 and tpm[0].get('model') == 'tpm-crb'
        assert tpm[0].find('backend').get('type') == 'emulator'
        assert tpm[0].find('backend').get('version') == '2.0'
    else:
        assert tpm == []


def test_the_built_in_profiles_differ_as_documented():
    assert PROFILES['general']['tpm'] is False and PROFILES['general']['memballoon'] is True
    assert PROFILES['secure']['tpm'] is True and PROFILES['secure']['memballoon'] is False
    for name in ('general', 'secure'):
        assert PROFILES[name]['secure_boot'] is True
        assert PROFILES[name]['graphics'] == 'none'


def test_nosharepages_follows_the_host_setting():
    dom = parse(render(PROFILES['general'], nosharepages=True))
    assert dom.find('memoryBacking/nosharepages') is not None
    dom = parse(render(PROFILES['general'], nosharepages=False))
    assert dom.find('memoryBacking') is None


def test_dhcp_ip_learning_adds_the_filter_parameter():
    dom = parse(render(PROFILES['general'], nwfilter_ip_learning='dhcp'))
    parameter = dom.find('devices/interface/filterref/parameter')
    assert (parameter.get('name'), parameter.get('value')) == ('CTRL_IP_LEARNING', 'dhcp')


def test_a_guest_without_seed_or_nics_has_neither():
    dom = parse(render(PROFILES['general'], guest={'seed_path': '', 'nics': []}))
    assert dom.find('devices/interface') is None
    assert all(d.find('readonly') is None for d in dom.findall('devices/disk'))


def test_rendering_is_deterministic():
    assert render(PROFILES['secure']) == render(PROFILES['secure'])


def schema_validator():
    """(argv prefix, why not) for libvirt's schema check: virt-xml-validate, or xmllint with schemas."""
    if shutil.which('virt-xml-validate'):
        return ['virt-xml-validate'], None
    schema_dir = os.environ.get('KVMCLOUD_LIBVIRT_SCHEMA_DIR', '')
    xmllint = os.environ.get('KVMCLOUD_XMLLINT') or shutil.which('xmllint')
    if schema_dir and xmllint and os.path.isfile(os.path.join(schema_dir, 'domain.rng')):
        return [xmllint, '--noout', '--relaxng', os.path.join(schema_dir, 'domain.rng')], None
    return None, ('virt-xml-validate is not installed here (Debian: libvirt-clients + libxml2-utils), and '
                  'KVMCLOUD_LIBVIRT_SCHEMA_DIR does not name a directory with domain.rng for xmllint; '
                  'molecule/default validates every profile on Debian 12 and 13 hosts')


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_every_profile_passes_libvirts_schema(case, tmp_path):
    validator, reason = schema_validator()
    if validator is None:
        pytest.skip(reason)
    name, domain_type = case
    path = tmp_path / ('%s.xml' % name)
    path.write_text(render(PROFILES[name], domain_type=domain_type, nwfilter_ip_learning='dhcp'))
    argv = validator + [str(path)] + (['domain'] if validator == ['virt-xml-validate'] else [])
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize('domain_type', ['kvm', 'qemu'])
def test_a_fleet_cpu_passes_libvirts_schema(domain_type, tmp_path):
    validator, reason = schema_validator()
    if validator is None:
        pytest.skip(reason)
    path = tmp_path / 'fleet.xml'
    path.write_text(render(PROFILES['general'], guest={'cpu_mode': 'fleet'}, domain_type=domain_type,
                           fleet_cpu=FLEET_CPU))
    argv = validator + [str(path)] + (['domain'] if validator == ['virt-xml-validate'] else [])
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert result.returncode == 0, result.stdout


def test_the_schema_check_catches_a_bad_document(tmp_path):
    validator, reason = schema_validator()
    if validator is None:
        pytest.skip(reason)
    path = tmp_path / 'bad.xml'
    path.write_text(render(PROFILES['general']).replace('<vcpu ', '<vcpus '))
    argv = validator + [str(path)] + (['domain'] if validator == ['virt-xml-validate'] else [])
    assert subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False).returncode != 0
