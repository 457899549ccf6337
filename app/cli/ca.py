"""`flask ca …`: a test CA and client certificates for demos and tests, and the signer for scripted
signed-challenge logins. The certificates look like many issued in China: the 统一社会信用代码 in the
subject (serialNumber by default, or OU), no SAN and no AKI."""

import base64
import os
from datetime import UTC, datetime, timedelta

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import current_app
from flask.cli import with_appcontext

FIELD_OIDS = {"serialNumber": NameOID.SERIAL_NUMBER, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME}


def _key(kind):
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )


def make_ca(name="安责险测试CA", key_type="ec", days=3650):
    """A self-signed CA certificate and its key."""
    key = _key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_client_certificate(
    ca_cert,
    ca_key,
    uscc,
    name,
    field="serialNumber",
    key_type="ec",
    days=365,
    not_before=None,
    not_after=None,
    client_auth=True,
):
    """A client certificate for ``name`` with the credit code ``uscc`` in subject ``field``."""
    key = _key(key_type)
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
    ]
    if uscc:
        attrs.append(x509.NameAttribute(FIELD_OIDS[field], uscc))
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    end = not_after or start + timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if client_auth:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def pem_certificate(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_private_key(key):
    """Unencrypted PKCS#8 PEM: what the browser's WebCrypto imports."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def sign_message(key, message):
    """Base64 signature of ``message``: RSA PKCS#1 v1.5 or ECDSA, SHA-256 (what the server verifies)."""
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def _test_dir(path):
    return path or current_app.config["CA_TEST_DIR"]


def _write(path, data, mode=0o644):
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def _load_ca(directory):
    with open(os.path.join(directory, "ca.pem"), "rb") as fh:
        cert = x509.load_pem_x509_certificate(fh.read())
    with open(os.path.join(directory, "ca-key.pem"), "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    return cert, key


@click.group("ca")
def ca_group():
    """CA certificate login: test CA, client certificates, challenge signing."""


@ca_group.command("init-test-ca")
@click.option("--dir", "directory", default=None, help="output folder (default instance/test-ca)")
@click.option("--name", default="安责险测试CA")
@click.option("--force", is_flag=True, help="replace an existing test CA")
@with_appcontext
def init_test_ca(directory, name, force):
    """Create a test CA (ca.pem, ca-key.pem). Trusted automatically only in DEMO_MODE; elsewhere set CA_BUNDLE."""
    directory = _test_dir(directory)
    os.makedirs(directory, exist_ok=True)
    if os.path.exists(os.path.join(directory, "ca.pem")) and not force:
        raise click.ClickException(f"{directory}/ca.pem exists (use --force to replace it)")
    cert, key = make_ca(name)
    _write(os.path.join(directory, "ca.pem"), pem_certificate(cert))
    _write(os.path.join(directory, "ca-key.pem"), pem_private_key(key), 0o600)
    click.echo(f"test CA written to {directory}/ca.pem (key ca-key.pem); CA_BUNDLE={directory}/ca.pem")


@ca_group.command("issue")
@click.option("--uscc", default="", help="统一社会信用代码 written into the subject")
@click.option("--name", required=True, help="organisation name (subject O and CN)")
@click.option("--field", type=click.Choice(sorted(FIELD_OIDS)), default="serialNumber")
@click.option("--days", type=int, default=365)
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa")
@click.option("--password", default="changeit", show_default=True, help="PKCS#12 password")
@click.option("--out", default=None, help="output folder (default: the test CA folder)")
@click.option("--ca-dir", default=None, help="the CA folder (default instance/test-ca)")
@with_appcontext
def issue(uscc, name, field, days, key_type, password, out, ca_dir):
    """Issue a client certificate: <stem>.pem, <stem>-key.pem (PKCS#8), <stem>.p12 and <stem>-login.pem
    (certificate + key, for the signing page)."""
    ca_dir = _test_dir(ca_dir)
    if uscc:
        from app.validators import ValidationError, validate_credit_code

        try:
            uscc = validate_credit_code(uscc)
        except ValidationError as exc:
            raise click.BadParameter(str(exc), param_hint="--uscc") from None
    ca_cert, ca_key = _load_ca(ca_dir)
    cert, key = make_client_certificate(ca_cert, ca_key, uscc, name, field=field, key_type=key_type, days=days)
    out = out or ca_dir
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, uscc or cert.fingerprint(hashes.SHA256()).hex()[:16])
    _write(stem + ".pem", pem_certificate(cert))
    _write(stem + "-key.pem", pem_private_key(key), 0o600)
    _write(stem + "-login.pem", pem_certificate(cert) + pem_private_key(key), 0o600)
    p12 = pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, [ca_cert], serialization.BestAvailableEncryption(password.encode())
    )
    _write(stem + ".p12", p12, 0o600)
    click.echo(f"{stem}.pem  {stem}-key.pem  {stem}-login.pem  {stem}.p12")


@ca_group.command("sign")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PKCS#8 PEM private key (or a PKCS#12 file with --p12-password)",
)
@click.option("--nonce", required=True, help="the nonce from GET /login/ca/nonce")
@click.option("--p12-password", default=None)
def sign(key_path, nonce, p12_password):
    """Print the base64 signature of the login challenge for NONCE."""
    from app.security.ca import challenge_message

    with open(key_path, "rb") as fh:
        data = fh.read()
    if p12_password is not None:
        key, _cert, _extra = pkcs12.load_key_and_certificates(data, p12_password.encode())
    else:
        key = serialization.load_pem_private_key(data, password=None)
    click.echo(sign_message(key, challenge_message(nonce)))
