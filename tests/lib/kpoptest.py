# SPDX-License-Identifier: MIT
"""tests/lib/kpoptest.py: what kpop's end-to-end tests in Python share.

TAP output (ok, is_, like, diag, bail, done), a throwaway Kerberos realm
(kdc-test), a real kpopd started on free loopback ports with a generated
kpopd.conf, and Maildir/mbox builders.  Everything is real: the tests talk
to kpopd over TCP with stock clients (poplib, curl, openssl s_client).
"""

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("KPOP_SRCDIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__)))))
BUILDDIR = os.environ.get("KPOP_BUILDDIR", os.path.join(SRCDIR, "build"))
DATA = os.environ.get("KPOP_TEST_DATA", os.path.join(BUILDDIR, "tests/certs"))
KDC_TEST = os.path.join(SRCDIR, "kdc-test", "kdc-test")
KPOPD = os.path.join(BUILDDIR, "kpopd", "kpopd")

# ---- TAP ----

_run = 0
_failed = 0
_cleanups = []


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def ok(cond, what):
    global _run, _failed
    _run += 1
    if not cond:
        _failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", _run, what), flush=True)
    return bool(cond)


def is_(got, want, what):
    r = ok(got == want, what)
    if not r:
        diag("     got: %r\n  wanted: %r" % (got, want))
    return r


def like(got, pattern, what):
    r = ok(got is not None and re.search(pattern, got) is not None, what)
    if not r:
        diag("     got: %r\n pattern: %r" % (got, pattern))
    return r


def bail(why):
    print("Bail out! " + str(why), flush=True)
    _cleanup()
    os._exit(255)


def _cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup must go on
            diag("cleanup: %s" % e)


def done():
    """Print the plan, clean up, and exit with the verdict."""
    print("1..%d" % _run, flush=True)
    _cleanup()
    sys.exit(1 if _failed else 0)


atexit.register(_cleanup)


def scratch():
    base = os.environ.get("KPOP_TEST_TMP")
    d = tempfile.mkdtemp(dir=base) if base else tempfile.mkdtemp()
    os.chmod(d, 0o755)
    if not base:
        _cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- a realm ----

class Realm:
    """A kdc-test realm; its environment is put into os.environ."""

    def __init__(self, base, hosts=("localhost",), realm_name=None):
        self.dir = os.path.join(base, "realm")
        args = [KDC_TEST, "start", self.dir]
        if realm_name:
            args += ["--realm", realm_name]
        for h in hosts:
            args += ["--host", h]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            bail("kdc-test start failed: " + r.stderr)
        _cleanups.append(self.stop)
        out = subprocess.run([KDC_TEST, "env", self.dir], capture_output=True,
                             text=True, check=True).stdout
        self.env = {}
        for m in re.finditer(r"^export ([A-Z0-9_]+)=(.*)$", out, re.M):
            val = m.group(2)
            if val.startswith("'") and val.endswith("'"):
                val = val[1:-1]
            self.env[m.group(1)] = val.replace("\\", "")
        os.environ.update(self.env)
        self.realm = self.env["KDC_TEST_REALM"]
        self.keytab = self.env["KRB5_KTNAME"].replace("FILE:", "")

    def kinit(self, user, ccache=None, extra=()):
        env = dict(os.environ)
        if ccache:
            env["KRB5CCNAME"] = ccache
        return subprocess.run([KDC_TEST, "kinit", self.dir, user] +
                              list(extra), env=env, capture_output=True,
                              text=True).returncode == 0

    def password(self, user):
        return subprocess.run([KDC_TEST, "password", self.dir, user],
                              capture_output=True, text=True,
                              check=True).stdout.strip()

    def stop(self):
        if os.path.exists(self.dir):
            subprocess.run([KDC_TEST, "stop", self.dir],
                           capture_output=True)


# ---- maildrops ----

MAIL_OWNER = "mail"      # exists on every Debian system


def owner_ids():
    pw = pwd.getpwnam(MAIL_OWNER)
    return pw.pw_uid, pw.pw_gid


def chown_tree(path, uid, gid):
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            # A kpopd session still letting go may remove its own
            # kpopd.cache.tmp meanwhile: a file that is gone needs no owner.
            try:
                os.chown(os.path.join(root, f), uid, gid, follow_symlinks=False)
            except FileNotFoundError:
                pass


def maildir_files(path):
    """The files in the Maildir at path (new/, then cur/, each sorted by
    name), as bytes; none for a subdirectory that is not there."""
    got = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            with open(os.path.join(d, n), "rb") as f:
                got.append(f.read())
    return got


def make_maildir(path, messages, new=True, start=0):
    """Create a Maildir holding messages (bytes); returns the file names.
    start numbers the messages on from an earlier call's."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    names = []
    for i, body in enumerate(messages, start):
        name = "%d.M%dP%d.kpoptest" % (1764000000 + i, i, os.getpid())
        with open(os.path.join(path, "new" if new else "cur", name),
                  "wb") as f:
            f.write(body)
        names.append(name)
    uid, gid = owner_ids()
    chown_tree(path, uid, gid)
    return names


def make_mbox(path, messages):
    with open(path, "wb") as f:
        for body in messages:
            f.write(b"From sender@example.org Thu Nov 26 10:00:00 2026\n")
            f.write(body)
            if not body.endswith(b"\n"):
                f.write(b"\n")
            f.write(b"\n")
    uid, gid = owner_ids()
    if os.geteuid() == 0:
        os.chown(path, uid, gid)


def crlf(body):
    """A stored message as POP3 delivers it: CRLF lines, final CRLF."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", body)
    if out and not out.endswith(b"\n"):
        out += b"\r\n"
    return out


def sample_messages():
    return [
        b"From: a@example.org\nSubject: one\n\nplain body\n",
        b"From: b@example.org\r\nSubject: two\r\n\r\n.dot line\r\n..two\r\n"
        b".\r\nend\r\n",
        b"From: c@example.org\nSubject: three\n\nno final newline",
        b"From: d@example.org\nSubject: four\n\n" + b"x" * 70 + b"\n" * 1
        + b"".join(b"%05d ..leading dots and a long-ish line\n" % i
                   for i in range(3000)),
    ]


# ---- kpopd ----

UNPRIV_USER = "kpopd"    # unpriv_user's default: the net process's account


def ensure_system_account(name):
    """As root, create the system account name unless it exists, as a
    package would (no home, no shell).  Another test may be adding an
    account at the same moment: useradd then fails on the lock of
    /etc/passwd, so it is tried a few times."""
    if os.geteuid() != 0:
        return
    for _ in range(20):
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        r = subprocess.run(["useradd", "--system", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell",
                            "/usr/sbin/nologin", name],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return
        time.sleep(0.25)
    bail("cannot create the system account %s: %s" % (name, r.stderr))


def session_pids(master):
    """The (monitor, net process) pids of the live sessions of the kpopd
    whose pid is master."""
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return [(m, n) for m in kids.get(master, [])
            for n in kids.get(m, [])]


class Raw:
    """A line-oriented raw connection to 127.0.0.1:port, optionally
    upgraded to TLS (tls(ctx)), for tests that speak POP3 by hand."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        return self.f.readline().decode("latin-1").rstrip("\r\n")

    def cmd(self, c):
        self.send(c.encode("latin-1") + b"\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            l = self.line()
            if l == ".":
                return out
            out.append(l)

    def tls(self, ctx):
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")

    def close(self):
        self.s.close()


class Kpopd:
    """A kpopd on free loopback ports with a generated configuration;
    binary, if given, is the kpopd program to run."""

    def __init__(self, base, realm, extra=None, maildrop=None, tls=True,
                 start=True, binary=None):
        ensure_system_account(UNPRIV_USER)
        self.base = base
        self.binary = binary or KPOPD
        self.pop3 = free_port()
        self.pop3s = free_port() if tls else None
        self.maildir_root = os.path.join(base, "mail")
        os.makedirs(self.maildir_root, exist_ok=True)
        uid, gid = owner_ids()
        if os.geteuid() == 0:
            os.chown(self.maildir_root, uid, gid)
        conf = {
            "listen_pop3": "127.0.0.1:%d" % self.pop3,
            "listen_pop3s": "127.0.0.1:%d" % self.pop3s if tls else "",
            "hostname": "localhost",
            "keytab": realm.keytab if realm else "",
            "user_type": "virtual",
            "virtual_user": MAIL_OWNER,
            "maildrop": maildrop or ("maildir:" + self.maildir_root + "/%u"),
            "pidfile": os.path.join(base, "kpopd.pid"),
            "chroot_dir": os.path.join(base, "empty"),
            "state_dir": os.path.join(base, "state"),
            "control_socket": os.path.join(base, "run", "control"),
            "auth_fail_delay": "0",
            "log_level": "debug",
        }
        if tls:
            conf["tls_cert"] = os.path.join(DATA, "server.pem")
            conf["tls_key"] = os.path.join(DATA, "server.key")
        if not realm:
            del conf["keytab"]
        conf.update(extra or {})
        self.conf = os.path.join(base, "kpopd.conf")
        with open(self.conf, "w") as f:
            for k, v in conf.items():
                f.write('%s = "%s"\n' % (k, v))
        self.log = os.path.join(base, "kpopd.log")
        self.proc = None
        if start:
            self.start()

    def start(self):
        pidfile = os.path.join(self.base, "kpopd.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                bail("kpopd exited at start:\n" + self.read_log())
            if os.path.exists(pidfile):
                return
            time.sleep(0.02)
        bail("kpopd did not write its pidfile")

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---- a private network and a real DNS server (Hesiod, SRV) ----

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def enter_net_namespace(script):
    """Run script (the calling test) again in private mount and network
    namespaces, unless it already is; a SKIP without root.  Call it first."""
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (private mount and network "
              "namespaces)")
        sys.exit(0)
    if os.environ.get("KPOP_IN_NET_NS") == "1":
        return
    os.environ["KPOP_IN_NET_NS"] = "1"
    try:
        os.execvp("unshare", ["unshare", "-m", "-n", "--propagation",
                              "private", sys.executable,
                              os.path.abspath(script)])
    except OSError as e:
        print("1..0 # SKIP cannot run unshare: %s" % e)
        sys.exit(0)


def private_resolver(base, domain):
    """In the namespace of enter_net_namespace: loopback up, and over
    /etc/resolv.conf (nameserver 127.0.0.1, search domain) and
    /etc/hesiod.conf (lhs .ns, rhs .domain) files of base, bind-mounted,
    so that every program reads them where it always does and the
    system's own stay untouched."""
    r = subprocess.run(["ip", "link", "set", "lo", "up"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("1..0 # SKIP cannot bring up loopback in a network "
              "namespace: " + r.stderr.strip())
        sys.exit(0)
    for name, text in (("resolv.conf", "nameserver 127.0.0.1\nsearch %s\n"
                        "options attempts:2 timeout:1\n" % domain),
                       ("hesiod.conf", "lhs=.ns\nrhs=.%s\nclasses=IN,HS\n" %
                        domain)):
        p = os.path.join(base, name)
        with open(p, "w") as f:
            f.write(text)
        if not os.path.exists("/etc/" + name):
            bail("/etc/%s is missing: nothing to bind-mount over "
                 "(libhesiod0 installs hesiod.conf)" % name)
        # mount follows a symlink; the namespace is private.
        r = subprocess.run(["mount", "--bind", p, "/etc/" + name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            bail("cannot bind-mount /etc/%s: %s" % (name, r.stderr))
        _cleanups.append(lambda n=name: subprocess.run(
            ["umount", "/etc/" + n], capture_output=True))
    for v in ("HESIOD_CONFIG", "HES_DOMAIN", "LOCALDOMAIN", "RES_OPTIONS"):
        os.environ.pop(v, None)


def dns_txt(name, text):
    """A dnsmasq TXT record; CR, LF, ESC, quote and backslash escaped."""
    for a, b in (("\\", "\\\\"), ('"', '\\"'), ("\r", "\\r"), ("\n", "\\n"),
                 ("\x1b", "\\e")):
        text = text.replace(a, b)
    return 'txt-record=%s,"%s"' % (name, text)


def dns_srv(name, target, port, prio=0, weight=0):
    return "srv-host=%s,%s,%d,%d,%d" % (name, target, port, prio, weight)


def dns_a(name, addr):
    return "host-record=%s,%s" % (name, addr)


class Dnsmasq:
    """Debian's dnsmasq on 127.0.0.1:53 (in a private network namespace):
    it answers the records given (dns_txt, dns_srv, dns_a), class IN, and
    NXDOMAIN for any other name in domain; nothing is forwarded.  set()
    restarts it with other records; questions() lists what it was asked
    since, from its query log, as (lower-case name, type name)."""

    def __init__(self, base, domain, records=()):
        if not os.access(DNSMASQ, os.X_OK):
            bail("no dnsmasq (Debian package dnsmasq-base; tests/setup-deps "
                 "installs it)")
        self.base, self.domain = base, domain
        self.proc, self.n, self.log = None, 0, None
        _cleanups.append(self.stop)
        self.set(records)

    def _answers(self):
        q = b"\x4b\x50\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        q += b"".join(bytes([len(x)]) + x.encode()
                      for x in self.domain.split("."))
        q += b"\x00\x00\x06\x00\x01"             # SOA, IN
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", 53))
            return s.recv(4096)[:2] == b"\x4b\x50"
        except OSError:
            return False
        finally:
            s.close()

    def set(self, records):
        self.stop()
        self.n += 1
        self.log = os.path.join(self.base, "dns-%d.log" % self.n)
        conf = os.path.join(self.base, "dnsmasq-%d.conf" % self.n)
        with open(conf, "w") as f:
            f.write("port=53\nlisten-address=127.0.0.1\nbind-interfaces\n"
                    "no-resolv\nno-hosts\nno-poll\nlocal=/%s/\n"
                    "log-queries\nlog-facility=%s\n" % (self.domain,
                                                          self.log))
            for r in records:
                f.write(r + "\n")
        self.proc = subprocess.Popen([DNSMASQ, "--keep-in-foreground",
                                      "--conf-file=" + conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        for _ in range(100):
            if self.proc.poll() is not None:
                bail("dnsmasq exited: " +
                     self.proc.stderr.read().decode(errors="replace"))
            if self._answers():
                self.mark = len(self._log())
                return
            time.sleep(0.05)
        bail("dnsmasq does not answer on 127.0.0.1:53")

    def _log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def questions(self):
        return [(n.lower(), t) for t, n in re.findall(
            r"query\[(\w+)\] (\S+) from", self._log()[self.mark:])]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stderr.close()
        self.proc = None


# ---- Dovecot's LMTP server (kpop's lmtp: target) ----

class DovecotLmtp:
    """A private Dovecot 2.3 speaking LMTP only, on a loopback TCP port
    (self.port) and a Unix socket (self.socket), delivering into Maildirs
    under self.mail/USER as the mail owner.  users maps a name to extra
    userdb fields (userdb_quota_rule=..., userdb_quota_full_tempfail=yes); Dovecot adds
    only a Return-Path line, so what lands can be checked byte for byte.
    The caller checks that dovecot-lmtpd is installed (self.missing())."""

    DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
    LMTP = "/usr/lib/dovecot/lmtp"

    @classmethod
    def missing(cls):
        for p in (cls.DOVECOT, cls.LMTP):
            if not os.access(p, os.X_OK):
                return p
        return None

    def __init__(self, base, users):
        self.dir = os.path.join(base, "lmtp-dv")
        self.mail = os.path.join(self.dir, "mail")
        self.socket = os.path.join(self.dir, "run", "lmtp")
        self.log = os.path.join(self.dir, "dovecot.log")
        for d in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.dir, d))
        uid, gid = owner_ids()
        os.chown(self.mail, uid, gid)
        udb = os.path.join(self.dir, "users")
        with open(udb, "w") as f:
            for u, extra in users.items():
                f.write("%s:::::::%s\n" % (u, extra))
        self.port = free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""# written by tests/lib/kpoptest.py: a private LMTP server
instance_name = kpop-lmtp-%(pid)d
base_dir = %(dir)s/run
state_dir = %(dir)s/state
protocols = lmtp
listen = 127.0.0.1
shutdown_clients = yes
log_path = %(log)s
info_log_path = %(log)s
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = %(uid)d
ssl = no
mail_plugins = quota
lmtp_add_received_header = no
lmtp_hdr_delivery_address = none
passdb {
  driver = passwd-file
  args = %(udb)s
}
userdb {
  driver = passwd-file
  args = %(udb)s
  default_fields = uid=%(uid)d gid=%(gid)d home=%(mail)s/%%u
}
mail_location = maildir:%(mail)s/%%u
plugin {
  quota = maildir:User quota
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(port)d
  }
  unix_listener lmtp {
    mode = 0666
  }
}
""" % {"pid": os.getpid(), "dir": self.dir, "log": self.log, "uid": uid,
       "gid": gid, "udb": udb, "mail": self.mail, "port": self.port})
        self.out = open(os.path.join(self.dir, "dovecot.out"), "wb")
        self.proc = subprocess.Popen([self.DOVECOT, "-F", "-c", self.conf],
                                     stdout=self.out, stderr=self.out,
                                     stdin=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        deadline = time.time() + 15
        while not (self._listening() and os.path.exists(self.socket)):
            if self.proc.poll() is not None or time.time() > deadline:
                self.out.flush()
                with open(os.path.join(self.dir, "dovecot.out"),
                          errors="replace") as f:
                    diag(f.read())
                diag(self.read_log())
                bail("Dovecot's LMTP did not start")
            time.sleep(0.05)

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def delivered(self, user):
        """The files in user's Maildir (new/ and cur/), as bytes."""
        return maildir_files(os.path.join(self.mail, user))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.out.close()


class Exim:
    """A private Exim 4 (Debian's exim4-daemon-light) with its own -C
    config, spool and Maildirs, listening on a free loopback port
    (self.port, on 127.0.0.1 and, when there is one, ::1: self.v6),
    delivering each of users' mail (at localhost) into
    self.mail/USER/new.  No Received: header, no Return-path: (the
    transport's default), so what lands is the message as sent.  The
    ACLs: RCPT TO a local part "tempfail" gets a 451, a message whose
    Subject is "tempfail-data" a 451 after DATA, "reject-data" a 550,
    "reject-enhanced" a 550 with the enhanced code 5.7.1,
    any other domain a 550.  Exim delivers a moment after its 250 (in a
    process of its own): wait_idle() waits for that.  With a -C config
    Exim gives up root and runs as Debian-exim, who owns the spool and
    the Maildirs.  Must start as root; the caller checks that
    self.missing() is None."""

    EXIM = "/usr/sbin/exim4"

    @classmethod
    def missing(cls):
        return None if os.access(cls.EXIM, os.X_OK) else cls.EXIM

    def __init__(self, base, users):
        self.dir = os.path.join(base, "exim")
        self.spool = os.path.join(self.dir, "spool")
        self.mail = os.path.join(self.dir, "mail")
        for d in (self.spool, self.mail):
            os.makedirs(d)
        uid, gid = pwd.getpwnam("Debian-exim")[2:4]
        for d in (self.dir, self.spool, self.mail):
            os.chown(d, uid, gid)
        self.port = free_port()
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
            self.v6 = True
        except OSError:
            self.v6 = False
        self.conf = os.path.join(self.dir, "exim.conf")
        with open(self.conf, "w") as f:
            f.write("""# written by tests/lib/kpoptest.py: a private Exim
primary_hostname = kpop.test
domainlist local_domains = localhost
exim_user = %(uid)d
exim_group = %(gid)d
spool_directory = %(spool)s
log_file_path = %(spool)s/%%slog
pid_file_path = %(spool)s/exim.pid
local_interfaces = <; 127.0.0.1 %(v6)s
received_header_text =
host_lookup =
tls_advertise_hosts =
acl_smtp_rcpt = rcpt
acl_smtp_data = data
begin acl
rcpt:
  defer local_parts = tempfail
  require verify = recipient
  accept domains = +local_domains
  deny
data:
  defer condition = ${if eq{$h_subject:}{tempfail-data}}
  deny condition = ${if eq{$h_subject:}{reject-data}}
  deny condition = ${if eq{$h_subject:}{reject-enhanced}}
       message = 5.7.1 not wanted here
  accept
begin routers
local_user:
  driver = accept
  domains = +local_domains
  local_parts = %(users)s
  transport = maildir
begin transports
maildir:
  driver = appendfile
  directory = %(mail)s/$local_part_data
  maildir_format
  create_directory
  user = %(uid)d
  group = %(gid)d
begin retry
*   *   F,1h,1h
""" % {"uid": uid, "gid": gid, "spool": self.spool, "mail": self.mail,
       "v6": "; ::1" if self.v6 else "", "users": " : ".join(users)})
        self.proc = subprocess.Popen([self.EXIM, "-C", self.conf, "-bdf",
                                      "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        _cleanups.append(self.stop)
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    diag(self.mainlog())
                    diag(self.paniclog())
                    bail("Exim did not start")
                time.sleep(0.05)

    def _log(self, name):
        try:
            with open(os.path.join(self.spool, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mainlog(self):
        return self._log("mainlog")

    def paniclog(self):
        return self._log("paniclog")

    def queued(self):
        """How many messages Exim's spool holds (received, not yet
        delivered, or being received)."""
        try:
            return len(os.listdir(os.path.join(self.spool, "input")))
        except FileNotFoundError:
            return 0

    def wait_idle(self, secs=10):
        """Waits (at most secs) until the spool holds no message and the
        Maildirs' count has stayed the same for a moment; True if so."""
        deadline = time.time() + secs
        last, since = None, time.time()
        while True:
            n = sum(len(os.listdir(os.path.join(self.mail, u, s)))
                    for u in os.listdir(self.mail) for s in ("new", "cur")
                    if os.path.isdir(os.path.join(self.mail, u, s)))
            now = time.time()
            if n != last or self.queued():
                last, since = n, now
            elif now - since >= 0.1:
                return True
            if now > deadline:
                return False
            time.sleep(0.05)

    def delivered(self, user):
        """The files in user's Maildir (new/ and cur/), as bytes."""
        return maildir_files(os.path.join(self.mail, user))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
