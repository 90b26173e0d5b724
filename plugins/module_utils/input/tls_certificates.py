# -*- coding: utf-8 -*-
# Copyright (c) 2026, kvmcloud.hypervisor contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""L8: the certificates live migration uses, read on the controller before any host changes.

QEMU on the source host checks the target's server certificate against migration_host (the
target's migration address, an IP), and GnuTLS matches an IP only against the certificate's
IP subjectAltNames. A certificate that misses it, comes from another CA, has expired or is
not meant for the side it is used on converges fine and fails at the first migration; these
checks say so up front. The host's own virt-pki-validate still checks the chain it installs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import sys

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import ExtendedKeyUsageOID
    HAS_CRYPTOGRAPHY = True
    # extendedKeyUsage values by the names openssl's config takes.
    USAGE_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: 'serverAuth', ExtendedKeyUsageOID.CLIENT_AUTH: 'clientAuth',
                   ExtendedKeyUsageOID.CODE_SIGNING: 'codeSigning',
                   ExtendedKeyUsageOID.EMAIL_PROTECTION: 'emailProtection',
                   ExtendedKeyUsageOID.OCSP_SIGNING: 'OCSPSigning', ExtendedKeyUsageOID.TIME_STAMPING: 'timeStamping'}
except ImportError:
    HAS_CRYPTOGRAPHY = False

CA, SERVER, CLIENT = 'kvm_hardening_tls_ca_cert', 'kvm_hardening_tls_server_cert', 'kvm_hardening_tls_client_cert'
# How to add the address, for the two tools libvirt's documentation uses.
SAN_FIX = ("Sign it again with IP:%(address)s in its subjectAltName, for example "
           "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -days 365 -out server.pem "
           "-extfile <(printf 'subjectAltName=DNS:%(host)s,IP:%(address)s\\nextendedKeyUsage=serverAuth\\n'), "
           "or with certtool, ip_address = \"%(address)s\" in its template.")


def utc(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def validity(cert):
    """(not before, not after) as aware datetimes; the _utc properties came with cryptography 42."""
    return (utc(getattr(cert, 'not_valid_before_utc', None) or cert.not_valid_before),
            utc(getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after))


def extension(cert, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def alt_names(cert):
    """The subjectAltNames as openssl writes them: DNS:name, IP:address."""
    sans = extension(cert, x509.SubjectAlternativeName)
    if sans is None:
        return []
    return (['DNS:%s' % name for name in sans.get_values_for_type(x509.DNSName)]
            + ['IP:%s' % address for address in sans.get_values_for_type(x509.IPAddress)])


def dn(name):
    """A name in the certificate's own order, as GnuTLS shows it and tls_allowed_dn_list lists it
    (CN=hv01,O=fleet); RFC 4514 strings run the other way."""
    return ','.join(rdn.rfc4514_string() for rdn in name.rdns) or 'empty'


def described(var, path, cert):
    """var=path (subject ..., subjectAltName ...): the value, and what the certificate names."""
    names = alt_names(cert)
    return '%s=%s (subject %s; %s)' % (var, path, dn(cert.subject),
                                       'subjectAltName ' + ', '.join(names) if names else 'no subjectAltName')


def load(var, path, text):
    """([certificates], None) or (None, message). A file may hold several: a CA file the CAs GnuTLS
    trusts (an intermediate and its root), a certificate file the certificate and then its chain."""
    data = text.encode('utf-8') if isinstance(text, str) else text
    try:
        many = getattr(x509, 'load_pem_x509_certificates', None)  # cryptography 39 and later
        return (many(data) if many else [x509.load_pem_x509_certificate(data)]), None
    except ValueError as exc:
        return None, ('%s=%s: not a PEM certificate (%s). Give the certificate itself, the text between '
                      '-----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----.' % (var, path, exc))


def time_errors(var, path, cert, now):
    start, end = validity(cert)
    if end < now:
        return ['%s has expired (valid until %s): TLS peers refuse it, so migrations to and from this host would '
                'fail (L8). Issue a new one from the same CA.' % (described(var, path, cert), end.isoformat())]
    if start > now:
        return ['%s is not valid yet (valid from %s): TLS peers refuse it until then. Issue it with a start '
                'date in the past, or check the controller\'s clock.' % (described(var, path, cert), start.isoformat())]
    return []


def issuer_errors(var, path, cert, ca_path, cas):
    """Issued by a CA of the CA file: the issuer is its subject and, where cryptography can tell
    (40 and later), its key signed it."""
    issuers = [ca for ca in cas if ca.subject == cert.issuer]
    if not issuers:
        return ['%s is issued by %s, not by %s=%s (subject %s): the other hosts trust only that CA, so they would '
                'refuse it (L8). Sign it with that CA, or give the CA that signed it.'
                % (described(var, path, cert), dn(cert.issuer), CA, ca_path, '; '.join(dn(ca.subject) for ca in cas))]
    ca = issuers[0]
    verify = getattr(cert, 'verify_directly_issued_by', None)
    if verify is None:
        return []
    try:
        verify(ca)
    except (ValueError, TypeError) as exc:
        return ['%s cannot be checked against %s=%s: %s. Use an RSA, ECDSA or Ed25519 CA.'
                % (described(var, path, cert), CA, ca_path, exc)]
    except InvalidSignature:
        return ['%s names %s=%s as its issuer, but that CA\'s key did not sign it: it comes from another CA of the '
                'same name. Sign it with this CA, or give the CA that signed it.'
                % (described(var, path, cert), CA, ca_path)]
    return []


def usage_errors(var, path, cert, usage, name):
    """An extendedKeyUsage, when the certificate has one, must allow the side it is used on."""
    usages = extension(cert, x509.ExtendedKeyUsage)
    if usages is None or usage in usages:
        return []
    side = 'server' if name == 'serverAuth' else 'client'
    found = ', '.join(sorted(USAGE_NAMES.get(oid, oid.dotted_string) for oid in usages))
    return ['%s has extendedKeyUsage %s without %s: GnuTLS refuses it as a TLS %s, and this host uses it as one '
            'for migration (L8). Issue it with extendedKeyUsage=%s.'
            % (described(var, path, cert), found, name, side, name)]


def address_errors(path, cert, address, hostname):
    wanted = ipaddress.ip_address(address)
    sans = extension(cert, x509.SubjectAlternativeName)
    addresses = sans.get_values_for_type(x509.IPAddress) if sans is not None else []
    if any(ipaddress.ip_address(found) == wanted for found in addresses):
        return []
    return ['%s does not name kvm_hardening_migration_address=%s: QEMU on the other hosts checks this certificate '
            'against migration_host, which is that address, and only an IP subjectAltName matches it, so every '
            'migration to this host would fail (L8). %s'
            % (described(SERVER, path, cert), address, SAN_FIX % {'address': address, 'host': hostname})]


def migration_certificate_errors(paths, texts, address, hostname, now=None):
    """paths: {var: controller path} of the CA, server and client certificates; texts: {var: PEM
    text} of those that exist (read by the role through the file lookup, which decrypts vault
    files); address: the migration address, already checked to be an IP. A certificate not in
    texts is left to the missing-file checks."""
    if not HAS_CRYPTOGRAPHY:
        return ['kvm_hardening_migration_enabled is true, and the preflight checks the migration certificates with '
                'the Python package cryptography, which the controller\'s Python (%s) lacks: install it there '
                '(ansible-core itself depends on it).' % sys.executable]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    errors, certs = [], {}
    for var in (CA, SERVER, CLIENT):
        if texts.get(var) is None:
            continue
        loaded, error = load(var, paths[var], texts[var])
        if error:
            errors.append(error)
            continue
        # Every CA of the CA file; of a certificate file, the certificate (its chain follows it).
        certs[var] = loaded if var == CA else loaded[0]
        for cert in loaded if var == CA else loaded[:1]:
            errors.extend(time_errors(var, paths[var], cert, now))
    if SERVER in certs:
        errors.extend(address_errors(paths[SERVER], certs[SERVER], address, hostname))
        errors.extend(usage_errors(SERVER, paths[SERVER], certs[SERVER], ExtendedKeyUsageOID.SERVER_AUTH, 'serverAuth'))
    if CLIENT in certs:
        errors.extend(usage_errors(CLIENT, paths[CLIENT], certs[CLIENT], ExtendedKeyUsageOID.CLIENT_AUTH, 'clientAuth'))
    if CA in certs:
        for var in (SERVER, CLIENT):
            if var in certs:
                errors.extend(issuer_errors(var, paths[var], certs[var], paths[CA], certs[CA]))
    return errors
