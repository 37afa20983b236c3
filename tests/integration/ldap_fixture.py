"""A throwaway OpenLDAP server (Debian's slapd) for the LDAP directory tests: cn=config + mdb in a
temp dir, on a loopback port, as the calling user; optional TLS (StartTLS) with a test CA made by
the openssl CLI. Seeded with people, groups, a locked account and a photo. Stop and start it again
(same port, same data) to test outages. Needs: slapd ldap-utils (scripts/deps.sh test)."""
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import free_port  # noqa: F401 (also used as ldap_fixture.free_port)

BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PW = "adminpw"
SERVICE_DN = f"cn=palaver,ou=services,{BASE}"
SERVICE_PW = "service-secret"
ACCESS_GROUP = f"cn=palaver-users,ou=groups,{BASE}"
ADMIN_GROUP = f"cn=palaver-admins,ou=groups,{BASE}"
SIZE_LIMIT = 5  # what the server returns to the service account without paging
# A minimal JFIF file (slapd checks the JPEG syntax of jpegPhoto).
PHOTO = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
         b"palaver-test-photo\xff\xd9")

# uid, given name, surname, display name, password, in the access group
PEOPLE = [("alice", "Alice", "Liddell", "Alice Liddell", "alice-pw", True),
          ("bob", "Bob", "Builder", "Bob Builder", "bob-pw", True),
          ("carol", "Carol", "Danvers", "Carol Danvers", "carol-pw", True),
          ("dave", "Dave", "Outsider", "Dave Outsider", "dave-pw", False),
          ("eve", "Eve", "Locked", "Eve Locked", "eve-pw", True),
          ("j\u00fcrgen", "J\u00fcrgen", "Gro\u00df", "J\u00fcrgen Gro\u00df", "j\u00fcrgen-pw", True),
          ("st*r", "Star", "Struck", "Star Struck", "star-pw", True),
          ("nina", "Nina", "Nested", "Nina Nested", "nina-pw", False)]  # in TEAM_GROUP only
TEAM_GROUP = f"cn=palaver-team,ou=groups,{BASE}"  # a member of ACCESS_GROUP

# univention=True: UCS-like users under ou=ucs (the attributes of UCS's schema, under test OIDs:
# this is not UCS, but the preset's filter, mail attribute, account-state rules and
# uniqueMember groups meet a real server). uid, extra attributes, in UCS_GROUP.
UCS_PEOPLE = [("ucs-anna", {"sambaAcctFlags": "[U          ]", "krb5KDCFlags": "126"}, True),
              ("ucs-deactivated", {"sambaAcctFlags": "[UD         ]", "krb5KDCFlags": "254"}, True),
              ("ucs-kerberos-off", {"krb5KDCFlags": "254"}, True),
              ("ucs-expired", {"shadowExpire": "1"}, True),
              ("ucs-later", {"shadowExpire": "99999"}, True),
              ("ucs-outsider", {}, False)]
# ad=True: AD-like users under ou=ad (AD's attribute names under test OIDs; slapd has no
# in-chain matching rule, so groups use `member`). uid (sAMAccountName), objectGUID bytes, extra.
AD_PEOPLE = [("ad-bob", bytes(range(16)), {"userAccountControl": "512", "accountExpires": "0"}),
             ("ad-disabled", bytes(range(16, 32)), {"userAccountControl": "514"}),
             ("ad-expired", bytes(range(32, 48)), {"userAccountControl": "512", "accountExpires": "116444736000000000"})]
AD_GROUP = f"cn=ad-palaver,ou=ad,{BASE}"
AD_SCHEMA = """
dn: cn=ad-test,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: ad-test
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.1 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.2 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.3 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.4 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.5 NAME 'accountExpires' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.6 NAME 'thumbnailPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.3.7 NAME 'objectCategory' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.99999.4.1 NAME 'user' SUP top AUXILIARY MAY ( objectGUID $ sAMAccountName $ userPrincipalName $ userAccountControl $ accountExpires $ thumbnailPhoto $ objectCategory ) )
"""
UCS_GROUP = f"cn=ucs-palaver,ou=ucs,{BASE}"
UCS_ADMINS = f"cn=ucs-admins,ou=ucs,{BASE}"
UCS_SCHEMA = """
dn: cn=univention-test,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: univention-test
olcAttributeTypes: ( 1.3.6.1.4.1.99999.1.1 NAME 'univentionObjectType' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.1.2 NAME 'mailPrimaryAddress' EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.1.3 NAME 'sambaAcctFlags' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.1.4 NAME 'krb5KDCFlags' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.1.5 NAME 'shadowExpire' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.99999.2.1 NAME 'univentionTestUser' SUP top AUXILIARY MAY ( univentionObjectType $ mailPrimaryAddress $ sambaAcctFlags $ krb5KDCFlags $ shadowExpire ) )
"""
MANY = 30  # zz01..zz30, "Zeta 01".., past the size limit


def tool(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


def ldif_value(attr, value):
    raw = value.encode() if isinstance(value, str) else value
    if all(0x20 <= b < 0x7F for b in raw) and not raw.startswith((b" ", b":", b"<")):
        return f"{attr}: {raw.decode()}\n"
    return f"{attr}:: {base64.b64encode(raw).decode()}\n"


def make_ca(directory, name, san):
    """A CA and a server certificate signed by it (openssl CLI). Returns (ca_file, cert, key)."""
    ca_key, ca = os.path.join(directory, f"{name}-ca.key"), os.path.join(directory, f"{name}-ca.pem")
    key, csr, cert = (os.path.join(directory, f"{name}-server.{x}") for x in ("key", "csr", "pem"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "2", "-subj", f"/CN={name} test CA", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=ldap test server")
    ext = os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
        "-extfile", ext)
    return ca, cert, key


class Slapd:
    """One slapd. `tls`: also offer StartTLS with a certificate for 127.0.0.1 from `self.ca_file`
    (`self.other_ca_file` is an unrelated CA)."""

    def __init__(self, tls=False, many=MANY, univention=False, ad=False):
        self.univention = univention
        self.ad = ad
        for name in ("slapd", "slapadd", "ldapwhoami", "ldapmodify", "ldapsearch"):
            if not os.path.exists(tool(name)):
                raise AssertionError(f"{name} is needed: scripts/deps.sh test installs slapd and ldap-utils")
        self.many = many
        self.dir = tempfile.mkdtemp(prefix="palaver-slapd-")
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_port = free_port() if tls else None
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.ldaps_port}" if tls else None
        self.proc = None
        self.tls = tls
        if tls:
            self.ca_file, self.cert, self.key = make_ca(self.dir, "good", "IP:127.0.0.1")
            self.other_ca_file, _, _ = make_ca(self.dir, "other", "IP:127.0.0.1")
        self.service_password_file = os.path.join(self.dir, "service-password")
        with open(self.service_password_file, "w") as f:
            f.write(SERVICE_PW + "\n")
        os.chmod(self.service_password_file, 0o600)
        self._configure()
        self.start()

    def _configure(self):
        moddir = "/usr/lib/ldap"
        def hashed(pw):  # {SSHA}, as slappasswd makes it: base64(sha1(password + salt) + salt)
            salt = os.urandom(8)
            return "{SSHA}" + base64.b64encode(hashlib.sha1(pw.encode() + salt).digest() + salt).decode()
        os.makedirs(os.path.join(self.dir, "slapd.d"))
        os.makedirs(os.path.join(self.dir, "db"))
        tls = ""
        if self.tls:
            tls = (f"olcTLSCACertificateFile: {self.ca_file}\nolcTLSCertificateFile: {self.cert}\n"
                   f"olcTLSCertificateKeyFile: {self.key}\n")
        config = f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.dir}/slapd.pid
{tls}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {moddir}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
{UCS_SCHEMA if self.univention else ""}{AD_SCHEMA if self.ad else ""}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE}
olcDbDirectory: {self.dir}/db
olcDbMaxSize: 104857600
olcRootDN: {ADMIN_DN}
olcRootPW: {hashed(ADMIN_PW)}
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,entryUUID eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""
        entries = [f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
                   f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
                   f"dn: ou=staff,ou=people,{BASE}\nobjectClass: organizationalUnit\nou: staff\n",
                   f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
                   f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n",
                   f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
                   f"cn: palaver\nuserPassword: {hashed(SERVICE_PW)}\n"]
        members = []
        people = list(PEOPLE) + [(f"zz{i:02d}", "Zeta", f"{i:02d}", f"Zeta {i:02d}", f"zz{i:02d}-pw", True)
                                 for i in range(1, self.many + 1)]
        for uid, given, sn, display, pw, member in people:
            dn = f"uid={uid},ou=people,{BASE}"
            e = ldif_value("dn", dn) + "objectClass: inetOrgPerson\n"
            e += ldif_value("uid", uid) + ldif_value("cn", display) + ldif_value("givenName", given)
            e += ldif_value("sn", sn) + ldif_value("displayName", display)
            e += ldif_value("mail", f"{uid.replace('*', 'x')}@example.org") + ldif_value("userPassword", hashed(pw))
            if uid == "alice":
                e += ldif_value("jpegPhoto", PHOTO) + "title: Explorer\nl: Wonderland\n"
                e += "telephoneNumber: +49 30 1234\ntelephoneNumber: +49 30 5678\nmobile: +49 170 1234\n"
            if uid == "eve":
                e += "pwdAccountLockedTime: 000001010000Z\n"
            entries.append(e)
            if member:
                members.append(dn)
        entries.append(f"dn: {ACCESS_GROUP}\nobjectClass: groupOfNames\ncn: palaver-users\n" +
                       "".join(ldif_value("member", m) for m in members) + f"member: {TEAM_GROUP}\n")
        entries.append(f"dn: {TEAM_GROUP}\nobjectClass: groupOfNames\ncn: palaver-team\n"
                       f"member: uid=nina,ou=people,{BASE}\nmember: {ACCESS_GROUP}\n")
        entries.append(f"dn: {ADMIN_GROUP}\nobjectClass: groupOfNames\ncn: palaver-admins\n"
                       f"member: uid=alice,ou=people,{BASE}\n")
        if self.univention:
            entries.append(f"dn: ou=ucs,{BASE}\nobjectClass: organizationalUnit\nou: ucs\n")
            ucs_members = []
            for uid, extra, member in UCS_PEOPLE:
                dn = f"uid={uid},ou=ucs,{BASE}"
                name = uid.split("-", 1)[1].title()
                e = (f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: univentionTestUser\nuid: {uid}\n"
                     f"cn: {name} UCS\nsn: UCS\ngivenName: {name}\ndisplayName: {name} UCS\n"
                     f"univentionObjectType: users/user\nmailPrimaryAddress: {uid}@ucs.example\n"
                     f"mail: {uid}-alias@ucs.example\nuserPassword: {hashed(uid + '-pw')}\n")
                e += "".join(f"{k}: {v}\n" for k, v in extra.items())
                entries.append(e)
                if member:
                    ucs_members.append(dn)
            # An LDAP-only account (no users/user): never a Palaver user.
            entries.append(f"dn: uid=ucs-ldaponly,ou=ucs,{BASE}\nobjectClass: inetOrgPerson\n"
                           f"objectClass: univentionTestUser\nuid: ucs-ldaponly\ncn: x\nsn: x\n"
                           f"univentionObjectType: users/ldap\nuserPassword: {hashed('ucs-ldaponly-pw')}\n")
            ucs_members.append(f"uid=ucs-ldaponly,ou=ucs,{BASE}")
            entries.append(f"dn: {UCS_GROUP}\nobjectClass: groupOfUniqueNames\ncn: ucs-palaver\n" +
                           "".join(f"uniqueMember: {m}\n" for m in ucs_members))
            entries.append(f"dn: {UCS_ADMINS}\nobjectClass: groupOfUniqueNames\ncn: ucs-admins\n"
                           f"uniqueMember: uid=ucs-anna,ou=ucs,{BASE}\n")
        if self.ad:
            entries.append(f"dn: ou=ad,{BASE}\nobjectClass: organizationalUnit\nou: ad\n")
            for uid, guid, extra in AD_PEOPLE:
                name = uid.split("-", 1)[1].title()
                e = (f"dn: cn={name} AD,ou=ad,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: user\n"
                     f"cn: {name} AD\nsn: AD\ngivenName: {name}\ndisplayName: {name} AD\n"
                     f"objectCategory: person\nsAMAccountName: {uid}\nuserPrincipalName: {uid}@corp.example\n"
                     f"mail: {uid}@corp.example\nphysicalDeliveryOfficeName: Berlin\n"
                     f"userPassword: {hashed(uid + '-pw')}\n")
                e += ldif_value("objectGUID", guid) + "".join(f"{k}: {v}\n" for k, v in extra.items())
                if uid == "ad-bob":
                    e += ldif_value("thumbnailPhoto", PHOTO)
                entries.append(e)
            entries.append(f"dn: {AD_GROUP}\nobjectClass: groupOfNames\ncn: ad-palaver\n" +
                           "".join(f"member: cn={u.split('-', 1)[1].title()} AD,ou=ad,{BASE}\n" for u, _, _ in AD_PEOPLE))
        with open(os.path.join(self.dir, "config.ldif"), "w") as f:
            f.write(config)
        with open(os.path.join(self.dir, "data.ldif"), "w") as f:
            f.write("\n".join(entries))
        slapadd = tool("slapadd")
        for n, name in ((0, "config.ldif"), (1, "data.ldif")):
            r = subprocess.run([slapadd, "-n", str(n), "-F", os.path.join(self.dir, "slapd.d"), "-l",
                                os.path.join(self.dir, name)], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError(f"slapadd {name} failed:\n{r.stderr}")

    def start(self, timeout=15):
        log = open(os.path.join(self.dir, "slapd.log"), "ab")
        # -d: stay in the foreground (our child, so stop() can end it by its pid).
        listen = f"{self.uri}/" + (f" {self.ldaps_uri}/" if self.tls else "")
        self.proc = subprocess.Popen([tool("slapd"), "-d", "0", "-h", listen, "-F",
                                      os.path.join(self.dir, "slapd.d")], stdout=log, stderr=log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("slapd exited:\n" + open(os.path.join(self.dir, "slapd.log")).read()[-2000:])
            r = subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", SERVICE_DN, "-w", SERVICE_PW],
                               capture_output=True, timeout=10)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError("slapd did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def modify(self, ldif):
        """ldapmodify as the root DN."""
        r = subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ADMIN_DN, "-w", ADMIN_PW],
                           input=ldif, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"ldapmodify failed: {r.stderr}")

    def search_as_service(self, *args):
        """ldapsearch as the service account without paging: (exit code, output)."""
        r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", self.uri, "-D", SERVICE_DN, "-w", SERVICE_PW,
                            "-b", BASE, *args], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout

    def directory_section(self, **overrides):
        """A palaverd [directory] section for this server (plain LDAP on loopback)."""
        section = {"backend": "ldap", "ldap_uri": self.uri, "ldap_starttls": "no", "ldap_allow_plain": "yes",
                   "ldap_bind_dn": SERVICE_DN, "ldap_bind_password_file": self.service_password_file,
                   "ldap_base_dn": BASE, "ldap_access_group": ACCESS_GROUP, "ldap_admin_group": ADMIN_GROUP,
                   "ldap_page_size": str(SIZE_LIMIT), "ldap_timeout": "2s", "ldap_connect_timeout": "1s",
                   "ldap_health_interval": "200ms"}
        section.update(overrides)
        return section
