# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input import tls_certificates
from ansible_collections.kvmcloud.hypervisor.plugins.module_utils.input.tls_certificates import (
    CA, CLIENT, SERVER, migration_certificate_errors)
from ansible_collections.kvmcloud.hypervisor.tests.unit.plugins.module_utils.input.pki import DAY, NOW, Authority

PATHS = {CA: '/pki/ca.pem', SERVER: '/pki/hv01.pem', CLIENT: '/pki/hv01-client.pem'}


@pytest.fixture(scope='module')
def ca():
    return Authority()


def texts(ca, server=None, client=None, authority=None):
    if server is None:
        server = ca.issue('hv01', ['DNS:hv01', 'IP:192.0.2.11', 'IP:2001:db8::11'])
    if client is None:
        client = ca.issue('hv01', ['DNS:hv01'], usages=['clientAuth'])
    return {CA: (authority or ca).pem(), SERVER: server, CLIENT: client}


def errors_of(given, address='192.0.2.11'):
    return migration_certificate_errors(PATHS, given, address, 'hv01', now=NOW)


def test_certificates_from_the_ca_naming_the_address_pass(ca):
    assert errors_of(texts(ca)) == []
    # IPv6 compared as addresses, not as text.
    assert errors_of(texts(ca), address='2001:db8:0::11') == []
    # Without an extendedKeyUsage a certificate serves either side; both usages in one do too.
    both = ca.issue('hv01', ['IP:192.0.2.11'], usages=['serverAuth', 'clientAuth'])
    assert errors_of(texts(ca, server=both, client=both)) == []
    assert errors_of(texts(ca, server=ca.issue('hv01', ['IP:192.0.2.11'], usages=()))) == []


def test_a_server_certificate_without_the_address_is_refused_with_the_fix(ca):
    server = ca.issue('hv01', ['DNS:hv01', 'DNS:localhost'])
    assert errors_of(texts(ca, server=server)) == [
        'kvm_hardening_tls_server_cert=/pki/hv01.pem (subject CN=hv01,O=kvmcloud; subjectAltName DNS:hv01, '
        'DNS:localhost) does not name kvm_hardening_migration_address=192.0.2.11: QEMU on the other hosts checks '
        'this certificate against migration_host, which is that address, and only an IP subjectAltName matches it, '
        'so every migration to this host would fail (L8). Sign it again with IP:192.0.2.11 in its subjectAltName, '
        'for example openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -days 365 -out server.pem -extfile '
        "<(printf 'subjectAltName=DNS:hv01,IP:192.0.2.11\\nextendedKeyUsage=serverAuth\\n'), or with certtool, "
        'ip_address = "192.0.2.11" in its template.']


@pytest.mark.parametrize('sans, shown', [
    ((), 'no subjectAltName'),
    # The address as a name, or in the subject, is not an IP subjectAltName: GnuTLS ignores it.
    (['DNS:192.0.2.11'], 'subjectAltName DNS:192.0.2.11'),
    (['IP:192.0.2.12'], 'subjectAltName IP:192.0.2.12'),
])
def test_only_an_ip_subject_alt_name_matches_the_address(ca, sans, shown):
    errors = errors_of(texts(ca, server=ca.issue('192.0.2.11', sans)))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_tls_server_cert=/pki/hv01.pem (subject CN=192.0.2.11,O=kvmcloud; '
                                + shown + ') does not name kvm_hardening_migration_address=192.0.2.11')


def test_certificates_of_another_ca_are_refused(ca):
    other = Authority('other CA')
    errors = errors_of(texts(ca, authority=other))
    assert errors == [
        'kvm_hardening_tls_server_cert=/pki/hv01.pem (subject CN=hv01,O=kvmcloud; subjectAltName DNS:hv01, '
        'IP:192.0.2.11, IP:2001:db8::11) is issued by CN=kvmcloud test CA,O=kvmcloud, not by '
        'kvm_hardening_tls_ca_cert=/pki/ca.pem (subject CN=other CA,O=kvmcloud): the other hosts trust only that CA, '
        'so they would refuse it (L8). Sign it with that CA, or give the CA that signed it.',
        'kvm_hardening_tls_client_cert=/pki/hv01-client.pem (subject CN=hv01,O=kvmcloud; subjectAltName DNS:hv01) '
        'is issued by CN=kvmcloud test CA,O=kvmcloud, not by kvm_hardening_tls_ca_cert=/pki/ca.pem (subject '
        'CN=other CA,O=kvmcloud): the other hosts trust only that CA, so they would refuse it (L8). Sign it with '
        'that CA, or give the CA that signed it.']


def test_a_ca_of_the_same_name_with_another_key_is_refused(ca):
    impostor = Authority()
    errors = errors_of(texts(ca, authority=impostor))
    assert len(errors) == 2
    assert "names kvm_hardening_tls_ca_cert=/pki/ca.pem as its issuer, but that CA's key did not sign it" in errors[0]


@pytest.mark.parametrize('window, rule', [
    ({'not_before': NOW - 90 * DAY, 'not_after': NOW - DAY}, 'has expired (valid until 2026-05-31T00:00:00+00:00)'),
    ({'not_before': NOW + DAY}, 'is not valid yet (valid from 2026-06-02T00:00:00+00:00)'),
])
def test_certificates_outside_their_validity_are_refused(ca, window, rule):
    for var, kind in ((SERVER, 'server'), (CLIENT, 'client')):
        cert = ca.issue('hv01', ['IP:192.0.2.11'], usages=['serverAuth' if kind == 'server' else 'clientAuth'],
                        **window)
        errors = errors_of(texts(ca, **{kind: cert}))
        assert len(errors) == 1
        assert errors[0].startswith(var + '=') and rule in errors[0]


def test_an_expired_ca_is_refused():
    old = Authority(not_after=NOW - DAY)
    errors = errors_of(texts(old))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_tls_ca_cert=/pki/ca.pem (subject CN=kvmcloud test CA,O=kvmcloud; '
                                'no subjectAltName) has expired')


def test_each_side_needs_its_usage(ca):
    errors = errors_of(texts(ca, server=ca.issue('hv01', ['IP:192.0.2.11'], usages=['clientAuth']),
                             client=ca.issue('hv01', [], usages=['serverAuth', 'codeSigning'])))
    assert errors == [
        'kvm_hardening_tls_server_cert=/pki/hv01.pem (subject CN=hv01,O=kvmcloud; subjectAltName IP:192.0.2.11) '
        'has extendedKeyUsage clientAuth without serverAuth: GnuTLS refuses it as a TLS server, and this host uses '
        'it as one for migration (L8). Issue it with extendedKeyUsage=serverAuth.',
        'kvm_hardening_tls_client_cert=/pki/hv01-client.pem (subject CN=hv01,O=kvmcloud; no subjectAltName) has '
        'extendedKeyUsage codeSigning, serverAuth without clientAuth: GnuTLS refuses it as a TLS client, and this '
        'host uses it as one for migration (L8). Issue it with extendedKeyUsage=clientAuth.']


@pytest.mark.parametrize('text', ['', 'x', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'])
def test_a_file_that_is_no_certificate_is_named(ca, text):
    errors = errors_of(texts(ca, server=text))
    assert len(errors) == 1
    assert errors[0].startswith('kvm_hardening_tls_server_cert=/pki/hv01.pem: not a PEM certificate (')


def test_certificates_not_read_are_left_to_the_file_checks(ca):
    assert errors_of({SERVER: ca.issue('hv01', ['IP:192.0.2.11'])}) == []
    assert errors_of({}) == []


def test_without_cryptography_the_check_fails_instead_of_passing(ca, monkeypatch):
    monkeypatch.setattr(tls_certificates, 'HAS_CRYPTOGRAPHY', False)
    errors = errors_of(texts(ca))
    assert len(errors) == 1
    assert 'checks the migration certificates with the Python package cryptography' in errors[0]


def test_a_ca_file_of_several_cas_accepts_certificates_of_any_of_them(ca):
    other = Authority('intermediate CA')
    given = texts(ca, server=other.issue('hv01', ['IP:192.0.2.11']))
    given[CA] = other.pem() + ca.pem()
    assert errors_of(given) == []
    given[CA] = Authority('third CA').pem() + Authority('fourth CA').pem()
    errors = errors_of(given)
    assert len(errors) == 2
    assert '(subject CN=third CA,O=kvmcloud; CN=fourth CA,O=kvmcloud)' in errors[0]
