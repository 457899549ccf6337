"""CA certificate login: certificate checks, the two ways a certificate reaches the app, and what a
verified certificate signs in as.

1. Proxy mode: a TLS proxy (nginx, deploy/nginx/anzexian.conf) verifies the client certificate and
   forwards it URL-escaped in ``CA_PROXY_HEADER``. The header is read only from the configured proxy
   (``TRUSTED_PROXIES`` and, when set, ``PROXY_SECRET``: app/web/proxy.py); from anyone else it is
   removed before the app sees the request.
2. Signed challenge: the app issues a one-time nonce (valid ``CA_CHALLENGE_SECONDS``, single use),
   at most ``CA_NONCE_RATE_LIMIT`` per client address, each stored with its expiry and deleted once
   expired (``flask security purge``); the browser (WebCrypto, key picked from a local file) or
   ``flask ca sign`` signs ``challenge_message(nonce)`` with the certificate's key.

Either way the certificate is re-verified here against ``CA_BUNDLE``: chain, validity, key usage. Many
certificates issued in China lack SAN and AKI, so the verifier's extension policy is relaxed (see
FAB_NOTES). The 统一社会信用代码 is read from the subject fields in ``CA_CREDIT_CODE_FIELDS`` (default
serialNumber, then OU) and its check character verified. SM2 certificates are not supported.
"""

import base64
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError
from flask import current_app, request
from flask_babel import lazy_gettext as _
from sqlalchemy import delete, update
from werkzeug.exceptions import TooManyRequests

from app import clock
from app.extensions import db
from app.models import LoginChallenge
from app.validators import ValidationError, validate_credit_code

SUBJECT_FIELDS = {
    "serialNumber": NameOID.SERIAL_NUMBER,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "CN": NameOID.COMMON_NAME,
    "UID": NameOID.USER_ID,
    "title": NameOID.TITLE,
}
CREDIT_CODE_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
_bundle_cache: dict = {}


class CertificateError(Exception):
    """A certificate or signature refused; ``message`` is shown to the user."""

    def __init__(self, message, code="invalid", account=None):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.account = account  # the account or credit code concerned, when known (for the audit)


@dataclass
class CertIdentity:
    certificate: x509.Certificate
    fingerprint: str
    credit_code: str | None
    name: str
    subject: str


# ---------------------------------------------------------------- trust store and verification


def bundle_path():
    path = current_app.config.get("CA_BUNDLE")
    if not path and current_app.config.get("DEMO_MODE"):
        candidate = os.path.join(current_app.config.get("CA_TEST_DIR", ""), "ca.pem")
        if os.path.exists(candidate):
            path = candidate
    return path


def trusted_roots():
    path = bundle_path()
    if not path or not os.path.exists(path):
        if current_app.config.get("DEMO_MODE"):
            raise CertificateError(
                _(
                    "演示环境尚未生成测试CA。请运行 flask ca init-test-ca 和 flask ca issue --uscc 统一社会信用代码 --name 企业名称 生成测试证书后再试。"  # noqa: E501
                ),
                "no_bundle",
            )
        raise CertificateError(_("系统尚未配置受信任的CA证书（CA_BUNDLE），暂不能使用证书登录"), "no_bundle")
    mtime = os.path.getmtime(path)
    cached = _bundle_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with open(path, "rb") as fh:
        roots = x509.load_pem_x509_certificates(fh.read())
    _bundle_cache[path] = (mtime, roots)
    return roots


def load_pem_certificates(text):
    """Certificates from PEM text (leaf first, then any intermediates)."""
    if isinstance(text, str):
        text = text.encode()
    try:
        certs = x509.load_pem_x509_certificates(text.strip())
    except ValueError:
        raise CertificateError(_("证书格式不正确，请提供 PEM 格式的证书"), "format") from None
    if not certs:
        raise CertificateError(_("未提供证书"), "format")
    return certs


def describe(certificate):
    """Subject and fingerprint of a certificate (or PEM text) for the audit of a refused attempt."""
    cert = certificate
    if not isinstance(certificate, x509.Certificate):
        try:
            cert = load_pem_certificates(certificate or "")[0]
        except CertificateError:
            return ""
    return f"{cert.subject.rfc4514_string()}; sha256 {fingerprint(cert)}"


def fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


def _verifier(now):
    ca_policy = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    return (
        PolicyBuilder()
        .store(Store(trusted_roots()))
        .time(now)
        .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )


def _check_usage(cert):
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if basic.ca:
            raise CertificateError(_("CA证书不能用于登录，请使用单位的数字证书"), "usage")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise CertificateError(_("该证书的密钥用途不允许数字签名，不能用于登录"), "usage")
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            raise CertificateError(_("该证书的扩展密钥用途不包括客户端身份验证，不能用于登录"), "usage")
    except x509.ExtensionNotFound:
        pass


def verify_certificate(certs):
    """Verify leaf (certs[0]) against the CA bundle; returns the CertIdentity or raises CertificateError."""
    leaf, intermediates = certs[0], list(certs[1:])
    now = clock.now()
    if now > leaf.not_valid_after_utc:
        raise CertificateError(
            _("证书已过期（有效期至 %(d)s），请更新数字证书", d=f"{leaf.not_valid_after_utc:%Y-%m-%d}"), "expired"
        )
    if now < leaf.not_valid_before_utc:
        raise CertificateError(_("证书尚未生效"), "not_yet_valid")
    try:
        _verifier(now).verify(leaf, intermediates)
    except VerificationError:
        raise CertificateError(_("证书不是由受信任的CA签发，或证书链不完整，不能登录"), "untrusted") from None
    _check_usage(leaf)
    return CertIdentity(
        certificate=leaf,
        fingerprint=fingerprint(leaf),
        credit_code=credit_code_of(leaf),
        name=subject_name(leaf),
        subject=leaf.subject.rfc4514_string(),
    )


def _field_oid(name):
    if name in SUBJECT_FIELDS:
        return SUBJECT_FIELDS[name]
    return x509.ObjectIdentifier(name)  # a dotted OID of a CA-specific field


def credit_code_of(cert):
    """The 统一社会信用代码 in the first configured subject field that holds an 18-character code; None
    when no field holds one. A code with a wrong check character is refused, not skipped."""
    for field in current_app.config.get("CA_CREDIT_CODE_FIELDS", ["serialNumber", "OU"]):
        for attribute in cert.subject.get_attributes_for_oid(_field_oid(field)):
            value = str(attribute.value).strip().upper()
            match = CREDIT_CODE_RE.search(value)
            if not match:
                continue
            try:
                return validate_credit_code(match.group(0))
            except ValidationError as exc:
                raise CertificateError(_("证书中的统一社会信用代码无效：%(m)s", m=exc.message), "credit_code") from None
    return None


def subject_name(cert):
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value).strip()
    return ""


# ---------------------------------------------------------------- proxy mode


def from_trusted_proxy():
    from app.web.proxy import from_proxy

    return from_proxy(request.environ)


def proxy_certificates():
    """The forwarded client certificate chain, or None when absent or not sent by a trusted proxy."""
    header = request.headers.get(current_app.config.get("CA_PROXY_HEADER", "X-SSL-Client-Cert"))
    if not header or not from_trusted_proxy():
        return None
    return load_pem_certificates(unquote(header))


# ---------------------------------------------------------------- signed challenge


def challenge_message(nonce):
    """The bytes a client signs: fixed prefix + nonce (``flask ca sign`` and the login page agree)."""
    return f"AZX-LOGIN:{nonce}".encode()


def _count_nonce_request():
    """One more nonce for this client address; TooManyRequests past CA_NONCE_RATE_LIMIT. Counted by the
    login limiter's storage (Redis in production, shared by every worker and machine)."""
    from limits import parse

    limiter = current_app.appbuilder.sm.limiter
    if limiter is None or not limiter.enabled:
        return
    item = parse(current_app.config.get("CA_NONCE_RATE_LIMIT") or "30 per minute")
    if not limiter.limiter.hit(item, "ca_nonce", request.remote_addr or "-"):
        error = TooManyRequests()
        error.retry_after = int(item.get_expiry())
        raise error


def issue_challenge():
    _count_nonce_request()
    now = clock.now()
    nonce = secrets.token_urlsafe(24)
    db.session.add(
        LoginChallenge(
            nonce=nonce,
            created_at=now,
            ip=(request.remote_addr or "")[:45] or None,
            expires_at=now + timedelta(seconds=current_app.config.get("CA_CHALLENGE_SECONDS", 120)),
        )
    )
    db.session.commit()
    return nonce


def purge_challenges():
    """Delete every expired nonce (an expired one can never be consumed); returns how many."""
    result = db.session.execute(
        delete(LoginChallenge)
        .where(LoginChallenge.expires_at < clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def consume_challenge(nonce):
    """Mark the nonce used; True only for the first use of an unexpired nonce (compare-and-set)."""
    if not nonce or len(nonce) > 64:
        return False
    now = clock.now()
    result = db.session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.nonce == nonce, LoginChallenge.used_at.is_(None), LoginChallenge.expires_at > now)
        .values(used_at=now)
    )
    db.session.commit()
    return result.rowcount == 1


def verify_signature(cert, message, signature_b64):
    try:
        signature = base64.b64decode(signature_b64 or "", validate=True)
    except (ValueError, TypeError):
        raise CertificateError(_("签名格式不正确"), "signature") from None
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) == 2 * size:  # WebCrypto gives r||s; cryptography wants DER
                signature = encode_dss_signature(
                    int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
                )
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            raise CertificateError(_("不支持该证书的密钥算法（支持 RSA 和 ECDSA）"), "signature")
    except InvalidSignature:
        raise CertificateError(_("签名验证失败：私钥与证书不匹配"), "signature") from None


def verify_challenge(nonce, certificate_pem, signature_b64):
    """The whole signed-challenge check; returns the CertIdentity or raises CertificateError."""
    certs = load_pem_certificates(certificate_pem or "")
    if not consume_challenge(nonce):
        raise CertificateError(_("登录挑战码已使用或已过期（有效期2分钟），请刷新页面重新签名"), "nonce")
    identity = verify_certificate(certs)
    verify_signature(identity.certificate, challenge_message(nonce), signature_b64)
    return identity
