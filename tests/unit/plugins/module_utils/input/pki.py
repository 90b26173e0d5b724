# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small PKI for the certificate checks, made with cryptography as an operator's CA would."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed, so messages show known dates; certificates run ten years from it, so checks made now pass too.
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
USAGES = {'serverAuth': ExtendedKeyUsageOID.SERVER_AUTH, 'clientAuth': ExtendedKeyUsageOID.CLIENT_AUTH,
          'codeSigning': ExtendedKeyUsageOID.CODE_SIGNING}


def name(common_name, organization='kvmcloud'):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])


def key():
    return ec.generate_private_key(ec.SECP256R1())


class Authority:
    """A CA that signs certificates; two authorities may share a name and differ in key."""

    def __init__(self, common_name='kvmcloud test CA', not_after=NOW + 3650 * DAY):
        self.key = key()
        self.name = name(common_name)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(NOW - 30 * DAY).not_valid_after(not_after)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self):
        return pem(self.cert)

    def issue(self, common_name, sans=(), usages=('serverAuth',), not_before=NOW - DAY, not_after=NOW + 3650 * DAY,
              issuer=None):
        """PEM of a certificate; sans like openssl's: 'DNS:name', 'IP:address'."""
        builder = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(issuer or self.name)
                   .public_key(key().public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(san[3:])) if san.startswith('IP:') else x509.DNSName(san[4:])
                for san in sans]), critical=False)
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage([USAGES[usage] for usage in usages]), critical=False)
        return pem(builder.sign(self.key, hashes.SHA256()))


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')
