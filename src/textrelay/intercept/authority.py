"""textrelay's own certificate authority, for the intercepting proxy: one CA per deployment
(kept in the database), and a certificate for each Twilio host a client asks the proxy for.

The CA is name-constrained to twilio.com (RFC 5280 §4.2.1.10): a client that trusts it trusts
it for Twilio's hosts only, so the key, were it ever taken, could not impersonate any other
site to that client.
"""

from __future__ import annotations

import datetime as dt
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "textrelay intercepting proxy CA"
CA_VALIDITY = dt.timedelta(days=3650)
HOST_VALIDITY = dt.timedelta(days=397)
"""Under the 398 days browsers and TLS libraries accept for a server certificate."""
BACKDATE = dt.timedelta(hours=1)
"""Certificates start an hour early: a client whose clock is a little behind accepts them."""
CONSTRAINED_TO = "twilio.com"
MAX_CONTEXTS = 256
"""Hosts whose certificate is kept made; past it the oldest is made again when asked for."""


def is_intercepted(host: str) -> bool:
    """A host the proxy answers for itself: twilio.com and every name under it."""
    name = host.lower().rstrip(".")
    return name == CONSTRAINED_TO or name.endswith("." + CONSTRAINED_TO)


@dataclass
class Authority:
    """The CA (certificate and key in PEM), and the TLS contexts it signs for hosts."""

    certificate_pem: str
    key_pem: str
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict, repr=False)
    _host_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()), repr=False
    )

    @classmethod
    def create(cls, now: dt.datetime) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "textrelay"),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.NameConstraints(
                    permitted_subtrees=[x509.DNSName(CONSTRAINED_TO)], excluded_subtrees=None
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(
            certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii"),
        )

    def host_certificate_pem(self, host: str, now: dt.datetime) -> str:
        """A server certificate for `host` (which must be intercepted), signed by the CA."""
        if not is_intercepted(host):
            raise ValueError(f"{host} is not a twilio.com host")
        ca_certificate = x509.load_pem_x509_certificate(self.certificate_pem.encode("ascii"))
        ca_key = serialization.load_pem_private_key(self.key_pem.encode("ascii"), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_certificate.subject)
            .public_key(self._host_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + HOST_VALIDITY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def server_context(self, host: str, now: dt.datetime) -> ssl.SSLContext:
        """The TLS context that answers a client asking for `host`, made once per host."""
        name = host.lower().rstrip(".")
        context = self._contexts.get(name)
        if context is None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            chain = self.host_certificate_pem(name, now) + self.certificate_pem
            key = self._host_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            # ssl loads a chain and key from files only: a private directory, gone at once.
            with tempfile.TemporaryDirectory(prefix="textrelay-tls-") as directory:
                chain_file, key_file = Path(directory, "chain.pem"), Path(directory, "key.pem")
                chain_file.write_text(chain)
                key_file.touch(mode=0o600)
                key_file.write_text(key)
                context.load_cert_chain(chain_file, key_file)
            if len(self._contexts) >= MAX_CONTEXTS:  # names are the clients' to choose
                del self._contexts[next(iter(self._contexts))]
            self._contexts[name] = context
        return context
