"""The host's own addresses, as the tests reach it."""

import re


def management_address(host):
    """The first IPv4 address of the default route's interface: where the host is managed from."""
    dev = re.search(r"\bdev (\S+)", host.check_output("ip -4 route show default")).group(1)
    return re.search(r"inet (\S+)/", host.check_output("ip -4 -o addr show dev %s" % dev)).group(1)
