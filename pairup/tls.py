"""``wss://`` without a certificate authority: a self-signed certificate, pinned by the link.

The relay inside ``pairup start`` (and ``pairup relay --self-signed``) serves TLS with a
certificate of its own, made once per data directory and renewed before it expires. The join
link carries the certificate's SHA-256 in its fragment (``#SECRET.PIN``), which nobody but the
person the link is given to sees, and pairup connects only to a relay that shows exactly that
certificate: no authority to trust, no name to match, nothing a network in the middle can
present instead (ADR 27).
"""

import datetime
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from pairup.durable import make_dirs, sync_dir
from pairup.protocol import pin_of

VALID_FOR = datetime.timedelta(days=90)
RENEW_WITHIN = datetime.timedelta(days=7)
"""A certificate this close to its end is replaced: links made now outlive a week's sessions."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """A relay's certificate and key on disk, and the pin a link carries for it."""

    cert: Path
    key: Path
    pin: str


class TlsError(Exception):
    """The certificate cannot be made, read or used; the message says which file and why."""


def self_signed(folder: Path, *, now: datetime.datetime | None = None) -> Certificate:
    """The relay certificate kept in ``folder`` (made there first if it has none, or if the
    one it has ends within a week): an ECDSA P-256 key, readable by this user only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or datetime.datetime.now(datetime.UTC)
    der = serialization.Encoding.DER
    cert_path, key_path = folder / "relay-cert.pem", folder / "relay-key.pem"
    try:
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        existing = None
    if (
        existing is not None
        and key_path.exists()
        and existing.not_valid_after_utc - now > RENEW_WITHIN
    ):
        return Certificate(cert_path, key_path, pin_of(existing.public_bytes(der)))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pairup relay")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    try:
        make_dirs(folder)
        _write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        sync_dir(folder)
    except OSError as error:
        raise TlsError(f"cannot keep the relay's certificate in {folder}: {error}") from None
    return Certificate(cert_path, key_path, pin_of(certificate.public_bytes(der)))


def serving(folder: Path) -> tuple[str, ssl.SSLContext]:
    """The pin of the certificate kept in ``folder`` (made there if need be) and a server
    context with it: files read and written, so for a thread off the event loop."""
    certificate = self_signed(folder)
    return certificate.pin, server_context(certificate.cert, certificate.key)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``wss://`` with ``cert`` and its ``key``, TLS 1.2 at least."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise TlsError(f"cannot use {cert} and {key}: {error}") from None
    return context


def pinned_context() -> ssl.SSLContext:
    """A client context for a relay whose certificate the link pins: no authorities and no
    host names, since the certificate is checked against the pin (:func:`shows`) before
    anything is said over the connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def shows(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, pin: str) -> bool:
    """Whether the peer of a TLS connection showed the certificate ``pin`` names."""
    if ssl_object is None:
        return False
    certificate = ssl_object.getpeercert(binary_form=True)
    return certificate is not None and pin_of(certificate) == pin


def _write(path: Path, data: bytes) -> None:
    """Written beside and renamed over, 0600: a key is never readable by others, not even
    for a moment."""
    temporary = path.with_name(f".{path.name}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
