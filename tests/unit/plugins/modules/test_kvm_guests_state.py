# -*- coding: utf-8 -*-
# Copyright (c) 2025, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kvm_guests_state: one read-only call for the guests, networks, images and files of a host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import xml.etree.ElementTree as ET

from ansible_collections.kvmcloud.hypervisor.plugins.modules import kvm_guests_state
from ansible_collections.kvmcloud.hypervisor.tests.unit.conftest import fixture_text, run_module_main

VIRSH = '/usr/bin/virsh'
QEMU_IMG = '/usr/bin/qemu-img'
URI = ['--connect', 'qemu:///system']
DOMCAPS = fixture_text('virsh-domcapabilities-q35-qemu-trixie.xml')
BASELINE = fixture_text('virsh-hypervisor-cpu-baseline-qemu-trixie.xml')
BASELINE_ARGV = (VIRSH,) + tuple(URI) + ('hypervisor-cpu-baseline', '--virttype', 'qemu', '--arch', 'x86_64',
                                         '--machine', 'q35', '--migratable', '/dev/stdin')
WEB1_XML = "<domain type='qemu' id='3'>\n  <name>web1</name>\n</domain>\n"
DB1_XML = "<domain type='qemu'>\n  <name>db1</name>\n</domain>\n"


def libvirt_answers(extra=None):
    answers = {
        (VIRSH,) + tuple(URI) + ('list', '--all', '--name'): (0, 'web1\ndb1\nother\n\n', ''),
        (VIRSH,) + tuple(URI) + ('list', '--state-running', '--name'): (0, 'web1\n\n', ''),
        (VIRSH,) + tuple(URI) + ('list', '--all', '--autostart', '--name'): (0, 'web1\nother\n\n', ''),
        (VIRSH,) + tuple(URI) + ('dumpxml', 'web1'): (0, WEB1_XML, ''),
        (VIRSH,) + tuple(URI) + ('dumpxml', 'db1'): (0, DB1_XML, ''),
        (VIRSH,) + tuple(URI) + ('net-list', '--all', '--name'): (0, 'br-guest\ndefault\n\n', ''),
        (VIRSH,) + tuple(URI) + ('domcapabilities', '--virttype', 'qemu', '--arch', 'x86_64', '--machine', 'q35'):
            (0, DOMCAPS, ''),
    }
    answers.update(extra or {})
    return answers


def run_module(args, answers):
    """Run the module; returns (result, failed, the argv of every command it ran)."""
    calls = []

    def run_command(module, argv, **kwargs):
        calls.append(tuple(argv))
        assert kwargs.get('environ_update', {}).get('LC_ALL') == 'C'
        answer = answers.get(tuple(argv), (127, '', 'not recorded: %s' % ' '.join(argv)))
        return answer(argv, kwargs.get('data')) if callable(answer) else answer

    def get_bin_path(module, name, required=False, opt_dirs=None):
        return {'virsh': VIRSH, 'qemu-img': QEMU_IMG}[name]

    result, failed = run_module_main(kvm_guests_state.main, args, get_bin_path=get_bin_path, run_command=run_command)
    return result, failed, calls


def test_domains_are_read_with_virsh_and_only_defined_ones_dumped():
    result, failed, calls = run_module({'domains': ['web1', 'db1', 'new']}, libvirt_answers())
    assert not failed and result['changed'] is False
    assert result['domains'] == {
        'web1': {'defined': True, 'running': True, 'autostart': True, 'xml': WEB1_XML},
        'db1': {'defined': True, 'running': False, 'autostart': False, 'xml': DB1_XML},
        'new': {'defined': False, 'running': False, 'autostart': False, 'xml': ''},
    }
    assert (VIRSH,) + tuple(URI) + ('dumpxml', 'new') not in calls
    # Nothing asked, nothing run: no network list, no domcapabilities.
    assert not [call for call in calls if 'net-list' in call or 'domcapabilities' in call]


def test_networks_and_domcapabilities_when_asked():
    result, failed, _calls = run_module({'networks': True, 'domcapabilities': {'virttype': 'qemu'}}, libvirt_answers())
    assert not failed
    assert result['networks'] == ['br-guest', 'default']
    assert result['domcapabilities']['machine'].startswith('pc-q35-')
    assert result['domcapabilities']['virttype'] == 'qemu'
    # Only when asked: other hosts' kvm_guests take the CPUs of the hosts that give one.
    assert result['domcapabilities']['host_cpu'] == ''
    result, failed, _calls = run_module({'domcapabilities': {'virttype': 'qemu', 'host_cpu': True}}, libvirt_answers())
    assert not failed and ET.fromstring(result['domcapabilities']['host_cpu']).findtext('model') == 'EPYC'
    assert 'efi' in result['domcapabilities']['firmware']
    assert result['domains'] == {} and result['images'] == {} and result['paths'] == {}


def test_domcapabilities_without_uefi():
    caps = kvm_guests_state.parse_domcapabilities(
        "<domainCapabilities><machine>pc-q35-7.2</machine><os supported='yes'>"
        "<enum name='firmware'><value>bios</value></enum></os></domainCapabilities>")
    assert caps == {'machine': 'pc-q35-7.2', 'firmware': ['bios'], 'host_cpu': ''}


def test_domcapabilities_give_the_cpu_host_model_stands_for():
    cpu = ET.fromstring(kvm_guests_state.parse_domcapabilities(DOMCAPS)['host_cpu'])
    assert (cpu.tag, cpu.get('mode'), cpu.get('match')) == ('cpu', 'custom', 'exact')
    assert cpu.findtext('model') == 'EPYC' and cpu.findtext('vendor') == 'AMD'
    assert ('disable', 'vme') in [(feature.get('policy'), feature.get('name')) for feature in cpu.findall('feature')]


def test_no_host_model_no_host_cpu():
    caps = kvm_guests_state.parse_domcapabilities(
        "<domainCapabilities><machine>pc-q35-7.2</machine><cpu><mode name='host-model' supported='no'/>"
        "</cpu></domainCapabilities>")
    assert caps['host_cpu'] == ''


def test_cpu_baseline_asks_libvirt_with_the_cpus_on_stdin():
    host_cpu = kvm_guests_state.parse_domcapabilities(DOMCAPS)['host_cpu']
    given = []

    def recorded(argv, data):
        given.append(data)
        return (0, BASELINE, '')
    answers = libvirt_answers({BASELINE_ARGV: recorded})
    result, failed, calls = run_module({'cpu_baseline': {'cpus': [host_cpu, host_cpu], 'virttype': 'qemu'}}, answers)
    assert not failed, result
    assert calls == [BASELINE_ARGV]
    assert given == [host_cpu + '\n' + host_cpu]
    baseline = result['cpu_baseline']
    assert (baseline['model'], baseline['vendor']) == ('EPYC', 'AMD')
    assert {'policy': 'require', 'name': 'x2apic'} in baseline['features']
    assert {'policy': 'disable', 'name': 'vme'} in baseline['features']
    assert baseline['xml'] == BASELINE


def test_no_cpus_no_baseline_call():
    result, failed, calls = run_module({'cpu_baseline': {'cpus': [], 'virttype': 'qemu'}}, libvirt_answers())
    assert not failed and result['cpu_baseline'] == {}
    assert calls == []


def test_a_baseline_without_a_model_fails_the_module():
    answers = libvirt_answers({BASELINE_ARGV: (0, "<cpu mode='custom'/>", '')})
    result, failed, _calls = run_module({'cpu_baseline': {'cpus': ['<cpu/>'], 'virttype': 'qemu'}}, answers)
    assert failed and 'no CPU model' in result['msg']


def test_a_virsh_failure_fails_the_module_with_its_message():
    answers = libvirt_answers({(VIRSH,) + tuple(URI) + ('list', '--all', '--name'):
                               (1, '', 'error: failed to connect to the hypervisor')})
    result, failed, _calls = run_module({'domains': ['web1']}, answers)
    assert failed and 'failed to connect to the hypervisor' in result['msg']


def test_images_are_read_with_qemu_img_and_checksummed_when_asked(tmp_path):
    base = tmp_path / 'base.qcow2'
    base.write_bytes(b'QFI\xfb' + b'\0' * 1000)
    disk = tmp_path / 'disk0.qcow2'
    disk.write_bytes(b'QFI\xfb')
    info = {'format': 'qcow2', 'virtual-size': 1073741824}
    answers = {
        (QEMU_IMG, 'info', '--output=json', '-U', str(base)): (0, json.dumps(info), ''),
        (QEMU_IMG, 'info', '--output=json', '-U', str(disk)): (0, json.dumps(dict(info, **{'backing-filename': 'x'})),
                                                               ''),
    }
    result, failed, calls = run_module({'images': [
        {'path': str(base), 'checksum_algorithm': 'sha512'}, {'path': str(disk)},
        {'path': str(tmp_path / 'missing.qcow2'), 'checksum_algorithm': 'sha256'}]}, answers)
    assert not failed
    assert result['images'][str(base)] == {'exists': True, 'info': info,
                                           'checksum': hashlib.sha512(base.read_bytes()).hexdigest()}
    assert result['images'][str(disk)] == {'exists': True, 'info': dict(info, **{'backing-filename': 'x'})}
    assert result['images'][str(tmp_path / 'missing.qcow2')] == {'exists': False, 'info': None}
    # virsh is never needed for images.
    assert all(call[0] == QEMU_IMG for call in calls)


def test_an_image_qemu_img_cannot_read_fails_the_module(tmp_path):
    image = tmp_path / 'x.qcow2'
    image.write_bytes(b'junk')
    answers = {(QEMU_IMG, 'info', '--output=json', '-U', str(image)): (1, '', "Could not open 'x': Permission denied")}
    result, failed, _calls = run_module({'images': [{'path': str(image)}]}, answers)
    assert failed and 'Permission denied' in result['msg']


def test_paths_are_statted_without_following_symlinks(tmp_path):
    directory = tmp_path / 'guest'
    directory.mkdir()
    os.chmod(str(directory), 0o711)
    seed = directory / 'seed.iso'
    seed.write_bytes(b'iso')
    os.chmod(str(seed), 0o600)
    link = tmp_path / 'link'
    link.symlink_to(seed)
    result, failed, calls = run_module({'paths': [str(directory), str(seed), str(link), str(tmp_path / 'nothing')]}, {})
    assert not failed and calls == []
    paths = result['paths']
    assert paths[str(directory)]['isdir'] and paths[str(directory)]['mode'] == '0711'
    assert paths[str(directory)]['uid'] == os.getuid()
    assert paths[str(seed)]['isreg'] and paths[str(seed)]['mode'] == '0600'
    assert paths[str(seed)]['mtime'] == os.stat(str(seed)).st_mtime
    assert paths[str(link)]['islnk'] and not paths[str(link)]['isreg']
    assert paths[str(tmp_path / 'nothing')] == {'exists': False}


def test_restart_markers_are_the_restart_files_of_the_directory(tmp_path):
    for name in ('web1@3.restart', 'db1@7.nvram.restart', 'notes.txt'):
        (tmp_path / name).write_text(u'')
    (tmp_path / 'dir.restart').mkdir()
    result, _failed, _calls = run_module({'restart_marker_dir': str(tmp_path)}, {})
    assert result['restart_markers'] == ['db1@7.nvram.restart', 'web1@3.restart']
    result, _failed, _calls = run_module({'restart_marker_dir': str(tmp_path / 'missing')}, {})
    assert result['restart_markers'] == []


def test_all_domains_adds_every_guest_libvirt_has():
    answers = libvirt_answers({(VIRSH,) + tuple(URI) + ('dumpxml', 'other'): (0, '<domain/>', '')})
    result, failed, _calls = run_module({'domains': ['new'], 'all_domains': True}, answers)
    assert not failed and list(result['domains']) == ['new', 'web1', 'db1', 'other']
    assert result['domains']['other'] == {'defined': True, 'running': False, 'autostart': True, 'xml': '<domain/>'}


def test_moved_records_name_the_host_each_guest_went_to(tmp_path):
    (tmp_path / 'web1').write_text(u'hv02\n')
    (tmp_path / 'db1').write_text(u'')
    (tmp_path / 'sub').mkdir()
    os.symlink(str(tmp_path / 'web1'), str(tmp_path / 'link'))
    result, _failed, _calls = run_module({'moved_record_dir': str(tmp_path)}, {})
    assert result['moved'] == {'web1': 'hv02', 'db1': '?'}
    result, _failed, _calls = run_module({'moved_record_dir': str(tmp_path / 'missing')}, {})
    assert result['moved'] == {}


def test_check_mode_reads_the_same():
    result, failed, _calls = run_module({'domains': ['web1'], '_ansible_check_mode': True}, libvirt_answers())
    assert not failed and result['domains']['web1']['running'] is True
