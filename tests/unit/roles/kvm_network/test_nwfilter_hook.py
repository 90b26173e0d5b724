# -*- coding: utf-8 -*-
"""The decisions of the libvirt hook that kvm_network installs (roles/kvm_network/files)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os

import pytest

HOOK_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                         'roles', 'kvm_network', 'files', 'kvmcloud_nwfilter_hook.py')


def load_hook():
    spec = importlib.util.spec_from_file_location('kvmcloud_nwfilter_hook', HOOK_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = load_hook()

POLICY = {'filter': 'clean-traffic', 'ip_learning': 'any',
          'networks': ['br-guest', 'tenant-nat'], 'bridges': ['br-guest', 'virbr-tn0']}

DOMAIN = """<domain type='qemu'>
  <name>web1</name>
  <devices>
    <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>
    {interfaces}
  </devices>
</domain>"""


def nic(kind, source, filterref='', mac='52:54:00:00:00:01'):
    attr = 'network' if kind == 'network' else 'bridge' if kind == 'bridge' else 'dev'
    return "<interface type='%s'><mac address='%s'/><source %s='%s'/><model type='virtio'/>%s</interface>" % (
        kind, mac, attr, source, filterref)


def run(interfaces, policy=None, args=('web1', 'prepare', 'begin', '-')):
    text = json.dumps(POLICY if policy is None else policy)
    return hook.decide(list(args), lambda: DOMAIN.format(interfaces=''.join(interfaces)), lambda: text)


CLEAN = "<filterref filter='clean-traffic'/>"
CLEAN_DHCP = "<filterref filter='clean-traffic'><parameter name='CTRL_IP_LEARNING' value='dhcp'/></filterref>"


@pytest.mark.parametrize('interface', [
    nic('network', 'br-guest', CLEAN),
    nic('bridge', 'br-guest', CLEAN),
    nic('network', 'tenant-nat', CLEAN),
    nic('bridge', 'virbr-tn0', CLEAN),
    # Networks and bridges the policy does not restrict need no filter.
    nic('network', 'br-open'),
    nic('bridge', 'br-open'),
    nic('direct', 'eth1'),
])
def test_guests_that_meet_the_policy_start(interface):
    assert run([interface]) == (0, '')


def test_a_guest_without_nics_starts():
    assert run([]) == (0, '')


@pytest.mark.parametrize('interface, where', [
    (nic('network', 'br-guest'), 'restricted network br-guest'),
    (nic('bridge', 'virbr-tn0'), 'restricted bridge virbr-tn0'),
    (nic('network', 'tenant-nat', "<filterref filter='no-mac-spoofing'/>"), 'restricted network tenant-nat'),
])
def test_a_nic_on_a_restricted_network_without_the_filter_is_refused(interface, where):
    code, message = run([interface])
    assert code == 1
    assert 'guest web1 not started' in message
    assert "interface 52:54:00:00:00:01 on %s lacks <filterref filter='clean-traffic'/>" % where in message


def test_the_message_names_the_filter_found_instead():
    _code, message = run([nic('network', 'br-guest', "<filterref filter='no-mac-spoofing'/>")])
    assert '(it references no-mac-spoofing)' in message


def test_live_xml_of_a_network_nic_is_recognised_by_its_bridge():
    # While a guest starts, libvirt may show the network's bridge next to its name.
    live = ("<interface type='network'><mac address='52:54:00:00:00:02'/>"
            "<source network='renamed' bridge='br-guest'/></interface>")
    code, message = run([live])
    assert code == 1
    assert 'network renamed (bridge br-guest)' in message


def test_every_offending_nic_is_named():
    code, message = run([nic('network', 'br-guest', CLEAN, mac='52:54:00:00:00:01'),
                         nic('network', 'br-guest', mac='52:54:00:00:00:02'),
                         nic('bridge', 'virbr-tn0', mac='52:54:00:00:00:03')])
    assert code == 1
    assert '52:54:00:00:00:01' not in message
    assert '52:54:00:00:00:02' in message and '52:54:00:00:00:03' in message


def test_a_nic_without_a_mac_is_named_by_its_position():
    _code, message = run(["<interface type='network'><source network='br-guest'/></interface>"])
    assert 'interface number 1 on restricted network br-guest' in message


def test_dhcp_learning_needs_the_parameter():
    policy = dict(POLICY, ip_learning='dhcp')
    code, message = run([nic('network', 'br-guest', CLEAN)], policy)
    assert code == 1
    assert "without <parameter name='CTRL_IP_LEARNING' value='dhcp'/>" in message
    assert run([nic('network', 'br-guest', CLEAN_DHCP)], policy) == (0, '')


def test_another_filter_name_in_the_policy_is_the_one_required():
    policy = dict(POLICY, filter='tenant-clean')
    assert run([nic('network', 'br-guest', CLEAN)], policy)[0] == 1
    assert run([nic('network', 'br-guest', "<filterref filter='tenant-clean'/>")], policy) == (0, '')


@pytest.mark.parametrize('args', [
    ('web1', 'start', 'begin', '-'),
    ('web1', 'prepare', 'end', '-'),
    ('web1', 'release', 'end', '-'),
    ('web1', 'migrate', 'begin', '-'),
    ('web1',),
])
def test_other_operations_pass_untouched(args):
    assert run([nic('network', 'br-guest')], args=args) == (0, '')


@pytest.mark.parametrize('text', ['not json', '[]', '{"filter": ""}', '{"filter": "x", "ip_learning": "all"}',
                                  '{"filter": "x", "networks": "br-guest"}'])
def test_a_broken_policy_refuses_the_guest(text):
    code, message = hook.decide(['web1', 'prepare', 'begin', '-'], lambda: DOMAIN.format(interfaces=''), lambda: text)
    assert code == 1
    assert 'cannot read %s' % hook.POLICY_PATH in message


def test_a_missing_policy_file_refuses_the_guest():
    def missing():
        raise IOError(2, 'No such file or directory')
    code, message = hook.decide(['web1', 'prepare', 'begin', '-'], lambda: '<domain/>', missing)
    assert code == 1
    assert 'No such file or directory' in message


def test_unreadable_domain_xml_refuses_the_guest():
    code, message = hook.decide(['web1', 'prepare', 'begin', '-'], lambda: '<domain', lambda: json.dumps(POLICY))
    assert code == 1
    assert 'the domain XML cannot be read' in message


def test_main_reads_stdin_and_writes_the_reason_to_stderr(monkeypatch, capsys):
    monkeypatch.setattr(hook.sys, 'argv', ['kvmcloud-nwfilter', 'web1', 'prepare', 'begin', '-'])
    monkeypatch.setattr(hook.sys, 'stdin', _Stdin(DOMAIN.format(interfaces=nic('network', 'br-guest'))))
    monkeypatch.setattr(hook, 'read_policy_file', lambda: json.dumps(POLICY))
    assert hook.main() == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err.startswith('kvmcloud kvm_network hook: guest web1 not started')


class _Stdin(object):
    def __init__(self, text):
        self.text = text

    def read(self):
        return self.text
