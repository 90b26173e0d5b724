# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.filter.cidr_info import cidr_info


def test_ipv4_interface_gives_network_and_upper_half_for_dhcp():
    info = cidr_info("192.168.150.1/24")
    assert info["valid"] is True
    assert (info["version"], info["address"], info["prefix"]) == (4, "192.168.150.1", 24)
    assert (info["network"], info["netmask"]) == ("192.168.150.0/24", "255.255.255.0")
    assert (info["dhcp_start"], info["dhcp_end"]) == ("192.168.150.128", "192.168.150.254")
    assert info["is_network_address"] is False


@pytest.mark.parametrize("value", ["192.168.150.0/24", "192.168.150.255/24"])
def test_network_and_broadcast_addresses_are_flagged(value):
    assert cidr_info(value)["is_network_address"] is True


def test_ipv6_interface():
    info = cidr_info("2001:db8::1/64")
    assert (info["valid"], info["version"], info["network"]) == (True, 6, "2001:db8::/64")


@pytest.mark.parametrize("value", ["192.168.150.1", "300.1.1.1/24", "10.0.0.1/33", "", None, 5, "dhcp"])
def test_invalid_values_say_why(value):
    info = cidr_info(value)
    assert info["valid"] is False
    assert info["reason"]
