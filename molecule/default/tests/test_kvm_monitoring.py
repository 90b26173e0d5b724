"""kvm_monitoring, scraped from the test host: the node exporter over TLS with basic auth on
the management address, the libvirt exporter on loopback and read-only, a running guest in
the metrics, and the audit metrics against a fresh kvm_audit run. That guests cannot reach
the exporters is shown with packets in test_kvm_network.py (the stand-ins live there)."""

import json
import os
import re

import pytest

from hostnet import management_address

NODE_PORT, LIBVIRT_PORT = 9100, 9177
# molecule.yml's scrape user; its bcrypt hash is in the inventory.
USER, PASSWORD = "scraper", "scrape-test-only"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
# An HTTP GET over TLS to ADDRESS:PORT, the certificate checked against the CA file for NAME
# (the test certificate names the hosts, not their addresses). Prints the status line, then the body.
SCRAPE = r"""
import base64, socket, ssl, sys
address, port, name, ca, auth = sys.argv[1:6]
sock = socket.create_connection((address, int(port)), timeout=10)
if ca:
    sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname=name)
headers = 'GET /metrics HTTP/1.0\r\nHost: %s\r\n' % name
if auth:
    headers += 'Authorization: Basic %s\r\n' % base64.b64encode(auth.encode()).decode()
sock.sendall((headers + '\r\n').encode())
data = b''
while True:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
head, _sep, body = data.decode('utf-8', 'replace').partition('\r\n\r\n')
print(head.splitlines()[0] if head else 'no response')
print(body)
"""


@pytest.fixture(scope="module")
def scraper(host):
    """scrape(address, port, tls=True, auth=USER:PASSWORD) -> (status line, body), run on the host."""
    ca = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "pki", "ca.pem")
    with open(ca) as handle:
        host.run_expect([0], "install -m 0644 /dev/stdin /tmp/kvmmon-ca.pem <<'EOF'\n%sEOF" % handle.read())
    host.run_expect([0], "install -m 0644 /dev/stdin /tmp/kvmmon-scrape.py <<'EOF'\n%s\nEOF" % SCRAPE)
    name = host.backend.get_hostname()

    def scrape(address, port=NODE_PORT, tls=True, auth="%s:%s" % (USER, PASSWORD)):
        result = host.run("python3 /tmp/kvmmon-scrape.py %s %d %s '%s' '%s'"
                          % (address, port, name, "/tmp/kvmmon-ca.pem" if tls else "", auth))
        status, _sep, body = result.stdout.partition("\n")
        return (status if result.rc == 0 else "failed: %s" % result.stderr.strip()[-300:]), body

    yield scrape
    host.run("rm -f /tmp/kvmmon-ca.pem /tmp/kvmmon-scrape.py")


def samples(body):
    """{series: value} of a metrics page."""
    return dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))


def listeners(host, port):
    return sorted(line.split()[3] for line in host.check_output("ss -Hltn 'sport = :%d'" % port).splitlines())


def test_each_exporter_listens_on_one_address_only(host):
    assert listeners(host, NODE_PORT) == ["%s:%d" % (management_address(host), NODE_PORT)]
    assert listeners(host, LIBVIRT_PORT) == ["127.0.0.1:%d" % LIBVIRT_PORT]


def test_node_exporter_answers_a_listed_user_over_tls_only(host, scraper):
    address = management_address(host)
    status, body = scraper(address)
    assert status == "HTTP/1.0 200 OK", status
    assert "node_exporter_build_info" in body
    assert scraper(address, auth="")[0].endswith("401 Unauthorized")
    assert scraper(address, auth="%s:wrong" % USER)[0].endswith("401 Unauthorized")
    assert scraper(address, auth="nobody:%s" % PASSWORD)[0].endswith("401 Unauthorized")
    # Plain HTTP gets the TLS server's refusal, never metrics.
    status, body = scraper(address, tls=False)
    assert "200" not in status and "node_" not in body, (status, body[:300])


def test_libvirt_metrics_show_the_running_guest_directly_and_through_the_node_exporter(host, hostname, scraper):
    direct = samples(scraper("127.0.0.1", LIBVIRT_PORT, tls=False, auth="")[1])
    assert direct.get("libvirt_up") == "1", sorted(direct)[:20]
    relayed = samples(scraper(management_address(host))[1])
    assert relayed.get("kvmcloud_libvirt_copy_success") == "1"
    assert relayed.get("libvirt_up") == "1"
    running = host.check_output("virsh -c qemu:///system list --name").split()
    print("\nrunning guests: %s" % running)
    if hostname == "kvmhost-trixie":
        # molecule.yml starts web1 on this host.
        assert running == ["web1"]
    for guest in running:
        assert any('domain="%s"' % guest in name for name in direct), sorted(direct)[:40]
        assert any('domain="%s"' % guest in name for name in relayed)


def test_exporter_user_is_no_libvirt_manager_and_its_sandbox_is_read_only(host, hostname):
    assert "libvirt" not in host.user("prometheus").groups
    pid = host.check_output("systemctl show -P MainPID prometheus-libvirt-exporter.service")
    assert pid != "0"
    status = host.file("/proc/%s/status" % pid).content_string
    libvirt_gid = str(host.group("libvirt").gid)
    assert libvirt_gid in re.search(r"^Groups:(.*)$", status, re.M).group(1).split()
    # All the exporter sees of /run/libvirt is the read-only socket.
    seen = host.check_output("nsenter -t %s -m ls -A /run/libvirt" % pid).split()
    assert seen in (["libvirt-sock-ro"], ["virtqemud-sock-ro"]), seen
    # What the exporter can do through it, tried by virsh in the exporter's own namespaces
    # and groups: read, and nothing more.
    uri = "qemu:///system?socket=/run/libvirt/%s" % seen[0]
    as_exporter = "nsenter -t %s -m -S %s -G %s virsh -c '%s' " % (pid, host.user("prometheus").uid, libvirt_gid, uri)
    listed = host.run(as_exporter + "list --all --name")
    assert listed.rc == 0, listed.stderr
    guest = listed.stdout.split()[0]
    changed = host.run(as_exporter + "desc %s --config --title kvmmon-probe" % guest)
    print("\n%s: list --all: %s; desc --title: rc %d, %s" % (hostname, listed.stdout.split(), changed.rc, changed.stderr.strip()))
    assert changed.rc != 0 and "read only" in changed.stderr, changed.stderr


def test_audit_metrics_agree_with_kvm_audit(host, hostname, scraper):
    args = {"virt_host_validate": False, "skip": ["H5"],
            "allowed_networks": ["default"] if hostname == "kvmhost-bookworm" else []}
    audit = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps(args), check=False, become=True)
    assert "controls" in audit, audit
    metrics = samples(scraper(management_address(host))[1])
    exported = {}
    for name, value in metrics.items():
        if name.startswith("kvmcloud_audit_control_status{") and value == "1":
            # The node exporter serves the labels in its own order.
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', name))
            exported[labels["control"]] = labels["status"]
    audited = {control["id"]: control["status"] for control in audit["controls"]}
    print("\n%s: %d controls exported, %d failing" % (hostname, len(exported), list(exported.values()).count("fail")))
    assert exported == audited
    assert metrics['kvmcloud_audit_control_evaluated{control="H5"}'] == "0"
    assert metrics["kvmcloud_audit_passed"] == ("1" if audit["passed"] else "0")
    # The file on disk is what the node exporter served.
    assert host.file("%s/kvmcloud_audit.prom" % TEXTFILE_DIR).mode == 0o644
